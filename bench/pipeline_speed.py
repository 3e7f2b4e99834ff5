"""Speed of the face pipeline on this CPU: whole video frames/s and classifier faces/s.

    python bench/pipeline_speed.py [--frames 150] [--model ferlab-wild] [--threads N] [--detector NAME ...]

1. End to end: a 640x480 video with one face (the astronaut photo drifting across a gray
   frame, written with OpenCV's mp4v codec to a temp folder) goes through
   `ferlab.app.video.analyze_video`: decode, detect (each ``--detector``, default the
   application's default), align, classify,
   track, draw, encode the annotated video, write the timeline. Reported side by side for
   the detector searching every full frame or only every 10th (`ferlab.faces.roi.RoiDetector`,
   `ferlab video`'s default ``--search-every 10``), on the frame or on a copy shrunk to 480
   pixels wide, and for the torch and the ONNX Runtime classifier backends. ``ferlab video``'s
   defaults are the full frame, every 10th frame searched fully, and ONNX Runtime
   (``--backend auto`` without a GPU).
2. Classifier alone: faces/s of ``predict_proba`` on 48x48 crops at batch 1 and batch 64
   (best of 5 runs of at least one second each), torch and ONNX Runtime backends.
"""

from __future__ import annotations

import argparse
import itertools
import platform
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from ferlab.app import CropClassifier, FaceAnalyzer, load_classifier
from ferlab.app.analyze import load_rgb
from ferlab.app.demo import ASTRONAUT
from ferlab.app.video import analyze_video
from ferlab.faces import DEFAULT_DETECTOR, get_detector
from ferlab.faces.roi import RoiDetector
from ferlab.weights import DEFAULT_MODEL

SIZE = (640, 480)


def write_video(path: Path, frames: int, fps: float = 25.0) -> None:
    """A 640x480 video of the astronaut's head and shoulders drifting left and right."""
    face = cv2.cvtColor(cv2.resize(load_rgb(ASTRONAUT)[:320, 64:448], (300, 250)), cv2.COLOR_RGB2BGR)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, SIZE)
    for i in range(frames):
        frame = np.full((SIZE[1], SIZE[0], 3), 120, np.uint8)
        x = int(170 + 150 * np.sin(i / 20))
        frame[110:360, x : x + 300] = face
        writer.write(frame)
    writer.release()


def classifier_rate(classifier: CropClassifier, batch: int) -> float:
    """Best faces/s over 5 timed runs of at least a second each."""
    crops = np.random.default_rng(0).integers(0, 256, (batch, 48, 48), dtype=np.uint8)
    classifier.predict_proba(crops)
    best = 0.0
    for _ in range(5):
        count, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < 1.0:
            classifier.predict_proba(crops)
            count += batch
        best = max(best, count / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=150)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--detector", action="append", help=f"detector(s) to run (default: {DEFAULT_DETECTOR})")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    classifiers = {backend: load_classifier(args.model, backend) for backend in ("torch", "onnx")}
    parameters = sum(p.numel() for p in classifiers["torch"].model.parameters())
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"model {args.model} ({parameters:,} parameters)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "one_face_640x480.mp4"
        write_video(video, args.frames)
        for name, (detect_size, search_every, backend) in itertools.product(
            args.detector or [DEFAULT_DETECTOR],
            ((None, 1, "torch"), (480, 1, "torch"), (None, 10, "torch"), (None, 10, "onnx"), (480, 10, "onnx")),
        ):
            detector = RoiDetector(get_detector(name, max_side=detect_size), search_every)
            analyzer = FaceAnalyzer(detector, classifiers[backend])
            start = time.perf_counter()
            report = analyze_video(video, analyzer, Path(tmp) / "out")
            elapsed = time.perf_counter() - start
            found = len({row["frame"] for row in report.timeline if row["label"]})
            where = "full frame" if detect_size is None else f"{detect_size} px"
            print(
                f"end to end, {name} on {where}, full search every {search_every:2d} frames, {backend} backend: "
                f"{args.frames / elapsed:.1f} frames/s ({found}/{args.frames} frames with the face found, "
                f"{detector.full_searches} full searches)"
            )
    for batch in (1, 64):
        rates = {backend: classifier_rate(classifier, batch) for backend, classifier in classifiers.items()}
        print(f"classifier alone, batch {batch:2d}: " + ", ".join(f"{b} {r:,.0f} faces/s" for b, r in rates.items()))


if __name__ == "__main__":
    main()
