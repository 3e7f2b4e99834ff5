"""Statistics for comparing classifiers scored on the same test images.

Both come from SciPy rather than by hand: the Wilson score interval of an accuracy
(`scipy.stats.binomtest(...).proportion_ci(method="wilson")`), and McNemar's exact test,
which on paired right/wrong outcomes is a two-sided binomial test of the discordant pairs
(images one model gets right and the other wrong) against one half.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binomtest

from ferlab.errors import FerlabError


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval ``(low, high)`` of the accuracy ``correct / total``."""
    if total <= 0 or not 0 <= correct <= total:
        raise FerlabError(f"an accuracy needs 0 <= correct <= total and total > 0, got {correct} of {total}")
    interval = binomtest(correct, total).proportion_ci(confidence_level=confidence, method="wilson")
    return float(interval.low), float(interval.high)


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's exact test of two classifiers on the same images.

    Attributes:
        only_a: images model A gets right and model B wrong.
        only_b: images model B gets right and model A wrong.
        p_value: two-sided exact p-value (1.0 when no image is discordant).
    """

    only_a: int
    only_b: int
    p_value: float


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemarResult:
    """McNemar's exact test on two boolean arrays of per-image correctness, in the same image order."""
    correct_a, correct_b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if correct_a.shape != correct_b.shape or correct_a.ndim != 1:
        raise FerlabError(
            f"paired outcomes must be two 1-D arrays of one length, got {correct_a.shape} and {correct_b.shape}"
        )
    only_a, only_b = int((correct_a & ~correct_b).sum()), int((correct_b & ~correct_a).sum())
    discordant = only_a + only_b
    p_value = 1.0 if discordant == 0 else float(binomtest(only_a, discordant, 0.5).pvalue)
    return McNemarResult(only_a, only_b, p_value)
