"""Shared fixtures of the model-zoo tests: seeding, cheap configurations, a tiny batch.

Exposed as fixtures (not importable names): sibling test folders have their own
``conftest.py``, so ``import conftest`` would be ambiguous.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

_LIGHT_BACKBONE: dict[str, Any] = {
    "backbone": "lenet_like",
    "backbone_kwargs": {"widths": (8, 16, 16), "hidden": 32, "drop_rate": 0.0},
}
# Options that keep the expensive families small where a test is about behaviour, not size.
_LIGHT_OPTIONS: dict[str, dict[str, Any]] = {
    "lenet_like": {"drop_rate": 0.0},
    "deep_emotion": {"drop_rate": 0.0},
    "resnet18": {"small_input": True},
    "inception_resnet_v1": {"repeats": (1, 1, 1), "prelu": True, "drop_rate": 0.0},
    "attention_net": {**_LIGHT_BACKBONE, "attention_widths": (8, 16, 16), "num_filters": 8, "feature_blocks": 1},
    "ran": _LIGHT_BACKBONE,
}


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same random state."""
    torch.manual_seed(0)


@pytest.fixture
def light_backbone() -> dict[str, Any]:
    """`ran` / `attention_net` options selecting a very small LeNet-like backbone."""
    return {key: (dict(value) if isinstance(value, dict) else value) for key, value in _LIGHT_BACKBONE.items()}


@pytest.fixture
def light_options() -> dict[str, dict[str, Any]]:
    """Small, dropout-free options for one model of each family, keyed by model name."""
    return {name: dict(options) for name, options in _LIGHT_OPTIONS.items()}


@pytest.fixture
def tiny_batch() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """Factory of random images ``B x C x 48 x 48`` and labels cycling through 7 classes."""

    def make(batch: int = 8, in_chans: int = 1, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.randn(batch, in_chans, size, size), torch.arange(batch) % 7

    return make
