"""Training: configuration, the loop, checkpoints, losses, multi-process runs."""

from ferlab.engine.checkpoint import load_model
from ferlab.engine.config import TrainConfig, load_config
from ferlab.engine.train import TrainResult, train

__all__ = ["TrainConfig", "TrainResult", "load_config", "load_model", "train"]
