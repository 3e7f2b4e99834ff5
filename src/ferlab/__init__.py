"""ferlab: facial expression recognition, from dataset files to annotated photos."""

from ferlab.errors import DataError, FerlabError, ModelError

__all__ = ["DataError", "FerlabError", "ModelError", "__version__", "analyze"]


def __getattr__(name: str):
    """Load `ferlab.analyze` and look up ``__version__`` on first use, so ``import ferlab`` stays light."""
    if name == "__version__":
        from ferlab.version import package_version

        return package_version()
    if name == "analyze":
        from ferlab.app.analyze import analyze

        return analyze
    raise AttributeError(f"module 'ferlab' has no attribute {name!r}")
