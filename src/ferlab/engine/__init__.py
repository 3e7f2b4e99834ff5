"""Training: configuration, the loop, checkpoints, losses, multi-process runs.

Every name is imported on first use: `ferlab.engine.config` (torch-free) loads without the
training loop, and loading a model file (`load_model`) without TensorBoard.
"""

import importlib
from typing import Any

_HOMES = {
    "TrainConfig": "ferlab.engine.config",
    "load_config": "ferlab.engine.config",
    "load_model": "ferlab.models.files",
    "train": "ferlab.engine.trainer",
    "TrainResult": "ferlab.engine.trainer",
}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(_HOMES[name]), name)
    raise AttributeError(f"module 'ferlab.engine' has no attribute {name!r}")
