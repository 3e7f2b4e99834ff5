"""The installed package's version, looked up on first use: importing ``importlib.metadata``
costs about 60 ms, which every ``ferlab`` command would otherwise pay at start-up."""

from functools import cache


@cache
def package_version() -> str:
    """The installed ``ferlab`` version (``0.0.0`` in a source tree that was never installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ferlab")
    except PackageNotFoundError:
        return "0.0.0"
