"""Face crops as input: how many of a folder of labelled face crops yield a face with the Haar
detector alone and with the crop rule, and how accurate the shipped models are when each whole
crop is the face: resized to the model's input as the dataset readers do (what ferlab does), and
aligned like a detector box (aspect kept, 0.2 margin, black borders; ferlab before 2026-12-01).

    python bench/crop_rule.py ../shared/data/sfew/Train [MODEL ...]   # default: the shipped models

2026-12-01 (this 2-core CPU): SFEW 2.0 Train, 859 aligned 143x181 crops (class folders): Haar
finds a face in 51 (5.9%); with the crop rule 859 (100.0%). Whole crop resized (Pillow bilinear,
as the readers) / aligned like a box: ferlab-ferplus 44.2% / 39.1%; ferlab-fer2013's third cycle
(`results/fer2013_distill_cycle3/model.pt`) 47.6% / 44.4% (n = 859, SE about 1.7 points). The
shipped ferlab-fer2013 has seen 600 of these images in training since its fourth cycle.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import numpy as np

from ferlab.app import FaceAnalyzer
from ferlab.app.analyze import load_rgb
from ferlab.faces import align_face
from ferlab.preprocess import CROP_MARGIN
from ferlab.weights import list_shipped


def main() -> None:
    files = sorted(p for p in Path(sys.argv[1]).rglob("*") if p.is_file())
    models = sys.argv[2:] or list_shipped()
    images = [load_rgb(path) for path in files]
    analyzer = FaceAnalyzer("opencv", "ferlab-ferplus")
    found_by = Counter(faces[0].detector if faces else "nothing" for faces in map(analyzer.analyze, images))
    n = len(files)
    sizes = Counter(rgb.shape[:2] for rgb in images)
    print(f"{n} images; commonest sizes (h, w): {sizes.most_common(3)}")
    print(
        f"Haar finds a face in {found_by['opencv']} ({found_by['opencv'] / n:.1%}); with the crop rule "
        f"{n - found_by['nothing']} ({(n - found_by['nothing']) / n:.1%})"
    )
    labels = [path.parent.name.lower() for path in files]
    for model in models:
        whole = FaceAnalyzer("none", model)
        ferlab_way = [whole.analyze(rgb)[0].label for rgb in images]
        boxes = [whole.detector.detect(rgb)[0] for rgb in images]
        crops = np.stack([align_face(rgb, box, (48, 48), True, CROP_MARGIN) for rgb, box in zip(images, boxes)])
        with_margin = [whole.classifier.classes[i] for i in whole.classifier.predict_proba(crops).argmax(1)]
        print(
            f"{model}, each whole crop the face: "
            + ", ".join(
                f"{name} {sum(p == t for p, t in zip(predicted, labels)) / n:.1%}"
                for name, predicted in (
                    ("resized", ferlab_way),
                    (f"aligned like a box (margin {CROP_MARGIN:g})", with_margin),
                )
            )
        )


if __name__ == "__main__":
    main()
