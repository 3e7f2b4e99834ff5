"""`ferlab compare`: several models trained under one protocol, then scored and timed side by side.

Each entry (a registry name, its ``model_options``, a label, and rarely other training options
for this row only, such as its own ``lr``) trains with `ferlab.engine.train` into
``<runs_dir>/<label>`` from one base `TrainConfig` of which only those fields (and ``out``) change.
A run folder already there is reused when finished (``metrics.json`` written, by the last epoch or by the time budget),
resumed when it holds only ``last.pt``, and refused when its ``config.yaml`` was written
under another protocol. Every model is then scored on the test split from its ``best.pt``
(the best-on-validation weights), profiled (parameters, forward FLOPs) and timed (batch-1
latency, batch-64 throughput, on the CPU and on CUDA when present) in this one process.
The table, CSV and figures are written only once every model is done.
"""

from __future__ import annotations

import io
import json
import re
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from rich.console import Console

from ferlab.atomic import write_atomically
from ferlab.checks import check_choice
from ferlab.data import FaceDataset, load_dataset
from ferlab.engine.config import TrainConfig, config_keys, load_config
from ferlab.engine.trainer import EpochCallback, resolve_device, train
from ferlab.errors import FerlabError
from ferlab.evaluate import evaluate_model
from ferlab.evaluate.paired import mcnemar_exact, wilson_interval
from ferlab.evaluate.robustness import OCCLUSION_MODES
from ferlab.models import count_parameters, get_model_info, measure_flops
from ferlab.models.files import LAST_NAME, load_model
from ferlab.models.profile import measure_inference_speed
from ferlab.study.machine import machine_info

TEST_SPLIT = "test"
SPEED_BATCH = 64
NO_GPU = "n/a: no CUDA device"
SUMMARY_NAME, CONFIG_NAME = "metrics.json", "config.yaml"

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("model", "model", "{}"),
    ("arch", "registry name", "{}"),
    ("run", "run", "{}"),
    ("epochs", "epochs", "{:d}"),
    ("params", "params", "{:,}"),
    ("gflops", "GFLOPs", "{:.4f}"),
    ("train_s_per_epoch", "train s/epoch", "{:.2f}"),
    ("train_images_per_s", "train img/s", "{:,.0f}"),
    ("cpu_latency_ms", "CPU ms (batch 1)", "{:.2f}"),
    ("cpu_images_per_s", f"CPU img/s (batch {SPEED_BATCH})", "{:,.0f}"),
    ("cuda_latency_ms", "GPU ms (batch 1)", "{:.2f}"),
    ("cuda_images_per_s", f"GPU img/s (batch {SPEED_BATCH})", "{:,.0f}"),
    ("best_val_acc", "best val acc", "{:.4f}"),
    ("test_acc", "test acc", "{:.4f}"),
    ("test_acc_low", "95% CI low", "{:.4f}"),
    ("test_acc_high", "95% CI high", "{:.4f}"),
    ("test_macro_f1", "test macro-F1", "{:.4f}"),
    ("mcnemar_p", "McNemar p vs best", "{:.3g}"),
)
"""CSV name, table header and number format of every column of the comparison, in order."""


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
    try:
        loaded = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise FerlabError(f"{path}: cannot read the entries ({str(error).splitlines()[0]})") from None
    if not isinstance(loaded, list) or not all(isinstance(item, dict) for item in loaded):
        raise FerlabError(f"{path}: expected a list of entries, each a mapping with keys {', '.join(ENTRY_KEYS)}")
    for item in loaded:
        unknown = sorted(set(item) - set(ENTRY_KEYS))
        if unknown or "model" not in item:
            raise FerlabError(f"{path}: entry {item!r} needs 'model' and may only have {', '.join(ENTRY_KEYS)}")
    return tuple(CompareEntry(**item) for item in loaded)


@dataclass(frozen=True)
class CompareRequest:
    """What `run_compare` does; checked on creation.

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
    budget_minutes: float | None = None
    timing_seconds: float = 1.0
    occlusions: tuple[str, ...] = ()
    notes: Path | None = None
    pairs: tuple[tuple[str, str], ...] = ()
    command: str | None = None

    def __post_init__(self) -> None:
        if not self.entries:
            raise FerlabError("no model to compare: pass --models NAME,NAME,... or --entries FILE.yaml")
        labels = [entry.label for entry in self.entries]
        for label in labels:
            if labels.count(label) > 1:
                raise FerlabError(f"model {label!r} is listed twice; give the entries distinct labels")
        if not re.fullmatch(r"[\w.-]+", self.name):
            raise FerlabError(f"comparison name {self.name!r} must be letters, digits, '.', '_' or '-'")
        if self.budget_minutes is not None and self.budget_minutes < 0:
            raise FerlabError(f"--budget-minutes must be 0 or more, got {self.budget_minutes}")
        if self.timing_seconds <= 0:
            raise FerlabError(f"--timing-seconds must be positive, got {self.timing_seconds}")
        for mode in self.occlusions:
            check_choice(mode, tuple(m for m in OCCLUSION_MODES if m != "none"), "occlusion mode")
        if len(set(self.occlusions)) < len(self.occlusions):
            raise FerlabError(f"--occlude lists a mode twice: {','.join(self.occlusions)}")
        if self.notes is not None and not Path(self.notes).is_file():
            raise FerlabError(f"--notes {self.notes}: no such file")
        for a, b in self.pairs:
            if a == b or a not in labels or b not in labels:
                raise FerlabError(f"--pairs {a}:{b}: needs two different row labels of {', '.join(labels)}")


@dataclass
class CompareResult:
    """What `run_compare` measured and wrote: one row per model (keys of `COLUMNS`),
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
    """The row of a finished run (`COLUMNS` and `occlusion_columns`, all but McNemar's p), its
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
    (condition = the mode): fill ``row``'s accuracy, Wilson interval (and, plain, macro-F1) cells;
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
            row["test_macro_f1"] = scored.metrics["macro_f1"]
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


PAIR_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("pair", "pair (A vs B)", "{}"),
    ("condition", "test condition", "{}"),
    ("acc_a", "A test acc", "{:.4f}"),
    ("acc_b", "B test acc", "{:.4f}"),
    ("points", "A - B, points", "{:+.2f}"),
    ("only_a", "only A right", "{:d}"),
    ("only_b", "only B right", "{:d}"),
    ("mcnemar_p", "McNemar p", "{:.3g}"),
)
"""CSV name, table header and number format of the head-to-head comparisons."""


def paired_rows(
    rows: list[dict[str, Any]], outcomes: list[dict[str, np.ndarray]], pairs: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """One row per pair and test condition (`PAIR_COLUMNS`): McNemar's exact test of the two
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


def occlusion_columns(occlusions: tuple[str, ...]) -> tuple[tuple[str, str, str], ...]:
    """The columns of each occlusion mode (test accuracy, interval, McNemar p), after the model's."""
    cells: list[tuple[str, str, str]] = [COLUMNS[0]]
    for mode in occlusions:
        cells += [
            (f"test_acc_{mode}", f"{mode}: test acc", "{:.4f}"),
            (f"test_acc_{mode}_low", "95% CI low", "{:.4f}"),
            (f"test_acc_{mode}_high", "95% CI high", "{:.4f}"),
            (f"mcnemar_p_{mode}", "McNemar p vs best", "{:.3g}"),
        ]
    return tuple(cells)


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


# -- outputs ----------------------------------------------------------------------------------


def format_cell(value: Any, fmt: str) -> str:
    """A value as the table shows it: numbers through ``fmt``, text (such as ``n/a: ...``) as is."""
    return value if isinstance(value, str) else fmt.format(value)


def markdown_table(rows: list[dict[str, Any]], cells: tuple[tuple[str, str, str], ...] = COLUMNS) -> str:
    """The rows as a Markdown table of ``cells`` (text columns left-aligned, numbers right-aligned)."""
    lines = [
        "| " + " | ".join(header for _, header, _ in cells) + " |",
        "| " + " | ".join("---" if fmt == "{}" else "---:" for _, _, fmt in cells) + " |",
    ]
    lines += ["| " + " | ".join(format_cell(row[column], fmt) for column, _, fmt in cells) + " |" for row in rows]
    return "\n".join(lines)


def markdown_report(
    request: CompareRequest, rows: list[dict[str, Any]], stem: str, pairs: list[dict[str, Any]] | None = None
) -> str:
    """The table file: table, how each column was measured, command, protocol, machine, figures."""
    protocol = {k: v for k, v in request.protocol.to_dict().items() if k not in ("model", "model_options", "out")}
    entries = yaml.safe_dump(
        [
            {
                "label": e.label,
                "model": e.model,
                "model_options": e.model_options,
                **({"options": e.options} if e.options else {}),
            }
            for e in request.entries
        ],
        sort_keys=False,
        default_flow_style=None,
    ).strip()
    protocol.update(test_split=TEST_SPLIT, budget_minutes=request.budget_minutes, timing_seconds=request.timing_seconds)
    made_by = f"`{request.command}`" if request.command else "`ferlab.study.compare.run_compare` (Python)"
    machine = "\n".join(f"- {key}: {value}" for key, value in machine_info().items())
    occluded = (
        f"""
## Under occlusion

The test split again with a region grayed out (`ferlab.evaluate.robustness`: eyes band, mouth
band, or one random square of a third of the side per image, seed 0); McNemar against the row
most accurate under the same occlusion. Recall per class under every condition: `{stem}_recall.csv`.

{markdown_table(rows, occlusion_columns(request.occlusions))}
"""
        if request.occlusions
        else f"\nRecall per class on the test split: `{stem}_recall.csv`.\n"
    )
    findings = f"\n## Findings\n\n{Path(request.notes).read_text().strip()}\n" if request.notes else ""
    head_to_head = (
        f"""
## Head to head

Pairs named by `--pairs` (an ablation against its model), on the same test images under each
condition: McNemar's exact two-sided test on the images only one of the two gets right
(`{stem}_pairs.csv`).

{markdown_table(pairs, PAIR_COLUMNS)}
"""
        if pairs
        else ""
    )
    return f"""# Model comparison: {request.name}

Made by {made_by}.

{markdown_table(rows)}
{findings}{head_to_head}
- run: `trained` here, `resumed` from its `last.pt`, or `reused` (a finished run in `{request.runs_dir}`,
  whose training times come from when it was trained); epochs: epochs trained (budget or protocol).
- params, GFLOPs: parameters, and forward FLOPs per image at the model's input size counted by
  torch's FlopCounterMode (a multiply-add is 2 FLOPs; element-wise work is not counted).
- train s/epoch, train img/s: median over the run's epochs (`metrics.json`).
- ms (batch 1): median wall time of one forward pass of one image; img/s (batch {SPEED_BATCH}):
  {SPEED_BATCH} / median time of a batch; eval mode, float32, channels-last, about
  {request.timing_seconds:g} s of passes each, measured in this command for every model.
- best val acc: best accuracy on split `{request.protocol.val_split}` during training (it selects
  `best.pt`); test acc, macro-F1: `best.pt` on split `{TEST_SPLIT}`.
- 95% CI: Wilson score interval of the test accuracy. McNemar p vs best: exact two-sided McNemar
  test of the row against the row of highest test accuracy on the same test images (1 for that
  row); p above 0.05 means the two are not distinguishable at this test-set size.
{occluded}
## Entries

```yaml
{entries}
```

## Protocol (the same for every model)

```yaml
{yaml.safe_dump(protocol, sort_keys=False).strip()}
```

## Machine

{machine}

![test accuracy against GFLOPs]({stem}_acc_vs_gflops.png)

![test accuracy against CPU latency]({stem}_acc_vs_latency.png)

![validation accuracy per epoch]({stem}_val_acc.png)
"""


COST_AXES = {
    "gflops": "forward GFLOPs per image (log scale)",
    "cpu_latency_ms": "CPU latency at batch 1, ms (log scale)",
}
"""Cost columns with an accuracy figure, and their axis labels."""

POINT_MARKERS = "os^Dv*X"
"""Markers of the accuracy figures' points, cycled with tab10's colours: 7 and 10 are coprime, so
the first 70 models each get a colour and marker pair of their own."""


def accuracy_figure(rows: list[dict[str, Any]], name: str, cost: str = "gflops") -> Figure:
    """Test accuracy (with its 95% interval) against a cost column (log scale), one point per model,
    each with its own colour and marker, named in a legend beside the plot (point labels would
    overlap where models share a cost)."""
    figure = Figure(figsize=(9.0, 5.0))
    axes = figure.add_subplot()
    colours = colormaps["tab10"].colors
    for i, row in enumerate(rows):
        error = [[row["test_acc"] - row["test_acc_low"]], [row["test_acc_high"] - row["test_acc"]]]
        style = {"color": colours[i % len(colours)], "marker": POINT_MARKERS[i % len(POINT_MARKERS)]}
        axes.errorbar(row[cost], row["test_acc"], yerr=error, linestyle="none", capsize=3, label=row["model"], **style)
    axes.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8, frameon=False)
    axes.set_xscale("log")
    axes.set_xlabel(COST_AXES[cost])
    axes.set_ylabel(f"{TEST_SPLIT} accuracy (95% CI)")
    axes.set_title(f"{name}: accuracy against cost")
    axes.grid(alpha=0.3, which="both")
    figure.tight_layout()
    return figure


def val_acc_figure(histories: dict[str, list[dict[str, float]]], name: str) -> Figure:
    """Validation accuracy per epoch, one line per model."""
    figure = Figure(figsize=(6.5, 4.5))
    axes = figure.add_subplot()
    for model, history in histories.items():
        axes.plot([r["epoch"] for r in history], [r["val_acc"] for r in history], marker="o", label=model)
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_xlabel("epoch")
    axes.set_ylabel("validation accuracy")
    axes.set_title(f"{name}: learning curves")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


def _png(figure: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    return buffer.getvalue()


def write_outputs(
    request: CompareRequest,
    rows: list[dict[str, Any]],
    histories: dict[str, list[dict[str, float]]],
    recalls: list[dict[str, Any]],
    pairs: list[dict[str, Any]] | None = None,
) -> list[Path]:
    """Write ``compare_<name>.md``, ``.csv``, ``_recall.csv`` (recall per class, one row per model
    and test condition), ``_pairs.csv`` (with ``pairs``: `paired_rows`), ``_acc_vs_gflops.png``,
    ``_acc_vs_latency.png`` and ``_val_acc.png`` into ``request.out``.

    Every file is rendered in memory first, then each is replaced atomically.
    """
    stem = f"compare_{request.name}"
    csv_columns = COLUMNS + occlusion_columns(request.occlusions)[1:]
    contents = {
        f"{stem}.md": markdown_report(request, rows, stem, pairs).encode(),
        f"{stem}.csv": pd.DataFrame(rows, columns=[c for c, _, _ in csv_columns]).to_csv(index=False).encode(),
        f"{stem}_recall.csv": pd.DataFrame(recalls).to_csv(index=False).encode(),
        f"{stem}_acc_vs_gflops.png": _png(accuracy_figure(rows, request.name, "gflops")),
        f"{stem}_acc_vs_latency.png": _png(accuracy_figure(rows, request.name, "cpu_latency_ms")),
        f"{stem}_val_acc.png": _png(val_acc_figure(histories, request.name)),
    }
    if pairs:
        contents[f"{stem}_pairs.csv"] = (
            pd.DataFrame(pairs, columns=[c for c, _, _ in PAIR_COLUMNS]).to_csv(index=False).encode()
        )
    for name, data in contents.items():
        write_atomically(request.out / name, data)
    return [request.out / name for name in contents]
