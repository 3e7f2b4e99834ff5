"""The ceiling of distilling an ensemble: how much better than the first model an average of
the given models' probabilities is on a labelled face folder's validation part. A student
distilled from that ensemble can at best match it, so when the ensemble itself is within noise
of the first model, distilling it is not worth a training run.

    python bench/ensemble_ceiling.py ../shared/data/sfew/Train MODEL [MODEL ...]
    python bench/ensemble_ceiling.py ../shared/data/sfew/Train ferlab-wild \
        results/generalization/ferplus_wild_size64/model.pt ferlab-fer2013   # the figures below

Each model reads the folder at its own input size (the reader's resize, what `ferlab eval
--detector none` and the application's crop rule give on these crops); its probabilities over
the folder's classes are taken by concept name (FERPlus's contempt is left out, so an 8-class
model's 7 columns are renormalised). Split: the reader's ``holdout=0.3`` validation part.

2026-12-02 (this 2-core CPU), SFEW validation part (n = 259): ferlab-wild 56.4%, the 64x64
run of `configs/ferplus_wild_size64.yaml` 53.7%, ferlab-fer2013 52.9%; ensembles against
ferlab-wild: wild + 64x64 57.5% (12 / 9 discordant, McNemar p = 0.66), wild + fer2013 58.7%
(16 / 10, p = 0.33), all three 58.3% (15 / 10, p = 0.42): each within noise.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from ferlab.data import load_dataset
from ferlab.data.labels import class_mapping
from ferlab.engine import load_model
from ferlab.evaluate.inference import predict_logits
from ferlab.evaluate.paired import mcnemar_exact, wilson_interval
from ferlab.weights import resolve_model


def folder_probabilities(root: str, model_name: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's probabilities over the folder's classes on its validation part, and the labels."""
    model, record = load_model(resolve_model(model_name))
    side = int(model.input_size[1])
    dataset = load_dataset("folder", root, "val", holdout=0.3, size=side)
    columns = class_mapping(dataset.classes, record["classes"])
    if (columns < 0).any():
        raise SystemExit(f"{model_name} lacks some of the folder's classes ({', '.join(dataset.classes)})")
    probabilities = torch.softmax(predict_logits(model, dataset.images), 1).numpy()[:, columns]
    return probabilities / probabilities.sum(1, keepdims=True), dataset.labels


def main() -> None:
    root, names = sys.argv[1], sys.argv[2:]
    outputs = {name: folder_probabilities(root, name) for name in names}
    labels = outputs[names[0]][1]
    right = {name: outputs[name][0].argmax(1) == labels for name in names}
    for name in names:
        low, high = wilson_interval(int(right[name].sum()), len(labels))
        print(f"{name}: {right[name].mean():.1%} ({low:.1%}-{high:.1%})")
    ensembles = [[names[0], other] for other in names[1:]] + ([names] if len(names) > 2 else [])
    for members in ensembles:
        ensemble = np.mean([outputs[name][0] for name in members], axis=0).argmax(1) == labels
        test = mcnemar_exact(ensemble, right[names[0]])
        print(
            f"ensemble of {' + '.join(members)}: {ensemble.mean():.1%}; against {names[0]} "
            f"{test.only_a} / {test.only_b} discordant, McNemar p = {test.p_value:.2f}"
        )


if __name__ == "__main__":
    main()
