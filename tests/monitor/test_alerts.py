"""Alert rules: fire on a crafted history, stay quiet on a flat one, continue after a restart,
POST to a webhook on loopback; bad rule files are refused in one line."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from ferlab.errors import FerlabError
from ferlab.monitor.alerts import AlertEngine, PeriodicCheck, Rule, Rules, load_rules
from ferlab.monitor.store import Observation, alerts, now_ms, open_store, people

HOUR = 3_600_000
RULE = Rule(
    "negative",
    "negative_share",
    {
        "window_minutes": 60.0,
        "k": 2.0,
        "min_windows": 6,
        "min_std": 0.05,
        "labels": ("sad", "angry", "fear", "disgust"),
    },
)


def hour_of(store, source: int, session: int, hour: int, negative: int, n: int = 60, person=None) -> list[Observation]:
    """``n`` one-minute observations in hour ``hour``, the first ``negative`` of them sad."""
    return [
        Observation(
            hour * HOUR + minute * 60_000,
            source,
            session,
            0,
            person,
            (0, 0, 1, 1),
            1.0,
            1,
            "sad" if minute < negative else "happy",
            {"sad": 0.5, "happy": 0.5},
            "m",
            "1",
        )
        for minute in range(n)
    ]


@pytest.fixture
def setup(db_url: str):
    store = open_store(db_url)
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    yield store, source, session
    store.close()


def feed(engine: AlertEngine, store, source: int, session: int, negatives: list[int]) -> None:
    for hour, negative in enumerate(negatives):
        batch = hour_of(store, source, session, hour, negative)
        store.write(batch)
        engine.observe(batch)


def test_negative_share_fires_on_a_rise_and_not_on_a_flat_history(setup) -> None:
    store, source, session = setup
    engine = AlertEngine(store, Rules([RULE]))
    feed(engine, store, source, session, [6, 7, 6, 5, 6, 7, 6, 6, 6])  # about 10% every hour
    assert engine.fired == [] and store.query(sa.select(alerts)) == []
    batch = hour_of(store, source, session, 9, 30)  # 50% negative in hour 9...
    engine.observe(batch)
    assert engine.fired == []  # ...judged once the hour is over
    engine.observe(hour_of(store, source, session, 10, 6, n=1))
    (alert,) = store.query(sa.select(alerts))
    assert alert["rule"] == "negative" and alert["t_ms"] == 9 * HOUR and alert["value"] == pytest.approx(0.5)
    assert alert["source_id"] == source and "sad/angry/fear/disgust share 50%" in alert["message"]


def test_share_above_fires_on_windows_past_its_limit(setup) -> None:
    store, source, session = setup
    rule = Rule("sad", "share_above", {"window_minutes": 60.0, "share": 0.5, "labels": ("sad",)})
    engine = AlertEngine(store, Rules([rule]))
    feed(engine, store, source, session, [10, 30, 31, 0])  # hours 0-2 judged; 31 of 60 is above half
    (alert,) = store.query(sa.select(alerts))
    assert alert["t_ms"] == 2 * HOUR and alert["message"].startswith("cam: sad share 52% over 60 min")


def test_state_survives_a_restart_without_rescanning(setup) -> None:
    store, source, session = setup
    feed(AlertEngine(store, Rules([RULE])), store, source, session, [6] * 8)
    restarted = AlertEngine(store, Rules([RULE]))  # a new process: the baseline comes from alert_state
    assert restarted.state["negative"][f"source:{source}"]["count"] == 7
    restarted.observe(hour_of(store, source, session, 8, 40))
    restarted.observe(hour_of(store, source, session, 9, 6, n=1))
    assert len(restarted.fired) == 1


def test_not_seen_fires_once_per_absence(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "m.db"))
    with store.engine.begin() as connection:
        connection.execute(people.insert().values(name="ada", created_ms=now_ms(), last_seen_ms=0))
    engine = AlertEngine(store, Rules([Rule("unseen", "not_seen", {"hours": 24.0})]))
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    engine.observe(hour_of(store, source, session, 23, 0, n=1))
    assert engine.fired == []
    engine.observe(hour_of(store, source, session, 25, 0, n=1))
    engine.observe(hour_of(store, source, session, 26, 0, n=1))
    (alert,) = store.query(sa.select(alerts))
    assert alert["message"] == "ada not seen for 25.0 h"


def test_source_down_and_webhook_post_on_loopback(tmp_path: Path) -> None:
    received = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server name
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    store = open_store(str(tmp_path / "m.db"))
    url = f"http://127.0.0.1:{server.server_port}/hook"
    engine = AlertEngine(store, Rules([Rule("down", "source_down", {"minutes": 5.0})], url))
    source = store.source_id("rtsp://cam", "stream")
    engine.source_gap(source, 0, None, now_ms=60_000)
    assert engine.fired == []
    engine.source_gap(source, 0, None, now_ms=6 * 60_000)
    engine.source_gap(source, 0, 7 * 60_000)  # the same gap, closed: no second alert
    server.shutdown()
    assert len(engine.fired) == 1 and len(received) == 1
    assert received[0]["rule"] == "down" and received[0]["message"] == "rtsp://cam gave no frame for 6.0 min"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{kind: nope}]", "rule 1: 'kind' must be one of negative_share, share_above, not_seen, source_down"),
        ("rules: [{kind: share_above, labels: sad}]", "rule 1: labels must be a list of expression names, got 'sad'"),
        ("rules: [{kind: not_seen, days: 2}]", "rule 1: unknown parameter 'days' for not_seen; expected hours"),
        ("rules: [{kind: not_seen, hours: -1}]", "rule 1: hours must be a number at least 0, got -1"),
        ("rules: [{kind: not_seen}, {kind: not_seen}]", "rule 2: the name 'not_seen' is used twice"),
        ("rules: []\nwebhook: ftp://x", "webhook must be an http:// or https:// URL"),
        ("rules: [", "not valid YAML"),
        ("- a", "expected a mapping with a 'rules' list"),
    ],
)
def test_bad_rule_files_are_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    with pytest.raises(FerlabError) as error:
        load_rules(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_good_rule_file_gets_defaults(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - {name: neg, kind: negative_share, k: 3}\n  - {kind: not_seen, hours: 12}\n")
    rules = load_rules(path)
    assert rules.rules[0] == Rule("neg", "negative_share", {**RULE.params, "k": 3.0})
    assert rules.rules[1].params == {"hours": 12.0} and rules.webhook is None


def test_not_seen_and_source_down_fire_on_time_with_nothing_observed(db_url: str) -> None:
    """`check` at given times (no observation at all): each rule fires once per absence or outage,
    never reads the observations, and a second monitor on the same database does not fire again."""
    store = open_store(db_url)
    t0 = 1_800_000_000_000
    with store.engine.begin() as connection:
        connection.execute(people.insert().values(name="ada", created_ms=t0, last_seen_ms=t0))
    source = store.source_id("rtsp://cam", "stream")
    statements = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    rules = Rules([Rule("unseen", "not_seen", {"hours": 24.0}), Rule("down", "source_down", {"minutes": 5.0})])
    engine = AlertEngine(store, rules)
    engine.heartbeat(source, t0)  # the stream's last frame
    minute = 60_000
    engine.check(t0 + 4 * minute)
    assert engine.fired == []
    engine.check(t0 + 6 * minute)
    engine.check(t0 + 23 * HOUR)
    assert [a["message"] for a in store.query(sa.select(alerts))] == ["rtsp://cam gave no frame for 6.0 min"]
    engine.heartbeat(source, t0 + 23 * HOUR)  # it came back...
    engine.check(t0 + 23 * HOUR + 2 * minute)
    engine.check(t0 + 25 * HOUR)  # ...and went down again; ada is still away
    engine.check(t0 + 26 * HOUR)
    other = AlertEngine(store, rules)  # another monitor on the same database, checking too
    other.heartbeat(source, t0 + 23 * HOUR)
    other.check(t0 + 26 * HOUR)
    assert other.fired == []
    messages = [a["message"] for a in store.query(sa.select(alerts).order_by(alerts.c.id))]
    assert messages == [
        "rtsp://cam gave no frame for 6.0 min",
        "ada not seen for 25.0 h",
        "rtsp://cam gave no frame for 120.0 min",
    ]
    assert not [s for s in statements if "observations" in s.lower()]  # no history read
    store.close()


def test_periodic_check_fires_on_its_clock(tmp_path: Path) -> None:
    """`PeriodicCheck` in its thread, on an injected clock: quiet while the absence is short, an
    alert once the clock passes the rule's hours (waiting for the state, not for a time)."""
    store = open_store(str(tmp_path / "m.db"))
    with store.engine.begin() as connection:
        connection.execute(people.insert().values(name="ada", created_ms=0, last_seen_ms=0))
    engine = AlertEngine(store, Rules([Rule("unseen", "not_seen", {"hours": 2.0})]))
    clock = [HOUR]
    check, stop = PeriodicCheck(engine, every_s=0.001, clock=lambda: clock[0]), threading.Event()
    thread = check.start(stop)
    wait_for(lambda: check.checks >= 3)
    assert engine.fired == []
    clock[0] = 3 * HOUR
    wait_for(lambda: engine.fired)
    stop.set()
    thread.join()
    (alert,) = store.query(sa.select(alerts))
    assert alert["message"] == "ada not seen for 3.0 h" and alert["t_ms"] == 3 * HOUR
    store.close()


def wait_for(condition, seconds: float = 60.0) -> None:
    """Wait until ``condition()`` holds (a state, polled; the deadline only stops a broken test)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the state never came"
        time.sleep(0.01)
