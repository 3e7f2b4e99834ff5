"""Wilson intervals and McNemar's exact test against hand computations on a toy confusion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ferlab.errors import FerlabError
from ferlab.evaluate.paired import mcnemar_exact, wilson_interval

Z95 = 1.959963984540054


def test_wilson_interval_matches_the_formula() -> None:
    correct, total = 8, 10
    p = correct / total
    centre = (p + Z95**2 / (2 * total)) / (1 + Z95**2 / total)
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95**2 / (4 * total**2)) / (1 + Z95**2 / total)
    low, high = wilson_interval(correct, total)
    assert (low, high) == pytest.approx((centre - half, centre + half), abs=1e-9)
    assert (low, high) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 5)[0] == pytest.approx(0.0, abs=1e-12) and wilson_interval(5, 5)[1] == pytest.approx(1.0)


def test_mcnemar_exact_on_a_toy_paired_table() -> None:
    # 10 images: both right on 2, only A right on 1, only B right on 6, both wrong on 1.
    a = np.array([1, 1, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    b = np.array([1, 1, 0, 1, 1, 1, 1, 1, 1, 0], dtype=bool)
    result = mcnemar_exact(a, b)
    assert (result.only_a, result.only_b) == (1, 6)
    # two-sided exact: 2 * P(X <= 1), X ~ Binomial(7, 1/2) = 2 * (1 + 7) / 128
    assert result.p_value == pytest.approx(2 * (1 + 7) / 2**7)
    assert mcnemar_exact(b, a).p_value == pytest.approx(result.p_value)
    assert mcnemar_exact(a, a).p_value == 1.0


def test_bad_inputs_are_errors() -> None:
    with pytest.raises(FerlabError, match="correct <= total"):
        wilson_interval(11, 10)
    with pytest.raises(FerlabError, match="one length"):
        mcnemar_exact(np.ones(3, bool), np.ones(4, bool))
