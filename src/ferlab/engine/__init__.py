"""Training: configuration, the loop, checkpoints, losses, multi-process runs.

Every name is imported on first use: `ferlab.engine.config` (torch-free) loads without the
training loop, and loading a model file (`load_model`) without TensorBoard.
"""

from ferlab.lazy import lazy_exports

_HOMES = {
    "TrainConfig": "ferlab.engine.config",
    "load_config": "ferlab.engine.config",
    "load_model": "ferlab.models.files",
    "train": "ferlab.engine.trainer",
    "TrainResult": "ferlab.engine.trainer",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
