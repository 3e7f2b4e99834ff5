"""A compressed array cache for parsed dataset files, keyed by the files' identity.

The first read of a CSV dataset parses text (slow); the parsed arrays are written as a
compressed ``.npz`` under the user cache dir and later reads load that instead. The key
covers each source file's resolved path, size, modification time and a hash of its
first and last MiB, plus a format version, so an edited or replaced file is re-parsed.
An entry is named ``<kind>-<source>-<key>.npz``, ``<source>`` standing for the files'
paths alone: writing a new entry deletes the older ones of the same source (a touched or
edited file, a re-mounted share), so the cache holds one entry per dataset file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import platformdirs

_PROBE_BYTES = 1 << 20


def cache_dir() -> Path:
    """The cache folder: ``$FERLAB_CACHE_DIR`` if set, else the platform's user cache dir."""
    return Path(os.environ.get("FERLAB_CACHE_DIR") or platformdirs.user_cache_dir("ferlab"))


def cache_enabled() -> bool:
    """False when ``FERLAB_NO_CACHE`` is set to a non-empty value other than ``0``."""
    return os.environ.get("FERLAB_NO_CACHE", "") in ("", "0")


def file_key(paths: Sequence[Path], kind: str) -> str:
    """A hex digest identifying the current contents of ``paths`` for the parser ``kind``."""
    digest = hashlib.blake2b(kind.encode(), digest_size=16)
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
        with path.open("rb") as handle:
            digest.update(handle.read(_PROBE_BYTES))
            if stat.st_size > _PROBE_BYTES:
                handle.seek(-min(_PROBE_BYTES, stat.st_size - _PROBE_BYTES), os.SEEK_END)
                digest.update(handle.read())
    return digest.hexdigest()


def source_tag(paths: Sequence[Path], kind: str) -> str:
    """A short hex digest of ``kind`` and the resolved ``paths`` alone (not their contents)."""
    digest = hashlib.blake2b(kind.encode(), digest_size=8)
    for path in paths:
        digest.update(f"{path.resolve()}|".encode())
    return digest.hexdigest()


def cached_arrays(
    paths: Sequence[Path], kind: str, build: Callable[[], dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Return ``build()``'s arrays, from the cache when ``paths`` have not changed since they were cached.

    ``kind`` names the parser and its format version (e.g. ``"fer2013-csv-v1"``); bump it
    when the parser's output changes. An unreadable cache entry is rebuilt; an unwritable
    cache dir only costs speed (a warning says so).
    """
    if not cache_enabled():
        return build()
    source = source_tag(paths, kind)
    target = cache_dir() / f"{kind}-{source}-{file_key(paths, kind)}.npz"
    if target.exists():
        try:
            with np.load(target, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError, zipfile.BadZipFile, EOFError):
            target.unlink(missing_ok=True)
    arrays = build()
    try:
        _write_atomically(target, arrays)
    except OSError as error:
        warnings.warn(f"ferlab: could not write the dataset cache {target}: {error}", stacklevel=2)
        return arrays
    for stale in target.parent.glob(f"{kind}-{source}-*.npz"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return arrays


def _write_atomically(target: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write to a temp file beside ``target`` and rename it, so readers never see half a file."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False)
    try:
        with handle:
            np.savez_compressed(handle, **arrays)
        os.replace(handle.name, target)
    finally:
        Path(handle.name).unlink(missing_ok=True)
