"""Termination signals handled like Ctrl+C.

`handle_termination` makes SIGTERM (``kill``, ``timeout``, a container stop) and SIGHUP (a
closed terminal) raise `KeyboardInterrupt`, so the jobs that write their tables for the work
done when Ctrl+C stops them (``predict``, ``video``) do so on these signals too. A second such
signal is ignored while those tables are written; SIGKILL still stops the process at once.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TERMINATION_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))

_received = signal.SIGINT


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _received
    _received = signal.Signals(signum)
    for number in TERMINATION_SIGNALS:
        signal.signal(number, signal.SIG_IGN)
    raise KeyboardInterrupt


@contextmanager
def handle_termination() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP (where the platform has them) interrupt like Ctrl+C; the former
    handlers are restored after it. In another thread it does nothing (Python runs signal handlers in the main one)."""
    global _received
    _received = signal.SIGINT
    if threading.current_thread() is not threading.main_thread():  # only the main thread may set handlers
        yield
        return
    former = {number: signal.signal(number, _interrupt) for number in TERMINATION_SIGNALS}
    try:
        yield
    finally:
        for number, handler in former.items():
            signal.signal(number, handler)


def interrupted_exit_code() -> int:
    """The exit code of a process stopped by the last signal received: 128 + its number (130 for Ctrl+C)."""
    return 128 + int(_received)
