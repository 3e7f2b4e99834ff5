"""Command-line options generated from `ferlab.engine.config.TrainConfig`: one declaration per setting.

`with_training_options` gives a Typer command a ``--name`` option for every `TrainConfig` field of
a plain type (str, int, float, bool, or None of those), its help taken from the field's entry in
the class docstring and its constraint (`ferlab.constraints`, checked when the config is built),
and hands the command the values given as one ``settings`` dict. A new
training setting is one field and its docstring line; `train`, `compare` and `sweep` get it.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import types
import typing
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import typer

from ferlab.constraints import constraints_of, describe
from ferlab.engine.config import TrainConfig, field_help

Command = TypeVar("Command", bound=Callable[..., Any])
PLAIN_TYPES = (str, int, float, bool)


def _plain_type(hint: Any) -> type | None:
    """``int`` for ``int`` or ``int | None``; None for dicts, lists and other composite types."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _plain_type(args[0]) if len(args) == 1 else None
    return hint if hint in PLAIN_TYPES else None


def training_fields(exclude: Collection[str] = ()) -> list[tuple[str, type]]:
    """``(name, type)`` of the `TrainConfig` fields that become options (not those in ``exclude``)."""
    hints = typing.get_type_hints(TrainConfig)
    fields = [(f.name, _plain_type(hints[f.name])) for f in dataclasses.fields(TrainConfig) if f.name not in exclude]
    return [(name, kind) for name, kind in fields if kind is not None]


def _option(name: str, kind: type, help_text: str, allowed: str) -> Any:
    flag = name.replace("_", "-")
    declarations = [f"--{flag}/--no-{flag}"] if kind is bool else [f"--{flag}"]
    default = TrainConfig.__dataclass_fields__[name].default
    shown = "" if default is None or default == "" else f" Default: {default}."
    shown += f" Allowed: {allowed}." if allowed else ""
    return typer.Option(
        None, *declarations, help=help_text.replace("``", "").replace("`", "") + shown, show_default=False
    )


def with_training_options(exclude: Collection[str] = ()) -> Callable[[Command], Command]:
    """Add the `training_fields` options the command does not declare itself to a Typer command whose
    last parameter is ``settings``; it receives ``{name: value}`` of those given (None: not given)."""
    helps = field_help()
    allowed = {name: describe(metadata) for name, metadata in constraints_of(TrainConfig).items()}

    def decorate(command: Command) -> Command:
        signature, hints = inspect.signature(command), typing.get_type_hints(command)  # hints: in the command's module
        own = [
            p.replace(annotation=hints.get(p.name, p.annotation))
            for p in signature.parameters.values()
            if p.name != "settings"
        ]
        taken = {p.name for p in own} | set(exclude)
        generated = [
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=_option(name, kind, helps[name], allowed.get(name, "")),
                annotation=kind | None,
            )
            for name, kind in training_fields(taken)
        ]

        @functools.wraps(command)
        def wrapper(**values: Any) -> Any:
            settings = {p.name: values.pop(p.name) for p in generated}
            return command(**values, settings={k: v for k, v in settings.items() if v is not None})

        wrapper.__signature__ = signature.replace(parameters=own + generated, return_annotation=None)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {p.name: p.annotation for p in own + generated}
        return typing.cast(Command, wrapper)

    return decorate
