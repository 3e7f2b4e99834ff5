"""Models shipped inside the package, usable offline by name (``--model ferlab-wild``).

Each shipped model is a ferlab model file ``<name>.pt`` (see `ferlab.engine.checkpoint`)
next to its model card ``<name>.md`` and its ONNX export ``<name>.onnx`` (written by
``tools/ship_model.py`` with `ferlab.models.onnx_export.export_onnx`, so the ONNX Runtime
backend needs no exporter on the user's machine) in this folder.
"""

from __future__ import annotations

from pathlib import Path

from ferlab.errors import ModelError

WEIGHTS_DIR = Path(__file__).resolve().parent
DEFAULT_MODEL = "ferlab-wild"
"""The model `ferlab demo`, `ferlab predict` and `ferlab.analyze` use unless told otherwise."""


def list_shipped() -> list[str]:
    """Names of the models shipped in this installation."""
    return sorted(path.stem for path in WEIGHTS_DIR.glob("*.pt"))


def shipped_path(name: str) -> Path:
    """The model file of the shipped model ``name``; a clear error when there is none."""
    path = WEIGHTS_DIR / f"{name}.pt"
    if not path.is_file():
        available = ", ".join(list_shipped()) or "none"
        raise ModelError(f"no shipped model named {name!r}; shipped: {available} (or give a run folder / .pt file)")
    return path


def resolve_model(model: str | Path) -> Path:
    """A shipped model name (``ferlab-ferplus``) or a run folder / model file → its path."""
    path = Path(model)
    if path.suffix == ".onnx":
        raise ModelError(
            f"{model}: an ONNX file runs on ONNX Runtime only (predict, demo, video, serve and eval with "
            "--backend onnx); here give a shipped name, a run folder or a .pt model file"
        )
    if path.exists() or path.suffix == ".pt" or len(path.parts) > 1:
        return path
    return shipped_path(str(model))


def shipped_onnx(name: str) -> Path | None:
    """The bundled ONNX export of the shipped model ``name``, or None when it has none."""
    path = WEIGHTS_DIR / f"{name}.onnx"
    return path if path.is_file() else None


def model_card(name: str) -> Path:
    """The model card (Markdown) of the shipped model ``name``."""
    return shipped_path(name).with_suffix(".md")
