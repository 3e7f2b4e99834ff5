"""`ferlab serve`: options reach uvicorn, mistakes are one-line errors, and the real command
serves on loopback."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from typing import Any

import pytest

httpx = pytest.importorskip("httpx", reason='the REST service tests need the test extra: pip install -e ".[test]"')
pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')

from ferlab.cli import main  # noqa: E402
from ferlab.serve import server  # noqa: E402


def one_line_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI, expect exit code 2, return its one-line error."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "Traceback" not in error and len(error.splitlines()) == 1, error
    return error


def test_missing_extra_names_the_install_command(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if not installed
    assert 'pip install "ferlab[serve]"' in one_line_error(["serve"], capsys)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--model", "no-such-model"], "no shipped model named 'no-such-model'"),
        (["--max-upload-mb", "0"], "max_upload_mb = 0.0: must be > 0 and finite"),
        (["--port", "70000"], "port = 70000: must be >= 0 and <= 65535"),
        (["--tta", "mirror"], "tta = 'mirror': must be one of none, flip, tencrop"),
    ],
)
def test_bad_options_are_one_line_errors(argv: list[str], message: str, capsys) -> None:
    assert message in one_line_error(["serve", *argv], capsys)


def test_the_flags_are_the_settings_fields_with_their_constraints_in_the_help() -> None:
    """`ferlab serve`'s flags are generated from `ServeSettings`: one per field (but max_batch_files), its
    default the field's, its constraint shown in the help."""
    import dataclasses

    from typer.testing import CliRunner

    from ferlab.cli import app
    from ferlab.serve.settings import ServeSettings

    result = CliRunner().invoke(app, ["serve", "--help"], env={"COLUMNS": "250"})
    shown = " ".join(result.output.replace("\u2502", " ").split())  # the panel's side borders left out
    assert result.exit_code == 0, result.output
    for field in dataclasses.fields(ServeSettings):
        assert (f"--{field.name.replace('_', '-')} " in shown) == (field.name != "max_batch_files"), field.name
    assert "TCP port. Allowed: >= 0 and <= 65535. [default: 8000]" in shown
    assert "Allowed: one of none, flip, tencrop. [default: none]" in shown
    assert "Allowed: > 0 and finite. [default: 10.0]" in shown


def test_options_reach_the_app_and_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: dict[str, Any] = {}

    class StandInServer:
        def __init__(self, config: Any) -> None:
            calls["config"] = config

        def run(self, sockets: list[socket.socket]) -> None:
            calls["address"] = sockets[0].getsockname()

    monkeypatch.setattr(server, "create_app", lambda settings: calls.setdefault("settings", settings))
    monkeypatch.setattr(server.uvicorn, "Server", StandInServer)
    with pytest.raises(SystemExit) as exited:
        main(
            [
                "serve",
                "--port",
                "0",
                "--max-upload-mb",
                "3",
                "--max-pixels",
                "1000",
                "--timeout-s",
                "5",
                "--tta",
                "flip",
            ]
        )
    assert exited.value.code == 0
    settings = calls["settings"]
    assert (settings.max_upload_bytes, settings.max_pixels, settings.timeout_s) == (3 * 2**20, 1000, 5.0)
    assert settings.tta == "flip"
    assert calls["config"].app is settings and calls["address"][0] == "127.0.0.1"


def test_busy_port_fails_before_the_model_loads(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the port was taken")

    monkeypatch.setattr("ferlab.serve.server.create_app", no_model)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        error = one_line_error(["serve", "--port", str(port)], capsys)
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in error


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("0.0.0.0", False),
        ("192.168.1.10", False),
        ("example.org", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert server.is_loopback(host) is loopback


def test_the_command_prints_its_url_and_serves_there() -> None:
    command = [sys.executable, "-c", "from ferlab.cli import main; main()", "serve", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = process.stdout.readline()  # printed once the model is loaded, before serving
        url = re.search(r"web page (http://127\.0\.0\.1:\d+/) ", line)
        assert url, f"no URL in {line!r}"
        assert not url.group(1).endswith(":0/")  # the port the system chose, not 0
        deadline = time.monotonic() + 60
        while True:
            try:
                assert httpx.get(f"{url.group(1)}healthz").json() == {"status": "ok"}
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("ferlab serve did not answer at the URL it printed")
                time.sleep(0.2)
    finally:
        process.terminate()
        process.wait(timeout=30)
