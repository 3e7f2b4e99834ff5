"""Project-level checks: CI runs the README's test command verbatim."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S)
    assert block, "README needs a Quickstart bash block"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    assert len(commands) == 2, "the quickstart has exactly two set-up commands"
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    assert commands[1] in ci_lines


def test_ci_runs_the_readme_install_and_demo_command() -> None:
    readme = (REPO / "README.md").read_text()
    block = re.search(r"## Quickstart.*?```bash\n(.*?)```", readme, re.S)
    first = block.group(1).splitlines()[0].split("#")[0].strip()
    assert first == "pip install . && ferlab demo"
    ci_text = (REPO / ".ci" / "run").read_text()
    assert f"{first} | tee" in ci_text
