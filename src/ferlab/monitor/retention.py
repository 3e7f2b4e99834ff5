"""Retention of saved face crops: ``--keep-days`` deletes the files of older observations."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from ferlab.monitor.store import Store, now_ms, observations


def cleanup(store: Store, keep_days: float, now: int | None = None) -> int:
    """Delete the crops of observations older than ``keep_days`` (by their media time) and clear
    their ``crop`` column; how many files were deleted."""
    cutoff = (now_ms() if now is None else now) - int(keep_days * 86_400_000)
    old = (observations.c.t_ms < cutoff) & observations.c.crop.is_not(None)
    rows = store.query(sa.select(observations.c.id, observations.c.crop).where(old))
    for row in rows:
        Path(row["crop"]).unlink(missing_ok=True)
    with store.engine.begin() as connection:
        connection.execute(observations.update().where(old).values(crop=None))
    return len(rows)
