"""``python -m ferlab`` is the ferlab command: same output, same one-line errors."""

import os
import subprocess
import sys


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferlab", *args], capture_output=True, text=True, timeout=120)


def test_python_m_ferlab_lists_the_models() -> None:
    result = _run("models")
    assert result.returncode == 0, result.stderr
    assert "resnet_like" in result.stdout and "deep_emotion" in result.stdout


def test_python_m_ferlab_reports_bad_input_in_one_line() -> None:
    result = _run("train", "--config", "no_such.yaml")  # refused before torch loads: a fast subprocess
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "no_such.yaml: cannot read the config" in result.stderr


def test_the_command_list_gives_each_command_one_line() -> None:
    """A command's summary (its docstring's first paragraph) is one line, so `ferlab --help` keeps one row each."""
    result = subprocess.run(
        [sys.executable, "-m", "ferlab", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "250"},
    )
    assert result.returncode == 0, result.stderr
    listing = result.stdout.split("Commands")[1].splitlines()[1:-1]
    runs_over = [row for row in listing if row[2:3] == " "]  # a row with no command name
    assert not runs_over, f"a command's summary runs over two rows: {runs_over}"
    names = [row[2:].split()[0] for row in listing]
    assert {"train", "eval", "export", "explain", "predict", "data"} <= set(names)
