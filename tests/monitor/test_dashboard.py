"""The dashboard: its JSON API on a crafted history, the token, the CLI's refusal off loopback,
and the page in headless Chromium (Debian's /usr/bin/chromium) showing a person's plot."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

pytest.importorskip("fastapi", reason='the dashboard needs the serve extra: pip install -e ".[serve]"')

from fastapi.testclient import TestClient  # noqa: E402

from ferlab.errors import FerlabError  # noqa: E402
from ferlab.monitor.alerts import AlertEngine, PeriodicCheck, Rule, Rules  # noqa: E402
from ferlab.monitor.dashboard import create_dashboard  # noqa: E402
from ferlab.monitor.store import Observation, alerts, now_ms, open_store, people  # noqa: E402

from .conftest import START_MS  # noqa: E402
from .test_alerts import wait_for  # noqa: E402

HOUR = 3_600_000


@pytest.fixture
def store(db_url: str):
    """A person seen for 3 hours: happy in hour 0, half sad in hour 1, sad in hour 2; one alert."""
    store = open_store(db_url)
    with store.engine.begin() as connection:
        person = connection.execute(
            people.insert().values(name="ada", created_ms=now_ms()).returning(people.c.id)
        ).scalar_one()
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    labels = ["happy"] * 60 + ["happy", "sad"] * 30 + ["sad"] * 60
    store.write(
        [
            Observation(
                START_MS + i * 60_000, source, session, 0, person, (0, 0, 1, 1), 1.0, 15, label, {label: 1.0}, "m", "1"
            )
            for i, label in enumerate(labels)
        ]
    )
    store.add_alert("negative", START_MS + 2 * HOUR, "ada: negative share 100%", 1.0, person, None)
    store.person_id = person
    yield store
    store.close()


def test_shares_per_hour_and_day(store) -> None:
    client = TestClient(create_dashboard(store))
    query = f"person_id={store.person_id}&start_ms={START_MS}&end_ms={START_MS + 86_400_000}"
    hours = client.get(f"/api/shares?{query}&bin=hour").json()["bins"]
    assert [(b["t_ms"] - START_MS, b["n"], b["shares"]) for b in hours] == [
        (0, 60, {"happy": 1.0}),
        (HOUR, 60, {"happy": 0.5, "sad": 0.5}),
        (2 * HOUR, 60, {"sad": 1.0}),
    ]
    (day,) = client.get(f"/api/shares?{query}&bin=day").json()["bins"]
    assert day["n"] == 180 and day["shares"]["sad"] == pytest.approx(0.5)
    assert client.get("/api/shares?start_ms=0&end_ms=1").status_code == 422
    assert [p["name"] for p in client.get("/api/people").json()] == ["ada"]
    latest = client.get("/api/observations?limit=2").json()
    assert [o["label"] for o in latest] == ["sad", "sad"] and latest[0]["person"] == "ada"


def test_shares_state_their_time_zone_and_bin_days_in_it(store) -> None:
    """UTC by default, said in the answer; another zone's days (data at 09:00-12:00 UTC fall on two
    days at UTC+14); zones with half-hour offsets and unknown names refused."""
    client = TestClient(create_dashboard(store))
    assert client.get("/api/config").json()["timezone"] == "UTC"
    query = f"person_id={store.person_id}&start_ms={START_MS - 86_400_000}&end_ms={START_MS + 86_400_000}"
    utc = client.get(f"/api/shares?{query}&bin=day").json()
    assert utc["timezone"] == "UTC" and [b["start"] for b in utc["bins"]] == ["2026-12-01T00:00:00+00:00"]
    paris = client.get(f"/api/shares?{query}&bin=day&tz=Europe/Paris").json()
    assert paris["timezone"] == "Europe/Paris"
    assert [(b["start"], b["t_ms"], b["n"]) for b in paris["bins"]] == [
        ("2026-12-01T00:00:00+01:00", START_MS - 10 * HOUR, 180)
    ]
    kiritimati = client.get(f"/api/shares?{query}&bin=day&tz=Pacific/Kiritimati").json()["bins"]
    assert [(b["start"], b["n"]) for b in kiritimati] == [
        ("2026-12-01T00:00:00+14:00", 60),  # 09:00-09:59 UTC is 23:00-23:59 there
        ("2026-12-02T00:00:00+14:00", 120),
    ]
    hours = client.get(f"/api/shares?{query}&bin=hour&tz=Europe/Paris").json()["bins"]
    assert [b["start"] for b in hours] == [f"2026-12-01T{h}:00:00+01:00" for h in (10, 11, 12)]
    half = client.get(f"/api/shares?{query}&bin=day&tz=Asia/Kolkata")
    assert half.status_code == 422 and "+0530 is not whole hours" in half.json()["detail"]
    assert client.get(f"/api/shares?{query}&tz=Mars/Olympus").status_code == 422
    berlin = TestClient(create_dashboard(store, tz="Europe/Berlin"))
    assert berlin.get("/api/config").json()["timezone"] == "Europe/Berlin"
    assert berlin.get(f"/api/shares?{query}&bin=day").json()["bins"][0]["start"] == "2026-12-01T00:00:00+01:00"
    with pytest.raises(FerlabError, match="time zone 'Mars/Olympus': unknown"):
        create_dashboard(store, tz="Mars/Olympus")


def test_a_day_across_a_dst_change_has_25_hours(tmp_path: Path) -> None:
    """Europe/Paris's 2026-10-25 lasts 25 hours (22:00 UTC the day before to 23:00 UTC): one
    observation per UTC hour of it makes one day bin of 25."""
    store = open_store(str(tmp_path / "m.db"))
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    first = int(datetime(2026, 10, 24, 21, tzinfo=timezone.utc).timestamp() * 1000)  # an hour before that day
    store.write(
        [
            Observation(first + h * HOUR, source, session, 0, None, (0, 0, 1, 1), 1.0, 1, "happy", {}, "m", "1")
            for h in range(27)
        ]
    )
    client = TestClient(create_dashboard(store, tz="Europe/Paris"))
    answer = client.get(f"/api/shares?source_id={source}&start_ms={first}&end_ms={first + 27 * HOUR}&bin=day")
    assert [(b["start"], b["n"]) for b in answer.json()["bins"]] == [
        ("2026-10-24T00:00:00+02:00", 1),
        ("2026-10-25T00:00:00+02:00", 25),
        ("2026-10-26T00:00:00+01:00", 1),
    ]
    store.close()


def test_cli_refuses_an_unknown_time_zone(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ferlab", "monitor", "serve", "--db", str(tmp_path / "m.db"), "--tz", "Mars/Olympus"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and run.stderr.strip() == (
        "error: time zone 'Mars/Olympus': unknown; give an IANA name such as UTC or Europe/Paris"
    )
    assert not (tmp_path / "m.db").exists()


def test_the_server_checks_not_seen_on_its_clock(store) -> None:
    """`create_dashboard(..., check=PeriodicCheck(...))` (``serve --rules``): while the app runs its
    check fires not_seen on the injected clock with nothing written; the page's API lists it."""
    engine = AlertEngine(store, Rules([Rule("unseen", "not_seen", {"hours": 24.0})]))
    clock = [START_MS + 5 * HOUR]
    check = PeriodicCheck(engine, every_s=0.001, clock=lambda: clock[0])
    with TestClient(create_dashboard(store, check=check)) as client:
        wait_for(lambda: check.checks >= 3)
        assert engine.fired == []
        clock[0] = START_MS + 30 * HOUR  # ada was last seen at 11:59 UTC, 30 h after 09:00
        wait_for(lambda: engine.fired)
        messages = [a["message"] for a in client.get("/api/alerts").json()]
    assert "ada not seen for 27.0 h" in messages


def test_alerts_are_acknowledged(store) -> None:
    client = TestClient(create_dashboard(store))
    (alert,) = client.get("/api/alerts?open_only=true").json()
    assert client.post(f"/api/alerts/{alert['id']}/acknowledge").status_code == 204
    assert client.get("/api/alerts?open_only=true").json() == []
    assert client.post("/api/alerts/999/acknowledge").status_code == 404


def test_token_is_required_when_set(tmp_path: Path) -> None:
    client = TestClient(create_dashboard(open_store(str(tmp_path / "m.db")), token="s3cret"))
    for path in ("/", "/api/people", "/docs", "/openapi.json"):
        assert client.get(path).status_code == 401
    assert client.get("/api/people", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/people", headers={"Authorization": "Bearer s3cret"}).json() == []
    assert client.get("/?token=s3cret").status_code == 200  # sets the cookie the page's requests carry
    assert client.get("/api/people").status_code == 200


def test_cli_refuses_other_addresses_without_a_token(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "ferlab", "monitor", "serve", "--db", str(tmp_path / "m.db"), "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    assert run.stderr.strip() == (
        "error: listening on 0.0.0.0 makes the records reachable from other machines: give --token"
    )


CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
@pytest.mark.parametrize(
    "db_url", ["sqlite"], indirect=True
)  # the page is the same on PostgreSQL (the API is tested there)
@pytest.mark.parametrize(
    ("tz", "alert_time"), [("UTC", "2026-12-01 11:00:00"), ("Europe/Paris", "2026-12-01 12:00:00")]
)
def test_page_shows_a_persons_plot_in_chromium(store, tz: str, alert_time: str) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_dashboard(store, token="t0ken", tz=tz), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive()
        time.sleep(0.05)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{listener.getsockname()[1]}/?token=t0ken")
            page.wait_for_selector("body[data-ready='1']")
            assert page.locator("#who option").first.inner_text() == "ada"
            bars = page.locator("#plot rect.bar")
            assert bars.count() == 4  # hour 0 happy, hour 1 happy + sad, hour 2 sad
            assert "not an emotion" in page.locator(".note").inner_text()
            assert "ada: negative share 100%" in page.locator("#alerts").inner_text()
            assert page.locator("#zone").inner_text().startswith(f"Times, hours and days are in {tz}")
            assert page.locator("#alerts th").first.inner_text() == f"time ({tz})"
            assert page.locator("#alerts td").first.inner_text() == alert_time
            assert f" {tz}, 3 hour(s) with observations" in page.locator("#plot text").text_content()
            page.locator("#alerts button").click()
            page.wait_for_selector("#alerts button[disabled]")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_cli_serve_with_rules_checks_not_seen(tmp_path: Path) -> None:
    """`ferlab monitor serve --rules`: a person last seen long ago gets a not_seen alert from the
    server's own check (waiting for the alert row); the rules' other kinds are left to monitors."""
    db, rules = tmp_path / "m.db", tmp_path / "rules.yaml"
    store = open_store(str(db))
    with store.engine.begin() as connection:
        connection.execute(people.insert().values(name="ada", created_ms=0, last_seen_ms=START_MS))
    rules.write_text("rules: [{name: unseen, kind: not_seen, hours: 1}, {name: down, kind: source_down}]")
    command = [sys.executable, "-m", "ferlab", "monitor", "serve", "--db", str(db), "--port", "0"]
    process = subprocess.Popen(
        [*command, "--rules", str(rules), "--check-every", "0.05"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )

    def fired() -> list[dict]:
        assert process.poll() is None, process.communicate()[1].decode()
        return store.query(sa.select(alerts.c.rule, alerts.c.message))

    try:
        wait_for(fired)
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    ((rule, message),) = [(a["rule"], a["message"]) for a in store.query(sa.select(alerts.c.rule, alerts.c.message))]
    assert rule == "unseen" and message.startswith("ada not seen for ")
    store.close()
