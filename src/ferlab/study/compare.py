"""`ferlab compare`: several models trained under one protocol, then scored and timed side by side.

Each entry (a registry name, its ``model_options``, a label, and rarely other training options
for this row only, such as its own ``lr``) trains with `ferlab.engine.train` into
``<runs_dir>/<label>`` from one base `TrainConfig` of which only those fields (and ``out``) change.
A run folder already there is reused when finished (``metrics.json`` written, by the last epoch or by the time budget),
resumed when it holds only ``last.pt``, and refused when its ``config.yaml`` was written
under another protocol. Every model is then scored on the test split from its ``best.pt``
(the best-on-validation weights), profiled (parameters, forward FLOPs) and timed (batch-1
latency, batch-64 throughput, on the CPU and on CUDA when present) in this one process.
The table, CSV and figures (`ferlab.study.compare_report`) are written only once every model is done.
"""

from __future__ import annotations

import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from rich.console import Console

from ferlab.checks import check_choice
from ferlab.constraints import Finite, Ge, Gt, check_settings
from ferlab.data import FaceDataset, load_dataset
from ferlab.engine.config import TrainConfig, config_keys, load_config
from ferlab.engine.trainer import EpochCallback, resolve_device, train
from ferlab.errors import FerlabError, OptionError
from ferlab.evaluate import evaluate_model
from ferlab.evaluate.paired import mcnemar_exact, wilson_interval
from ferlab.evaluate.robustness import OCCLUSION_MODES
from ferlab.models import count_parameters, get_model_info, measure_flops
from ferlab.models.files import LAST_NAME, load_model
from ferlab.models.profile import measure_inference_speed
from ferlab.study.compare_report import NO_GPU, SPEED_BATCH, TEST_SPLIT, write_outputs
from ferlab.yaml_files import read_yaml

SUMMARY_NAME, CONFIG_NAME = "metrics.json", "config.yaml"


ENTRY_KEYS = ("model", "label", "model_options", "options")


@dataclass(frozen=True)
class CompareEntry:
    """One row of a comparison.

    Attributes:
        model: registry name (``ferlab models`` lists them).
        label: the row's name and run folder (default: ``model``); letters, digits, ``.``, ``_``, ``-``.
        model_options: the model's keyword options (widths, depth, backbone, ...).
        options: other training options that differ from the shared protocol for this row
            only, such as an ``lr`` of its own (a model's own settings, such as RAN's
            ``rb_weight: 0`` for the ablation of its region-biased loss, are model_options).
    """

    model: str
    label: str = ""
    model_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        get_model_info(self.model)
        object.__setattr__(self, "label", self.label or self.model)
        if not re.fullmatch(r"[\w.-]+", self.label):
            raise FerlabError(f"entry label {self.label!r} must be letters, digits, '.', '_' or '-'")
        if not isinstance(self.model_options, dict) or not isinstance(self.options, dict):
            raise FerlabError(f"entry {self.label!r}: model_options and options must be mappings")
        fixed = sorted(set(self.options) & {"model", "model_options", "out"})
        unknown = sorted(set(self.options) - set(config_keys()))
        if fixed or unknown:
            raise FerlabError(
                f"entry {self.label!r}: options may not set {', '.join(fixed + unknown)} "
                f"(use model/model_options; known training options: {', '.join(config_keys())})"
            )


def load_entries(path: Path) -> tuple[CompareEntry, ...]:
    """The entries of a YAML file holding a list of ``{model, label, model_options, options}`` mappings."""
    loaded = read_yaml(path, "the entries")
    if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
        raise FerlabError(f"{path}: expected a list of entries, each a mapping with keys {', '.join(ENTRY_KEYS)}")
    for item in loaded:
        unknown = sorted(set(item) - set(ENTRY_KEYS))
        if unknown or "model" not in item:
            raise FerlabError(f"{path}: entry {item!r} needs 'model' and may only have {', '.join(ENTRY_KEYS)}")
    return tuple(CompareEntry(**item) for item in loaded)


@dataclass(frozen=True)
class CompareRequest:
    """What `run_compare` does; checked on creation (the constraints in the types by `check_settings`, and every
    row's training options, its entry's own included, as `TrainConfig` checks them).

    Attributes:
        entries: the rows, in table order (registry name, options, label).
        protocol: the training options every model shares; its ``model``, ``model_options``
            and ``out`` (and an entry's own ``options``) are replaced per entry.
        name: the outputs are ``compare_<name>.*`` (letters, digits, ``.``, ``_``, ``-``).
        runs_dir: each entry's run folder is ``runs_dir/<label>``.
        out: folder of the table, CSV and figures.
        budget_minutes: stop each model's training after the epoch that ends past this
            wall time (None: train every epoch of the protocol).
        timing_seconds: time spent on each latency or throughput figure.
        occlusions: occlusion modes (`ferlab.evaluate.robustness`: ``eyes``, ``mouth``,
            ``random``) under which the test split is scored again, each with its own accuracy
            and McNemar column.
        notes: a Markdown file of findings, written into the table file under "Findings"
            (kept with the study, so re-running the comparison keeps its conclusions).
        pairs: ``(label_a, label_b)`` pairs compared head to head (an ablation and its model)
            under every test condition: both accuracies, the discordant counts and McNemar's p.
        command: the command line, written into the table file.
    """

    entries: tuple[CompareEntry, ...]
    protocol: TrainConfig
    name: str
    runs_dir: Path
    out: Path
    budget_minutes: Annotated[float | None, Ge(0), Finite()] = None
    timing_seconds: Annotated[float, Gt(0), Finite()] = 1.0
    occlusions: tuple[str, ...] = ()
    notes: Path | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    command: str | None = None

    def __post_init__(self) -> None:
        check_settings(self)
        if not self.entries:
            raise FerlabError("no model to compare: pass --models NAME,NAME,... or --entries FILE.yaml")
        labels = [entry.label for entry in self.entries]
        for label in labels:
            if labels.count(label) > 1:
                raise FerlabError(f"model {label!r} is listed twice; give the entries distinct labels")
        if not re.fullmatch(r"[\w.-]+", self.name):
            raise FerlabError(f"comparison name {self.name!r} must be letters, digits, '.', '_' or '-'")
        for mode in self.occlusions:
            check_choice(mode, tuple(m for m in OCCLUSION_MODES if m != "none"), "occlusion mode")
        if len(set(self.occlusions)) < len(self.occlusions):
            raise FerlabError(f"--occlude lists a mode twice: {','.join(self.occlusions)}")
        if self.notes is not None and not Path(self.notes).is_file():
            raise FerlabError(f"--notes {self.notes}: no such file")
        for a, b in self.pairs:
            if a == b or a not in labels or b not in labels:
                raise FerlabError(f"--pairs {a}:{b}: needs two different row labels of {', '.join(labels)}")
        for entry in self.entries:  # each row's training options, the entry's own included, meet their constraints
            try:
                model_config(self.protocol, entry, self.runs_dir)
            except FerlabError as error:
                raise OptionError(f"entry {entry.label!r}: {error}") from None


@dataclass
class CompareResult:
    """What `run_compare` measured and wrote: one row per model (keys of `ferlab.study.compare_report.COLUMNS`),
    each model's per-epoch metrics history, and the files written."""

    rows: list[dict[str, Any]]
    histories: dict[str, list[dict[str, float]]]
    files: list[Path]


def model_config(protocol: TrainConfig, entry: CompareEntry, runs_dir: Path) -> TrainConfig:
    """The protocol with only the entry's model, options and run folder changed."""
    values = {
        **protocol.to_dict(),
        **entry.options,
        "model": entry.model,
        "model_options": entry.model_options,
        "out": str(runs_dir / entry.label),
    }
    return load_config(**values)


def run_state(config: TrainConfig) -> str:
    """What to do with ``config.out``: ``reused`` (finished), ``resumed`` (``last.pt``) or ``trained``.

    Raises `FerlabError` when the folder holds a run made under another protocol (any
    option but ``out`` differs) or a run without its ``config.yaml``.
    """
    run = Path(config.out)
    finished, started = (run / SUMMARY_NAME).is_file(), (run / LAST_NAME).is_file()
    if not (run / CONFIG_NAME).is_file():
        if finished or started:
            raise FerlabError(f"{run}: holds a run without {CONFIG_NAME}; move it away or pick another --runs-dir")
        return "trained"
    saved = load_config(run / CONFIG_NAME).to_dict()
    for key, value in config.to_dict().items():
        if key != "out" and saved[key] != value:
            raise FerlabError(
                f"{run}: trained with {key} {saved[key]!r}, not {value!r} as in this comparison; "
                "use the same options, or another --name or --runs-dir"
            )
    return "reused" if finished else "resumed" if started else "trained"


def budget_stop(minutes: float | None) -> EpochCallback | None:
    """An ``on_epoch`` callback stopping training after the epoch that ends ``minutes`` from now or later."""
    if minutes is None:
        return None
    deadline = time.monotonic() + 60 * minutes
    return lambda row: time.monotonic() >= deadline


def measure_run(
    label: str, config: TrainConfig, state: str, test_set: FaceDataset, device: torch.device, request: CompareRequest
) -> tuple[dict[str, Any], list[dict[str, float]], dict[str, np.ndarray], list[dict[str, Any]]]:
    """The row of a finished run (`compare_report.COLUMNS` and `occlusion_columns`, all but McNemar's p), its
    per-epoch history, which test images ``best.pt`` classifies correctly under each test
    condition (in the test split's order; see `score_test`), and its recall per class under each.

    Training speed is the median over the run's epochs (robust to an epoch slowed by other work
    on a shared machine); latency and throughput are measured here, on the CPU and on CUDA when present.
    """
    run = Path(config.out)
    summary = load_summary(run)
    history = summary["history"]
    model, record = load_model(run)
    input_size = tuple(model.input_size)
    row: dict[str, Any] = {
        "model": label,
        "arch": config.model,
        "run": state,
        "epochs": len(history),
        "params": count_parameters(model),
        "gflops": measure_flops(model, input_size) / 1e9,
        "train_s_per_epoch": statistics.median(r["epoch_seconds"] for r in history),
        "train_images_per_s": statistics.median(r["images_per_s"] for r in history),
    }
    for kind in ("cpu", "cuda"):
        if kind == "cuda" and not torch.cuda.is_available():
            row.update(cuda_latency_ms=NO_GPU, cuda_images_per_s=NO_GPU)
            continue
        speed = measure_inference_speed(model, input_size, torch.device(kind), request.timing_seconds, SPEED_BATCH)
        row.update({f"{kind}_latency_ms": speed.latency_ms, f"{kind}_images_per_s": speed.images_per_s})
    row["best_val_acc"] = summary["best_val_acc"]
    outcomes, recalls = score_test(row, model, record["classes"], test_set, device, request.occlusions)
    return row, history, outcomes, recalls


def score_test(
    row: dict[str, Any],
    model: torch.nn.Module,
    classes: list[str],
    test_set: FaceDataset,
    device: torch.device,
    occlusions: tuple[str, ...],
) -> tuple[dict[str, np.ndarray], list[dict[str, Any]]]:
    """Score ``model`` on the test split as it is (condition ``test``) and under each occlusion
    (condition = the mode): fill ``row``'s accuracy and Wilson interval cells (and, plain, mean per-class recall and
    macro-F1 with their bootstrap intervals);
    return each condition's right/wrong per image and one row of recall per class for each."""
    outcomes, recalls = {}, []
    for mode in ("none", *occlusions):
        condition = "test" if mode == "none" else mode
        scored = evaluate_model(model, test_set, classes, device=device, occlusion=mode)
        correct = (scored.logits.argmax(1) == scored.labels).numpy()
        key = "test_acc" if mode == "none" else f"test_acc_{mode}"
        low, high = wilson_interval(int(correct.sum()), len(correct))
        row.update({key: scored.metrics["accuracy"], f"{key}_low": low, f"{key}_high": high})
        if mode == "none":
            intervals = scored.metrics["intervals"]
            row.update(
                test_mean_recall=scored.metrics["balanced_accuracy"],
                test_mean_recall_low=intervals["balanced_accuracy"][0],
                test_mean_recall_high=intervals["balanced_accuracy"][1],
                test_macro_f1=scored.metrics["macro_f1"],
                test_macro_f1_low=intervals["macro_f1"][0],
                test_macro_f1_high=intervals["macro_f1"][1],
            )
        outcomes[condition] = correct
        per_class = scored.metrics["per_class"]
        recalls.append({"model": row["model"], "condition": condition, **{c: per_class[c]["recall"] for c in classes}})
    return outcomes, recalls


def add_mcnemar(rows: list[dict[str, Any]], outcomes: list[dict[str, np.ndarray]]) -> None:
    """Set each row's McNemar p under every test condition (``mcnemar_p`` for the plain test split,
    ``mcnemar_p_<mode>`` per occlusion): McNemar's exact test against the row most accurate under
    that condition (1 for itself)."""
    for condition in outcomes[0]:
        suffix = "" if condition == "test" else f"_{condition}"
        best = max(range(len(rows)), key=lambda i: rows[i][f"test_acc{suffix}"])
        for row, correct in zip(rows, outcomes):
            row[f"mcnemar_p{suffix}"] = mcnemar_exact(correct[condition], outcomes[best][condition]).p_value


def paired_rows(
    rows: list[dict[str, Any]], outcomes: list[dict[str, np.ndarray]], pairs: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """One row per pair and test condition (`compare_report.PAIR_COLUMNS`): McNemar's exact test of the two
    models on the same test images."""
    index = {row["model"]: i for i, row in enumerate(rows)}
    paired = []
    for a, b in pairs:
        for condition in outcomes[index[a]]:
            correct_a, correct_b = outcomes[index[a]][condition], outcomes[index[b]][condition]
            result = mcnemar_exact(correct_a, correct_b)
            paired.append(
                {
                    "pair": f"{a} vs {b}",
                    "condition": condition,
                    "acc_a": float(correct_a.mean()),
                    "acc_b": float(correct_b.mean()),
                    "points": 100 * float(correct_a.mean() - correct_b.mean()),
                    "only_a": result.only_a,
                    "only_b": result.only_b,
                    "mcnemar_p": result.p_value,
                }
            )
    return paired


def load_summary(run: Path) -> dict[str, Any]:
    """A finished run's ``metrics.json`` (see `ferlab.engine.train`)."""
    try:
        return json.loads((run / SUMMARY_NAME).read_text())
    except (OSError, ValueError) as error:
        raise FerlabError(f"{run / SUMMARY_NAME}: cannot read the run's summary ({error})") from None


def run_compare(request: CompareRequest, console: Console | None = None) -> CompareResult:
    """Train (or resume, or reuse) every model, score and time them, write the outputs.

    Every run folder is checked against the protocol and the test split is loaded before
    any training starts, so a mistake fails at once rather than after hours.
    """
    console = console or Console()
    protocol = request.protocol
    configs = [model_config(protocol, entry, request.runs_dir) for entry in request.entries]
    states = [run_state(config) for config in configs]
    test_set = load_dataset(protocol.data, protocol.data_root, TEST_SPLIT, **protocol.data_options)
    if protocol.threads:
        torch.set_num_threads(protocol.threads)
    device = resolve_device(protocol.device)
    rows, histories, outcomes, recalls = [], {}, [], []
    for entry, config, state in zip(request.entries, configs, states):
        if state != "reused":
            train(config, resume=state == "resumed", console=console, on_epoch=budget_stop(request.budget_minutes))
        row, histories[entry.label], correct, recall = measure_run(
            entry.label, config, state, test_set, device, request
        )
        rows.append(row)
        outcomes.append(correct)
        recalls += recall
        console.print(
            f"{entry.label}: {state} {config.out} ({row['epochs']} epochs): test accuracy "
            f"{row['test_acc']:.4f}, macro-F1 {row['test_macro_f1']:.4f}; {row['gflops']:.3f} GFLOPs, "
            f"{row['cpu_latency_ms']:.2f} ms per image on the CPU",
            highlight=False,
            markup=False,
        )
    add_mcnemar(rows, outcomes)
    files = write_outputs(request, rows, histories, recalls, paired_rows(rows, outcomes, request.pairs))
    return CompareResult(rows, histories, files)
