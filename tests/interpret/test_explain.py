"""`ferlab explain`: every figure for every model family, Grad-CAM on a case with a known
answer, learning curves of a real run, dataset and photo inputs, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from ferlab.cli import main
from ferlab.data import load_dataset
from ferlab.data.labels import FER2013_CLASSES
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.faces import align_face, get_detector
from ferlab.interpret.explain import photo_inputs
from ferlab.interpret.grid import PANEL_PX, TITLE_PX
from ferlab.interpret.internals import activation_maps, grad_cam
from ferlab.models import create_model, get_model_info, list_models
from ferlab.models.base import FerModel
from ferlab.preprocess import CROP_MARGIN

ASTRONAUT = Path(__file__).resolve().parents[2] / "src" / "ferlab" / "assets" / "astronaut.png"
_LIGHT_BACKBONE = {"backbone": "lenet_like", "backbone_kwargs": {"widths": (8, 16, 16), "hidden": 32}}
FAMILIES: dict[str, tuple[str, dict[str, Any], dict[str, int]]] = {
    # file of src/ferlab/models: (model, cheap options, family figure -> its columns)
    "cnn_baselines": ("lenet_like", {}, {}),
    "deep_emotion": ("deep_emotion", {}, {"stn_warp.png": 2}),
    "torchvision_models": ("resnet18", {"small_input": True}, {}),
    "inception_resnet": ("inception_resnet_v1", {"repeats": (1, 1, 1)}, {}),
    "attention_net": (
        "attention_net",
        {**_LIGHT_BACKBONE, "attention_widths": (8, 16, 16), "num_filters": 8, "feature_blocks": 1},
        {"attention.png": 3},
    ),
    "ran": ("ran", _LIGHT_BACKBONE, {"ran_regions.png": 6}),
}
ALL_FAMILY_FIGURES = {"stn_warp.png", "attention.png", "ran_regions.png"}


@pytest.fixture(autouse=True)
def _seeded_single_thread() -> Iterator[None]:
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def faces_csv(tmp_path: Path, csv_writer, rows_factory) -> Path:
    """A learnable fer2013.csv: 112 training rows, 28 in each test usage."""
    rows = rows_factory({"Training": 112, "PublicTest": 28, "PrivateTest": 28}, learnable=True)
    return csv_writer(tmp_path / "fer2013.csv", rows)


def _model_file(path: Path, name: str, options: dict[str, Any]) -> Path:
    """An untrained model saved as the trainer saves its best model."""
    model = create_model(name, num_classes=len(FER2013_CLASSES), **options)
    save_atomically(model_record(model, name, options, FER2013_CLASSES), path)
    return path


def _conv_count(model: torch.nn.Module) -> int:
    return sum(isinstance(module, torch.nn.Conv2d) for module in model.modules())


def _explain(*args: object) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["explain", *map(str, args)])
    assert exited.value.code in (0, None)


def _grid_shape(path: Path) -> tuple[int, int]:
    """(rows, columns) of a grid PNG, from its pixel size."""
    width, height = Image.open(path).size
    assert width % PANEL_PX[0] == 0 and (height - TITLE_PX) % PANEL_PX[1] == 0, (width, height)
    return (height - TITLE_PX) // PANEL_PX[1], width // PANEL_PX[0]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_gets_activations_gradcam_and_its_own_figure(family: str, faces_csv: Path, tmp_path: Path) -> None:
    name, options, own = FAMILIES[family]
    out = tmp_path / "out"
    _explain(_model_file(tmp_path / "model.pt", name, options), "--data-root", faces_csv, "--n", 3, "--out", out)
    report = json.loads((out / "explain.json").read_text())
    assert report["files"] == ["activations.png", "gradcam.png", *own]
    assert set(path.name for path in out.glob("*.png")) == {"activations.png", "gradcam.png", *own}
    assert _grid_shape(out / "gradcam.png") == (3, 2)
    rows, columns = _grid_shape(out / "activations.png")
    assert rows == 1 + min(4, _conv_count(create_model(name, **options))) and 1 < columns <= 8
    for figure, figure_columns in own.items():
        assert _grid_shape(out / figure) == (3, figure_columns)
    assert len(report["predictions"]) == 3 and all(p["predicted"] in FER2013_CLASSES for p in report["predictions"])


def test_gradcam_panel_is_coloured_where_the_face_is_gray(faces_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    _explain(_model_file(tmp_path / "model.pt", "lenet_like", {}), "--data-root", faces_csv, "--n", 1, "--out", out)
    pixels = np.asarray(Image.open(out / "gradcam.png").convert("RGB")).astype(int)
    width, height = PANEL_PX
    face, overlay = (pixels[TITLE_PX + 60 : TITLE_PX + height, c * width + 20 : (c + 1) * width - 20] for c in (0, 1))
    assert np.ptp(face, axis=-1).max() == 0, "the face is drawn in gray"
    assert np.ptp(overlay, axis=-1).mean() > 20, "the heat map is drawn in colour over it"


@pytest.mark.parametrize("name", list_models())
def test_every_registered_model_has_activation_maps_and_a_gradcam(name: str) -> None:
    options = {"small_input": True} if "small_input" in get_model_info(name).options else {}
    model = create_model(name, **options).eval()
    x = torch.randn(2, *model.input_size)
    layers = activation_maps(model, x)
    assert len(layers) == min(4, _conv_count(model))
    assert all(layer.maps.shape[0] == 2 and layer.maps.shape[1] <= 8 for layer in layers)
    cam, logits = grad_cam(model, x)
    assert cam.shape == (2, *model.input_size[1:]) and logits.shape == (2, 7)
    assert cam.min() >= 0 and cam.max() <= 1


class QuadrantModel(FerModel):
    """Toy model with a known answer: feature channel q is the 4x4-pooled image inside quadrant q,
    and class q's logit is that channel's mean, so class q depends on quadrant q alone."""

    def __init__(self) -> None:
        super().__init__()
        self.num_classes = self.num_features = self.head_hidden_size = 4
        self.in_chans, self.input_size = 1, (1, 16, 16)
        masks = torch.zeros(4, 4, 4)
        for q, (rows, cols) in enumerate(
            [
                (slice(0, 2), slice(0, 2)),
                (slice(0, 2), slice(2, 4)),
                (slice(2, 4), slice(0, 2)),
                (slice(2, 4), slice(2, 4)),
            ]
        ):
            masks[q, rows, cols] = 1
        self.register_buffer("masks", masks)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.avg_pool2d(x, 4) * self.masks

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=(2, 3))


QUADRANTS = {
    0: (slice(0, 8), slice(0, 8)),
    1: (slice(0, 8), slice(8, 16)),
    2: (slice(8, 16), slice(0, 8)),
    3: (slice(8, 16), slice(8, 16)),
}


@pytest.mark.parametrize("target", [None, 1])
def test_gradcam_lights_up_the_quadrant_the_class_reads(target) -> None:
    x = torch.ones(1, 1, 16, 16)
    x[..., 8:, :8] = 3.0  # the bottom-left quadrant is brightest: class 2 is predicted
    cam, logits = grad_cam(QuadrantModel(), x, None if target is None else torch.tensor([target]))
    assert logits.argmax().item() == 2
    inside = np.zeros((16, 16), bool)
    inside[QUADRANTS[2 if target is None else target]] = True
    cam = cam[0].numpy()
    assert inside.ravel()[cam.argmax()] and cam.max() == pytest.approx(1.0)
    assert cam[inside].mean() > 0.8 and cam[~inside].max() < 0.5 and cam[~inside].mean() < 0.1


def test_gradcam_at_a_named_layer_reads_that_layers_output() -> None:
    model = create_model("vgg_like", widths=(8, 16, 16, 16), hidden=32).eval()
    x = torch.rand(3, 1, 48, 48)
    default, logits = grad_cam(model, x)
    same, same_logits = grad_cam(model, x, layer="stages")  # forward_features is the output of `stages`
    assert torch.equal(default, same) and torch.equal(logits, same_logits)
    finer, _ = grad_cam(model, x, layer="stages.1")  # 12x12 instead of 3x3
    assert finer.shape == default.shape and not torch.allclose(finer, default)
    assert finer.min() >= 0 and finer.max() <= 1


def test_explain_draws_gradcam_at_the_cam_layer(tmp_path: Path, model_path: Path) -> None:
    _explain(model_path, ASTRONAUT, "--cam-layer", "stages.1", "--out", tmp_path / "fine")
    _explain(model_path, ASTRONAUT, "--out", tmp_path / "last")
    fine, last = (np.asarray(Image.open(tmp_path / name / "gradcam.png")) for name in ("fine", "last"))
    assert fine.shape == last.shape and not np.array_equal(fine, last)


def test_activation_maps_keep_four_convolutions_in_running_order_first_and_last_included() -> None:
    convs = [torch.nn.Conv2d(1 if i == 0 else 12, 12, 3, padding=1) for i in range(6)]
    model = torch.nn.Sequential(*convs, torch.nn.Conv2d(12, 12, 16))  # the last output is 1x1: not a map
    layers = activation_maps(model, torch.randn(1, 1, 16, 16), layers=4, channels=8)
    assert [layer.name for layer in layers] == ["0", "2", "3", "5"]
    assert all(layer.maps.shape == (1, 8, 16, 16) and layer.channels == 12 for layer in layers)


def test_run_folder_gets_learning_curves_and_split_faces_with_their_labels(faces_csv: Path, tmp_path: Path) -> None:
    from ferlab.engine import load_config, train

    run = tmp_path / "run"
    train(
        load_config(
            model="lenet_like", data_root=str(faces_csv), out=str(run), epochs=1, batch_size=56, device="cpu", threads=1
        )
    )
    _explain(run, "--data", "fer2013", "--data-root", faces_csv, "--split", "test", "--n", 4)
    out = run / "explain"
    report = json.loads((out / "explain.json").read_text())
    assert report["files"] == ["learning_curves.png", "activations.png", "gradcam.png"]
    assert Image.open(out / "learning_curves.png").size == Image.open(run / "learning_curves.png").size
    test = load_dataset("fer2013", faces_csv, "test")
    assert [p["true"] for p in report["predictions"]] == [test.classes[label] for label in test.labels[:4]]
    assert [p["name"] for p in report["predictions"]] == [f"test #{i}" for i in test.ids[:4]]
    assert _grid_shape(out / "gradcam.png") == (4, 2)

    _explain(run, "--data-root", faces_csv, "--n", 4, "--seed", 3, "--out", tmp_path / "random")
    names = [p["name"] for p in json.loads((tmp_path / "random" / "explain.json").read_text())["predictions"]]
    assert len(set(names)) == 4 and names != [f"test #{i}" for i in test.ids[:4]]


def test_photos_use_the_aligned_face_or_the_whole_image(tmp_path: Path, capsys, monkeypatch) -> None:
    blank = tmp_path / "wall.png"
    Image.fromarray(np.full((60, 90, 3), 128, np.uint8)).save(blank)
    inputs = photo_inputs([ASTRONAUT, blank], (1, 48, 48))
    assert inputs.images.shape == (2, 48, 48) and inputs.names == ["astronaut.png", "wall.png"]
    assert inputs.notes == [f"{blank}: no face found, the whole image is used"]
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    face = get_detector().detect(rgb)[0]  # the default detector, as photo_inputs uses
    assert np.array_equal(inputs.images[0], align_face(rgb, face, (48, 48), grayscale=True, margin=CROP_MARGIN))
    assert (inputs.images[1][:8] == 0).all() and (inputs.images[1][24] == 128).all(), "whole image, fitted"

    monkeypatch.chdir(tmp_path)
    _explain("ferlab-ferplus", ASTRONAUT, blank)
    captured = capsys.readouterr()
    assert "no face found" in captured.err and "astronaut" not in captured.err
    report = json.loads((tmp_path / "explain" / "explain.json").read_text())
    assert report["predictions"][0]["predicted"] == "happy"
    assert _grid_shape(tmp_path / "explain" / "gradcam.png") == (2, 2)


@pytest.fixture
def model_path(tmp_path: Path) -> Path:
    return _model_file(tmp_path / "model.pt", "lenet_like", {})


BAD_INPUTS = {
    "missing run": (lambda tmp, model, csv: [tmp / "no_run" / "best.pt", ASTRONAUT], "no such model file"),
    "unknown name": (lambda tmp, model, csv: ["no-such-model", ASTRONAUT], "no shipped model named"),
    "unreadable image": (lambda tmp, model, csv: [model, csv], "fer2013.csv: not a readable image"),
    "missing image": (lambda tmp, model, csv: [model, tmp / "gone.png"], "gone.png: file not found"),
    "n is 0": (lambda tmp, model, csv: [model, "--data-root", csv, "--n", "0"], "--n must be at least 1"),
    "no input": (lambda tmp, model, csv: [model, "--split", "test"], "give IMAGE files or --data-root"),
    "both inputs": (lambda tmp, model, csv: [model, ASTRONAUT, "--data-root", csv], "exactly one of them"),
    "bad split": (lambda tmp, model, csv: [model, "--data-root", csv, "--split", "dev"], "dev"),
    "unknown cam layer": (
        lambda tmp, model, csv: [model, ASTRONAUT, "--cam-layer", "stages.9"],
        "has no layer 'stages.9'; its layers include stages, stages.0",
    ),
    "cam layer not a map": (
        lambda tmp, model, csv: [model, ASTRONAUT, "--cam-layer", "hidden"],
        "layer 'hidden' gives (1, 256), not a B x C x H x W feature map",
    ),
}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_is_a_one_line_error_with_exit_2(
    case: str, tmp_path: Path, model_path: Path, faces_csv: Path, capsys, monkeypatch
) -> None:
    arguments, message = BAD_INPUTS[case]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(["explain", *map(str, arguments(tmp_path, model_path, faces_csv))])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("error:") and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "explain").exists()
