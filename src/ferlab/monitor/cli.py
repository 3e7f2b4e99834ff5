"""`ferlab monitor`: record sources into a database; enrol, forget, cleanup, serve the dashboard.

``ferlab monitor SOURCE...`` is ``ferlab monitor run SOURCE...``: a first argument that is not
a sub-command name is taken as a source.
"""

from __future__ import annotations

import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

from ferlab.cli.options import ModelNameOption, PriorOption
from ferlab.errors import FerlabError
from ferlab.faces import DEFAULT_DETECTOR

DEFAULT_DB = "ferlab-monitor.db"


class DefaultRunGroup(TyperGroup):
    """A group whose first argument, when not a sub-command (nor an option), means ``run``."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


monitor_app = typer.Typer(
    cls=DefaultRunGroup,
    help="Follow people's expressions over days: record sources into a database, alerts, a dashboard. "
    "`ferlab monitor SOURCE...` is `ferlab monitor run SOURCE...`.",
    no_args_is_help=True,
)
console = Console(soft_wrap=True)  # paths and messages stay on one line, whatever the width
err_console = Console(stderr=True)
DbOption = typer.Option(DEFAULT_DB, "--db", help="SQLite file, or a postgresql://user:password@host/db URL.")


@monitor_app.callback()
def _check_extra() -> None:
    """Every sub-command needs the monitor extra: say so in one line when it is missing."""
    from ferlab.monitor import check_installed

    check_installed()


def _store(db: str):
    from ferlab.monitor.store import open_store

    return open_store(db)


@monitor_app.command("run")
def run_command(
    sources: list[str] = typer.Argument(
        ..., metavar="SOURCE...", help="Video files, webcam indexes (0), stream URLs (rtsp://, http://), folders."
    ),
    db: str = DbOption,
    interval: float = typer.Option(1.0, "--interval", help="Seconds per observation (one row per track per interval)."),
    start: str | None = typer.Option(
        None,
        "--start",
        help="Start time of the video files (ISO 8601, UTC unless a zone is given); default: the MP4/MOV "
        "header's creation time, else the file's modification time minus its duration.",
    ),
    rules: Path | None = typer.Option(None, "--rules", help="YAML file of alert rules."),
    save_crops: bool = typer.Option(False, "--save-crops", help="Save one face crop per observation (off by default)."),
    crops_dir: Path | None = typer.Option(None, "--crops-dir", help="Folder of the crops (default: DB name + -crops)."),
    keep_days: float | None = typer.Option(None, "--keep-days", help="Delete crops older than this at start."),
    enrolled: bool = typer.Option(
        True, "--identify/--anonymous", help="Match tracks to enrolled people (when anyone is enrolled)."
    ),
    once: bool = typer.Option(False, "--once", help="Folders: read the photos there now, then stop (no watching)."),
    buffer: int = typer.Option(
        600,
        "--buffer",
        help="Intervals kept in memory while the database is unavailable; past that the oldest are dropped "
        "(counted in the summary).",
    ),
    check_every: float = typer.Option(
        60.0,
        "--check-every",
        help="Seconds between checks of the not_seen and source_down rules on the wall clock, which then "
        "fire with nothing observed (with a webcam, stream or watched folder among the sources).",
    ),
    model: str = ModelNameOption,
    detector: str = typer.Option(DEFAULT_DETECTOR, "--detector", help="Face detector (see `ferlab predict --help`)."),
    detect_size: int | None = typer.Option(None, "--detect-size", help="Search for faces in a copy shrunk to N px."),
    search_every: int = typer.Option(10, "--search-every", help="Search the whole frame every K-th frame."),
    prior: str = PriorOption,
) -> None:
    """Record SOURCEs into the database: one observation per face track per interval, in media time.

    Several sources run side by side; Ctrl+C stops them and writes what is complete.
    """
    from ferlab.app import FaceAnalyzer
    from ferlab.faces import get_detector
    from ferlab.faces.roi import RoiDetector
    from ferlab.monitor.sources import LiveSource, WatchedFolder, open_source, parse_start

    start_ms = None if start is None else parse_start(start)
    opened = [open_source(spec, start_ms, once) for spec in sources]  # bad sources fail before the model loads
    checked_rules = None
    if rules is not None:
        from ferlab.monitor.alerts import AlertEngine, load_rules

        checked_rules = load_rules(rules)
    store = _store(db)
    crops = (
        (crops_dir or Path(f"{Path(db).stem if '://' not in db else 'ferlab-monitor'}-crops")) if save_crops else None
    )
    if keep_days is not None:
        from ferlab.monitor.retention import cleanup

        removed = cleanup(store, keep_days)
        console.print(f"retention: {removed} crop(s) older than {keep_days:g} days deleted", highlight=False)
    engine = None if checked_rules is None else AlertEngine(store, checked_rules)
    identity = None
    if enrolled:
        from ferlab.monitor.identity import Identity

        identity = Identity.if_enrolled(store)
    from ferlab.monitor.run import Monitor

    def analyzer(source) -> FaceAnalyzer:
        """Video is searched fully every ``search_every`` frames, a folder's unrelated photos always."""
        every = 1 if isinstance(source, WatchedFolder) else search_every
        return FaceAnalyzer(RoiDetector(get_detector(detector, max_side=detect_size), every), model, prior=prior)

    stop, reports, errors = threading.Event(), [], []
    checker = None
    live = any(isinstance(source, LiveSource) or (isinstance(source, WatchedFolder) and not once) for source in opened)
    if engine is not None and engine.timed and live:  # recorded files alone: their media time drives the rules
        from ferlab.monitor.alerts import PeriodicCheck

        checker = PeriodicCheck(engine, check_every).start(stop)

    def work(source) -> None:
        try:
            monitor = Monitor(store, analyzer(source), interval, crops, identity, engine, buffer)
            reports.append(monitor.run(source, stop))
        except BaseException as error:  # reported by the main thread: a FerlabError in one line, a bug with its trace
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=work, args=(source,), daemon=True) for source in opened]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.5)
    except KeyboardInterrupt:
        stop.set()
        for thread in threads:
            thread.join()
    stop.set()  # every source is done: the alert checks stop too
    if checker is not None:
        checker.join()
    for report in reports:
        console.print(
            f"{escape(report.name)}: {report.frames} frames, {report.observations} observations "
            f"({report.frames / max(report.seconds, 1e-9):.1f} frames/s)"
            + (f", {len(report.errors)} unreadable file(s): " + "; ".join(report.errors) if report.errors else "")
            + (
                f", {report.dropped} observation(s) dropped: the database was unavailable past --buffer"
                if report.dropped
                else ""
            ),
            highlight=False,
        )
    if engine is not None:
        import sqlalchemy as sa

        from ferlab.monitor.store import alerts

        fired = store.query(sa.select(alerts.c.rule, alerts.c.message).where(alerts.c.id.in_(engine.fired)))
        console.print(f"{len(fired)} alert(s) fired", highlight=False)
        for alert in fired:
            console.print(f"  alert {escape(alert['rule'])}: {escape(alert['message'])}", highlight=False)
    console.print(f"database: {escape(store.url)}", highlight=False)
    store.close()
    if errors:
        raise errors[0]
    if any(report.errors for report in reports):
        raise typer.Exit(1)


@monitor_app.command("enrol")
def enrol_command(
    name: str = typer.Argument(..., help="The person's name."),
    photos: list[Path] = typer.Argument(..., metavar="PHOTO...", help="Photos each showing only this person's face."),
    db: str = DbOption,
) -> None:
    """Store face embeddings of NAME (dlib, the dlib extra), so that tracks can be matched to them."""
    from ferlab.monitor.identity import enrol

    store = _store(db)
    person = enrol(store, name, photos)
    console.print(f"{escape(name)} (person {person}): {len(photos)} embedding(s) stored", highlight=False)
    store.close()


@monitor_app.command("forget")
def forget_command(name: str = typer.Argument(..., help="The person's name."), db: str = DbOption) -> None:
    """Delete NAME's embeddings, observations and saved face crops."""
    from ferlab.monitor.identity import forget

    store = _store(db)
    count, crops = forget(store, name)
    console.print(f"{escape(name)} forgotten: {count} observation(s) and {crops} crop(s) deleted", highlight=False)
    store.close()


@monitor_app.command("cleanup")
def cleanup_command(
    keep_days: float = typer.Option(..., "--keep-days", help="Delete crops of observations older than this."),
    db: str = DbOption,
) -> None:
    """Delete saved face crops older than --keep-days (media time)."""
    from ferlab.monitor.retention import cleanup

    store = _store(db)
    console.print(f"{cleanup(store, keep_days)} crop(s) deleted", highlight=False)
    store.close()


@monitor_app.command("serve")
def serve_command(
    db: str = DbOption,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 127.0.0.1 is this machine only."),
    port: int = typer.Option(8010, "--port", help="TCP port."),
    token: str | None = typer.Option(
        None, "--token", envvar="FERLAB_MONITOR_TOKEN", help="Required of every request; needed off loopback."
    ),
    rules: Path | None = typer.Option(
        None,
        "--rules",
        help="YAML file of alert rules: its not_seen rules are checked here too, on the wall clock (source_down "
        "needs the monitor's own frames: it is checked by `ferlab monitor` only).",
    ),
    check_every: float = typer.Option(60.0, "--check-every", help="Seconds between those checks."),
    tz: str = typer.Option(
        "UTC",
        "--tz",
        help="IANA time zone the page shows times and per-day shares in (e.g. Europe/Paris); whole-hour "
        "offsets only. Storage is UTC.",
    ),
) -> None:
    """Serve the dashboard (/) and its JSON API (/api, docs at /docs) until Ctrl+C; needs the serve extra."""
    from ferlab.serve import check_installed
    from ferlab.serve.server import is_loopback, listen, service_url

    check_installed()
    if not is_loopback(host) and not token:
        raise FerlabError(f"listening on {host} makes the records reachable from other machines: give --token")
    import uvicorn

    from ferlab.monitor.dashboard import create_dashboard, zone

    zone(tz)  # an unknown zone is refused before the database opens
    check = None
    if rules is not None:
        from ferlab.monitor.alerts import AlertEngine, PeriodicCheck, Rules, load_rules

        loaded = load_rules(rules)
        unseen = Rules([rule for rule in loaded.rules if rule.kind == "not_seen"], loaded.webhook)
    store = _store(db)
    if rules is not None:
        check = PeriodicCheck(AlertEngine(store, unseen), check_every)
    with listen(host, port) as listener:
        url = service_url(listener)
        console.print(
            f"ferlab monitor: dashboard {url} (times in {tz}), API docs {url}docs ; Ctrl+C stops",
            highlight=False,
            soft_wrap=True,
        )
        app = create_dashboard(store, token, tz, check)
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[listener])
    store.close()
