"""Deep-Emotion's gap to its claimed 70.02%: its published-recipe run on FER2013 PrivateTest, scored
three ways, and paired with study 1's rows (issue #18).

    python bench/deep_emotion_gap.py ../shared/data/fer2013

Scores, without TTA: the best-on-PublicTest weights (``best.pt``, what ferlab reports), the last
epoch's (``last.pt``, what the public code keeps), and the best weights with dropout left on at
test time, as the public code's ``F.dropout`` does (5 draws, seeds 0-4). Then McNemar's exact
test of the best weights against the last and against study 1's Deep-Emotion rows and
resnet_like, on the same 3,589 images.

2026-12-02 (this 2-core CPU): best 56.37% (54.74-57.98), last 56.26% (261 / 257, p = 0.90);
dropout on 51.27, 51.10, 52.72, 52.10, 52.13%; against study 1's deep_emotion 739 / 311
(p = 9e-41), deep_emotion_no_stn 465 / 349 (p = 5e-5), resnet_like 276 / 591 (p = 4e-27).
"""

from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ferlab.data import load_dataset
from ferlab.evaluate.inference import predict_logits
from ferlab.evaluate.paired import mcnemar_exact, wilson_interval
from ferlab.models.files import load_model

PUBLISHED = "results/deep_emotion_published/run"
STUDY_1 = "results/compare_fer2013_matched/trained"


class AlwaysDropout(nn.Module):
    """Dropout that stays on in eval mode, like a bare ``F.dropout`` call in ``forward``."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(x, self.p, training=True)


def dropout_left_on(model: nn.Module) -> nn.Module:
    """``model`` with every `nn.Dropout` replaced by `AlwaysDropout` of the same rate."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Dropout):
                setattr(module, name, AlwaysDropout(child.p))
    return model


def main(data_root: str) -> None:
    torch.set_num_threads(1)
    test = load_dataset("fer2013", data_root, "test")
    labels = np.asarray(test.labels)

    def correct(model: nn.Module) -> np.ndarray:
        return np.asarray(predict_logits(model, test.images)).argmax(1) == labels

    def show(name: str, right: np.ndarray) -> None:
        low, high = wilson_interval(int(right.sum()), len(right))
        print(f"{name}: {right.mean():.4f} ({low:.4f}-{high:.4f})")

    rows = {"best": correct(load_model(PUBLISHED)[0]), "last": correct(load_model(f"{PUBLISHED}/last.pt")[0])}
    for label in ("deep_emotion", "deep_emotion_no_stn", "resnet_like"):
        rows[label] = correct(load_model(f"{STUDY_1}/{label}")[0])
    for name, right in rows.items():
        show(name, right)
    noisy = dropout_left_on(load_model(PUBLISHED)[0])
    draws = []
    for seed in range(5):
        torch.manual_seed(seed)
        draws.append(correct(noisy).mean())
    print("best, dropout left on, 5 draws:", ", ".join(f"{d:.4f}" for d in draws))
    for other in ("last", "deep_emotion", "deep_emotion_no_stn", "resnet_like"):
        result = mcnemar_exact(rows["best"], rows[other])
        print(f"best vs {other}: {result.only_a} / {result.only_b}, p = {result.p_value:.2g}")


if __name__ == "__main__":
    main(sys.argv[1])
