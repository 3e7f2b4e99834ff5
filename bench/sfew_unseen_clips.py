"""How much of a model's SFEW validation figure comes from film clips it trained on.

SFEW 2.0's faces are frames of film clips, named ``<film>_<clip>_<frame>.png``. The project's SFEW
validation part is a random 30% of the files of each class (``--holdout 0.3``), so many of its
faces are other frames of a clip whose frames are in the training part (near-duplicates: same
actor, scene and light), and nearly all share a film with it. The official SFEW 2.0 Val, on
which the product owner scores shipped models, is a separate release. This script scores models
at their data point on the validation part, and separately on its faces whose clip has no frame
in the training part ("unseen clips") and on the rest ("seen clips"), with 95% CIs (Wilson for
accuracy, bootstrap for mean recall) and, on the unseen clips, McNemar's exact test against the
first model.

    python bench/sfew_unseen_clips.py ../shared/data/sfew/Train ferlab-wild RUN [RUN ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from balanced_report import data_point, unseen_clip_mask  # noqa: E402

from ferlab.data import load_dataset  # noqa: E402
from ferlab.evaluate.balanced import balanced_accuracy, balanced_intervals, confusion_counts  # noqa: E402
from ferlab.evaluate.paired import mcnemar_exact  # noqa: E402
from ferlab.models.files import load_model  # noqa: E402
from ferlab.weights import resolve_model  # noqa: E402


def decisions(root: str, name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """The model's data-point decisions on the validation part, its labels and class names."""
    model, record = load_model(resolve_model(name))
    dataset = load_dataset("folder", root, "val", holdout=0.3, size=int(model.input_size[1]))
    result = data_point(model, record, dataset)
    return result.logits.numpy().argmax(1), result.labels.numpy(), tuple(result.classes)


def summary(predicted: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> str:
    """Accuracy and mean recall with their 95% CIs, and the weakest classes' recall."""
    confusion = confusion_counts(labels, predicted, len(classes))
    intervals = balanced_intervals(labels, predicted, len(classes))
    (a_low, a_high), (r_low, r_high) = intervals["accuracy"], intervals["balanced_accuracy"]
    recall = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
    weak = ", ".join(f"{c} {r:.2f}" for c, r in zip(classes, recall) if c in ("disgust", "fear", "surprise"))
    return (
        f"{(predicted == labels).mean():.1%} ({a_low:.1%}-{a_high:.1%}) / "
        f"{balanced_accuracy(confusion):.1%} ({r_low:.1%}-{r_high:.1%}); {weak}"
    )


def main() -> None:
    root, names = sys.argv[1], sys.argv[2:]
    unseen = unseen_clip_mask(root)
    print(f"SFEW validation part: {len(unseen)} faces, {unseen.sum()} of clips with no frame in the training part")
    outcomes = {}
    for name in names:
        predicted, labels, classes = decisions(root, name)
        outcomes[name] = predicted == labels
        for part, mask in (("all", np.ones_like(unseen)), ("seen clips", ~unseen), ("unseen clips", unseen)):
            print(f"{name} | {part} (n = {mask.sum()}): {summary(predicted[mask], labels[mask], classes)}")
    for name in names[1:]:
        test = mcnemar_exact(outcomes[name][unseen], outcomes[names[0]][unseen])
        print(
            f"unseen clips, {name} against {names[0]}: {test.only_a} / {test.only_b} discordant, "
            f"McNemar p = {test.p_value:.3f}"
        )


if __name__ == "__main__":
    main()
