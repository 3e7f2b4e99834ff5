"""The outputs of `ferlab compare`: the table file (Markdown), the CSVs and the figures.

`write_outputs` renders every file from the rows `ferlab.study.compare.run_compare` measured;
the column tuples (`COLUMNS`, `PAIR_COLUMNS`, `occlusion_columns`) name each CSV column, its
table header and its number format.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ferlab.atomic import write_atomically
from ferlab.study.machine import machine_info

if TYPE_CHECKING:
    from ferlab.study.compare import CompareRequest

TEST_SPLIT = "test"
"""The split every row is scored on (the protocol's ``val_split`` selects each ``best.pt``)."""
SPEED_BATCH = 64
"""Batch size of the throughput columns."""
NO_GPU = "n/a: no CUDA device"
"""What the GPU columns hold on a machine without CUDA."""

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
    ("test_mean_recall", "test mean recall", "{:.4f}"),
    ("test_mean_recall_low", "95% CI low", "{:.4f}"),
    ("test_mean_recall_high", "95% CI high", "{:.4f}"),
    ("test_macro_f1", "test macro-F1", "{:.4f}"),
    ("test_macro_f1_low", "95% CI low", "{:.4f}"),
    ("test_macro_f1_high", "95% CI high", "{:.4f}"),
    ("mcnemar_p", "McNemar p vs best", "{:.3g}"),
)
"""CSV name, table header and number format of every column of the comparison, in order."""


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
