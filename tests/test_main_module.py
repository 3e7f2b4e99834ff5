"""``python -m ferlab`` is the ferlab command: same output, same one-line errors."""

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
