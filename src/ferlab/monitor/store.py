"""The monitoring database: SQLAlchemy Core tables, a versioned schema, SQLite (WAL) or PostgreSQL.

`open_store(url)` connects and brings the schema to `SCHEMA_VERSION` by running the missing
steps of `MIGRATIONS` in order (the version is a row of ``ferlab_schema``); on PostgreSQL an
advisory lock lets several monitors start at once. A plain path is a SQLite file (created
with WAL journaling, so a kill -9 never corrupts it and readers do not block the writer);
``postgresql://user@host/db`` goes through psycopg 3.

Times are integer milliseconds since 1970-01-01 UTC (``*_ms`` columns): the media's own
time for observations, the wall clock for bookkeeping. Integer division buckets them the
same way on both databases.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ferlab.errors import FerlabError

SCHEMA_VERSION = 1
HOUR_MS = 3_600_000
NEGATIVE = ("sad", "angry", "fear", "disgust")
"""The negative expressions (canonical labels) counted by alert rules and the dashboard."""

metadata = sa.MetaData()
schema_table = sa.Table("ferlab_schema", metadata, sa.Column("version", sa.Integer, nullable=False))
sources = sa.Table(
    "sources",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(1000), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
)
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    sa.Column("started_ms", sa.BigInteger, nullable=False),
    sa.Column("ended_ms", sa.BigInteger),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)
people = sa.Table(
    "people",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("created_ms", sa.BigInteger, nullable=False),
    sa.Column("last_seen_ms", sa.BigInteger),
)
embeddings = sa.Table(
    "embeddings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("people.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("vector", sa.LargeBinary, nullable=False),
    sa.Column("photo", sa.String(1000), nullable=False),
)
tracks = sa.Table(
    "tracks",
    metadata,
    sa.Column("session_id", sa.ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("local_id", sa.Integer, primary_key=True),
    sa.Column("person_id", sa.ForeignKey("people.id", ondelete="SET NULL"), index=True),
    sa.Column("first_ms", sa.BigInteger, nullable=False),
    sa.Column("last_ms", sa.BigInteger, nullable=False),
)
observations = sa.Table(
    "observations",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("t_ms", sa.BigInteger, nullable=False),
    sa.Column("source_id", sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False),
    sa.Column("session_id", sa.Integer, nullable=False),
    sa.Column("track", sa.Integer, nullable=False),
    sa.Column("person_id", sa.ForeignKey("people.id", ondelete="CASCADE")),
    sa.Column("x1", sa.Float, nullable=False),
    sa.Column("y1", sa.Float, nullable=False),
    sa.Column("x2", sa.Float, nullable=False),
    sa.Column("y2", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("frames", sa.Integer, nullable=False),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("probabilities", sa.Text, nullable=False),
    sa.Column("model", sa.String(200), nullable=False),
    sa.Column("model_version", sa.String(40), nullable=False),
    sa.Column("crop", sa.String(1000)),
    sa.Index("ix_observations_person_time", "person_id", "t_ms", "label"),
    sa.Index("ix_observations_source_time", "source_id", "t_ms", "label"),
    sa.Index("ix_observations_track", "session_id", "track"),
    sa.ForeignKeyConstraint(["session_id", "track"], ["tracks.session_id", "tracks.local_id"], ondelete="CASCADE"),
)
hourly = sa.Table(
    "hourly",
    metadata,
    sa.Column("source_id", sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("person", sa.Integer, primary_key=True),
    sa.Column("hour", sa.BigInteger, primary_key=True),
    sa.Column("label", sa.String(40), primary_key=True),
    sa.Column("n", sa.Integer, nullable=False),
    sa.Index("ix_hourly_person", "person", "hour"),
    sa.Index("ix_hourly_source", "source_id", "hour"),
)
"""Observations counted per source, person (0: anonymous), UTC hour (``t_ms // 3600000``) and label,
kept up to date by `Store.write`, so the dashboard's views read at most 8 rows per hour."""
items = sa.Table(
    "items",
    metadata,
    sa.Column("source_id", sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("name", sa.String(1000), primary_key=True),
    sa.Column("status", sa.String(200), nullable=False),
)
gaps = sa.Table(
    "gaps",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("source_id", sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("start_ms", sa.BigInteger, nullable=False),
    sa.Column("end_ms", sa.BigInteger),
    sa.Column("reason", sa.String(500), nullable=False),
)
alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("rule", sa.String(200), nullable=False),
    sa.Column("person_id", sa.ForeignKey("people.id", ondelete="CASCADE")),
    sa.Column("source_id", sa.ForeignKey("sources.id", ondelete="CASCADE")),
    sa.Column("t_ms", sa.BigInteger, nullable=False),
    sa.Column("message", sa.String(1000), nullable=False),
    sa.Column("value", sa.Float),
    sa.Column("acknowledged_ms", sa.BigInteger),
)
alert_state = sa.Table(
    "alert_state",
    metadata,
    sa.Column("rule", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("state", sa.Text, nullable=False),
)


def _create_v1(connection: sa.Connection) -> None:
    metadata.create_all(connection)


MIGRATIONS: list[Callable[[sa.Connection], None]] = [_create_v1]
"""Step i brings the schema from version i to i + 1; append new steps, never edit old ones."""


def now_ms() -> int:
    """The wall clock in milliseconds since 1970 UTC."""
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Observation:
    """One track's aggregate over one interval, as written to ``observations``."""

    t_ms: int
    source_id: int
    session_id: int
    track: int
    person_id: int | None
    box: tuple[float, float, float, float]
    score: float
    frames: int
    label: str
    probabilities: dict[str, float]
    model: str
    model_version: str
    crop: str | None = None

    def row(self) -> dict[str, Any]:
        """The ``observations`` row."""
        x1, y1, x2, y2 = self.box
        return {
            "t_ms": self.t_ms,
            "source_id": self.source_id,
            "session_id": self.session_id,
            "track": self.track,
            "person_id": self.person_id,
            "x1": x1,
            "y1": y1,
            "x2": x2,
            "y2": y2,
            "score": self.score,
            "frames": self.frames,
            "label": self.label,
            "probabilities": json.dumps({k: round(v, 5) for k, v in self.probabilities.items()}),
            "model": self.model,
            "model_version": self.model_version,
            "crop": self.crop,
        }


def engine_for(url: str) -> sa.Engine:
    """A SQLAlchemy engine for a database URL or a SQLite file path (its folder is created)."""
    if "://" not in url:
        path = Path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    try:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        engine = sa.create_engine(url, pool_pre_ping=True)
    except (ImportError, sa.exc.ArgumentError) as error:
        raise FerlabError(f"database {shown_url(url)}: {error}") from None
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, never corrupt
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def shown_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def migrate(engine: sa.Engine) -> int:
    """Bring the schema to `SCHEMA_VERSION`; the version it had before (0: empty database)."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(sa.text("SELECT pg_advisory_xact_lock(724001)"))  # one migrator at a time
        if sa.inspect(connection).has_table("ferlab_schema"):
            version = connection.execute(sa.select(schema_table.c.version)).scalar_one()
        else:
            version = 0
        if version > SCHEMA_VERSION:
            raise FerlabError(f"database schema version {version} is newer than this ferlab's ({SCHEMA_VERSION})")
        for step in MIGRATIONS[version:]:
            step(connection)
        if version == 0:
            connection.execute(schema_table.insert().values(version=SCHEMA_VERSION))
        elif version < SCHEMA_VERSION:
            connection.execute(schema_table.update().values(version=SCHEMA_VERSION))
    return version


class Store:
    """The monitoring records in one database: sources, sessions, people, tracks, observations, alerts."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @property
    def url(self) -> str:
        """The database URL without its password."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release the connections."""
        self.engine.dispose()

    def source_id(self, name: str, kind: str) -> int:
        """The id of the source called ``name``, created when new."""
        with self.engine.begin() as connection:
            found = connection.execute(sa.select(sources.c.id).where(sources.c.name == name)).scalar()
            if found is not None:
                return found
            return connection.execute(
                sources.insert().values(name=name, kind=kind, created_ms=now_ms()).returning(sources.c.id)
            ).scalar_one()

    def start_session(self, source_id: int, host: str, pid: int) -> int:
        """A new session of a source (one run of a monitor on it)."""
        with self.engine.begin() as connection:
            return connection.execute(
                sessions.insert()
                .values(source_id=source_id, started_ms=now_ms(), host=host, pid=pid)
                .returning(sessions.c.id)
            ).scalar_one()

    def end_session(self, session_id: int) -> None:
        """Mark a session ended now."""
        with self.engine.begin() as connection:
            connection.execute(sessions.update().where(sessions.c.id == session_id).values(ended_ms=now_ms()))

    def last_time(self, source_id: int) -> int | None:
        """The latest observation time of a source (ms), None when it has none."""
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.max(observations.c.t_ms)).where(observations.c.source_id == source_id)
            ).scalar()

    def write(self, batch: Sequence[Observation], item: tuple[int, str, str] | None = None) -> None:
        """Write observations in one transaction with their tracks (created or extended) and their
        people's last-seen times; ``item`` ``(source_id, name, status)`` marks a watched file done
        in the same transaction."""
        with self.engine.begin() as connection:
            for (session_id, track), (first, last, person_id) in _track_spans(batch).items():
                key = (tracks.c.session_id == session_id) & (tracks.c.local_id == track)
                updated = connection.execute(
                    tracks.update()
                    .where(key)
                    .values(last_ms=sa.case((tracks.c.last_ms < last, last), else_=tracks.c.last_ms))
                ).rowcount
                if not updated:
                    connection.execute(
                        tracks.insert().values(
                            session_id=session_id, local_id=track, person_id=person_id, first_ms=first, last_ms=last
                        )
                    )
            if batch:
                connection.execute(observations.insert(), [obs.row() for obs in batch])
                self._count_hours(connection, batch)
            for person_id, t_ms in _people_seen(batch).items():
                connection.execute(
                    people.update()
                    .where(people.c.id == person_id)
                    .where(sa.or_(people.c.last_seen_ms.is_(None), people.c.last_seen_ms < t_ms))
                    .values(last_seen_ms=t_ms)
                )
            if item is not None:
                connection.execute(items.insert().values(source_id=item[0], name=item[1], status=item[2]))

    def _count_hours(self, connection: sa.Connection, batch: Sequence[Observation]) -> None:
        """Add the batch's observations to ``hourly`` (insert, or add to the existing count)."""
        counts = Counter((obs.source_id, obs.person_id or 0, obs.t_ms // HOUR_MS, obs.label) for obs in batch)
        insert = (sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert)(hourly)
        statement = insert.on_conflict_do_update(
            index_elements=["source_id", "person", "hour", "label"], set_={"n": hourly.c.n + insert.excluded.n}
        )
        connection.execute(
            statement,
            [
                {"source_id": s, "person": p, "hour": h, "label": label, "n": n}
                for (s, p, h, label), n in counts.items()
            ],
        )

    def items_done(self, source_id: int) -> set[str]:
        """The names of a watched folder's files already recorded."""
        with self.engine.connect() as connection:
            return set(connection.execute(sa.select(items.c.name).where(items.c.source_id == source_id)).scalars())

    def open_gap(self, source_id: int, start_ms: int, reason: str) -> int:
        """Record that a source stopped delivering at ``start_ms``."""
        with self.engine.begin() as connection:
            return connection.execute(
                gaps.insert().values(source_id=source_id, start_ms=start_ms, reason=reason).returning(gaps.c.id)
            ).scalar_one()

    def close_gap(self, gap_id: int, end_ms: int) -> None:
        """Record that a source came back at ``end_ms``."""
        with self.engine.begin() as connection:
            connection.execute(gaps.update().where(gaps.c.id == gap_id).values(end_ms=end_ms))

    def add_alert(
        self, rule: str, t_ms: int, message: str, value: float | None, person_id: int | None, source_id: int | None
    ) -> int:
        """Insert an alert row; its id."""
        with self.engine.begin() as connection:
            return connection.execute(
                alerts.insert()
                .values(rule=rule, t_ms=t_ms, message=message, value=value, person_id=person_id, source_id=source_id)
                .returning(alerts.c.id)
            ).scalar_one()

    def acknowledge(self, alert_id: int) -> bool:
        """Mark an alert acknowledged; False when there is no such alert."""
        with self.engine.begin() as connection:
            done = connection.execute(
                alerts.update().where(alerts.c.id == alert_id).values(acknowledged_ms=now_ms())
            ).rowcount
        return done > 0

    def load_state(self, rule: str) -> dict[str, Any]:
        """The saved evaluation state of an alert rule, by key."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(alert_state.c.key, alert_state.c.state).where(alert_state.c.rule == rule)
            )
            return {key: json.loads(state) for key, state in rows}

    def save_state(self, rule: str, key: str, state: Any) -> None:
        """Save (insert or replace) the evaluation state of a rule for one key."""
        with self.engine.begin() as connection:
            connection.execute(alert_state.delete().where(alert_state.c.rule == rule).where(alert_state.c.key == key))
            connection.execute(alert_state.insert().values(rule=rule, key=key, state=json.dumps(state)))

    def claim_state(self, rule: str, key: str, state: Any) -> bool:
        """Set a rule's state for one key to ``state`` unless it is that already; whether this call set
        it. One statement decides, so of several monitors claiming the same state one gets True."""
        text = json.dumps(state)
        with self.engine.begin() as connection:
            changed = connection.execute(
                alert_state.update()
                .where(alert_state.c.rule == rule)
                .where(alert_state.c.key == key)
                .where(alert_state.c.state != text)
                .values(state=text)
            ).rowcount
            if changed:
                return True
            insert = (sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert)(alert_state)
            return bool(
                connection.execute(
                    insert.values(rule=rule, key=key, state=text).on_conflict_do_nothing(index_elements=["rule", "key"])
                ).rowcount
            )

    def query(self, statement: sa.Executable) -> list[dict[str, Any]]:
        """The rows of a read-only statement, as dicts."""
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(statement)]


def _track_spans(batch: Iterable[Observation]) -> dict[tuple[int, int], tuple[int, int, int | None]]:
    spans: dict[tuple[int, int], tuple[int, int, int | None]] = {}
    for obs in batch:
        first, last, _ = spans.get((obs.session_id, obs.track), (obs.t_ms, obs.t_ms, None))
        spans[obs.session_id, obs.track] = (min(first, obs.t_ms), max(last, obs.t_ms), obs.person_id)
    return spans


def _people_seen(batch: Iterable[Observation]) -> dict[int, int]:
    seen: dict[int, int] = {}
    for obs in batch:
        if obs.person_id is not None:
            seen[obs.person_id] = max(seen.get(obs.person_id, obs.t_ms), obs.t_ms)
    return seen


def open_store(url: str) -> Store:
    """Connect to ``url`` (a SQLite file path or a database URL) and bring its schema up to date."""
    engine = engine_for(url)
    try:
        migrate(engine)
    except sa.exc.OperationalError as error:
        engine.dispose()
        raise FerlabError(f"database {shown_url(str(engine.url))}: {_reason(error)}") from None
    return Store(engine)


def _reason(error: sa.exc.DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0] if error.orig else str(error).splitlines()[0]
