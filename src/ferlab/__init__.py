"""ferlab: facial expression recognition, from dataset files to annotated photos."""

from ferlab.errors import DataError, FerlabError, ModelError
from ferlab.version import __version__

__all__ = ["DataError", "FerlabError", "ModelError", "__version__", "analyze"]


def __getattr__(name: str):
    """Load `ferlab.analyze` on first use, so ``import ferlab`` stays light (no torch import)."""
    if name == "analyze":
        from ferlab.app.analyze import analyze

        return analyze
    raise AttributeError(f"module 'ferlab' has no attribute {name!r}")
