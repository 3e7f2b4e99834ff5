"""Constraints of settings: declared once, where each setting is declared; checked by one function.

A setting carries its constraint as `annotated-types <https://github.com/annotated-types/annotated-types>`_
metadata in its type, ``lr: Annotated[float, Gt(0), Finite()] = 0.05``, ``optimizer: Annotated[str,
OneOf(OPTIMIZERS)]``: a range (`Ge`, `Gt`, `Le`, `Lt`, `Interval`), `Finite` (no NaN or infinity) or a
choice (`OneOf`). `check_settings` checks every field of a dataclass against its metadata, `check_value` one
value; both raise a one-line `OptionError` (a `ValueError`) naming the setting, the value and what is allowed.
`describe` words the constraint for ``--help``. Modelled on scikit-learn's ``_param_validation``; adding a
setting is one annotated declaration. Used by the training config (CLI flags, YAML files, ``compare``
entries and ``sweep`` trials all build one), the server's settings and the face detectors' options.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Iterator
from dataclasses import dataclass, fields
from typing import Any

from annotated_types import BaseMetadata, Ge, GroupedMetadata, Gt, Interval, Le, Lt

from ferlab.errors import OptionError

__all__ = ["Finite", "Ge", "Gt", "Interval", "Le", "Lt", "OneOf", "check_settings", "check_value", "describe"]


@dataclass(frozen=True)
class Finite(BaseMetadata):
    """A number that is neither NaN nor infinite."""


@dataclass(frozen=True)
class OneOf(BaseMetadata):
    """A value among ``choices``."""

    choices: tuple[Any, ...]


_WORDS = {Ge: (">=", "ge"), Gt: (">", "gt"), Le: ("<=", "le"), Lt: ("<", "lt")}


def _flat(metadata: tuple[Any, ...]) -> Iterator[Any]:
    """The constraints of ``metadata``: `Interval` split into its bounds, anything else not ours dropped."""
    for item in metadata:
        if isinstance(item, GroupedMetadata):
            yield from _flat(tuple(item))
        elif isinstance(item, (Ge, Gt, Le, Lt, Finite, OneOf)):
            yield item


def _holds(constraint: Any, value: Any) -> bool:
    if isinstance(constraint, OneOf):
        return value in constraint.choices
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    if isinstance(constraint, Finite):
        return math.isfinite(value)
    symbol, attribute = _WORDS[type(constraint)]
    bound = getattr(constraint, attribute)
    return {">=": value >= bound, ">": value > bound, "<=": value <= bound, "<": value < bound}[symbol]


def describe(metadata: tuple[Any, ...]) -> str:
    """What ``metadata`` allows, in words (``"> 0 and finite"``, ``"one of sgd, adam"``); empty when nothing."""
    words = []
    for constraint in _flat(metadata):
        if isinstance(constraint, OneOf):
            words.append(f"one of {', '.join(map(str, constraint.choices))}")
        elif isinstance(constraint, Finite):
            words.append("finite")
        else:
            symbol, attribute = _WORDS[type(constraint)]
            words.append(f"{symbol} {getattr(constraint, attribute):g}")
    return " and ".join(words)


def check_value(name: str, value: Any, metadata: tuple[Any, ...]) -> Any:
    """Return ``value`` when it meets ``metadata`` (None always does: an unset optional setting); else raise
    `OptionError` ``"name = value: must be ..."``."""
    if value is not None and not all(_holds(constraint, value) for constraint in _flat(metadata)):
        raise OptionError(f"{name} = {value!r}: must be {describe(metadata)}")
    return value


def constraints_of(cls: type) -> dict[str, tuple[Any, ...]]:
    """Each field of the dataclass ``cls`` that carries constraints → its metadata."""
    hints = typing.get_type_hints(cls, include_extras=True)
    found = {f.name: getattr(hints[f.name], "__metadata__", ()) for f in fields(cls)}
    return {name: metadata for name, metadata in found.items() if describe(metadata)}


def check_settings(settings: Any, prefix: str = "") -> None:
    """Check every constrained field of the dataclass instance ``settings`` (`check_value`; names get ``prefix``)."""
    for name, metadata in constraints_of(type(settings)).items():
        check_value(prefix + name, getattr(settings, name), metadata)
