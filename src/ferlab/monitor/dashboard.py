"""The monitoring dashboard: a JSON API over the store and a web page (`ferlab monitor serve`).

Endpoints (OpenAPI docs at ``/docs``): ``GET /api/people``, ``/api/sources``, ``/api/shares``
(expression shares per hour or day of a person or a source over a range), ``/api/observations``
(the latest), ``/api/alerts``, ``POST /api/alerts/{id}/acknowledge``; the page at ``/``.

Times are stored in ms since 1970 UTC and binned by whole UTC hours. The page and
``/api/shares`` show them in one time zone: UTC unless ``ferlab monitor serve --tz ZONE`` (an
IANA name such as ``Europe/Paris``) or ``?tz=ZONE`` asks for another; a day bin is then the
zone's own day (23 or 25 hours across a DST change). Zones whose offset from UTC is not whole
hours (Asia/Kolkata, +05:30) are refused, since the hourly counts cannot be split.

With a token every request needs it: ``Authorization: Bearer TOKEN``, or ``?token=TOKEN`` once
(the answer then sets an HttpOnly cookie for the page's own requests). `ferlab monitor serve`
requires a token when it listens on any address but loopback.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from importlib.resources import files
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from ferlab.errors import FerlabError
from ferlab.monitor.store import HOUR_MS, Store, alerts, gaps, hourly, observations, people, sources
from ferlab.serve.docs import add_docs

if TYPE_CHECKING:
    from ferlab.monitor.alerts import PeriodicCheck

COOKIE = "ferlab_monitor_token"
BIN_MS = {"hour": HOUR_MS, "day": 24 * HOUR_MS}
PAGE = files("ferlab.monitor").joinpath("static/dashboard.html")


def zone(name: str) -> ZoneInfo:
    """The IANA time zone called ``name``; `FerlabError` when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise FerlabError(f"time zone {name!r}: unknown; give an IANA name such as UTC or Europe/Paris") from None


def create_dashboard(
    store: Store, token: str | None = None, tz: str = "UTC", check: PeriodicCheck | None = None
) -> FastAPI:
    """The dashboard app over ``store``; every request needs ``token`` when one is given; times are
    shown and binned in the time zone ``tz`` (an IANA name; see the module's docstring). With
    ``check``, its alert rules are checked on its clock while the app runs (``serve --rules``)."""
    zone(tz)
    server_tz = tz  # the query parameter tz shadows it

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if check is None:
            yield
            return
        stop = threading.Event()
        thread = check.start(stop)
        try:
            yield
        finally:
            stop.set()
            thread.join()

    app = FastAPI(
        title="ferlab monitor",
        summary="Expression records per person and time. A facial expression is not an emotion or a diagnosis.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    add_docs(app)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        if token is None:
            return await call_next(request)
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or ""
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            given = header[7:]
        if not secrets.compare_digest(given.encode(), token.encode()):
            return JSONResponse({"detail": "a valid token is required (Authorization: Bearer TOKEN)"}, status_code=401)
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE.read_text())

    @app.get("/api/config")
    def config() -> dict:
        """The time zone the page shows times and day bins in (``timezone``), and the storage's (UTC)."""
        return {"timezone": tz, "stored": "ms since 1970-01-01 UTC; hourly counts per UTC hour"}

    @app.get("/api/people")
    def list_people() -> list[dict]:
        """Enrolled people: id, name, last seen (ms since 1970 UTC, media time)."""
        return store.query(sa.select(people.c.id, people.c.name, people.c.last_seen_ms).order_by(people.c.name))

    @app.get("/api/sources")
    def list_sources() -> list[dict]:
        """Sources with their recorded gaps (the latest 20 of each)."""
        rows = store.query(sa.select(sources.c.id, sources.c.name, sources.c.kind).order_by(sources.c.id))
        for row in rows:
            row["gaps"] = store.query(
                sa.select(gaps.c.start_ms, gaps.c.end_ms, gaps.c.reason)
                .where(gaps.c.source_id == row["id"])
                .order_by(gaps.c.start_ms.desc())
                .limit(20)
            )
        return rows

    @app.get("/api/shares")
    def shares(
        start_ms: int = Query(..., description="Range start, ms since 1970 UTC."),
        end_ms: int = Query(..., description="Range end (exclusive)."),
        person_id: int | None = Query(None, description="A person (or give source_id)."),
        source_id: int | None = Query(None, description="A source: all its tracks, anonymous ones included."),
        bin: Literal["hour", "day"] = Query("hour", description="Bin width: hours, or days of the time zone."),
        tz: str | None = Query(None, description="IANA time zone of the day bins (default: the server's, UTC)."),
    ) -> dict:
        """Share of each expression among the observations of each bin, and their count (read from the
        hourly counts: the range is widened to whole UTC hours). Each bin has its start as ``t_ms``
        and as ``start``, an ISO 8601 time in ``timezone`` (the answer's)."""
        if (person_id is None) == (source_id is None):
            raise HTTPException(422, "give person_id or source_id (exactly one)")
        name = tz or server_tz
        try:
            where = zone(name)
        except FerlabError as error:
            raise HTTPException(422, str(error)) from None
        column = hourly.c.person if person_id is not None else hourly.c.source_id
        in_range = [
            column == (person_id if person_id is not None else source_id),
            hourly.c.hour >= start_ms // HOUR_MS,
            hourly.c.hour < -(-end_ms // HOUR_MS),
        ]
        bins: dict[int, dict[str, int]] = {}
        if name == "UTC":  # whole UTC days: bucketed by the database
            hours = BIN_MS[bin] // HOUR_MS
            bucket = (hourly.c.hour // hours).label("bucket")
            for row in store.query(
                sa.select(bucket, hourly.c.label, sa.func.sum(hourly.c.n).label("n"))
                .where(*in_range)
                .group_by(bucket, hourly.c.label)
            ):
                bins.setdefault(int(row["bucket"]) * BIN_MS[bin], {})[row["label"]] = row["n"]
        else:  # the zone's days (DST included): each UTC hour goes to the day it starts in
            for row in store.query(
                sa.select(hourly.c.hour, hourly.c.label, sa.func.sum(hourly.c.n).label("n"))
                .where(*in_range)
                .group_by(hourly.c.hour, hourly.c.label)
            ):
                moment = datetime.fromtimestamp(int(row["hour"]) * HOUR_MS / 1000, where)
                if moment.utcoffset() % timedelta(hours=1):
                    raise HTTPException(422, f"time zone {name}: its offset {moment:%z} is not whole hours")
                if bin == "day":
                    moment = moment.replace(hour=0, minute=0, second=0, microsecond=0)
                counts = bins.setdefault(int(moment.timestamp() * 1000), {})
                counts[row["label"]] = counts.get(row["label"], 0) + row["n"]
        return {
            "bin": bin,
            "timezone": name,
            "bins": [
                {
                    "t_ms": t,
                    "start": datetime.fromtimestamp(t / 1000, where).isoformat(),
                    "n": sum(c.values()),
                    "shares": {k: v / sum(c.values()) for k, v in c.items()},
                }
                for t, c in sorted(bins.items())
            ],
        }

    @app.get("/api/observations")
    def latest(limit: int = Query(50, ge=1, le=1000), person_id: int | None = None) -> list[dict]:
        """The latest observations (newest first), of one person when ``person_id`` is given."""
        query = sa.select(observations, people.c.name.label("person"), sources.c.name.label("source")).join(
            sources, sources.c.id == observations.c.source_id
        )
        query = query.outerjoin(people, people.c.id == observations.c.person_id)
        if person_id is not None:
            query = query.where(observations.c.person_id == person_id)
        return store.query(query.order_by(observations.c.t_ms.desc()).limit(limit))

    @app.get("/api/alerts")
    def list_alerts(open_only: bool = False, limit: int = Query(100, ge=1, le=1000)) -> list[dict]:
        """Alerts, newest first; only those not acknowledged with ``open_only``."""
        query = sa.select(alerts)
        if open_only:
            query = query.where(alerts.c.acknowledged_ms.is_(None))
        return store.query(query.order_by(alerts.c.t_ms.desc()).limit(limit))

    @app.post("/api/alerts/{alert_id}/acknowledge", status_code=204)
    def acknowledge(alert_id: int) -> Response:
        """Mark an alert acknowledged."""
        if not store.acknowledge(alert_id):
            raise HTTPException(404, f"no alert {alert_id}")
        return Response(status_code=204)

    return app
