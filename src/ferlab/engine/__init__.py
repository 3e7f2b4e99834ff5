"""Training: configuration, the loop, checkpoints, losses, multi-process runs.

`train` and `TrainResult` are imported on first use, so loading a model file
(`load_model`) does not pull in the training loop and TensorBoard.
"""

import importlib
from typing import Any

from ferlab.engine.config import TrainConfig, load_config
from ferlab.models.files import load_model

__all__ = ["TrainConfig", "TrainResult", "load_config", "load_model", "train"]


def __getattr__(name: str) -> Any:
    if name in ("train", "TrainResult"):
        return getattr(importlib.import_module("ferlab.engine.trainer"), name)
    raise AttributeError(f"module 'ferlab.engine' has no attribute {name!r}")
