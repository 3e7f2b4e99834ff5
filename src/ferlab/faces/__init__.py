"""Face detection and alignment: find faces in a photo and crop them for an expression model.

Example::

    detector = get_detector("opencv")  # or "dlib", "mtcnn" with their extras
    faces = detector.detect(rgb)  # RGB uint8 (H, W, 3) or grayscale (H, W)
    crops = [align_face(rgb, face) for face in faces]  # 48x48 grayscale uint8
"""

from ferlab.faces.align import align_face, alignment_matrix, eye_angle, eye_centres
from ferlab.faces.base import BoxXYXY, Detector, Face, as_rgb
from ferlab.faces.detectors import get_detector, list_detectors
from ferlab.faces.errors import FaceError

__all__ = [
    "BoxXYXY",
    "Detector",
    "Face",
    "FaceError",
    "align_face",
    "alignment_matrix",
    "as_rgb",
    "eye_angle",
    "eye_centres",
    "get_detector",
    "list_detectors",
]
