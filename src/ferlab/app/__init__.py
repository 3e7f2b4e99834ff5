"""The application layer: photos, folders and videos in; faces, expressions and timelines out.

Example::

    from ferlab.app import FaceAnalyzer
    analyzer = FaceAnalyzer(detector="yunet", model="ferlab-wild")
    for face in analyzer.analyze(rgb):        # RGB uint8 (H, W, 3)
        print(face.box, face.label, face.probabilities)

`ferlab.analyze(image_or_path)` is the one-call form returning plain dicts.
"""

from ferlab.app.analyze import FaceAnalyzer, FaceResult
from ferlab.app.classifier import load_classifier
from ferlab.app.crop_classifier import CropClassifier

__all__ = ["CropClassifier", "FaceAnalyzer", "FaceResult", "load_classifier"]
