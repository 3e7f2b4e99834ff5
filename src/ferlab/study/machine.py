"""The machine a study ran on, for the tables and reports that `ferlab.study` writes."""

from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

import torch

import ferlab


def cpu_model() -> str:
    """The CPU's model name (from ``/proc/cpuinfo`` on Linux, else what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, str]:
    """CPU, GPU, software versions and date, for the table file."""
    return {
        "CPU": f"{cpu_model()}, {os.cpu_count()} logical cores, torch threads: {torch.get_num_threads()}",
        "GPU": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none",
        "software": f"torch {torch.__version__}, ferlab {ferlab.__version__}, Python {platform.python_version()}",
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
    }
