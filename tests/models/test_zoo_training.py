"""A few optimisation steps on a tiny batch lower the loss, for one model of each family."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F

from ferlab.models import FerModel, create_model

FAMILIES = ["lenet_like", "deep_emotion", "resnet18", "inception_resnet_v1", "attention_net", "ran"]


def _loss(model: FerModel, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy plus the model's own loss term (RAN's region-biased loss), as the trainer adds it."""
    out = model.training_outputs(images)
    return F.cross_entropy(out["logits"], labels) + out.get("aux_loss", 0.0)


@pytest.mark.parametrize("name", FAMILIES)
def test_a_few_steps_drive_the_loss_down(name: str, light_options: dict, tiny_batch: Callable) -> None:
    model = create_model(name, **light_options[name])
    images, labels = tiny_batch(batch=4)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    first = _loss(model, images, labels)
    loss = first
    for _ in range(8):
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        loss = _loss(model, images, labels)
    assert loss.item() < 0.8 * first.item(), f"{name}: {first.item():.3f} -> {loss.item():.3f}"
