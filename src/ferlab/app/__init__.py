"""The application layer: photos, folders and videos in; faces, expressions and timelines out.

Example::

    from ferlab.app import FaceAnalyzer
    analyzer = FaceAnalyzer(detector="yunet", model="ferlab-wild")
    for face in analyzer.analyze(rgb):        # RGB uint8 (H, W, 3)
        print(face.box, face.label, face.probabilities)

`ferlab.analyze(image_or_path)` is the one-call form returning plain dicts.

Every name is imported on first use, so reading a light module of the package (the CLI reads
`ferlab.app.classifier.BACKENDS` through the server's settings to build ``ferlab serve``'s flags) does not load
OpenCV or Pillow.
"""

from ferlab.lazy import lazy_exports

_HOMES = {
    "CropClassifier": "ferlab.app.crop_classifier",
    "FaceAnalyzer": "ferlab.app.analyze",
    "FaceResult": "ferlab.app.analyze",
    "load_classifier": "ferlab.app.classifier",
}
__getattr__ = lazy_exports(__name__, _HOMES)
__all__ = sorted(_HOMES)
