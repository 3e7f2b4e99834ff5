"""The report of a hyperparameter sweep: trial table, figures, fANOVA importances, ``sweep.md``.

`write_report` turns a study (`ferlab.study.sweep`) into ``trials.csv``, ``sensitivity.png``
(each hyperparameter against validation accuracy), ``importances.png`` (fANOVA parameter
importances, given `MIN_TRIALS_FOR_IMPORTANCE` complete trials) and ``sweep.md``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import optuna
import pandas as pd
import yaml
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState

from ferlab.study.machine import machine_info
from ferlab.study.sweep import retry_of

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from optuna.visualization.matplotlib import plot_param_importances, plot_slice  # noqa: E402

MIN_TRIALS_FOR_IMPORTANCE = 5
"""Complete trials needed before fANOVA importances mean anything."""


def trials_table(study: optuna.Study) -> pd.DataFrame:
    """One row per trial: number, state, best val acc, epochs trained, seconds, host, the trial it retries
    (`retry_of`, after a worker died), then the parameters."""
    rows = []
    for trial in study.get_trials(deepcopy=False):
        seconds = None
        if trial.datetime_start and trial.datetime_complete:
            seconds = round((trial.datetime_complete - trial.datetime_start).total_seconds(), 1)
        rows.append(
            {
                "number": trial.number,
                "state": trial.state.name.lower(),
                "val_acc": trial.user_attrs.get("val_acc"),
                "epochs": trial.user_attrs.get("epochs"),
                "seconds": seconds,
                "host": trial.user_attrs.get("host"),
                "retry_of": retry_of(trial),
                **trial.params,
            }
        )
    return pd.DataFrame(rows)


def importances(study: optuna.Study) -> dict[str, float] | None:
    """fANOVA importance of each hyperparameter (seeded).

    None below `MIN_TRIALS_FOR_IMPORTANCE` complete trials, or when they all scored the same.
    """
    complete = _complete(study)
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE or len({t.value for t in complete}) < 2:
        return None
    return {k: float(v) for k, v in optuna.importance.get_param_importances(study, evaluator=_fanova()).items()}


def write_report(study: optuna.Study, out: Path) -> list[Path]:
    """Write ``trials.csv``, ``sensitivity.png``, ``importances.png`` and ``sweep.md`` into ``out``; their paths.

    The sensitivity figure needs a complete trial, the importances what `importances` needs;
    ``sweep.md`` lists the files written and says why importances are missing.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = trials_table(study)
    table.to_csv(out / "trials.csv", index=False)
    written = [out / "trials.csv"]
    scores = importances(study)
    with warnings.catch_warnings(), matplotlib.rc_context():  # Optuna's plots set their own style
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", "Attempting to set identical")  # a parameter tried at one value only
        if _complete(study):
            axes = np.atleast_1d(plot_slice(study, target_name="best validation accuracy"))
            figure = axes[0].figure
            figure.set_size_inches(3.2 * len(axes) + 1, 3.6)
            for axis in axes:  # model_options.backbone_kwargs.drop_rate would run into its neighbour
                axis.set_xlabel(axis.get_xlabel().removeprefix("model_options.").replace(".", ".\n"))
            figure.suptitle(f"{study.study_name}: each hyperparameter against validation accuracy (complete trials)")
            written.append(_save(figure, out / "sensitivity.png"))
        if scores is not None:
            axis = plot_param_importances(study, evaluator=_fanova(), target_name="best validation accuracy")
            axis.set_title(f"{study.study_name}: fANOVA importance of each hyperparameter")
            written.append(_save(axis.figure, out / "importances.png"))
    (out / "sweep.md").write_text(_markdown(study, table, scores, [p.name for p in written]))
    return [*written, out / "sweep.md"]


def _fanova() -> optuna.importance.FanovaImportanceEvaluator:
    """The seeded fANOVA evaluator (optuna.importance loads scikit-learn: only imported when used)."""
    return optuna.importance.FanovaImportanceEvaluator(seed=0)


def _complete(study: optuna.Study) -> list[FrozenTrial]:
    return study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))


def _save(figure: plt.Figure, path: Path) -> Path:
    figure.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(figure)
    return path


def _markdown_table(frame: pd.DataFrame) -> str:
    cells = frame.astype(object).where(frame.notna(), "")
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in cells.itertuples(index=False)]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _markdown(study: optuna.Study, table: pd.DataFrame, scores: dict[str, float] | None, files: list[str]) -> str:
    """``sweep.md``: counts, best trial, importances, the trial table, command, protocol, machine."""
    protocol = study.user_attrs.get("protocol", {})
    counts = table["state"].value_counts() if len(table) else pd.Series(dtype=int)
    lines = [
        f"# Sweep {study.study_name}",
        "",
        f"{len(table)} trials: " + ", ".join(f"{n} {state}" for state, n in counts.items()) + ". "
        "Score: each trial's best validation accuracy over its epochs.",
        "",
    ]
    complete = _complete(study)
    if complete:
        best = study.best_trial
        params = ", ".join(f"{k} = {_cell(v)}" for k, v in best.params.items())
        lines += [
            f"Best: trial {best.number}, val acc {best.value:.4f}, with {params} "
            f"(run folder `trials/{best.number}` on {best.user_attrs.get('host')}).",
            "",
        ]
    lines += ["## Parameter importances (fANOVA)", ""]
    if scores is None:
        lines.append(
            f"Not computed: importances need {MIN_TRIALS_FOR_IMPORTANCE} complete trials with different "
            f"scores; there are {len(complete)}, with {len({t.value for t in complete})} different score(s)."
        )
    else:
        lines.append(_markdown_table(pd.DataFrame({"parameter": list(scores), "importance": list(scores.values())})))
    lines += [
        "",
        "## Trials",
        "",
        _markdown_table(table) if len(table) else "No trials yet.",
        "",
        "Files: " + ", ".join(f"`{name}`" for name in files) + ", `sweep.md`.",
        "",
        "## Protocol",
        "",
        f"First worker's command: `{study.user_attrs.get('command', '?')}`",
        "",
        "```yaml",
        yaml.safe_dump(protocol, sort_keys=False, default_flow_style=None).strip(),
        "```",
        "",
        "## Machine writing this report",
        "",
    ]
    lines += [f"- {key}: {value}" for key, value in machine_info().items()]
    return "\n".join(lines) + "\n"
