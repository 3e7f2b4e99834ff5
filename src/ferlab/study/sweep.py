"""Hyperparameter sweeps with Optuna: workers sharing one study, pruning and retries.

`run_sweep` asks the study for trials until it holds ``trials`` finished (complete or
pruned) or running ones, over every worker: a trial draws its hyperparameters from the
search space (`ferlab.study.sweep_space`), trains with `ferlab.engine.train` into
``<out>/trials/<number>`` and scores its best validation accuracy. A median pruner stops
a trial whose validation accuracy after an epoch is below the median of earlier trials at
that epoch (not before a quarter of the epochs, nor before 5 trials have finished).

Several processes or machines join one study by running the same command with one
``--storage`` URL (``sqlite:///FILE`` on one machine, ``postgresql://...`` across
machines). The worker that creates the study samples with ``--seed`` (a single-worker
sweep is reproducible); workers that join draw their own sampler seed, since which trial
sees which results depends on timing anyway. A running trial's worker writes a heartbeat
to the storage every ``heartbeat_s`` seconds; when a worker dies without warning (SIGKILL,
a crash, a lost machine), the next worker to look fails its trial once the heartbeat is
two intervals old and queues a retry of it (Optuna's `RetryHeartbeatStaleTrialCallback`):
the same hyperparameters and the epochs already reported, trained on from the stale trial's
``last.pt`` where that folder is on the retrying worker's machine, else from the start.

Its report (tables, figures, importances) is `ferlab.study.sweep_report`.
"""

from __future__ import annotations

import json
import socket
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import optuna
import sqlalchemy.engine
import sqlalchemy.exc
from optuna.distributions import distribution_to_json
from optuna.exceptions import ExperimentalWarning
from optuna.trial import FrozenTrial, TrialState
from rich.console import Console

from ferlab.engine import train
from ferlab.engine.config import TrainConfig
from ferlab.errors import FerlabError
from ferlab.models.files import LAST_NAME
from ferlab.study.sweep_space import SearchSpace, suggest, trial_config

MACHINE_LOCAL = ("data_root", "out", "device", "threads")
"""Base options that may differ between the workers of one study (paths, hardware)."""

DEFAULT_HEARTBEAT_S = 60
"""Seconds between a running trial's heartbeats; a trial silent for twice as long is failed."""

MAX_RETRIES = 2
"""How many times a trial whose worker died is queued again before it is left failed."""

_COUNTED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
_OPEN_ATTEMPTS = 3


def default_storage(out: Path) -> str:
    """The SQLite storage URL a sweep uses when none is given: ``<out>/study.db``."""
    return f"sqlite:///{(Path(out) / 'study.db').resolve()}"


def shown_url(url: str) -> str:
    """``url`` with its password hidden, for messages and reports."""
    try:
        return sqlalchemy.engine.make_url(url).render_as_string(hide_password=True)
    except sqlalchemy.exc.ArgumentError:
        return url


def open_study(
    storage: str,
    name: str,
    seed: int | None = None,
    epochs: int = 1,
    create: bool = True,
    heartbeat_s: int = DEFAULT_HEARTBEAT_S,
) -> optuna.Study:
    """Create or join (``create``), else load, the study ``name`` in the storage at URL ``storage``.

    ``seed`` seeds the sampler of the worker that creates the study; ``epochs`` sets the
    pruner's warmup (a quarter of the epochs); ``heartbeat_s`` is this worker's heartbeat
    interval (workers of one study should agree on it).

    Raises:
        FerlabError: a storage that cannot be opened (bad URL, unreachable server,
            missing database driver), or no study ``name`` there when not ``create``.
    """
    if heartbeat_s < 1:
        raise FerlabError(f"--heartbeat must be at least 1 second, got {heartbeat_s}")
    rdb = _open_storage(storage, heartbeat_s)
    pruner = optuna.pruners.MedianPruner(n_warmup_steps=epochs // 4)
    try:
        if create:
            with _optuna_quiet():
                return optuna.create_study(
                    storage=rdb, study_name=name, direction="maximize", pruner=pruner, sampler=_sampler(seed)
                )
        return optuna.load_study(study_name=name, storage=rdb, pruner=pruner)
    except optuna.exceptions.DuplicatedStudyError:  # another worker created it: join with a seed of our own
        return optuna.load_study(study_name=name, storage=rdb, pruner=pruner, sampler=_sampler(None))
    except KeyError:
        raise FerlabError(f"no study {name!r} in {shown_url(storage)}; check --study-name and --storage") from None


@contextmanager
def _optuna_quiet() -> Iterator[None]:
    """Silence optuna's INFO lines (progress is ours to print); its errors are still raised."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(verbosity)


def _sampler(seed: int | None) -> optuna.samplers.TPESampler:
    """TPE; with the constant liar, so parallel workers do not all sample next to the same running trial."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)


def _open_storage(url: str, heartbeat_s: int) -> optuna.storages.RDBStorage:
    """An RDB storage with heartbeats; retried, since workers starting together race to create its tables."""
    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    attempts_left = _OPEN_ATTEMPTS
    while True:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url,
                    engine_kwargs=engine_kwargs,
                    heartbeat_interval=heartbeat_s,
                    grace_period=2 * heartbeat_s,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                        max_retry=MAX_RETRIES, inherit_intermediate_values=True
                    ),
                )
        except sqlalchemy.exc.DBAPIError as error:
            attempts_left -= 1
            if attempts_left:
                time.sleep(0.5)
                continue
            problem: BaseException = error
        except (sqlalchemy.exc.SQLAlchemyError, ImportError, ValueError) as error:
            problem = error
        raise FerlabError(f"cannot open the study storage {shown_url(url)}: {_first_line(problem)}") from None


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


class PruneOnEpoch:
    """A `train` epoch callback: reports validation accuracy to ``trial``, stops the run when it should be pruned.

    The last epoch is never pruned: the trial has already paid for its whole training.
    """

    def __init__(self, trial: optuna.Trial, epochs: int) -> None:
        self.trial, self.epochs, self.pruned = trial, epochs, False

    def __call__(self, row: dict[str, float]) -> bool:
        """Report ``row["val_acc"]`` at step ``row["epoch"]``; True (stop) when the pruner says so."""
        epoch = int(row["epoch"])
        self.trial.report(row["val_acc"], epoch)
        self.pruned = epoch < self.epochs and bool(self.trial.should_prune())
        return self.pruned


def run_sweep(
    study: optuna.Study,
    base: TrainConfig,
    space: SearchSpace,
    trials: int,
    out: Path,
    command: str = "",
    console: Console | None = None,
) -> None:
    """Run trials of ``study`` until it holds ``trials`` finished or running ones (over all workers).

    Trials whose worker stopped sending heartbeats are failed first, so they stop counting.

    Raises:
        FerlabError: the study was started with another model, base options or space;
            or a trial's training refused its input.
    """
    console = console or Console()
    _join(study, base, space, command)

    def objective(trial: optuna.Trial) -> float:
        if _taken(study, before=trial.number) >= trials:
            trial.set_user_attr("note", "not run: another worker took the study's last trial")
            raise _StudyFull()
        return _run_trial(trial, base, space, out, console)

    def announce(study: optuna.Study, trial: FrozenTrial) -> None:
        if trial.state == TrialState.PRUNED:
            console.print(f"trial {trial.number} pruned after epoch {trial.user_attrs['epochs']}")
        elif trial.state == TrialState.COMPLETE:
            console.print(
                f"trial {trial.number}: best val acc {trial.value:.4f}; best so far "
                f"{study.best_value:.4f} (trial {study.best_trial.number})"
            )

    with _optuna_quiet():
        while True:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
            if _taken(study) >= trials:
                return
            try:  # optimize, unlike ask/tell, keeps the trial's heartbeat going while it trains
                study.optimize(objective, n_trials=1, catch=(), callbacks=[announce])
            except _StudyFull:
                return


class _StudyFull(Exception):
    """Another worker took the study's last trial while this one was being asked for."""


def _taken(study: optuna.Study, before: int | None = None) -> int:
    """How many trials (numbered below ``before``, if given) are finished or running."""
    counted = study.get_trials(deepcopy=False, states=_COUNTED)
    return sum(1 for t in counted if before is None or t.number < before)


def _join(study: optuna.Study, base: TrainConfig, space: SearchSpace, command: str) -> None:
    """Record the study's protocol (base options and space) when new; refuse a worker with another one."""
    config = {k: v for k, v in base.to_dict().items() if k not in MACHINE_LOCAL}
    protocol = json.loads(
        json.dumps(
            {
                "config": config,
                "space": {name: json.loads(distribution_to_json(d)) for name, d in space.items()},
            }
        )
    )
    stored = study.user_attrs.get("protocol")
    if stored is None:
        study.set_user_attr("protocol", protocol)
        study.set_user_attr("command", command)
        return
    for part in ("config", "space"):
        for key in sorted(set(stored[part]) | set(protocol[part])):
            if stored[part].get(key) != protocol[part].get(key):
                raise FerlabError(
                    f"study {study.study_name!r} was started with {part} {key} = {stored[part].get(key)!r}, "
                    f"this worker has {protocol[part].get(key)!r}; use the same options or another --study-name"
                )


def _run_trial(trial: optuna.Trial, base: TrainConfig, space: SearchSpace, out: Path, console: Console) -> float:
    """Train one trial; its best validation accuracy, or `optuna.TrialPruned` when pruned.

    A retry of a trial whose worker died trains on in that trial's folder from its ``last.pt``
    (the folder is recorded as the user attribute ``dir``, which the retry inherits).
    """
    stale = trial.user_attrs.get("dir")
    resume = stale is not None and (Path(stale) / LAST_NAME).is_file()
    run_dir = Path(stale) if resume else (Path(out) / "trials" / str(trial.number)).resolve()
    trial.set_user_attr("dir", str(run_dir))
    config = trial_config(base, suggest(trial, space), run_dir)
    retried = retry_of(trial)
    again = "" if retried is None else f" (a retry of trial {retried}{', resumed' if resume else ''})"
    console.print(f"trial {trial.number}{again}: {trial.params}", highlight=False)
    prune = PruneOnEpoch(trial, config.epochs)
    result = train(config, resume=resume, console=console, on_epoch=prune)
    trial.set_user_attr("val_acc", result.best_val_acc)
    trial.set_user_attr("epochs", len(result.history))
    trial.set_user_attr("host", socket.gethostname())
    if prune.pruned:
        raise optuna.TrialPruned()
    return result.best_val_acc


def retry_of(trial: optuna.Trial | FrozenTrial) -> int | None:
    """The number of the trial whose dead worker ``trial`` retries, or None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.filterwarnings("ignore", "system_attrs has been deprecated", FutureWarning)  # optuna's own call
        return optuna.storages.RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)
