"""Crop geometry of detector boxes on the SFEW validation part: the margin, and eye-levelling.

    python bench/crop_geometry.py ../shared/data/sfew/Train [--model ferlab-wild] [--detectors mtcnn,dlib]
        [--margins 0,0.1,0.2,0.3,0.4]

Each image of the SFEW validation part (the folder reader's ``holdout 0.3``, split ``val``, as
in results/generalization.md) is detected once per detector. The largest face is cropped with
each margin, levelled by its eye line (the application's way: the detector's landmarks) or
not, and classified; an image with no face found takes the crop rule, as `ferlab eval
--detector` does, and gets the same answer in every variant. Prints each variant's accuracy
over all images (Wilson 95% CI) and McNemar's exact test against the application's own crop
(the model's stored margin, levelled) on the same images.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ferlab.app import FaceAnalyzer
from ferlab.app.analyze import load_rgb
from ferlab.data import load_dataset
from ferlab.evaluate.end_to_end import largest_face
from ferlab.evaluate.paired import mcnemar_exact, wilson_interval
from ferlab.faces.base import Face

HOLDOUT = 0.3
"""The SFEW split of results/generalization.md."""


def variant_correct(
    analyzer: FaceAnalyzer, margins: list[float], images: list, detections: list, fallback: list, truths: list
) -> dict[tuple[float, bool], np.ndarray]:
    """Per-image correctness of every (margin, levelled) variant; ``fallback`` holds the crop rule's
    label of each image without a detection (None where a face was found)."""
    out = {}
    for margin in margins:
        analyzer.margin = margin
        for levelled in (True, False):
            labels = []
            for rgb, faces, whole in zip(images, detections, fallback):
                face = largest_face(faces)
                if face is None:
                    labels.append(whole)
                    continue
                face = face if levelled else Face(face.box, face.score, None)
                labels.append(analyzer.classify(rgb, [face])[0].label)
            out[margin, levelled] = np.array([p == t for p, t in zip(labels, truths)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("root", type=Path)
    parser.add_argument("--model", default="ferlab-wild")
    parser.add_argument("--detectors", default="mtcnn,dlib")
    parser.add_argument("--margins", default="0,0.1,0.2,0.3,0.4")
    args = parser.parse_args()
    dataset = load_dataset("folder", args.root, "val", holdout=HOLDOUT)
    files = [args.root / name for name in dataset.ids]
    truths = [dataset.classes[i] for i in dataset.labels]
    images = [load_rgb(path) for path in files]
    n = len(images)
    print(f"{args.model} on the SFEW validation part: {n} images; accuracy over all images (95% CI)")
    for detector in args.detectors.split(","):
        analyzer = FaceAnalyzer(detector, args.model)
        own_margin = analyzer.margin
        detections = [analyzer.detector.detect(rgb) for rgb in images]
        fallback = [None if faces else analyzer.analyze(rgb)[0].label for rgb, faces in zip(images, detections)]
        margins = sorted({own_margin, *map(float, args.margins.split(","))})
        correct = variant_correct(analyzer, margins, images, detections, fallback, truths)
        reference = correct[own_margin, True]
        found = sum(bool(faces) for faces in detections)
        print(f"\n{detector}: a face in {found} of {n}, the rest by the crop rule; model margin {own_margin:g}")
        print("| margin | eye-levelled | accuracy | 95% CI | vs the model's crop: only this / only it, p |")
        print("|---:|---|---:|---|---|")
        for (margin, levelled), right in correct.items():
            low, high = wilson_interval(int(right.sum()), n)
            test = mcnemar_exact(right, reference)
            print(
                f"| {margin:g} | {'yes' if levelled else 'no'} | {right.mean():.1%} | {low:.1%}-{high:.1%} | "
                f"{test.only_a} / {test.only_b}, p = {test.p_value:.2g} |"
            )


if __name__ == "__main__":
    main()
