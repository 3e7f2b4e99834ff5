"""The dashboard: its JSON API on a crafted history, the token, the CLI's refusal off loopback,
and the page in headless Chromium (Debian's /usr/bin/chromium) showing a person's plot."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason='the dashboard needs the serve extra: pip install -e ".[serve]"')

from fastapi.testclient import TestClient  # noqa: E402

from ferlab.monitor.dashboard import create_dashboard  # noqa: E402
from ferlab.monitor.store import Observation, now_ms, open_store, people  # noqa: E402

from .conftest import START_MS  # noqa: E402

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
def test_page_shows_a_persons_plot_in_chromium(store) -> None:
    import uvicorn
    from playwright.sync_api import sync_playwright

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_dashboard(store, token="t0ken"), log_level="warning"))
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
            page.locator("#alerts button").click()
            page.wait_for_selector("#alerts button[disabled]")
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
