"""The training loss: cross-entropy in the form the labels call for, plus a model's own loss term."""

from __future__ import annotations

import torch
from torch import nn


class TrainingLoss(nn.Module):
    """Cross-entropy with label smoothing and class weights, chosen by the target mode.

    * hard labels (FER2013, FERPlus ``majority``, folders): cross-entropy on labels;
    * FERPlus ``crossentropy``: cross-entropy against the vote distribution;
    * FERPlus ``probability``: a label drawn from the vote distribution for every image
      at every step (the FERPlus paper's probabilistic label drawing);
    * plus the outputs' ``"aux_loss"``, when the model brings a loss term of its own
      (`ferlab.models.base.FerModel.training_outputs`; RAN's region-biased loss).
    """

    def __init__(
        self,
        target_mode: str | None = None,
        label_smoothing: float = 0.0,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.target_mode = target_mode
        self.cross_entropy = nn.CrossEntropyLoss(weight=class_weights, label_smoothing=label_smoothing)

    def target(self, labels: torch.Tensor, targets: torch.Tensor | None = None) -> torch.Tensor:
        """What the cross-entropy compares with under the target mode: class indices ``(B,)``
        or one distribution per image ``(B, C)`` (FERPlus ``crossentropy``)."""
        if targets is not None and self.target_mode == "crossentropy":
            return targets
        if targets is not None and self.target_mode == "probability":
            return torch.multinomial(targets, 1).squeeze(1)
        return labels

    def forward(self, outputs: dict[str, torch.Tensor], target: torch.Tensor) -> torch.Tensor:
        """The loss of a batch; ``outputs`` as from `FerModel.training_outputs` (``"logits"`` at least),
        ``target`` from `target` (or mixed by `ferlab.data.transforms.batch_mixing`)."""
        loss = self.cross_entropy(outputs["logits"], target)
        if "aux_loss" in outputs:
            loss = loss + outputs["aux_loss"]
        return loss


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    temperature: float,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinton et al. (2015)'s soft-target loss: ``T^2 * KL(softmax(teacher / T) || softmax(student / T))``.

    The mean over the batch; the ``T^2`` keeps its gradients on the scale of the label loss.
    ``mask`` (bool, one per image): only these images are distilled, the others add 0 to the
    mean (so the term's weight per distilled image does not depend on the batch's mix).
    """
    per_image = nn.functional.kl_div(
        nn.functional.log_softmax(student_logits / temperature, dim=1),
        nn.functional.log_softmax(teacher_logits.detach() / temperature, dim=1),
        reduction="none",
        log_target=True,
    ).sum(dim=1)
    if mask is not None:
        per_image = per_image * mask.to(per_image.dtype)
    return per_image.mean() * temperature**2


def inverse_frequency_weights(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class weights ``N / (C * count_c)`` (mean 1 over samples); absent classes get weight 0."""
    counts = torch.bincount(labels[labels >= 0], minlength=num_classes).float()
    weights = labels.numel() / (num_classes * counts.clamp(min=1))
    return torch.where(counts > 0, weights, torch.zeros_like(weights))
