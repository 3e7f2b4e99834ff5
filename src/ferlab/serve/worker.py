"""`InferenceWorker`: runs analyses off the event loop, one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class InferenceWorker:
    """One dedicated thread for the analyzer, so concurrent requests never share it at once.

    Requests queue for the thread; a request that times out while queued is dropped
    before it runs.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ferlab-serve")

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` on the worker thread, awaited without blocking the event loop."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, partial(function, *args))

    def close(self) -> None:
        """Drop queued work and let the thread end after the analysis it is running."""
        self._pool.shutdown(wait=False, cancel_futures=True)
