"""Monitoring over days: expression records per person and time in a database, alerts and a dashboard.

`ferlab monitor SOURCE...` runs video files, webcams, streams and watched folders through the
application's detect -> align -> classify path with tracking (`ferlab.app`), and writes one
observation per track per interval into a database (`store`: SQLite by default, PostgreSQL by
URL). `alerts` evaluates YAML rules as observations arrive; `identity` matches tracks to
enrolled people (opt-in); `dashboard` serves the records as a JSON API and a web page.
Nothing here imports torch.
"""

from __future__ import annotations

import importlib.util

from ferlab.errors import FerlabError

MONITOR_PACKAGES = ("sqlalchemy", "yaml")
"""What monitoring imports (the ``monitor`` extra; PostgreSQL also needs psycopg)."""


def check_installed() -> None:
    """`FerlabError` with the install command when the ``monitor`` extra is missing."""
    missing = [name for name in MONITOR_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise FerlabError(f'monitoring needs {", ".join(missing)}: pip install "ferlab[monitor]"')
