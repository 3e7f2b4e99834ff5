"""Fine-tuning: `init` starts a run from a trained model's weights; models that differ are refused."""

import json
from pathlib import Path

import pytest
import torch

from ferlab.data import load_dataset
from ferlab.data.dataset import combine
from ferlab.data.labels import FER2013_CLASSES
from ferlab.engine import load_config, train
from ferlab.engine.checkpoint import model_record
from ferlab.errors import FerlabError
from ferlab.models import create_model

FAST = dict(model="lenet_like", epochs=3, batch_size=32, lr=0.02, device="cpu", threads=1)


def test_a_run_started_from_trained_weights_keeps_what_they_learnt(tiny_fer2013: Path, tmp_path: Path) -> None:
    trained = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "trained"), **FAST))
    assert trained.best_val_acc > 0.6
    barely = {**FAST, "epochs": 1, "lr": 1e-5}  # too little training to learn anything on its own
    scratch = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "scratch"), **barely))
    tuned = train(
        load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "tuned"), init=str(trained.run_dir), **barely)
    )
    assert scratch.best_val_acc < 0.45 and tuned.best_val_acc > 0.6, (scratch.best_val_acc, tuned.best_val_acc)


@pytest.mark.parametrize(
    ("model", "options", "classes", "message"),
    [
        ("resnet_like", {}, FER2013_CLASSES, "a resnet_like for angry"),
        ("lenet_like", {}, (*FER2013_CLASSES, "contempt"), "contempt; this run trains a lenet_like"),
        ("lenet_like", {"widths": (8, 16, 32)}, FER2013_CLASSES, "do not fit this model's options"),
    ],
)
def test_init_from_another_model_is_refused(
    tiny_fer2013: Path, tmp_path: Path, model: str, options: dict, classes: tuple[str, ...], message: str
) -> None:
    path = tmp_path / "other.pt"
    torch.save(model_record(create_model(model, num_classes=len(classes), **options), model, options, classes), path)
    with pytest.raises(FerlabError, match=message):
        train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), init=str(path), **FAST))


def test_extra_data_joins_the_training_set_with_its_labels_mapped(
    tiny_fer2013: Path, tmp_path: Path, make_folder_tree
) -> None:
    folder = make_folder_tree({"happiness": 3, "contempt": 2})  # FERPlus names; contempt has no FER2013 class
    base = load_dataset("fer2013", tiny_fer2013, "train")
    joined = combine(base, load_dataset("folder", folder, "all"), repeat=4)
    assert len(joined) == len(base) + 12 and (joined.labels[len(base) :] == FER2013_CLASSES.index("happy")).all()
    assert joined.ids[-1].startswith("folder:happiness/") and joined.classes == base.classes
    config = load_config(
        data_root=str(tiny_fer2013),
        out=str(tmp_path / "run"),
        **{**FAST, "epochs": 1},
        extra_data=[{"data": "folder", "data_root": str(folder), "split": "all", "repeat": 4}],
    )
    train(config)
    summary = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert (summary["train_images"], summary["val_images"]) == (len(base) + 12, 56)  # validation: main data only


@pytest.mark.parametrize("entry", [{"data": "folder"}, {"data": "folder", "data_root": ".", "weight": 2}])
def test_bad_extra_data_entries_are_refused(entry: dict) -> None:
    with pytest.raises(FerlabError, match="extra_data entry"):
        load_config(extra_data=[entry])
