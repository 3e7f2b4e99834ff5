"""The tuned operating point's strength grid for a shipped model, on its validation split (issue #31).

    python bench/prior_strengths.py ferlab-wild --data ferplus --data-root ../shared/data/fer2013

Prints, for the data point (0) and each strength of `ferlab.evaluate.balanced.PRIOR_STRENGTHS`, the
validation accuracy and mean recall of the tuned point's decisions, which strengths stay within the
accuracy allowance, and the one `choose_prior_strength` picks from those scores (what
`tools/ship_model.py` stores).
Validation only: this chooses, so it never reads test.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ferlab.data import load_dataset
from ferlab.evaluate.balanced import allowed_strengths, prior_strength_scores, strength_from_scores
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.models.files import load_model
from ferlab.priors import OutputCalibration
from ferlab.weights import shipped_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="shipped model name")
    parser.add_argument("--data", required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    args = parser.parse_args()
    model, record = load_model(shipped_path(args.model))
    options = {"mode": "majority"} if args.data == "ferplus" else {}
    dataset = load_dataset(args.data, args.data_root, "val", **options)
    raw = evaluate_model(model, dataset, tuple(record["classes"]), device="cpu")
    logits, labels = raw.logits.numpy(), raw.labels.numpy()
    calibration = OutputCalibration.from_record(record)
    scores = prior_strength_scores(logits, labels, calibration)
    chosen, allowed = strength_from_scores(scores), allowed_strengths(scores)
    print(f"{args.model} on {args.data} val ({len(labels)} faces); stored strength {record.get('tuned_strength')}")
    print("| strength | accuracy % | mean recall % | within the allowance |")
    print("|---|---|---|---|")
    for strength, (accuracy, mean_recall) in scores.items():
        mark = " **chosen**" if strength == chosen else ""
        within = "yes" if strength in allowed else "no"
        print(f"| {strength:.2f}{mark} | {100 * accuracy:.2f} | {100 * mean_recall:.1f} | {within} |")


if __name__ == "__main__":
    main()
