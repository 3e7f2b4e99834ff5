"""Files written whole or not at all: a temporary file beside the target, then a rename over it."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ferlab.errors import FerlabError


def write_atomically(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text is UTF-8 encoded) to ``path`` atomically, creating its folder;
    `FerlabError` naming the file when it cannot be written."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp.write_bytes(data.encode() if isinstance(data, str) else data)
        os.replace(temp, path)
    except OSError as error:
        raise FerlabError(f"{path}: cannot write ({error.strerror or error})") from None
    finally:
        temp.unlink(missing_ok=True)


def write_csv_atomically(path: Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write ``rows`` as a CSV table with a header of ``columns`` to ``path`` atomically (`write_atomically`)."""
    table = io.StringIO()
    writer = csv.DictWriter(table, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(path, table.getvalue())
