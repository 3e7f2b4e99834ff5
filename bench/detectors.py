"""Face detectors side by side on a WIDER FACE-format folder, in one run, with 95% CIs.

    python bench/detectors.py --data-root ../shared/data/widerface [--limit N] [--every K --start I] [DETECTOR ...]

Each detector is scored by `ferlab.evaluate.detection.score_detector` (the rules of
``ferlab eval-detector``): recall of faces >= 40 and >= 80 px at IoU 0.5, AP over the >= 40 px
faces, false boxes per photo and their share of all boxes, ms per photo. The CIs are percentile
bootstraps over photos (2,000 resamples, seed 0): faces of one photo are not independent.
Prints a Markdown table; the per-photo CSVs go to ``--out``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from ferlab.evaluate.detection import DetectorScore, score_detector
from ferlab.faces import file_safe, get_detector

DETECTORS = (
    "yunet",
    "blazeface",
    "blazeface:threshold=0.6",
    "blazeface:threshold=0.7",
    "blazeface:tile=0",
    "opencv",
    "opencv:min_neighbors=8",
    "mtcnn",
    "dlib:upsample=1",
)


def bootstrap(score: DetectorScore, resamples: int = 2000) -> dict[str, tuple[float, float]]:
    """95% percentile-bootstrap intervals, over photos, of recall >= 40 px and false boxes per photo."""
    faces = np.array([p.faces[40] for p in score.photos])
    found = np.array([p.found[40] for p in score.photos])
    false = np.array([p.false_boxes for p in score.photos])
    picks = np.random.default_rng(0).integers(0, len(faces), (resamples, len(faces)))
    recall = found[picks].sum(axis=1) / np.maximum(faces[picks].sum(axis=1), 1)
    per_photo = false[picks].mean(axis=1)
    return {
        "recall_40": tuple(np.percentile(recall, [2.5, 97.5])),
        "false_per_photo": tuple(np.percentile(per_photo, [2.5, 97.5])),
    }


TABLE_HEADER = (
    "| detector | recall >= 40 px (95% CI) | recall >= 80 px | AP >= 40 px | false boxes / photo (95% CI) "
    "| share of boxes false | ms / photo |\n|---|---|---|---|---|---|---|"
)


def table_row(label: str, score: DetectorScore) -> str:
    """One Markdown row of `TABLE_HEADER` for ``score``, with its bootstrap CIs."""
    s, ci = score.summary(), bootstrap(score)
    (r_low, r_high), (f_low, f_high) = ci["recall_40"], ci["false_per_photo"]
    return (
        f"| `{label}` | {100 * s['recall_40']:.1f}% ({100 * r_low:.1f}-{100 * r_high:.1f}) "
        f"| {100 * s['recall_80']:.1f}% | {100 * s['ap_40']:.1f}% "
        f"| {s['false_per_photo']:.2f} ({f_low:.2f}-{f_high:.2f}) | {100 * s['false_share']:.1f}% "
        f"| {s['ms_per_photo']:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("detectors", nargs="*", default=list(DETECTORS))
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--every", type=int, default=1, help="every K-th photo listed (2: a half)")
    parser.add_argument("--start", type=int, default=0, help="from this position (0-based; 0 or 1 for a half)")
    parser.add_argument("--out", type=Path, default=Path("bench_detectors"))
    args = parser.parse_args()
    print(
        f"{time.strftime('%Y-%m-%d %H:%M')} UTC, {platform.machine()}, {os.cpu_count()} CPUs; "
        f"{args.data_root}, every {args.every} photo(s) from position {args.start}, first {args.limit or 'all'}"
    )
    print(TABLE_HEADER)
    for spec in args.detectors:
        score = score_detector(
            get_detector(spec), args.data_root, spec, limit=args.limit, every=args.every, start=args.start
        )
        score.write_csv(args.out / f"detector_{file_safe(spec)}.csv")
        print(table_row(spec, score), flush=True)


if __name__ == "__main__":
    main()
