"""Training options: one dataclass, filled from defaults, a YAML file and command-line flags."""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Annotated, Any

from ferlab.constraints import Finite, Ge, Gt, Interval, OneOf, check_settings
from ferlab.data.augment_choices import AUG_PRESETS, MIX_MODES
from ferlab.errors import FerlabError
from ferlab.priors import PRIORS
from ferlab.yaml_files import read_yaml

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULES = ("cosine", "onecycle", "constant")
CLASS_BALANCES = ("none", "inverse", "effective")


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``config.yaml`` in the run folder.

    Each setting's constraint is declared in its type (`ferlab.constraints`) and checked on construction:
    one-line `ferlab.errors.OptionError` naming the setting, the value and what is allowed.

    Attributes:
        model: registry name (``ferlab models`` lists them).
        data: dataset reader (fer2013, ferplus, folder, affectnet, rafdb).
        data_root: the dataset's file or folder.
        out: run folder (checkpoints, metrics.csv, TensorBoard events, plots).
        model_options: keyword options of the model (e.g. ``{"small_input": true}``).
        data_options: reader options (e.g. ``{"mode": "crossentropy"}`` for ferplus).
        epochs: passes over the training split.
        batch_size: images per optimisation step (per process).
        lr: the peak learning rate (reached after the warmup).
        optimizer: ``sgd`` (with Nesterov momentum), ``adam`` or ``adamw``.
        momentum: SGD's momentum.
        weight_decay: L2 weight decay.
        schedule: ``cosine`` (linear warmup then cosine to 0), ``onecycle`` or ``constant``
            (after warmup); stepped every batch.
        warmup_epochs: linear warmup length for cosine/constant.
        label_smoothing: cross-entropy label smoothing.
        class_balance: weight the label loss by class: ``none``, ``inverse`` (``N / (C * n_c)``) or
            ``effective`` (Cui et al. 2019's effective number of samples, ``(1 - beta) / (1 -
            beta^n_c)``, scaled to a mean weight of 1 over the training images).
        class_balance_beta: the ``beta`` of ``effective``, in (0, 1); nearer 1 is nearer ``inverse``.
        logit_adjustment: Menon et al. (2021)'s logit-adjusted loss: the training losses see the
            logits plus ``tau * log(training class prior)`` (``tau`` >= 0; 0 is plain
            cross-entropy), so the network's own output learns the class-balanced decision. The
            model file stores ``tau`` and the prior; the application adds them back for the
            ``data`` operating point (`ferlab.priors`).
        focal_gamma: focal loss (Lin et al. 2017): each image's loss is scaled by ``(1 - p)^gamma``
            of its target classes (0: plain cross-entropy), so confident, easy images weigh less.
        aug: augmentation preset (none, basic, strong, wild, jpeg; see `ferlab.data.transforms`).
        mix: batch mixing after augmentation: ``none``, ``mixup``, ``cutmix`` or ``both`` (one
            of the two per batch); the loss then takes the mixed target distributions.
        mix_alpha: the Beta(alpha, alpha) parameter of the mixing weight (> 0).
        teacher: knowledge distillation (Hinton et al. 2015) from this trained model (shipped
            name, run folder or model file; same classes and input as the student): the
            loss becomes ``(1 - kd_weight) * label loss + kd_weight * T^2 * KL(teacher_T ||
            student_T)`` with both softmaxes at temperature ``T = kd_temperature``, the
            teacher seeing the same augmented batch. None: no teacher.
        teacher_prior: the teacher's operating point the student learns (`ferlab.priors`):
            ``data`` (its data-prior logits; a teacher trained without class weights or logit
            adjustment gives its raw logits) or ``balanced`` (its logits adjusted by the class
            prior its file stores), to distil a teacher's balanced decisions into a student.
        kd_weight, kd_temperature: the distillation weight in [0, 1] and temperature (> 0).
        extra_data: more training data, each entry ``{data, data_root, data_options, split,
            repeat, distill, teacher, classes}`` (``split`` default train, ``repeat`` default 1: how many
            times its images are added; ``distill`` default true: false keeps the teacher's loss off
            its images, which then learn from their labels alone; ``teacher``: its images are
            distilled from this model instead of the run's ``teacher``, at the same
            ``teacher_prior``, e.g. a teacher strong on film faces for those alone; ``classes``: only
            images of these of its classes are added, e.g. FER2013's disgust and fear faces as a
            label source for the classes FERPlus has few of): read like the main dataset, its
            labels mapped to the main classes by name (`ferlab.data.dataset.combine`);
            validation stays on the main dataset.
        init: fine-tuning: start from this trained model's weights (shipped name, run folder or
            model file) instead of a random init; it must be the same architecture with the
            same options, classes and input. None: random init.
        seed: one seed for model init, shuffling and augmentation.
        device: ``auto`` (cuda when present), ``cpu`` or ``cuda``.
        channels_last, compile, amp: speed options (AMP only takes effect on CUDA). channels_last
            is on by default: 1.3x faster training of lenet_like and resnet_like on this CPU.
        input_size: the model's square input side in pixels (None: the model's default, 48
            for the FER models); every training and validation image is resized to it when
            read, the application then crops faces at that size. Models whose head fixes the
            input (a flatten of a fixed grid) refuse other sizes. A teacher of another input
            size sees the same augmented batch resized to its own.
        limit: train on a random subset of this many images (quick runs, tests).
        train_split, val_split: which splits to train and select on.
        threads: torch CPU threads (None: torch's default).
    """

    model: str = "resnet_like"
    data: str = "fer2013"
    data_root: str = ""
    out: str = ""
    model_options: dict[str, Any] = field(default_factory=dict)
    data_options: dict[str, Any] = field(default_factory=dict)
    epochs: Annotated[int, Ge(1)] = 30
    batch_size: Annotated[int, Ge(1)] = 128
    lr: Annotated[float, Gt(0), Finite()] = 0.05
    optimizer: Annotated[str, OneOf(OPTIMIZERS)] = "sgd"
    momentum: Annotated[float, Interval(ge=0, lt=1)] = 0.9
    weight_decay: Annotated[float, Ge(0), Finite()] = 5e-4
    schedule: Annotated[str, OneOf(SCHEDULES)] = "cosine"
    warmup_epochs: Annotated[float, Ge(0), Finite()] = 1.0
    label_smoothing: Annotated[float, Interval(ge=0, lt=1)] = 0.0
    class_balance: Annotated[str, OneOf(CLASS_BALANCES)] = "none"
    class_balance_beta: Annotated[float, Interval(gt=0, lt=1)] = 0.999
    logit_adjustment: Annotated[float, Ge(0), Finite()] = 0.0
    focal_gamma: Annotated[float, Ge(0), Finite()] = 0.0
    aug: Annotated[str, OneOf(AUG_PRESETS)] = "basic"
    mix: Annotated[str, OneOf(MIX_MODES)] = "none"
    mix_alpha: Annotated[float, Gt(0), Finite()] = 1.0
    teacher: str | None = None
    kd_weight: Annotated[float, Interval(ge=0, le=1)] = 0.5
    kd_temperature: Annotated[float, Gt(0), Finite()] = 4.0
    teacher_prior: Annotated[str, OneOf(PRIORS)] = "data"
    init: str | None = None
    extra_data: list[dict[str, Any]] = field(default_factory=list)
    seed: Annotated[int, Ge(0)] = 0
    device: str = "auto"
    channels_last: bool = True
    compile: bool = False
    amp: bool = True
    input_size: Annotated[int | None, Interval(ge=16, le=512)] = None
    limit: Annotated[int | None, Ge(1)] = None
    train_split: str = "train"
    val_split: str = "val"
    threads: Annotated[int | None, Ge(1)] = None

    def __post_init__(self) -> None:
        check_settings(self)
        for entry in self.extra_data:
            keys = set(entry) if isinstance(entry, dict) else set()
            if keys - set(EXTRA_DATA_KEYS) or not {"data", "data_root"} <= keys:
                raise FerlabError(
                    f"extra_data entry {entry}: needs data and data_root, may have {', '.join(EXTRA_DATA_KEYS[2:])}"
                )
            if entry.get("teacher") and not entry.get("distill", True):
                raise FerlabError(f"extra_data entry {entry}: a teacher and distill: false contradict each other")
        if not self.teacher and any(not entry.get("distill", True) for entry in self.extra_data):
            raise FerlabError("an extra_data entry has distill: false, but no teacher is given")
        if not self.out:
            self.out = str(Path("runs") / self.model)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form (for YAML and checkpoints)."""
        return dataclasses.asdict(self)


EXTRA_DATA_KEYS = ("data", "data_root", "data_options", "split", "repeat", "distill", "teacher", "classes")
"""The keys of a `TrainConfig.extra_data` entry."""


def extra_data_teacher(config: TrainConfig, entry: dict[str, Any]) -> str:
    """The model that distils the images of ``config``'s extra_data ``entry``: its own ``teacher``,
    else the run's, "" for none (``distill: false`` or no teacher at all)."""
    if not entry.get("distill", True):
        return ""
    return entry.get("teacher") or config.teacher or ""


def field_help() -> dict[str, str]:
    """Each `TrainConfig` field's description, from the class docstring's ``Attributes:`` section
    (an entry naming several fields, ``a, b: text``, describes each of them)."""
    lines = (TrainConfig.__doc__ or "").split("Attributes:", 1)[-1].splitlines()
    entries: list[tuple[list[str], list[str]]] = []
    for line in lines:
        names, colon, text = line.strip().partition(": ")
        if colon and line.startswith(" " * 8) and not line.startswith(" " * 9):
            entries.append(([name.strip() for name in names.split(",")], [text]))
        elif entries and line.strip():
            entries[-1][1].append(line.strip())
    return {name: " ".join(text) for names, text in entries for name in names}


def config_keys() -> list[str]:
    """The option names a config file may use."""
    return [f.name for f in fields(TrainConfig)]


def load_config(path: Path | None = None, **overrides: Any) -> TrainConfig:
    """Build a `TrainConfig` from a YAML file (if given), then ``overrides`` (None values ignored).

    Raises `FerlabError` for an unreadable file, unknown keys or ill-typed values.
    """
    values: dict[str, Any] = {}
    if path is not None:
        loaded = read_yaml(path, "the config")
        if loaded is not None and not isinstance(loaded, dict):
            raise FerlabError(f"{path}: a config must be a mapping of option: value")
        values.update(migrate_config(loaded or {}))
        unknown = sorted(set(values) - set(config_keys()))
        if unknown:
            raise FerlabError(f"{path}: unknown option(s) {', '.join(unknown)}; known: {', '.join(config_keys())}")
    values.update({k: v for k, v in overrides.items() if v is not None})
    _check_types(values, path)
    return TrainConfig(**values)


MOVED_TO_MODEL_OPTIONS = {"rb_weight": 1.0, "rb_delta": 0.1}
"""Options of configs written before 2026-12-02 that are now options of the models that use
them (RAN's region-biased loss: ``model_options: {rb_weight: ..., rb_delta: ...}``), with the
defaults they had."""


def migrate_config(values: dict[str, Any]) -> dict[str, Any]:
    """A stored config (``config.yaml``, a checkpoint's) in today's form, so old runs still load,
    resume and are reused by `ferlab compare`: each option of `MOVED_TO_MODEL_OPTIONS` moves
    into ``model_options`` when it differs from its default and the model takes it, and is
    dropped otherwise (it had no effect); ``class_weights: true`` (before 2026-12-04) becomes
    ``class_balance: inverse``."""
    values = dict(values)
    if "class_weights" in values:
        values.setdefault("class_balance", "inverse" if values.pop("class_weights") else "none")
    moved = {key: values.pop(key) for key in MOVED_TO_MODEL_OPTIONS if key in values}
    changed = {key: value for key, value in moved.items() if value != MOVED_TO_MODEL_OPTIONS[key]}
    if changed:
        from ferlab.models import get_model_info  # torch; only old configs get here

        takes = get_model_info(values.get("model", TrainConfig.model)).options
        values["model_options"] = {
            **(values.get("model_options") or {}),
            **{key: value for key, value in changed.items() if key in takes},
        }
    return values


def _value_type(hint: Any) -> type:
    """``int`` for ``Optional[int]``, ``dict`` for ``dict[str, Any]``, the type itself otherwise."""
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):  # Optional[int] and int | None
        return _value_type(args[0])
    return typing.get_origin(hint) or hint


def _check_types(values: dict[str, Any], path: Path | None) -> None:
    hints = typing.get_type_hints(TrainConfig)
    where = f"{path}: " if path else ""
    for key, value in values.items():
        optional = type(None) in typing.get_args(hints[key])
        if value is None and optional:
            continue
        expected = _value_type(hints[key])
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            values[key] = float(value)
        elif not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise FerlabError(f"{where}option {key} must be {expected.__name__}, got {value!r}")
