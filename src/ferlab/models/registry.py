"""The model registry, in the style of timm: register builders, list them, create models.

A family module decorates each builder with `register_model`, giving the default input
size, a one-line description and the source citation, so `get_model_info` answers
without building anything. `create_model` checks the options, builds the model and, when
asked, loads a local weights file (`ferlab.models.pretrained`).
"""

from __future__ import annotations

import difflib
import fnmatch
import inspect
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, Union

from ferlab.errors import ModelError
from ferlab.models.base import FerModel
from ferlab.models.pretrained import load_pretrained

logger = logging.getLogger(__name__)

Builder = Callable[..., FerModel]
BuilderT = TypeVar("BuilderT", bound=Builder)
PretrainedArg = Union[str, "os.PathLike[str]", bool, None]


@dataclass(frozen=True)
class ModelInfo:
    """What is known about a registered model without building it."""

    name: str
    input_size: tuple[int, int, int]
    """Default input ``(channels, height, width)`` of ``create_model(name)``."""
    description: str
    """One line for listings."""
    source: str
    """Citation of the paper or code the model follows."""
    builder: Builder = field(repr=False, compare=False)

    @property
    def options(self) -> tuple[str, ...]:
        """Keyword options the builder takes besides ``num_classes`` and ``in_chans``."""
        params = inspect.signature(self.builder).parameters
        return tuple(p for p in params if p not in ("num_classes", "in_chans"))


_REGISTRY: dict[str, ModelInfo] = {}


FER_INPUT_SIZE = (1, 48, 48)
"""The default input of a registered model: FER2013's 48x48 grayscale faces."""


def register_model(
    name: str | None = None,
    *,
    description: str,
    source: str,
    input_size: tuple[int, int, int] = FER_INPUT_SIZE,
) -> Callable[[BuilderT], BuilderT]:
    """Register a builder ``fn(num_classes, in_chans, **options) -> FerModel`` under ``name``
    (default: the builder's own name); a `FerModel` class whose ``__init__`` takes those
    arguments is its own builder."""

    def decorator(builder: BuilderT) -> BuilderT:
        key = name or builder.__name__
        if key in _REGISTRY:
            raise ValueError(f"model {key!r} is registered twice")
        _REGISTRY[key] = ModelInfo(key, input_size, description, source, builder)
        return builder

    return decorator


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted names of the registered models, optionally filtered by a shell-style pattern."""
    names = sorted(_REGISTRY)
    return names if pattern is None else [n for n in names if fnmatch.fnmatch(n, pattern)]


def get_model_info(name: str) -> ModelInfo:
    """Default config of a registered model; `ModelError` naming close matches if unknown."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = difflib.get_close_matches(str(name), _REGISTRY, n=3, cutoff=0.5)
        hint = f"did you mean {' or '.join(close)}? " if close else ""
        raise ModelError(f"unknown model {name!r}; {hint}available: {', '.join(list_models())}") from None


def create_model(
    name: str,
    num_classes: int = 7,
    in_chans: int = 1,
    pretrained: PretrainedArg = None,
    **kwargs: object,
) -> FerModel:
    """Build a registered model.

    Args:
        name: a name from `list_models`.
        num_classes: size of the output; 0 drops the classifier so `forward` returns
            the pre-logits vector (``head_hidden_size`` long).
        in_chans: 1 (grayscale) or 3 (RGB) input channels.
        pretrained: path of a local state dict to load (torchvision format for the
            torchvision models, a ferlab ``model.state_dict()`` for the others). Layers
            that changed (classifier, a first conv with another kernel) are skipped and a
            first conv trained on RGB is summed to one channel; the outcome is logged and
            kept as ``model.pretrained_report``. Names such as ``"imagenet"`` or ``True``
            are refused: nothing can be downloaded here.
        **kwargs: the model's own options, see ``get_model_info(name).options``.

    Raises:
        ModelError: unknown name, unknown or invalid option, weights that cannot be
            read or do not fit.
    """
    info = get_model_info(name)
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        raise ModelError(f"num_classes must be an integer >= 0, got {num_classes!r}")
    if isinstance(in_chans, bool) or not isinstance(in_chans, int) or in_chans not in (1, 3):
        raise ModelError(f"in_chans must be 1 (grayscale) or 3 (RGB), got {in_chans!r}")
    unknown = [key for key in kwargs if key not in info.options]
    if unknown:
        close = difflib.get_close_matches(unknown[0], info.options, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ModelError(
            f"{name} does not take option {unknown[0]!r}; {hint}its options: {', '.join(info.options) or 'none'}"
        )
    weights = _weights_path(name, pretrained)
    model = info.builder(num_classes=num_classes, in_chans=in_chans, **kwargs)
    if not hasattr(model, "input_size"):
        model.input_size = (in_chans, *info.input_size[1:])
    if weights is not None:
        model.pretrained_report = load_pretrained(model, weights)
        logger.info("%s: %s", name, model.pretrained_report)
    return model


def create_backbone(
    owner: str,
    name: str,
    backbone_kwargs: dict[str, Any] | None,
    num_classes: int,
    in_chans: int,
) -> FerModel:
    """Build the registered model `name` as the backbone of model `owner`.

    `backbone_kwargs` holds the backbone's own options, ``pretrained`` included.
    """
    if not isinstance(name, str):
        raise ModelError(f"{owner}: backbone must be a model name, got {name!r}")
    kwargs = {} if backbone_kwargs is None else backbone_kwargs
    if not isinstance(kwargs, dict) or {"num_classes", "in_chans"} & kwargs.keys():
        raise ModelError(
            f"{owner}: backbone_kwargs must be a dict of the backbone's options (num_classes "
            f"and in_chans come from {owner}), got {backbone_kwargs!r}"
        )
    return create_model(name, num_classes=num_classes, in_chans=in_chans, **kwargs)


_WEIGHT_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")


def _weights_path(name: str, pretrained: PretrainedArg) -> Path | None:
    """The local weights file `pretrained` designates, None for no weights."""
    if pretrained is None or pretrained is False:
        return None
    if not isinstance(pretrained, (str, os.PathLike)) and pretrained is not True:
        raise ModelError(f"{name}: pretrained must be a file path or None, got {pretrained!r}")
    if pretrained is not True:
        path = Path(os.fspath(pretrained)).expanduser()
        if path.exists() or path.suffix in _WEIGHT_SUFFIXES or len(path.parts) > 1:
            return path
    raise ModelError(
        f"{name}: pretrained={pretrained!r} asks for weights by name, but no weights can be "
        "downloaded here; pass pretrained=PATH to a local state dict instead, e.g. one saved "
        "with torch.save(torchvision.models.resnet18(weights='IMAGENET1K_V1').state_dict(), PATH)"
    )
