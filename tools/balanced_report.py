"""Issue #31's lever table: accuracy against mean per-class recall on the validation splits.

Scores the shipped baselines (``BASELINES``: ferlab-wild and ferlab-fer2013) and every finished
lever run of ``tools/balanced_queue.sh`` or soup of ``ferlab soup`` (``results/balanced/runs/*/best.pt``,
with ``--new`` only those not yet in ``results/balanced.csv``) on the splits
that choose levers: FERPlus val (majority
labels) or FER2013 PublicTest, by the model's classes, and the SFEW validation part (the
reader's crops, ``--holdout 0.3 --split val``), all of it and its faces from clips with no frame
in the training part (``SFEW val, unseen clips``: `unseen_clip_mask`); a run trained on the split
that holds out whole clips (its config's SFEW ``holdout_group`` is `CLIP_GROUP`) on that split's
validation part instead (``SFEW val, clip holdout``). Post-hoc levers are scored on the same logits:

* ``prior balanced`` (`ferlab.priors`: for a model trained with label smoothing, the smoothing's
  floor taken out first), and logit adjustment by ``tau * log prior`` for a range of ``tau``
  (tau 1 is the balanced point with the floor kept);
* per-class biases fitted to maximise mean recall on one half of the benchmark's validation
  split (coordinate ascent on a grid) and scored on the other half and on SFEW (two-fold:
  each half is scored with the biases fitted on the other).

Writes ``results/balanced.csv`` (one row per lever and split: accuracy, mean recall, macro-F1,
their 95% CIs, per-class recall), the same as Markdown tables in ``results/balanced_levers.md``,
and ``results/balanced_frontier.png`` (accuracy against mean recall per split);
``results/balanced.md`` quotes them with the findings.

    python tools/balanced_report.py --data-root ../shared/data/fer2013 --sfew ../shared/data/sfew/Train

While the training queue runs, run it under ``tools/quiet.sh`` (the queue waits): beside it both
slow down several times over.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import torch
import yaml

from ferlab.data import load_dataset
from ferlab.data.labels import concept
from ferlab.engine.config import load_config
from ferlab.engine.losses import class_balance_weights
from ferlab.engine.trainer import training_data
from ferlab.evaluate.balanced import balanced_accuracy, confusion_counts
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.evaluate.metrics import classification_metrics
from ferlab.models.files import load_model
from ferlab.priors import OutputCalibration
from ferlab.weights import resolve_model

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TAUS = (0.25, 0.5, 0.75, 1.0, 1.25, 1.5)  # tau 1 keeps the smoothing floor: the plain balanced point
BIAS_GRID = np.round(np.arange(-3.0, 3.01, 0.1), 2)
CLIP_GROUP = r"(.+)_\d+$"
"""The SFEW split that holds out whole clips (`holdout_group`); runs trained on it are scored on it."""
CLIP_SPLIT = "SFEW val, clip holdout"
BASELINES = {  # the shipped models the levers start from, with their training configs
    "ferlab-wild": "configs/ferplus_wild_lwf_masked.yaml",
    "ferlab-fer2013": "configs/wild_mix.yaml",
}


def fit_biases(
    logits: np.ndarray, labels: np.ndarray, passes: int = 3, min_accuracy: float | None = None
) -> np.ndarray:
    """Per-class additive biases maximising mean recall on ``(logits, labels)``, by coordinate ascent
    over `BIAS_GRID` (class 0 stays 0: only differences matter); with ``min_accuracy``, only biases
    whose accuracy there is at least that count (none at all: zeros)."""
    num_classes = logits.shape[1]
    biases = np.zeros(num_classes)

    def score(candidate: np.ndarray) -> float:
        decided = (logits + candidate).argmax(1)
        if min_accuracy is not None and (decided == labels).mean() < min_accuracy:
            return -1.0
        return balanced_accuracy(confusion_counts(labels, decided, num_classes))

    for _ in range(passes):
        for c in range(1, num_classes):
            trials = []
            for value in BIAS_GRID:
                candidate = biases.copy()
                candidate[c] = value
                trials.append(score(candidate))
            if max(trials) >= 0:  # else no value of this class's bias meets min_accuracy: keep it
                biases[c] = BIAS_GRID[int(np.argmax(trials))]
    return biases


def row(lever: str, model: str, split: str, logits: torch.Tensor, labels: torch.Tensor, classes) -> dict:
    """One table row: the metrics of ``logits`` (argmax decisions) against ``labels``."""
    metrics = classification_metrics(logits, labels, classes)
    intervals = metrics["intervals"]
    return {
        "lever": lever,
        "model": model,
        "split": split,
        "n": metrics["n_images"],
        "accuracy": metrics["accuracy"],
        "accuracy_low": intervals["accuracy"][0],
        "accuracy_high": intervals["accuracy"][1],
        "mean_recall": metrics["balanced_accuracy"],
        "mean_recall_low": intervals["balanced_accuracy"][0],
        "mean_recall_high": intervals["balanced_accuracy"][1],
        "macro_f1": metrics["macro_f1"],
        "macro_f1_low": intervals["macro_f1"][0],
        "macro_f1_high": intervals["macro_f1"][1],
        **{f"recall_{concept(c) or c}": metrics["per_class"][c]["recall"] for c in classes},
    }


def score_model(
    lever: str, weights: Path, splits: dict, data_root: Path, config_file: Path | None = None
) -> list[dict]:
    """The rows of one model: the data and balanced points on each split, and the post-hoc levers.

    Every variant maps the model's logits (all its classes) before the split's classes are picked
    out (`evaluate_model`'s ``adjust_logits``). A model file that lacks its training class prior,
    label smoothing or class weights gets them from its training config (``config_file``, else the
    run's ``config.yaml``; its data under ``data_root``)."""
    model, record = load_model(weights)
    classes = tuple(record["classes"])
    calibration = OutputCalibration.from_record(record)
    config_file = config_file or weights.parent / "config.yaml"
    if config_file.exists() and not {"class_prior", "label_smoothing", "class_weights"} <= set(record):
        config = load_config(config_file, data_root=str(data_root))
        train_set = training_data(config)[0]
        class_weights = class_balance_weights(
            torch.from_numpy(train_set.labels), len(classes), config.class_balance, config.class_balance_beta
        )
        calibration = replace(
            calibration,
            class_prior=tuple(record.get("class_prior") or train_set.class_prior()),
            label_smoothing=config.label_smoothing,
            class_weights=None if class_weights is None else tuple(class_weights.tolist()),
        )
    name = str(weights.relative_to(REPO) if weights.is_relative_to(REPO) else weights)
    data = calibration.adjuster("data")
    log_prior = np.log(np.clip(np.asarray(calibration.class_prior), 1e-12, None))
    smoothing = f" (smoothing {calibration.label_smoothing} taken out)" if calibration.label_smoothing else ""
    variants = {lever: data, f"{lever}, prior balanced{smoothing}": calibration.adjuster("balanced")}
    variants.update({f"{lever}, post-hoc tau {tau}": _minus(data, tau * log_prior) for tau in TAUS})
    rows = []
    for split, dataset in splits.items():
        for tag, adjust in variants.items():
            result = evaluate_model(model, dataset, classes, device="cpu", adjust_logits=adjust)
            rows.append(row(tag, name, split, result.logits, result.labels, result.classes))
    rows += _fitted_bias_rows(lever, name, model, classes, data, splits)
    return rows


def _minus(adjust: Callable[[np.ndarray], np.ndarray], offsets: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """``adjust`` followed by subtracting ``offsets`` from every row."""
    return lambda logits: (adjust(logits) - offsets).astype(np.float32)


def _fitted_bias_rows(lever: str, name: str, model, classes, data: Callable, splits: dict) -> list[dict]:
    """Per-class biases fitted on one half of the benchmark's val split, scored on the other half
    (two-fold) and, fitted on all of it, on the SFEW validation part."""
    bench, *others = splits
    result = evaluate_model(model, splits[bench], classes, device="cpu", adjust_logits=data)
    logits, labels = result.logits.numpy(), result.labels.numpy()
    halves = np.random.default_rng(0).permutation(len(labels)) % 2
    decided = np.empty(len(labels), dtype=np.int64)
    for half in (0, 1):
        biases = fit_biases(logits[halves != half], labels[halves != half])
        decided[halves == half] = (logits[halves == half] + biases).argmax(1)
    one_hot = torch.eye(len(result.classes))[decided]
    rows = [row(f"{lever}, per-class biases (two-fold)", name, bench, one_hot, result.labels, result.classes)]
    biases = fit_biases(logits, labels)
    for split in others:
        other = evaluate_model(model, splits[split], classes, device="cpu", adjust_logits=_minus(data, -biases))
        tag = f"{lever}, per-class biases (fitted on {bench})"
        rows.append(row(tag, name, split, other.logits, other.labels, other.classes))
    return rows


def frontier(table: pd.DataFrame, out: Path, command: str) -> None:
    """Accuracy against mean recall, one panel per split, one colour per lever: its data point (a
    dot with the mean-recall CI), its balanced point (a triangle), its post-hoc tau variants (small
    dots joined in tau order: the trade it offers) and its per-class biases (a square)."""
    splits = list(dict.fromkeys(table["split"]))
    figure, axes = plt.subplots(1, len(splits), figsize=(7 * len(splits), 7.5), squeeze=False)
    levers = list(dict.fromkeys(lever.split(", ")[0] for lever in table["lever"]))
    palette = plt.cm.tab20.colors + plt.cm.tab20b.colors  # 40 distinct colours before any repeats
    colours = {lever: palette[i % len(palette)] for i, lever in enumerate(levers)}
    for axis, split in zip(axes[0], splits):
        part = table[table["split"] == split]
        for lever in levers:
            rows = part[part["lever"].str.split(", ").str[0] == lever]
            if rows.empty:  # a lever of the other benchmark (FERPlus or FER2013)
                continue
            variant = rows["lever"].str.partition(", ")[2]
            colour = colours[lever]
            tau = rows[variant.str.startswith("post-hoc tau")]
            tau = tau.assign(t=tau["lever"].str.rsplit(" ", n=1).str[1].astype(float)).sort_values("t")
            axis.plot(tau["mean_recall"], tau["accuracy"], ".-", color=colour, alpha=0.35, linewidth=0.8, markersize=3)
            points = (("^", variant.str.startswith("prior balanced")), ("s", variant.str.contains("biases")))
            for marker, chosen in points:
                axis.plot(rows[chosen]["mean_recall"], rows[chosen]["accuracy"], marker, color=colour, alpha=0.7)
            data = rows[variant == ""]
            low = (data["mean_recall"] - data["mean_recall_low"]).to_numpy()
            high = (data["mean_recall_high"] - data["mean_recall"]).to_numpy()
            x, y = data["mean_recall"].to_numpy(), data["accuracy"].to_numpy()
            axis.errorbar(x, y, xerr=[low, high], fmt="o", color=colour, label=lever)
        axis.set_xlabel("mean per-class recall (data point: bootstrap 95% CI)")
        axis.set_ylabel("accuracy")
        axis.set_title(f"{split} (n = {part['n'].iloc[0]})")
        axis.grid(alpha=0.3)
    legend = {label: handle for axis in axes[0] for handle, label in zip(*axis.get_legend_handles_labels())}
    columns = 4
    figure.legend(legend.values(), legend.keys(), loc="lower center", ncol=columns, fontsize=8)
    figure.suptitle(
        "Issue #31 levers on validation splits: o data point, ^ balanced point, . post-hoc tau (joined), "
        f"s per-class biases\n{command}",
        fontsize=9,
    )
    legend_height = 0.02 + 0.022 * -(-len(legend) // columns)  # figure fraction: one line per legend row
    figure.tight_layout(rect=(0, legend_height, 1, 1))
    figure.savefig(out, dpi=110)


def markdown_tables(table: pd.DataFrame, command: str) -> str:
    """One Markdown table per split: every row with accuracy, mean recall and macro-F1 (95% CIs) and the
    per-class recalls, in percent."""
    recalls = [column for column in table.columns if column.startswith("recall_")]
    parts = [
        "# Issue #31 levers, every row (written by tools/balanced_report.py; do not edit by hand)",
        "",
        f"Command: `{command}`. Machine: the 2-core x86_64 VM, no GPU. Splits: validation only. Percent; "
        "in brackets the 95% CI (Wilson for accuracy, bootstrap over images for mean recall and macro-F1).",
    ]
    for split, part in table.groupby("split", sort=False):
        present = [column for column in recalls if part[column].notna().all()]
        header = ["lever", "accuracy", "mean recall", "macro-F1", *(c.removeprefix("recall_") for c in present)]
        parts += ["", f"## {split} (n = {part['n'].iloc[0]})", "", "| " + " | ".join(header) + " |"]
        parts.append("|" + "---|" * len(header))
        for _, r in part.iterrows():
            cells = [r["lever"]]
            for name in ("accuracy", "mean_recall", "macro_f1"):
                cells.append(f"{100 * r[name]:.1f} ({100 * r[name + '_low']:.1f}-{100 * r[name + '_high']:.1f})")
            cells += [f"{100 * r[column]:.0f}" for column in present]
            parts.append("| " + " | ".join(cells) + " |")
    return "\n".join(parts) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True, help="the FER2013/FERPlus folder")
    parser.add_argument("--sfew", type=Path, required=True, help="the SFEW Train folder")
    parser.add_argument(
        "--baseline",
        action="append",
        metavar="MODEL=CONFIG",
        help="a baseline and its training config (its label smoothing), repeatable; default: "
        + ", ".join(f"{model}={config}" for model, config in BASELINES.items()),
    )
    parser.add_argument(
        "--replot", action="store_true", help="rewrite only the figure and the tables from results/balanced.csv"
    )
    parser.add_argument(
        "--new", action="store_true", help="score only what results/balanced.csv lacks (levers, splits) and add it"
    )
    args = parser.parse_args()
    command = "python tools/balanced_report.py " + " ".join(a for a in sys.argv[1:] if a not in ("--replot", "--new"))
    if args.replot:
        write_outputs(pd.read_csv(REPO / "results/balanced.csv"), command)
        return
    sfew = load_dataset("folder", args.sfew, "val", holdout=0.3)
    by_file = {"SFEW val": sfew, "SFEW val, unseen clips": sfew.subset(np.flatnonzero(unseen_clip_mask(args.sfew)))}
    by_clip = {CLIP_SPLIT: load_dataset("folder", args.sfew, "val", holdout=0.3, holdout_group=CLIP_GROUP)}
    benchmarks = {
        8: {"FERPlus val": load_dataset("ferplus", args.data_root, "val", mode="majority")},
        7: {"FER2013 PublicTest": load_dataset("fer2013", args.data_root, "val")},
    }
    rows = pd.read_csv(REPO / "results/balanced.csv").to_dict("records") if args.new else []
    baselines = dict(item.split("=", 1) for item in args.baseline) if args.baseline else BASELINES
    models = [(f"baseline {name}", resolve_model(name), REPO / config) for name, config in baselines.items()]
    finished = sorted(run / "best.pt" for run in (REPO / "results/balanced/runs").iterdir() if _finished(run))
    models += [(run.parent.name, run, None) for run in finished]  # unfinished runs wait for the next report
    scored = {(row["lever"], row["split"]) for row in rows}
    for lever, weights, config_file in models:
        classes = load_model(weights)[1]["classes"]
        film = by_clip if sfew_group(config_file or training_config(weights.parent)) == CLIP_GROUP else by_file
        splits = {**benchmarks[len(classes)], **film}
        if all((lever, split) in scored for split in splits):
            continue
        new = score_model(lever, weights, splits, args.data_root, config_file)
        rows += [row for row in new if (row["lever"], row["split"]) not in scored]
        print(f"scored {lever}", flush=True)
    pd.DataFrame(rows).to_csv(REPO / "results/balanced.csv", index=False, float_format="%.4f")
    table = pd.read_csv(REPO / "results/balanced.csv")  # the tables from the CSV's rounding, as --replot and --new
    write_outputs(table, command)
    print(table[["lever", "split", "accuracy", "mean_recall", "macro_f1"]].to_string(index=False))


def data_point(model, record: dict, dataset, offsets: np.ndarray | float = 0.0):
    """`evaluate_model` of a model at its data operating point (from its file's calibration), with
    ``offsets`` added to its logits in the model's class order; the result is over the dataset's classes."""
    data = OutputCalibration.from_record(record).adjuster("data")
    adjust = lambda logits: (data(logits) + offsets).astype(np.float32)  # noqa: E731
    return evaluate_model(model, dataset, tuple(record["classes"]), device="cpu", adjust_logits=adjust)


def training_config(run: Path) -> Path:
    """A lever folder's training config: its own ``config.yaml``, or for a soup its first ingredient's."""
    soup = run / "soup.json"
    if soup.exists():
        return REPO / json.loads(soup.read_text())["ingredients"][0] / "config.yaml"
    return run / "config.yaml"


def sfew_group(config_file: Path) -> str | None:
    """The ``holdout_group`` of a run's SFEW training entry (None: the split by file, or no config)."""
    if not config_file.exists():
        return None
    entries = yaml.safe_load(config_file.read_text()).get("extra_data") or []
    return next((e.get("data_options", {}).get("holdout_group") for e in entries if e.get("data") == "folder"), None)


def clip_of(image_id: str) -> str:
    """An SFEW face's film and clip: ``Angry/AlexEmma_000225840_00000024.png`` → ``AlexEmma_000225840``."""
    return Path(image_id).stem.rsplit("_", 1)[0]


def unseen_clip_mask(root: Path | str) -> np.ndarray:
    """For each face of the SFEW validation part (``holdout=0.3``): True where no frame of its clip
    is in the training part (the rest are near-duplicates of training faces)."""
    seen = {clip_of(i) for i in load_dataset("folder", root, "train", holdout=0.3).ids}
    return np.array([clip_of(i) not in seen for i in load_dataset("folder", root, "val", holdout=0.3).ids])


def _finished(run: Path) -> bool:
    """Whether a lever folder is done: a trained run (its metrics.json) or a soup (its soup.json)."""
    return (run / "best.pt").exists() and ((run / "metrics.json").exists() or (run / "soup.json").exists())


def write_outputs(table: pd.DataFrame, command: str) -> None:
    """The frontier figure and the Markdown tables of ``table``, made by ``command``."""
    frontier(table, REPO / "results/balanced_frontier.png", command)
    (REPO / "results/balanced_levers.md").write_text(markdown_tables(table, command))


if __name__ == "__main__":
    main()
