"""Cold start of the application: wall time and peak memory of `ferlab predict` and `ferlab demo`,
in the application venv (``pip install .``) next to a venv with the research stack (torch), and
each venv's size on disk. Both venvs run the same commands, interleaved, in one run.

    python3 -m venv /tmp/app && /tmp/app/bin/pip install .
    python bench/cold_start.py --app-venv /tmp/app --torch-venv .venv

Each command runs once to warm the file cache, then ``--repeats`` times per venv in turn; the
median wall time and the median peak RSS (``ru_maxrss`` of the child, from ``os.wait4``) are
reported with their range, and the ratios torch venv / app venv of the medians with a bootstrap 95%
CI (scipy). ``predict --backend torch`` runs in the torch venv
only, as the figure of the old torch runtime. Nothing else should run while it measures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from scipy import stats

ASTRONAUT = Path(__file__).resolve().parent.parent / "src" / "ferlab" / "assets" / "astronaut.png"


def venv_megabytes(venv: Path) -> float:
    """The size of ``venv`` on disk in MB (10^6 bytes), as ``du -sb`` counts it."""
    out = subprocess.run(["du", "-sb", str(venv)], capture_output=True, text=True, check=True).stdout
    return int(out.split()[0]) / 1e6


def run_once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one run of ``argv``; `SystemExit` naming it if it fails."""
    log = cwd / "stderr.txt"
    with open(log, "wb") as stderr:
        start = time.perf_counter()
        process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {log.read_text().strip()[-500:]}")
    return seconds, usage.ru_maxrss / 1024


def median_ratio(numerator: list[float], denominator: list[float]) -> tuple[float, tuple[float, float]]:
    """median(numerator) / median(denominator) and its percentile-bootstrap 95% CI."""

    def ratio(a: np.ndarray, b: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(a, axis=axis) / np.median(b, axis=axis)

    result = stats.bootstrap(
        (np.array(numerator), np.array(denominator)), ratio, method="percentile", n_resamples=2000, random_state=0
    )
    return float(ratio(np.array(numerator), np.array(denominator))), (
        result.confidence_interval.low,
        result.confidence_interval.high,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-venv", type=Path, required=True, help="a venv with `pip install .`")
    parser.add_argument("--torch-venv", type=Path, required=True, help='a venv with `pip install ".[train]"`')
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    args.app_venv, args.torch_venv = args.app_venv.absolute(), args.torch_venv.absolute()

    work = Path(tempfile.mkdtemp(prefix="ferlab-cold-"))
    one = work / "one.jpg"
    cv2.imwrite(str(one), cv2.imread(str(ASTRONAUT)))
    commands = {"predict one.jpg": ["predict", str(one), "--out", "p"], "demo": ["demo", "--out", "d"]}
    cases = [
        (name, venv_name, venv, argv)
        for name, argv in commands.items()
        for venv_name, venv in (("app", args.app_venv), ("torch", args.torch_venv))
    ]
    cases.append(
        (
            "predict one.jpg --backend torch",
            "torch",
            args.torch_venv,
            [*commands["predict one.jpg"], "--backend", "torch"],
        )
    )
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for _, _, venv, argv in cases:  # warm-up: file cache, bytecode
        run_once([str(venv / "bin" / "ferlab"), *argv], work)
    for _ in range(args.repeats):
        for name, venv_name, venv, argv in cases:
            samples.setdefault((name, venv_name), []).append(run_once([str(venv / "bin" / "ferlab"), *argv], work))

    print(
        f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, python {sys.version.split()[0]}; median of "
        f"{args.repeats} runs after a warm-up"
    )
    print(f"{'command':34} {'venv':6} {'wall s (range)':>20} {'peak MiB (range)':>18}")
    for (name, venv_name), runs in samples.items():
        walls, rss = [r[0] for r in runs], [r[1] for r in runs]
        print(
            f"{name:34} {venv_name:6} {statistics.median(walls):6.2f} ({min(walls):.2f}-{max(walls):.2f}) "
            f"{statistics.median(rss):6.0f} ({min(rss):.0f}-{max(rss):.0f})"
        )
    predict = "predict one.jpg"
    pairs = [
        ((predict, "torch"), (predict, "app")),
        (("demo", "torch"), ("demo", "app")),
        ((f"{predict} --backend torch", "torch"), (predict, "app")),
    ]
    for slow, fast in pairs:
        for what, index in (("wall", 0), ("memory", 1)):
            ratio, (low, high) = median_ratio([r[index] for r in samples[slow]], [r[index] for r in samples[fast]])
            noise = " (within noise: the CI holds 1)" if low <= 1 <= high else ""
            print(
                f"{slow[0]} ({slow[1]} venv) / {fast[0]} ({fast[1]} venv), {what}: {ratio:.2f}x, "
                f"95% CI {low:.2f}-{high:.2f}{noise}"
            )
    sizes = {name: venv_megabytes(venv) for name, venv in (("app", args.app_venv), ("torch", args.torch_venv))}
    print(f"venv size: app {sizes['app']:.0f} MB, torch {sizes['torch']:.0f} MB ({sizes['torch'] / sizes['app']:.1f}x)")


if __name__ == "__main__":
    main()
