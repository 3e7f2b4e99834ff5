"""A stream that stops and comes back: an MJPEG stream from a loopback HTTP server, read through
OpenCV; the monitor reconnects with backoff, records the gap, and a source_down rule fires."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np
import sqlalchemy as sa
from skimage import data

from ferlab.monitor.alerts import AlertEngine, PeriodicCheck, Rule, Rules
from ferlab.monitor.run import Monitor
from ferlab.monitor.sources import LiveSource
from ferlab.monitor.store import alerts, gaps, now_ms, observations, open_store

from .test_alerts import wait_for

# ``python -m ferlab`` as a terminal's foreground command starts it, with Ctrl+C's default handler. Run
# from a background job (a CI script, nohup), this test inherits SIGINT ignored, which a child Python
# keeps: the monitor would then rightly ignore the SIGINT the test sends and never stop.
FOREGROUND_FERLAB = [
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('ferlab', run_name='__main__', alter_sys=True)",
]

FRAMES_PER_CONNECTION = 15
REFUSED = 2
"""Connections refused (HTTP 503) between the two streaming ones: the source is down."""


class MjpegHandler(BaseHTTPRequestHandler):
    """A quiet HTTP handler that answers with an MJPEG stream (multipart/x-mixed-replace)."""

    def send_frames(self, jpeg: bytes, count: int) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(jpeg)
        for _ in range(count):
            self.wfile.write(head + jpeg + b"\r\n")
        self.wfile.flush()

    def log_message(self, *args) -> None:
        pass


def serve(handler: type[MjpegHandler]) -> ThreadingHTTPServer:
    """A loopback server of ``handler`` on a free port, serving in a daemon thread."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_stream_drops_reconnects_and_the_gap_is_recorded(tmp_path: Path, analyzer) -> None:
    frame = np.full((480, 640, 3), 40, np.uint8)
    frame[60:360, 170:470] = cv2.resize(data.astronaut(), (300, 300))
    jpeg = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))[1].tobytes()
    stop, requests = threading.Event(), []

    class Stream(MjpegHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            requests.append(self.path)
            streaming = len(requests) in (1, REFUSED + 2)
            if not streaming:
                self.send_error(503)
                return
            self.send_frames(jpeg, FRAMES_PER_CONNECTION)

    server = serve(Stream)
    store = open_store(str(tmp_path / "m.db"))
    engine = AlertEngine(store, Rules([Rule("down", "source_down", {"minutes": 0.0})]))
    delays = []

    def sleep(seconds: float) -> None:
        delays.append(seconds)
        if len(requests) >= REFUSED + 2:
            stop.set()  # the second stream ended too: the test is over
        stop.wait(seconds)

    source = LiveSource(f"http://127.0.0.1:{server.server_port}/cam.mjpg", backoff_s=0.01, sleep=sleep)
    report = Monitor(store, analyzer, interval_s=0.05, alerts=engine).run(source, stop)
    server.shutdown()
    assert report.frames >= 2 * FRAMES_PER_CONNECTION - 2  # the frames of both connections (a last one may be cut)
    assert delays[:3] == [0.01, 0.02, 0.04]  # exponential backoff while refused
    first = store.query(sa.select(gaps).order_by(gaps.c.start_ms))[0]
    assert first["reason"] == "no frame" and first["end_ms"] is not None and first["end_ms"] >= first["start_ms"]
    times = [r["t_ms"] for r in store.query(sa.select(observations.c.t_ms))]
    assert min(times) < first["start_ms"] <= first["end_ms"] <= max(times) + 50  # observations on both sides
    assert any(a["rule"] == "down" for a in store.query(sa.select(alerts)))
    store.close()


def test_a_hung_stream_fires_source_down_on_the_clock(tmp_path: Path, analyzer) -> None:
    """A stream that sends a few frames and then nothing, its connection left open (OpenCV's read
    blocks): no observation, no gap, yet `PeriodicCheck` on the injected clock fires source_down.
    The source stamps frames with its own clock, held at t0 while the check's clock jumps: frames
    still buffered when the check's clock moves are then stamped when they were sent, not later."""
    jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 40, np.uint8))[1].tobytes()
    sent, release = threading.Event(), threading.Event()

    class Hung(MjpegHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            self.send_frames(jpeg, 5)
            sent.set()
            release.wait(120)

    server = serve(Hung)
    store = open_store(str(tmp_path / "m.db"))
    engine = AlertEngine(store, Rules([Rule("down", "source_down", {"minutes": 5.0})]))
    t0 = 1_800_000_000_000
    clock, source_clock = [t0], [t0]
    stop = threading.Event()
    source = LiveSource(f"http://127.0.0.1:{server.server_port}/cam.mjpg", clock=lambda: source_clock[0] / 1000)
    source.sleep = lambda seconds: stop.wait(seconds)
    monitor = threading.Thread(target=Monitor(store, analyzer, alerts=engine).run, args=(source, stop), daemon=True)
    monitor.start()
    check = PeriodicCheck(engine, every_s=0.001, clock=lambda: clock[0])
    checking = check.start(stop)
    wait_for(lambda: sent.is_set() and engine.heartbeats and check.checks >= 3)
    assert engine.fired == []
    clock[0] = t0 + 6 * 60_000  # six minutes later on the clock, the stream still silent
    wait_for(lambda: engine.fired)
    assert store.query(sa.select(gaps)) == [] and store.query(sa.select(observations)) == []
    (alert,) = store.query(sa.select(alerts))
    assert alert["message"] == f"{source.name} gave no frame for 6.0 min" and alert["t_ms"] == t0 + 6 * 60_000
    source_clock[0] = clock[0]  # the source too sees the six minutes when it stops
    stop.set()
    release.set()
    monitor.join(60)
    checking.join(60)
    server.shutdown()
    assert not monitor.is_alive() and len(store.query(sa.select(alerts))) == 1  # the gap seen at the end: no repeat
    store.close()


def test_cli_checks_rules_on_the_clock_while_a_stream_hangs(tmp_path: Path) -> None:
    """`ferlab monitor URL --rules ... --check-every`: the stream sends a few frames and hangs, the
    monitor's periodic check fires source_down while the server sends nothing (waiting for an
    alert raised after its last frame, a state; one may come earlier too, when opening the
    stream takes longer than the rule's 0.3 s); Ctrl+C (SIGINT) then stops it and its summary
    names the alerts. Every connection hangs alike: on a loaded machine the monitor may load its
    model for longer than OpenCV's 30 s read timeout after opening the stream, then reconnect."""
    jpeg = cv2.imencode(".jpg", np.full((480, 640, 3), 40, np.uint8))[1].tobytes()
    release, connections, sent = threading.Event(), [], []

    class Hung(MjpegHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server name
            connections.append(self.path)
            self.send_frames(jpeg, 5)
            sent.append(now_ms())
            release.wait(300)

    server = serve(Hung)
    db, rules = tmp_path / "m.db", tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: down, kind: source_down, minutes: 0.005}]")  # 0.3 s without a frame
    url = f"http://127.0.0.1:{server.server_port}/cam.mjpg"
    command = [*FOREGROUND_FERLAB, "monitor", url, "--db", str(db), "--rules", str(rules)]
    process = subprocess.Popen([*command, "--check-every", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def alerted() -> bool:
        assert process.poll() is None, process.communicate()[1].decode()
        if not sent:
            return False
        try:
            query = "SELECT count(*) FROM alerts WHERE t_ms >= ?"
            return sqlite3.connect(db).execute(query, (sent[0],)).fetchone()[0] > 0
        except sqlite3.OperationalError:  # not created yet
            return False

    try:
        wait_for(alerted, seconds=120)
        assert connections and set(connections) == {"/cam.mjpg"}  # hung connections: the check fired it
    finally:
        process.send_signal(signal.SIGINT)
        release.set()
        out, err = process.communicate(timeout=120)
        server.shutdown()
    fired = sqlite3.connect(db).execute("SELECT rule FROM alerts").fetchall()
    assert {rule for (rule,) in fired} == {"down"}, err
    assert f"{len(fired)} alert(s) fired" in out.decode() and f"alert down: {url} gave no frame for" in out.decode()
