"""Cross-dataset scoring: FER2013 models on FERPlus labels and the reverse."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ferlab.data.labels import FER2013_CLASSES, FERPLUS_CLASSES
from ferlab.errors import DataError
from ferlab.evaluate import align_labels, evaluate_model

CPU = torch.device("cpu")


def test_fer2013_model_on_ferplus_labels_maps_by_meaning_and_drops_contempt() -> None:
    alignment = align_labels(FERPLUS_CLASSES, FER2013_CLASSES)
    assert alignment.cross_dataset
    assert alignment.classes == FER2013_CLASSES
    assert alignment.logit_columns.tolist() == list(range(7))
    # neutral, happiness, surprise, sadness, anger, disgust, fear, contempt → FER2013 indices
    assert alignment.label_map.tolist() == [6, 3, 5, 4, 0, 1, 2, -1]
    assert alignment.map(np.array([1, 7, -1, 4])).tolist() == [3, -1, -1, 0]


def test_ferplus_model_on_fer2013_labels_drops_the_contempt_logit() -> None:
    alignment = align_labels(FER2013_CLASSES, FERPLUS_CLASSES)
    assert alignment.classes == FERPLUS_CLASSES[:7]
    assert alignment.logit_columns.tolist() == list(range(7))
    # angry, disgust, fear, happy, sad, surprise, neutral → positions among the 7 FERPlus classes
    assert alignment.label_map.tolist() == [4, 5, 6, 1, 3, 2, 0]


def test_same_label_set_is_the_identity() -> None:
    alignment = align_labels(FER2013_CLASSES, list(FER2013_CLASSES))
    assert not alignment.cross_dataset
    assert alignment.label_map.tolist() == alignment.logit_columns.tolist() == list(range(7))


def test_unknown_or_disjoint_classes_are_errors() -> None:
    with pytest.raises(DataError, match="no known meaning for 'smirk'"):
        align_labels(("happy", "smirk"), FER2013_CLASSES)
    with pytest.raises(DataError, match="share 1 with the model's"):
        align_labels(("contempt", "happy"), FER2013_CLASSES)


def test_fer2013_model_scores_ferplus_data_without_contempt(make_faces, brightness_model) -> None:
    labels = [i % 8 for i in range(24)]  # 3 contempt images
    data = make_faces(FERPLUS_CLASSES, labels, name="ferplus")
    result = evaluate_model(brightness_model(FER2013_CLASSES), data, FER2013_CLASSES, device=CPU)
    metrics = result.metrics
    assert metrics["n_images"] == 21 and result.logits.shape == (21, 7)
    assert metrics["accuracy"] == 1.0 and metrics["macro_f1"] == 1.0
    assert list(metrics["per_class"]) == list(FER2013_CLASSES)
    assert [metrics["per_class"][c]["support"] for c in FER2013_CLASSES] == [3] * 7
    assert metrics["cross_dataset"]["dropped_images"] == 3
    assert metrics["cross_dataset"]["dropped_by_class"] == {"contempt": 3}
    assert metrics["cross_dataset"]["scored_classes"] == list(FER2013_CLASSES)
    assert "contempt" not in result.ids.tolist() and len(result.ids) == 21
    assert any("dropped 3 image(s)" in note for note in result.notes)


def test_ferplus_model_on_fer2013_data_argmaxes_over_shared_classes(make_faces, brightness_model) -> None:
    data = make_faces(FER2013_CLASSES, [i % 7 for i in range(14)])
    tempted = brightness_model(FERPLUS_CLASSES, bias={"contempt": 100.0})  # would always say contempt
    result = evaluate_model(tempted, data, FERPLUS_CLASSES, device=CPU)
    assert result.classes == FERPLUS_CLASSES[:7] and result.logits.shape == (14, 7)
    assert result.metrics["accuracy"] == 1.0
    assert result.metrics["cross_dataset"]["dropped_images"] == 0
    assert np.diag(result.metrics["confusion"]).tolist() == [2] * 7


def test_same_label_set_takes_the_plain_path(make_faces, brightness_model) -> None:
    data = make_faces(FER2013_CLASSES, [i % 7 for i in range(14)])
    result = evaluate_model(brightness_model(FER2013_CLASSES), data, FER2013_CLASSES, device=CPU)
    assert result.metrics["cross_dataset"] is None
    assert result.metrics["accuracy"] == 1.0 and result.metrics["n_images"] == 14
