"""Search-space files of `ferlab sweep`: which hyperparameters vary, and over what.

A space file is a YAML mapping of ``hyperparameter: distribution``::

    lr: {float: [1.0e-4, 0.1], log: true}      # a real number in [low, high]; log: sample its log
    weight_decay: {float: [1.0e-6, 1.0e-3], log: true}
    label_smoothing: {float: [0.0, 0.2], step: 0.05}
    epochs: {int: [10, 30]}                     # an integer in [low, high] (log and step allowed)
    batch_size: {choice: [32, 64, 128]}         # one of the listed values (numbers, strings, booleans)
    optimizer: {choice: [sgd, adam, adamw]}
    aug: {choice: [none, basic, strong]}
    model_options.drop_rate: {float: [0.0, 0.5]}

A hyperparameter is a `TrainConfig` option (``ferlab train``'s options; not those that say
where data, model and outputs are: see `FIXED`), or a model option written
``model_options.NAME``; nested model options use more dots, e.g. attention_net's
``model_options.backbone_kwargs.drop_rate``. Every bound and choice is tried against the
base config when the file is read (types, optimizer names, augmentation presets, model
options), so a bad space fails before any training.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from ferlab.data.transforms import augmentation
from ferlab.engine.config import TrainConfig, config_keys, load_config
from ferlab.errors import FerlabError
from ferlab.models import create_model
from ferlab.yaml_files import read_yaml

SearchSpace = dict[str, BaseDistribution]
"""Hyperparameter name (``lr``, ``model_options.drop_rate``) to its Optuna distribution."""

FIXED = (
    "model",
    "data",
    "data_root",
    "out",
    "model_options",
    "data_options",
    "device",
    "threads",
    "train_split",
    "val_split",
)
"""Options a sweep keeps fixed: set them in ``--config`` or on the command line."""

MODEL_PREFIX = "model_options."
_KINDS = ("float", "int", "choice")


def load_space(path: Path, base: TrainConfig) -> SearchSpace:
    """Read and check the space file at ``path`` against the base config ``base``.

    Raises:
        FerlabError: unreadable file, empty space, unknown hyperparameter, bad
            distribution, or a value the trainer or the model would refuse (the message
            names the file and the hyperparameter).
    """
    loaded = read_yaml(path, "the search space")
    if not loaded:
        raise FerlabError(f"{path}: the search space is empty; give at least one hyperparameter: distribution")
    if not isinstance(loaded, dict):
        raise FerlabError(f"{path}: a search space must be a mapping of hyperparameter: distribution")
    _check_pieces(base)
    space = {}
    for key, spec in loaded.items():
        name, where = str(key), f"{path}: {key}"
        _check_name(name, where)
        space[name] = _distribution(spec, where)
        for value in _extremes(space[name]):
            try:
                _check_pieces(trial_config(base, {name: value}, base.out))
            except FerlabError as error:
                raise FerlabError(f"{where}: value {value!r} is refused: {error}") from None
    return space


def suggest(trial: optuna.Trial, space: SearchSpace) -> dict[str, Any]:
    """Draw one value per hyperparameter of ``space`` from ``trial``."""
    values = {}
    for name, dist in space.items():
        if isinstance(dist, CategoricalDistribution):
            values[name] = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            values[name] = trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
        else:
            values[name] = trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    return values


def trial_config(base: TrainConfig, params: dict[str, Any], out: str | Path) -> TrainConfig:
    """``base`` with the hyperparameters ``params`` set (dotted model options nested) and run folder ``out``."""
    values = copy.deepcopy(base.to_dict())
    for name, value in params.items():
        *parents, leaf = name.split(".")
        target = values
        for key in parents:
            child = target.get(key) or {}
            if not isinstance(child, dict):
                raise FerlabError(f"{name}: option {key} is {child!r}, not a mapping of options")
            target[key] = dict(child)
            target = target[key]
        target[leaf] = value
    values["out"] = str(out)
    return load_config(None, **values)


def _check_name(name: str, where: str) -> None:
    if name.startswith(MODEL_PREFIX) and all(name[len(MODEL_PREFIX) :].split(".")):
        return
    if name in FIXED:
        raise FerlabError(f"{where}: {name} cannot be searched; set it in --config or on the command line")
    if name not in config_keys():
        searchable = [key for key in config_keys() if key not in FIXED]
        raise FerlabError(
            f"{where}: unknown hyperparameter; expected one of {', '.join(searchable)} or {MODEL_PREFIX}NAME"
        )


def _distribution(spec: Any, where: str) -> BaseDistribution:
    """The Optuna distribution a ``{float|int|choice: ..., log: .., step: ..}`` mapping describes."""
    kinds = [kind for kind in _KINDS if isinstance(spec, dict) and kind in spec]
    if len(kinds) != 1:
        raise FerlabError(f"{where}: expected a mapping with one of float, int or choice, got {spec!r}")
    kind, extra = kinds[0], {k: v for k, v in spec.items() if k != kinds[0]}
    values = spec[kind]
    try:
        if kind == "choice":
            if extra or not isinstance(values, list) or not values:
                raise ValueError("choice takes a non-empty list of values and nothing else")
            if not all(v is None or isinstance(v, (bool, int, float, str)) for v in values):
                raise ValueError(f"choices must be numbers, strings or booleans, got {values!r}")
            return CategoricalDistribution(values)
        if set(extra) - {"log", "step"} or not isinstance(values, list) or len(values) != 2:
            raise ValueError(f"{kind} takes [low, high] and optionally log and step")
        if not isinstance(extra.get("log", False), bool):
            raise ValueError(f"log must be true or false, got {extra['log']!r}")
        number = int if kind == "int" else (int, float)
        if not all(isinstance(v, number) and not isinstance(v, bool) for v in values):
            raise ValueError(f"bounds must be {kind}s, got {values!r}")
        if kind == "int":
            return IntDistribution(*values, log=extra.get("log", False), step=extra.get("step", 1))
        return FloatDistribution(*map(float, values), log=extra.get("log", False), step=extra.get("step"))
    except (ValueError, TypeError) as error:
        raise FerlabError(f"{where}: bad {kind} distribution: {error}") from None


def _extremes(dist: BaseDistribution) -> tuple[Any, ...]:
    """The values that stand for the whole distribution in checks: every choice, or both bounds."""
    if isinstance(dist, CategoricalDistribution):
        return dist.choices
    return (dist.low, dist.high)


def _check_pieces(config: TrainConfig) -> None:
    """Build what a run builds from its config first (model, augmentation): raises their errors."""
    create_model(config.model, **config.model_options)
    augmentation(config.aug)
