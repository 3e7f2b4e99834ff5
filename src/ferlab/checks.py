"""Checks of user-given arguments, with one-line messages that say what was expected."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ferlab.errors import OptionError


def check_choice(value: str, choices: Sequence[str], what: str) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise a one-line `OptionError`."""
    if value not in choices:
        raise OptionError(f"unknown {what} {value!r}: expected one of {', '.join(choices)}")
    return value


def check_batch_size(batch_size: int) -> int:
    """Return ``batch_size`` if it is at least 1; otherwise raise a one-line `OptionError`."""
    if batch_size < 1:
        raise OptionError(f"batch size must be at least 1, got {batch_size}")
    return batch_size


def check_path(value: str, what: str) -> Path:
    """``value`` as a `Path`; a one-line `OptionError` when it is empty (``Path("")`` would be the current folder)."""
    if not value.strip():
        raise OptionError(f"{what}: an empty path; give a file or folder (. for the current folder)")
    return Path(value)
