"""Fixtures of the monitoring tests: a short clip with one face, the shipped analyzer, and the
databases: a SQLite file and a real PostgreSQL server.

PostgreSQL: the server named by ``FERLAB_TEST_POSTGRES`` (a ``postgresql://`` URL of a user
that may create databases; `.ci/run` installs Debian's ``postgresql``, starts it and sets it).
Each test gets a fresh database there. Without the variable the PostgreSQL tests skip, except
under ``CI=true``, where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

pytest.importorskip("sqlalchemy", reason='monitoring needs its extra: pip install -e ".[monitor]"')

CLIP_SECONDS, CLIP_FPS = 6, 10
START = "2026-12-01T09:00:00"
START_MS = 1796115600000
"""`START` in ms since 1970 UTC."""


def write_clip(path: Path, seconds: int = CLIP_SECONDS, fps: int = CLIP_FPS) -> Path:
    """A 640x480 clip: the astronaut photo (one smiling face) swaying left and right, ``seconds`` long."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    photo = cv2.cvtColor(cv2.resize(data.astronaut(), (300, 300)), cv2.COLOR_RGB2BGR)
    for i in range(seconds * fps):
        frame = np.full((480, 640, 3), 40, np.uint8)
        x = 120 + round(100 * np.sin(i / 20))  # smooth motion: one track all along
        frame[60:360, x : x + 300] = photo
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="session")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4")


@pytest.fixture(scope="session")
def analyzer():
    """The shipped analyzer with the OpenCV detector, followed between full searches as `ferlab monitor` does."""
    from ferlab.app import FaceAnalyzer
    from ferlab.faces import get_detector
    from ferlab.faces.roi import RoiDetector

    return FaceAnalyzer(RoiDetector(get_detector("opencv"), 10))


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the test PostgreSQL server (see the module docstring)."""
    url = os.environ.get("FERLAB_TEST_POSTGRES")
    if not url:
        message = "no PostgreSQL server for the tests: set FERLAB_TEST_POSTGRES=postgresql://user:password@host/db"
        if os.environ.get("CI") == "true":
            pytest.fail(message + " (.ci/run starts one)")
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the test server; dropped afterwards."""
    import sqlalchemy as sa

    name = f"ferlab_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        postgres_server.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    yield postgres_server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each kind: a SQLite file, and a database on the PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "monitor.db")
    return request.getfixturevalue("postgres_url")
