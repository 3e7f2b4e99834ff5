"""Fixtures of the monitoring tests: a short clip with one face, the shipped analyzer, and the
databases: a SQLite file and a real PostgreSQL server.

PostgreSQL: the server named by ``FERLAB_TEST_POSTGRES`` (a ``postgresql://`` URL of a user
that may create databases; `.ci/run` installs Debian's ``postgresql``, starts it and sets it).
Each test gets a fresh database there. Without the variable the PostgreSQL tests skip, except
under ``CI=true``, where they fail.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
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


class TcpProxy:
    """A TCP proxy on loopback in front of a server: `close` makes the server unreachable (the
    listening socket closed, open connections cut), `open` makes it reachable again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self.open()

    def open(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._listener is not None:  # shut down first: that wakes the thread blocked in accept()
                with contextlib.suppress(OSError):
                    self._listener.shutdown(socket.SHUT_RDWR)
                self._listener.close()
                self._listener = None
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:  # closed
                return
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, server]
            for one, other in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(one, other), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def proxied_postgres(postgres_url: str) -> Iterator[tuple[str, TcpProxy]]:
    """A fresh PostgreSQL database reached through a `TcpProxy`: its URL through the proxy, and the proxy."""
    import sqlalchemy as sa

    url = sa.engine.make_url(postgres_url)
    proxy = TcpProxy(url.host or "127.0.0.1", url.port or 5432)
    yield url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False), proxy
    proxy.close()


class PrivatePostgres:
    """A throwaway PostgreSQL server of its own (``initdb`` into a temporary folder, its own port on
    loopback, trust authentication) that a test may kill -9 and start again. Run as the
    ``postgres`` user when the tests run as root (the server refuses root)."""

    def __init__(self, bindir: Path, folder: Path) -> None:
        self.bindir = bindir
        self.data = folder / "data"
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self._as_user = []
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
            self._as_user = ["runuser", "-u", "postgres", "--"]
        run = subprocess.run(
            [*self._as_user, str(bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N"],
            capture_output=True,
            text=True,
        )
        assert run.returncode == 0, run.stderr

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        """Start the server and wait until it accepts connections (after crash recovery, if any)."""
        options = ["-p", str(self.port), "-k", str(self.data), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on"]
        self.process = subprocess.Popen(
            [*self._as_user, str(self.bindir / "postgres"), "-D", str(self.data), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: kill() takes every backend with it
        )
        deadline = time.monotonic() + 120
        while subprocess.run(
            [str(self.bindir / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        ).returncode:
            assert self.process.poll() is None, self.process.stderr.read().decode()
            assert time.monotonic() < deadline, "the private PostgreSQL server did not start"
            time.sleep(0.1)

    def kill(self) -> None:
        """kill -9 the server and all its processes at once, as a crash would."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        while _group_alive(self.process.pid):
            time.sleep(0.05)  # every backend gone: the shared memory is free for a restart

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


def _group_alive(group: int) -> bool:
    """Whether a process of process group ``group`` is still there, from /proc (a zombie counts: the
    server's pid file names it until it is reaped)."""
    for entry in Path("/proc").iterdir():
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:
            return True
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started `PrivatePostgres` (Debian's binaries under /usr/lib/postgresql); skipped without
    them, except under ``CI=true``, where `.ci/run` installs them."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
    if not found:
        message = "no PostgreSQL binaries under /usr/lib/postgresql (apt-get install postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="ferlab-pg-"))  # under /tmp: pytest's own folders are root's only
    try:
        server = PrivatePostgres(found[-1].parent, folder)
        server.start()
        yield server
        server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
