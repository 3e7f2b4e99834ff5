r"""The tuned operating point's strength grid for a model, on a validation split (issue #31).

    python bench/prior_strengths.py ferlab-wild --data ferplus --data-root ../shared/data/fer2013
    python bench/prior_strengths.py results/balanced/runs/44_wider_per_source_clip --data folder \
        --data-root ../shared/data/sfew/Train --holdout 0.3 --holdout-group '(.+)_\d+$' --per-class 0.6

Prints, for the data point (0) and each strength of `ferlab.evaluate.balanced.PRIOR_STRENGTHS`, the
validation accuracy and mean recall of the tuned point's decisions (a model of more classes than
the split is scored on the classes they share, as `ferlab eval` scores it), which strengths stay
within the accuracy allowance, and the one `choose_prior_strength` picks from those scores (what
`tools/ship_model.py` stores, when the split is the model's benchmark); with ``--per-class S``, each
class's recall at strength S. MODEL is a shipped name, a run folder or a model file. Validation
only: this chooses, so it never reads test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ferlab.cli.options import reader_options
from ferlab.data import load_dataset
from ferlab.evaluate.balanced import (
    allowed_strengths,
    class_recalls,
    confusion_counts,
    prior_strength_scores,
    strength_from_scores,
    tuned_decisions,
)
from ferlab.evaluate.crossdata import align_labels
from ferlab.evaluate.inference import predict_logits
from ferlab.models.files import load_model
from ferlab.priors import OutputCalibration
from ferlab.weights import resolve_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="shipped model name, run folder or model file")
    parser.add_argument("--data", required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--mode", default="majority", help="FERPlus labels (default majority)")
    parser.add_argument("--holdout", type=float, default=0.0, help="the folder reader's validation fraction")
    parser.add_argument("--holdout-group", default=None, help="the folder reader's holdout grouping")
    parser.add_argument("--per-class", type=float, metavar="S", help="also print each class's recall at strength S")
    args = parser.parse_args()
    model, record = load_model(resolve_model(args.model))
    options = reader_options(args.data, args.mode, args.holdout, args.holdout_group)
    dataset = load_dataset(args.data, args.data_root, "val", **options)
    alignment = align_labels(dataset.classes, record["classes"])
    labels = alignment.map(dataset.labels)
    raw = predict_logits(model, dataset.images[labels >= 0], device="cpu").numpy()
    labels, columns = labels[labels >= 0], alignment.logit_columns
    calibration = OutputCalibration.from_record(record)
    scores = prior_strength_scores(raw, labels, calibration, columns)
    chosen, allowed = strength_from_scores(scores), allowed_strengths(scores)
    print(
        f"{args.model} on {args.data} val ({len(raw)} faces, {len(columns)} classes); "
        f"stored strength {record.get('tuned_strength')}"
    )
    print("| strength | accuracy % | mean recall % | within the allowance |")
    print("|---|---|---|---|")
    for strength, (accuracy, mean_recall) in scores.items():
        mark = " **chosen**" if strength == chosen else ""
        within = "yes" if strength in allowed else "no"
        print(f"| {strength:.2f}{mark} | {100 * accuracy:.2f} | {100 * mean_recall:.1f} | {within} |")
    if args.per_class is not None:
        decided = tuned_decisions(raw, calibration, args.per_class, columns)
        recalls = class_recalls(confusion_counts(labels, decided, len(columns)))
        named = ", ".join(f"{record['classes'][c]} {r:.2f}" for c, r in zip(columns, recalls))
        print(f"recall per class at strength {args.per_class}: {named}")


if __name__ == "__main__":
    main()
