"""Per-class biases with an accuracy floor: can a milder version of the "per-class biases" lever
(`tools/balanced_report.py`) raise mean recall while keeping FERPlus val accuracy, and does it
carry over to film faces?

For each model (data operating point): biases maximising FERPlus val mean recall among those that
keep its accuracy at most DROP below the data point's, fitted on one half of FERPlus val and scored
on the other (two-fold, the same halves as the report), then fitted on all of FERPlus val and
applied to the SFEW validation part (its per-class recall printed: the issue's class floor is 0.25).

    python bench/constrained_biases.py RUN [RUN ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from balanced_report import data_point, fit_biases  # noqa: E402

from ferlab.data import load_dataset  # noqa: E402
from ferlab.evaluate.balanced import balanced_accuracy, confusion_counts  # noqa: E402
from ferlab.models.files import load_model  # noqa: E402
from ferlab.weights import resolve_model  # noqa: E402

DROPS = (0.003, 0.005, 0.01)
"""The accuracy allowances tried: 0.3, 0.5 and 1 point below the data point."""
FER2013, SFEW = "../shared/data/fer2013", "../shared/data/sfew/Train"


def main() -> None:
    ferplus = load_dataset("ferplus", FER2013, "val", mode="majority")
    sfew = load_dataset("folder", SFEW, "val", holdout=0.3)
    for name in sys.argv[1:]:
        model, record = load_model(resolve_model(name))
        bench = data_point(model, record, ferplus)
        logits, labels = bench.logits.numpy(), bench.labels.numpy()
        halves = np.random.default_rng(0).permutation(len(labels)) % 2
        for drop in DROPS:
            decided = np.empty(len(labels), dtype=np.int64)
            for half in (0, 1):
                fit = halves != half
                floor = (logits[fit].argmax(1) == labels[fit]).mean() - drop
                decided[~fit] = (logits[~fit] + fit_biases(logits[fit], labels[fit], min_accuracy=floor)).argmax(1)
            two_fold = balanced_accuracy(confusion_counts(labels, decided, logits.shape[1]))
            biases = fit_biases(logits, labels, min_accuracy=(logits.argmax(1) == labels).mean() - drop)
            film = data_point(model, record, sfew, biases)
            film_decided, film_labels, film_classes = film.logits.numpy().argmax(1), film.labels.numpy(), film.classes
            confusion = confusion_counts(film_labels, film_decided, len(film_classes))
            recall = np.diag(confusion) / np.maximum(confusion.sum(1), 1)
            print(
                f"{name}, accuracy at most {drop:.1%} lower: FERPlus val two-fold {(decided == labels).mean():.1%} / "
                f"{two_fold:.1%}; SFEW val {(film_decided == film_labels).mean():.1%} / "
                f"{balanced_accuracy(confusion):.1%}, recall "
                + ", ".join(f"{c} {r:.2f}" for c, r in zip(film_classes, recall))
            )


if __name__ == "__main__":
    main()
