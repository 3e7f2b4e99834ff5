"""The face layer's error: a ferlab error the user can act on."""

from ferlab.errors import FerlabError


class FaceError(FerlabError):
    """An unknown detector name, a missing optional extra, or an image of the wrong form."""
