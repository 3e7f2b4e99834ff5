"""`ferlab predict --json` on the bundled photo gives what it gave before the code was reorganised.

The data-prior files (``predict_astronaut_<model>.json``) were written by `ferlab predict
src/ferlab/assets/astronaut.png --json --model M` (the default detector then, ``--detector opencv``,
which the test now names) at commit 6df7bbd (before issue #21's model-registry and trainer changes;
ferlab-wild's when it was shipped, 2026-12-02), when the data prior was the only operating point:
under ``--prior data`` they must stay valid (issue #31). The default operating point became
``tuned`` on 2026-12-05 (issue #31, README "Operating point"); the ``_tuned`` files were written
then by the same command without ``--prior``. ``ferlab-wild``'s two files were rewritten on
2026-12-05 when a new network (issue #31's run 41, INT8) was shipped under that name, and
``ferlab-fer2013``'s ``_tuned`` file when the finer strength grid moved its tuned strength from 0.75
to 1.0 (issue #31, the same day). A change
of code that should not change behaviour must leave them all valid. A deliberate change of the
shipped models or the pipeline rewrites them, and says so in its commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXPECTED = Path(__file__).parent / "expected"
PHOTO = Path(__file__).resolve().parents[2] / "src" / "ferlab" / "assets" / "astronaut.png"


def assert_close(actual: Any, expected: Any, where: str = "") -> None:
    """Equal structure and text; numbers within 2e-5 (the JSON rounds probabilities to 5 places)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=2e-5), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize("model", ["ferlab-wild", "ferlab-ferplus", "ferlab-fer2013"])
@pytest.mark.parametrize(("prior", "suffix"), [(["--prior", "data"], ""), ([], "_tuned")])
def test_predict_json_on_the_demo_photo_is_unchanged(model: str, prior: list[str], suffix: str, tmp_path: Path) -> None:
    """Under ``--prior data``, today's behaviour before the operating points; by default, the tuned point."""
    command = ["predict", str(PHOTO), "--json", "--model", model, "--out", str(tmp_path), *prior]
    done = subprocess.run(
        [sys.executable, "-m", "ferlab", *command, "--detector", "opencv"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    expected = json.loads((EXPECTED / f"predict_astronaut_{model}{suffix}.json").read_text())
    assert_close(json.loads(done.stdout), expected)
