"""Writing and printing an evaluation: metrics.json, per_class.csv, confusion.csv/.png, a Rich summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ferlab.evaluate.evaluation import EvalResult
from ferlab.evaluate.metrics import ECE_BINS

METRICS_NAME, PER_CLASS_NAME = "metrics.json", "per_class.csv"
CONFUSION_CSV_NAME, CONFUSION_PNG_NAME = "confusion.csv", "confusion.png"


def per_class_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """One row per scored class: precision, recall, f1, support."""
    frame = pd.DataFrame.from_dict(metrics["per_class"], orient="index")
    frame.index.name = "class"
    return frame


def confusion_frame(metrics: dict[str, Any]) -> pd.DataFrame:
    """The confusion matrix with true classes as rows and predicted classes as columns."""
    classes = list(metrics["per_class"])
    frame = pd.DataFrame(metrics["confusion"], index=classes, columns=classes)
    frame.index.name = "true\\predicted"
    return frame


def confusion_figure(metrics: dict[str, Any], title: str) -> Figure:
    """Row-normalised confusion matrix (colour and first number) with the counts beneath."""
    counts = np.asarray(metrics["confusion"], dtype=np.int64)
    totals = counts.sum(axis=1, keepdims=True)
    rates = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    classes = list(metrics["per_class"])
    side = 1.0 + 0.8 * len(classes)
    figure = Figure(figsize=(side + 1.5, side))
    axes = figure.add_subplot()
    image = axes.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=axes, label="fraction of the true class")
    for (row, column), rate in np.ndenumerate(rates):
        axes.text(
            column,
            row,
            f"{rate:.2f}\n({counts[row, column]})",
            ha="center",
            va="center",
            fontsize=8,
            color="white" if rate > 0.5 else "black",
        )
    axes.set_xticks(range(len(classes)), classes, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    axes.set_title(title, fontsize=9)
    figure.tight_layout()
    return figure


def write_report(result: EvalResult, out_dir: Path, run_info: dict[str, Any]) -> dict[str, Any]:
    """Write every output file into ``out_dir``; return the dict saved as metrics.json.

    ``run_info`` (command line, model, data root, subset...) is saved ahead of the metrics.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    record = {**run_info, **result.metrics, "notes": list(result.notes)}
    (out_dir / METRICS_NAME).write_text(json.dumps(record, indent=2) + "\n")
    per_class_frame(result.metrics).to_csv(out_dir / PER_CLASS_NAME)
    confusion_frame(result.metrics).to_csv(out_dir / CONFUSION_CSV_NAME)
    title = (
        f"{result.metrics['data']} {result.metrics['split']}: accuracy {result.metrics['accuracy']:.4f}, "
        f"n = {result.metrics['n_images']}"
    )
    confusion_figure(result.metrics, title).savefig(out_dir / CONFUSION_PNG_NAME, dpi=120)
    return record


def per_class_table(metrics: dict[str, Any]) -> Table:
    """Per-class precision, recall, F1 and support as a Rich table."""
    table = Table(
        title=f"{metrics['data']} {metrics['split']}: {metrics['n_images']:,} images, "
        f"TTA {metrics['tta']}, occlusion {metrics['occlusion']}"
    )
    for column, justify in (
        ("class", "left"),
        ("precision", "right"),
        ("recall", "right"),
        ("F1", "right"),
        ("support", "right"),
    ):
        table.add_column(column, justify=justify)
    for name, scores in metrics["per_class"].items():
        table.add_row(
            name,
            f"{scores['precision']:.4f}",
            f"{scores['recall']:.4f}",
            f"{scores['f1']:.4f}",
            f"{scores['support']:,}",
        )
    return table


def overall_table(metrics: dict[str, Any]) -> Table:
    """Accuracy, balanced accuracy (mean per-class recall) and macro-F1 with their 95% intervals,
    and NLL/ECE before (and after) temperature scaling, as a Rich table."""
    table = Table("score", "value", "95% CI")
    table.columns[1].justify = table.columns[2].justify = "right"
    for label, key in (
        ("accuracy", "accuracy"),
        ("mean recall (balanced acc.)", "balanced_accuracy"),
        ("macro F1", "macro_f1"),
    ):
        low, high = metrics["intervals"][key]
        table.add_row(label, f"{metrics[key]:.4f}", f"{low:.4f}-{high:.4f}")
    rows = [
        ("NLL", metrics["nll"]),
        (f"ECE ({ECE_BINS} bins)", metrics["ece"]),
    ]
    calibration = metrics["calibration"]
    if "temperature" in calibration:
        weighted = " (classes weigh the same)" if calibration.get("weighting") == "classes" else ""
        rows += [
            (f"temperature T{weighted}", calibration["temperature"]),
            (f"NLL at T{weighted}", calibration["nll_after"]),
            (f"ECE at T{weighted}", calibration["ece_after"]),
        ]
    for name, value in rows:
        table.add_row(name, f"{value:.4f}", "")
    return table


def print_summary(console: Console, record: dict[str, Any], out_dir: Path) -> None:
    """Print the per-class and overall tables, the notes and where the files went."""
    console.print(per_class_table(record))
    console.print(overall_table(record))
    for note in record["notes"]:
        console.print(f"[yellow]note:[/] {escape(note)}", highlight=False)
    console.print(
        f"written to {out_dir}: {METRICS_NAME}, {PER_CLASS_NAME}, {CONFUSION_CSV_NAME}, {CONFUSION_PNG_NAME}",
        highlight=False,
        markup=False,
    )


def _percent(rate: dict[str, Any]) -> str:
    if rate["value"] is None:
        return "n/a (0 images)"
    return f"{rate['value']:.1%} (95% CI {rate['low']:.1%}-{rate['high']:.1%}; {rate['count']:,} of {rate['of']:,})"


def print_end_to_end(console: Console, record: dict[str, Any], out_dir: Path) -> None:
    """Print an end-to-end evaluation (see `ferlab.evaluate.end_to_end`): recall per class, the
    detection rate and both accuracies, the problems and where the files went."""
    table = Table(f"true class ({record['n_images']:,} images)", "recall (no face = wrong)", "no face")
    for name, rate in record["recall_per_class"].items():
        table.add_row(name, _percent(rate), f"{record['confusion'][name]['no face']:,}")
    console.print(table)
    for label, key in (
        ("faces found", "detection_rate"),
        ("accuracy, all images", "accuracy_all"),
        ("accuracy, images with a face", "accuracy_detected"),
    ):
        console.print(Text(f"{label}: {_percent(record[key])}"), highlight=False)
    low, high = record["balanced_accuracy_ci"]
    console.print(
        Text(f"mean recall over classes, all images: {record['balanced_accuracy']:.1%} (95% CI {low:.1%}-{high:.1%})"),
        highlight=False,
    )
    console.print(Text(f"faces found by: {record['found_by']}"), highlight=False)
    console.print(
        Text(
            f"more than one face: {_percent(record['several_faces'])}, {record['extra_faces']:,} boxes past the "
            "largest (on photos of one person each, false positives)"
        ),
        highlight=False,
    )
    for problem in record["problems"]:
        console.print(Text(f"skipped {problem['file']}: {problem['reason']}", style="yellow"), highlight=False)
    console.print(Text(f"written to {out_dir}: {METRICS_NAME}, predictions.csv"), highlight=False)
