"""The training loss: cross-entropy in the form the labels call for, plus a model's own loss term."""

from __future__ import annotations

import torch
from torch import nn


class TrainingLoss(nn.Module):
    """Cross-entropy (or focal loss) with label smoothing and class weights, chosen by the target mode.

    * hard labels (FER2013, FERPlus ``majority``, folders): cross-entropy on labels;
    * FERPlus ``crossentropy``: cross-entropy against the vote distribution;
    * FERPlus ``probability``: a label drawn from the vote distribution for every image
      at every step (the FERPlus paper's probabilistic label drawing);
    * ``focal_gamma`` > 0: the focal loss of Lin et al. (2017) in its softmax form,
      ``-sum_c w_c q_c (1 - p_c)^gamma log p_c`` over the (smoothed, mixed or soft) target
      distribution ``q``, averaged over the batch;
    * plus the outputs' ``"aux_loss"``, when the model brings a loss term of its own
      (`ferlab.models.base.FerModel.training_outputs`; RAN's region-biased loss).
    """

    def __init__(
        self,
        target_mode: str | None = None,
        label_smoothing: float = 0.0,
        class_weights: torch.Tensor | None = None,
        focal_gamma: float = 0.0,
    ) -> None:
        super().__init__()
        self.target_mode = target_mode
        self.label_smoothing, self.focal_gamma = label_smoothing, focal_gamma
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
        if self.focal_gamma > 0:
            loss = self._focal(outputs["logits"], target)
        else:
            loss = self.cross_entropy(outputs["logits"], target)
        if "aux_loss" in outputs:
            loss = loss + outputs["aux_loss"]
        return loss

    def _focal(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        num_classes = logits.shape[1]
        if target.ndim == 1:
            target = nn.functional.one_hot(target, num_classes).to(logits.dtype)
        target = target * (1 - self.label_smoothing) + self.label_smoothing / num_classes
        log_p = nn.functional.log_softmax(logits.float(), dim=1)
        weight = self.cross_entropy.weight if self.cross_entropy.weight is not None else 1.0
        per_class = weight * target * (1 - log_p.exp()).pow(self.focal_gamma) * log_p
        return -per_class.sum(dim=1).mean()


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


def effective_number_weights(labels: torch.Tensor, num_classes: int, beta: float) -> torch.Tensor:
    """Cui et al. (2019)'s class weights ``(1 - beta) / (1 - beta^n_c)``, scaled so that their mean
    over the training images is 1 (as `inverse_frequency_weights`); absent classes get weight 0."""
    counts = torch.bincount(labels[labels >= 0], minlength=num_classes).double()
    weights = (1 - beta) / (1 - beta**counts).clamp(min=1e-12)
    weights = torch.where(counts > 0, weights, torch.zeros_like(weights))
    return (weights * counts.sum() / (weights * counts).sum()).float()


def class_balance_weights(labels: torch.Tensor, num_classes: int, balance: str, beta: float) -> torch.Tensor | None:
    """The label loss's class weights for a `TrainConfig.class_balance` setting (None for ``none``)."""
    if balance == "inverse":
        return inverse_frequency_weights(labels, num_classes)
    if balance == "effective":
        return effective_number_weights(labels, num_classes, beta)
    return None
