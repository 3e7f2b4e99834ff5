"""Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks").

One scalar ``T`` divides every logit; it is fitted on held-out (validation) logits by
minimising the negative log-likelihood with L-BFGS over ``log T`` (so ``T`` stays
positive). Dividing by ``T`` never changes the argmax, so accuracy and F1 are unchanged;
only the confidences move.

A balanced operating point (`ferlab.priors`) gives probabilities for a world where every class
is equally common; its temperature is fitted, and its NLL and ECE measured, with every class of
the held-out images weighing the same (``class_balanced``), since the held-out split itself
has the training prior.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ferlab.engine.losses import inverse_frequency_weights
from ferlab.errors import FerlabError
from ferlab.evaluate.metrics import expected_calibration_error, negative_log_likelihood


def fit_temperature(
    logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100, class_balanced: bool = False
) -> float:
    """The temperature ``T`` minimising ``NLL(softmax(logits / T), labels)``, every image weighing the
    same or (``class_balanced``) every class.

    ``T > 1`` softens over-confident logits, ``T < 1`` sharpens under-confident ones.
    """
    if labels.numel() == 0:
        raise FerlabError("cannot fit a temperature on zero images")
    logits = logits.detach().double().cpu()
    labels = labels.detach().long().cpu()
    weight = inverse_frequency_weights(labels, logits.shape[1]).double() if class_balanced else None
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), labels, weight=weight)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp())


def calibration_scores(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float, class_balanced: bool = False
) -> dict[str, float | str]:
    """ECE and NLL of ``logits`` before and after dividing them by ``temperature``; ``weighting`` says
    whether images or (``class_balanced``) classes weigh the same in them."""
    scaled = logits / temperature
    return {
        "temperature": temperature,
        "weighting": "classes" if class_balanced else "images",
        "ece_before": expected_calibration_error(logits, labels, class_balanced=class_balanced),
        "ece_after": expected_calibration_error(scaled, labels, class_balanced=class_balanced),
        "nll_before": negative_log_likelihood(logits, labels, class_balanced),
        "nll_after": negative_log_likelihood(scaled, labels, class_balanced),
    }
