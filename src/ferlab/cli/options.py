"""Command-line options shared by the commands of `ferlab.cli` and its sub-apps (`ferlab.monitor.cli`).

Torch-free and free of the research layer, so the application commands and the monitor can import it.
Flags that mirror a settings dataclass (`TrainConfig`, `ServeSettings`) are generated from its fields by
`with_settings_options`: the flag's name, type and default come from the field, its limits or choices from the
field's constraint (`ferlab.constraints`), which ``--help`` shows ("Allowed: ...") and which is checked as the
value is parsed, in the setting's own one-line words (``port = 70000: must be >= 0 and <= 65535``).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import typer

from ferlab.constraints import check_value, constraints_of, describe
from ferlab.errors import FerlabError
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.priors import DEFAULT_PRIOR
from ferlab.weights import DEFAULT_MODEL

MODEL_HELP = "Shipped model name, run folder or model file."
DETECTOR_HELP = (
    "Face detector: yunet, blazeface, opencv, dlib, mtcnn, or none (each image is one face crop), with options "
    "after a colon: yunet:threshold=0.8 (fewer false positives), blazeface:threshold=0.65, opencv:min_neighbors=8, "
    "dlib:threshold=0.5, mtcnn:thresholds=(0.6,0.7,0.9). With a detector, an image at most 400 px and about "
    "square in which no face is found, or one face covering at least half of it, is classified whole "
    "(detector: none)."
)
BACKEND_HELP = (
    "What runs the model: torch, onnx (ONNX Runtime; shipped models bundle their export, others are exported "
    "once to the cache) or auto (onnx when it can run here without a GPU, else torch)."
)
TTA_HELP = (
    "Test-time augmentation of each face: none, flip (2x the classifier's work) or tencrop (10x); the logits "
    "of the views are averaged. Model cards give the accuracy of each."
)
PRIOR_HELP = (
    "Operating point: data (classes in the shares the model was trained on: most accurate on such data), "
    "balanced (every class equally likely: the rare expressions, disgust, fear, contempt, are named more often), "
    "or tuned (the model's own strength between the two, chosen on validation, where it stores one); "
    "probabilities are calibrated at each. See the README, 'Operating point'."
)

PriorOption = typer.Option(DEFAULT_PRIOR, "--prior", help=PRIOR_HELP)
ModelNameOption = typer.Option(DEFAULT_MODEL, "--model", "-m", help=MODEL_HELP)
DetectorOption = typer.Option(DEFAULT_DETECTOR, "--detector", help=DETECTOR_HELP)
BackendOption = typer.Option("auto", "--backend", help=BACKEND_HELP)
AppTtaOption = typer.Option("none", "--tta", help=TTA_HELP)

DataOption = typer.Option("auto", "--data", "-d", help="Reader: auto, fer2013, ferplus, folder, affectnet, rafdb.")
ModeOption = typer.Option("majority", "--mode", help="FERPlus label mode: majority, probability, crossentropy.")
HoldoutOption = typer.Option(
    0.0,
    "--holdout",
    help="folder reader, a folder without split folders: hold out this fraction of each class (fixed seed) as "
    "val, the rest is train.",
)


HoldoutGroupOption = typer.Option(
    None,
    "--holdout-group",
    help="with --holdout: a regular expression whose first group in a file's name (no suffix) names its group "
    r"(frames of one clip, photos of one person); a group's files all land in one part, e.g. '(.+)_\d+$'.",
)


def reader_options(reader: str, mode: str, holdout: float = 0.0, holdout_group: str | None = None) -> dict[str, Any]:
    """The dataset reader's keyword options from ``--mode``, ``--holdout`` and ``--holdout-group``."""
    if holdout_group is not None and not holdout:
        raise FerlabError("--holdout-group needs --holdout FRACTION")
    if holdout and reader != "folder":
        raise FerlabError(f"--holdout applies to the folder reader, not {reader}")
    if reader == "ferplus":
        return {"mode": mode}
    if holdout:
        return {"holdout": holdout} if holdout_group is None else {"holdout": holdout, "holdout_group": holdout_group}
    return {}


# Flags generated from a settings dataclass.

Command = TypeVar("Command", bound=Callable[..., Any])
PLAIN_TYPES = (str, int, float, bool)


def _plain_type(hint: Any) -> type | None:
    """``int`` for ``int``, ``int | None`` or ``Annotated[int, ...]``; None for dicts, lists and other composites."""
    if typing.get_origin(hint) is typing.Annotated:
        return _plain_type(typing.get_args(hint)[0])
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _plain_type(args[0]) if len(args) == 1 else None
    return hint if hint in PLAIN_TYPES else None


def settings_fields(cls: type, exclude: Collection[str] = ()) -> list[tuple[str, type]]:
    """``(name, type)`` of the fields of the dataclass ``cls`` that become flags: those of a plain type (str,
    int, float, bool, or None of those), not in ``exclude``."""
    hints = typing.get_type_hints(cls)
    found = [(f.name, _plain_type(hints[f.name])) for f in dataclasses.fields(cls) if f.name not in exclude]
    return [(name, kind) for name, kind in found if kind is not None]


def constraint_check(setting: str, metadata: tuple[Any, ...]) -> Callable[[Any], Any]:
    """A Typer callback holding a flag's parsed value to its setting's constraint (`check_value`): the limits and
    choices of a generated flag. A value outside them is refused as the setting itself refuses it, with a
    one-line `OptionError` (exit 2 in `ferlab.cli.main`), not Typer's usage box."""

    def check(value: Any) -> Any:
        return check_value(setting, value, metadata)

    return check


def _option(
    field: dataclasses.Field, kind: type, help_text: str, metadata: tuple[Any, ...], given_only: bool, aliases: tuple
) -> Any:
    flag = field.name.replace("_", "-")
    declarations = [f"--{flag}/--no-{flag}"] if kind is bool else [f"--{flag}", *aliases]
    default = field.default if field.default is not dataclasses.MISSING else None
    shown = ""
    if given_only and default is not None and default != "":
        shown += f" Default: {default}."
    if metadata:
        shown += f" Allowed: {describe(metadata)}."
    return typer.Option(
        None if given_only else default,
        *declarations,
        help=help_text.replace("``", "").replace("`", "") + shown,
        show_default=not given_only,
        callback=constraint_check(field.name, metadata) if metadata else None,
    )


def with_settings_options(
    cls: type,
    helps: Mapping[str, str],
    *,
    exclude: Collection[str] = (),
    given_only: bool = False,
    aliases: Mapping[str, tuple[str, ...]] | None = None,
) -> Callable[[Command], Command]:
    """Give a Typer command a ``--name`` flag for every `settings_fields` field of the dataclass ``cls`` that it
    does not declare itself (nor ``exclude``): help from ``helps`` (plus the constraint, "Allowed: ..."), type and
    default from the field, limits and choices from its constraint (`constraint_check`), short ``aliases`` by name.

    The command's last parameter, ``settings``, receives ``{name: value}`` of the generated flags: every flag
    with its default, or with ``given_only`` only those given (their default shown in the help, the flag's own
    default None), for settings that a config file may also hold."""
    allowed = constraints_of(cls)
    declared = {f.name: f for f in dataclasses.fields(cls)}

    def decorate(command: Command) -> Command:
        signature, hints = inspect.signature(command), typing.get_type_hints(command)  # hints: in the command's module
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != "settings"
        ]
        generated = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_option(
                    declared[name], kind, helps[name], allowed.get(name, ()), given_only, (aliases or {}).get(name, ())
                ),
                annotation=kind | None if given_only else kind,
            )
            for name, kind in settings_fields(cls, {p.name for p in own} | set(exclude))
        ]

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            settings = {p.name: values.pop(p.name) for p in generated}
            if given_only:
                settings = {name: value for name, value in settings.items() if value is not None}
            return command(**values, settings=settings)

        wrapper.__signature__ = signature.replace(parameters=own + generated, return_annotation=None)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + generated}
        return typing.cast(Command, wrapper)

    return decorate
