"""Checks of user-given arguments, with one-line messages that say what was expected."""

from __future__ import annotations

from typing import Sequence

from ferlab.errors import FerlabError


def check_choice(value: str, choices: Sequence[str], what: str) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise a one-line `FerlabError`."""
    if value not in choices:
        raise FerlabError(f"unknown {what} {value!r}: expected one of {', '.join(choices)}")
    return value


def check_batch_size(batch_size: int) -> int:
    """Return ``batch_size`` if it is at least 1; otherwise raise a one-line `FerlabError`."""
    if batch_size < 1:
        raise FerlabError(f"batch size must be at least 1, got {batch_size}")
    return batch_size
