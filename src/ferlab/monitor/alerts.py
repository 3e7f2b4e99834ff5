"""Alert rules from a YAML file, evaluated incrementally as observations are written.

```yaml
webhook: http://127.0.0.1:9000/alerts   # optional: each alert is also POSTed there as JSON
rules:
  - name: more-negative            # a person's (or an anonymous source's) share of negative
    kind: negative_share           # expressions in a window rises k standard deviations
    window_minutes: 60             # above the mean of their own earlier windows
    k: 2.0
    min_windows: 6                 # earlier windows needed before it can fire
    min_std: 0.05                  # floor on the standard deviation (a flat history has 0)
    labels: [sad, angry, fear, disgust]   # the default
  - name: mostly-sad
    kind: share_above              # the share of these expressions in a window passes a fixed limit
    labels: [sad]
    share: 0.5
    window_minutes: 10
  - name: unseen
    kind: not_seen                 # an enrolled person not seen for this long (media time)
    hours: 24
  - name: camera-down
    kind: source_down              # a webcam or stream without frames for this long
    minutes: 5
```

Nothing rescans history: each rule keeps a small state per person or source (the open
window's counts, the baseline's count, mean and sum of squares by Welford's method, what
has fired) in ``alert_state``, updated as each batch is written, so a restart continues.
Observations of enrolled people count per person, anonymous ones per source. A window is
judged when an observation of a later window arrives, so the last window of a recording is not.

``not_seen`` and ``source_down`` also fire with no new observation at all: `AlertEngine.check`
judges them at a given time (the ``people`` table's last-seen times and each live source's
last frame, kept in memory: no history is read), and `PeriodicCheck` calls it every
``every_s`` seconds with its clock (the wall clock; tests inject theirs). What fired is
claimed in ``alert_state`` in one statement, so several monitors on one database send one
alert per absence or outage.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from ferlab.errors import FerlabError
from ferlab.monitor.store import NEGATIVE, Observation, Store, now_ms, people, sources

log = logging.getLogger(__name__)

KINDS: dict[str, dict[str, Any]] = {
    "negative_share": {"window_minutes": 60.0, "k": 2.0, "min_windows": 6, "min_std": 0.05, "labels": NEGATIVE},
    "share_above": {"window_minutes": 60.0, "share": 0.5, "labels": NEGATIVE},
    "not_seen": {"hours": 24.0},
    "source_down": {"minutes": 5.0},
}
"""Each rule kind and its parameters with their defaults (``labels``: the expressions counted,
by default the negative ones; every other parameter is a number at least 0)."""


@dataclass(frozen=True)
class Rule:
    """One alert rule: its name, kind (see `KINDS`) and parameters."""

    name: str
    kind: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Rules:
    """The rules of a YAML file and its optional webhook URL."""

    rules: list[Rule]
    webhook: str | None = None


def load_rules(path: Path) -> Rules:
    """Read and check a rules file; `FerlabError` naming the file and the problem."""
    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as error:
        raise FerlabError(f"{path}: {error.strerror or error}") from None
    except yaml.YAMLError as error:
        raise FerlabError(f"{path}: not valid YAML ({str(error).splitlines()[0]})") from None
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise FerlabError(f"{path}: expected a mapping with a 'rules' list")
    unknown = set(document) - {"rules", "webhook"}
    if unknown:
        raise FerlabError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; expected rules, webhook")
    rules, names = [], set()
    for number, entry in enumerate(document["rules"], 1):
        where = f"{path}: rule {number}"
        if not isinstance(entry, dict) or entry.get("kind") not in KINDS:
            raise FerlabError(f"{where}: 'kind' must be one of {', '.join(KINDS)}")
        kind, name = entry["kind"], str(entry.get("name", entry["kind"]))
        if name in names:
            raise FerlabError(f"{where}: the name {name!r} is used twice")
        names.add(name)
        params = dict(KINDS[kind])
        for key, value in entry.items():
            if key in ("kind", "name"):
                continue
            if key not in params:
                raise FerlabError(f"{where}: unknown parameter {key!r} for {kind}; expected {', '.join(params)}")
            if key == "labels":
                if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
                    raise FerlabError(f"{where}: labels must be a list of expression names, got {value!r}")
                params[key] = tuple(value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise FerlabError(f"{where}: {key} must be a number at least 0, got {value!r}")
            params[key] = float(value)
        rules.append(Rule(name, kind, params))
    webhook = document.get("webhook")
    if webhook is not None and not str(webhook).startswith(("http://", "https://")):
        raise FerlabError(f"{path}: webhook must be an http:// or https:// URL, got {webhook!r}")
    return Rules(rules, webhook)


def post_json(url: str, payload: dict[str, Any]) -> None:
    """POST ``payload`` as JSON to ``url`` (5 s timeout)."""
    request = urllib.request.Request(
        url, json.dumps(payload).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


class AlertEngine:
    """Evaluates `Rules` over written observations; alerts become ``alerts`` rows (and webhook POSTs)."""

    def __init__(self, store: Store, rules: Rules, post: Callable[[str, dict[str, Any]], None] = post_json) -> None:
        self.store = store
        self.rules = rules
        self.post = post
        self.state = {rule.name: store.load_state(rule.name) for rule in rules.rules}
        self.fired: list[int] = []
        self.heartbeats: dict[int, int] = {}
        """Each live source's last frame time (ms), for ``source_down`` (see `heartbeat`)."""
        self._lock = threading.Lock()  # one engine serves every source's thread

    @property
    def timed(self) -> bool:
        """Whether a rule depends on the time passing (``not_seen``, ``source_down``): see `check`."""
        return any(rule.kind in ("not_seen", "source_down") for rule in self.rules.rules)

    def heartbeat(self, source_id: int, t_ms: int) -> None:
        """A live source delivered a frame at ``t_ms`` (or started then)."""
        self.heartbeats[source_id] = t_ms

    def stopped(self, source_id: int) -> None:
        """A live source is no longer monitored (its run ended): `check` leaves it alone."""
        self.heartbeats.pop(source_id, None)

    def check(self, now_ms: int) -> None:
        """Judge the rules that depend on time alone at ``now_ms``: people not seen for their rule's
        hours, live sources without a frame for their rule's minutes. Reads the ``people`` table
        and the heartbeats, never the observations."""
        with self._lock:
            for rule in self.rules.rules:
                if rule.kind == "not_seen":
                    self._not_seen(rule, now_ms)
                elif rule.kind == "source_down":
                    for source_id, last in list(self.heartbeats.items()):
                        self._source_down(rule, source_id, last, now_ms)

    def observe(self, batch: list[Observation]) -> None:
        """Update every rule with a written batch (in time order within each person or source)."""
        if not batch:
            return
        with self._lock:
            self._observe(batch)

    def _observe(self, batch: list[Observation]) -> None:
        for rule in self.rules.rules:
            if rule.kind in ("negative_share", "share_above"):
                self._windows(rule, batch)
            elif rule.kind == "not_seen":
                self._not_seen(rule, max(obs.t_ms for obs in batch))

    def source_gap(self, source_id: int, start_ms: int, end_ms: int | None, now_ms: int | None = None) -> None:
        """A source stopped at ``start_ms`` (still down when ``end_ms`` is None; ``now_ms``: the time now)."""
        with self._lock:
            self._source_gap(source_id, start_ms, end_ms, now_ms)

    def _source_gap(self, source_id: int, start_ms: int, end_ms: int | None, now_ms: int | None) -> None:
        last = end_ms if end_ms is not None else now_ms
        if last is None:
            return
        since = min(self.heartbeats.get(source_id, start_ms), start_ms)  # the outage began at its last frame
        for rule in self.rules.rules:
            if rule.kind == "source_down":
                self._source_down(rule, source_id, since, last)

    def _source_down(self, rule: Rule, source_id: int, since: int, now: int) -> None:
        """Fire once per outage (known by ``since``, the source's last frame) that lasts the rule's minutes."""
        minutes = (now - since) / 60_000
        if minutes < rule.params["minutes"] or not self._claim(rule, f"source:{source_id}", since):
            return
        name = self._name(sources, source_id)
        self._fire(rule, now, f"{name} gave no frame for {minutes:.1f} min", minutes, None, source_id)

    def _claim(self, rule: Rule, key: str, value: Any) -> bool:
        """Whether this engine is the one to fire for ``value`` (an absence's last-seen time, an
        outage's start): False when it (or another monitor on the database) already did."""
        state = self.state[rule.name]
        if state.get(key) == value:
            return False
        claimed = self.store.claim_state(rule.name, key, value)
        state[key] = value  # after the claim: a claim the database did not take is tried again
        return claimed

    def _windows(self, rule: Rule, batch: list[Observation]) -> None:
        """Count each person's (or anonymous source's) observations and those with one of the rule's
        labels per window; a window is judged (`_judge`) when an observation of a later one arrives."""
        window = int(rule.params["window_minutes"] * 60_000)
        states, touched = self.state[rule.name], set()
        for obs in sorted(batch, key=lambda o: o.t_ms):
            key = f"person:{obs.person_id}" if obs.person_id is not None else f"source:{obs.source_id}"
            state = states.setdefault(key, {"window": None, "n": 0, "hits": 0, "count": 0, "mean": 0.0, "m2": 0.0})
            start = obs.t_ms - obs.t_ms % window
            if state["window"] is not None and start > state["window"] and state["n"]:
                self._judge(rule, state, obs)
            if state["window"] is None or start > state["window"]:
                state.update(window=start, n=0, hits=0)
            if start == state["window"]:  # late rows of an already judged window are not counted
                state["n"] += 1
                state["hits"] += obs.label in rule.params["labels"]
            touched.add(key)
        for key in touched:
            self.store.save_state(rule.name, key, states[key])

    def _judge(self, rule: Rule, state: dict[str, Any], obs: Observation) -> None:
        """Fire when the finished window's share passes the rule's limit; add it to the baseline."""
        share = state["hits"] / state["n"]
        count, mean = state["count"], state["mean"]
        std = max(math.sqrt(state["m2"] / (count - 1)) if count > 1 else 0.0, rule.params.get("min_std", 0.0))
        if rule.kind == "share_above":
            fires, limit = share > rule.params["share"], f"the limit {rule.params['share']:.0%}"
        else:
            fires = count >= rule.params["min_windows"] and share > mean + rule.params["k"] * std
            limit = f"the baseline {mean:.0%} + {rule.params['k']:g} x {std:.2f}"
        if fires:
            who = self._name(people, obs.person_id) if obs.person_id is not None else self._name(sources, obs.source_id)
            self._fire(
                rule,
                state["window"],
                f"{who}: {'/'.join(rule.params['labels'])} share {share:.0%} over "
                f"{rule.params['window_minutes']:g} min, above {limit}",
                share,
                obs.person_id,
                obs.source_id if obs.person_id is None else None,
            )
        count += 1
        delta = share - mean
        mean += delta / count
        state.update(count=count, mean=mean, m2=state["m2"] + delta * (share - mean))

    def _name(self, table: sa.Table, row_id: int) -> str:
        """The name of a person or source (``table``), for alert messages."""
        found = self.store.query(sa.select(table.c.name).where(table.c.id == row_id))
        return found[0]["name"] if found else f"{table.name} {row_id}"

    def _not_seen(self, rule: Rule, now: int) -> None:
        limit = rule.params["hours"] * 3_600_000
        for row in self.store.query(sa.select(people.c.id, people.c.name, people.c.last_seen_ms)):
            key, last = f"person:{row['id']}", row["last_seen_ms"]
            if last is None or now - last < limit or not self._claim(rule, key, last):
                continue
            hours = (now - last) / 3_600_000
            self._fire(rule, now, f"{row['name']} not seen for {hours:.1f} h", hours, row["id"], None)

    def _fire(
        self, rule: Rule, t_ms: int, message: str, value: float, person_id: int | None, source_id: int | None
    ) -> None:
        alert_id = self.store.add_alert(rule.name, t_ms, message, value, person_id, source_id)
        self.fired.append(alert_id)
        log.warning("alert %s: %s", rule.name, message)
        if self.rules.webhook:
            payload = {
                "id": alert_id,
                "rule": rule.name,
                "t_ms": t_ms,
                "message": message,
                "value": value,
                "person_id": person_id,
                "source_id": source_id,
            }
            try:
                self.post(self.rules.webhook, payload)
            except OSError as error:  # the alert row stays; the webhook is best effort
                log.warning("webhook %s: %s", self.rules.webhook, error)


class PeriodicCheck:
    """Calls `AlertEngine.check` every ``every_s`` seconds at ``clock()`` (ms since 1970 UTC; the
    wall clock by default), so that ``not_seen`` and ``source_down`` fire on time while nothing
    is observed. A failed check (the database unavailable) is logged and tried again next time."""

    def __init__(self, engine: AlertEngine, every_s: float = 60.0, clock: Callable[[], int] = now_ms) -> None:
        if every_s <= 0:
            raise FerlabError(f"--check-every must be above 0 seconds, got {every_s}")
        self.engine = engine
        self.every_s = every_s
        self.clock = clock
        self.checks = 0

    def run(self, stop: threading.Event) -> None:
        """Check until ``stop`` is set."""
        while not stop.wait(self.every_s):
            try:
                self.engine.check(self.clock())
            except sa.exc.SQLAlchemyError as error:
                log.warning("alert check: %s", str(error).strip().splitlines()[0])
            self.checks += 1

    def start(self, stop: threading.Event) -> threading.Thread:
        """`run` in a daemon thread."""
        thread = threading.Thread(target=self.run, args=(stop,), name="ferlab-alert-check", daemon=True)
        thread.start()
        return thread
