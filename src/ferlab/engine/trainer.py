"""The training loop: pre-decoded uint8 batches, batch augmentation, per-epoch atomic checkpoints.

A run folder holds ``config.yaml``, ``last.pt`` (everything to resume), ``best.pt`` (the
best-on-validation model file), ``metrics.csv``, TensorBoard events in ``tb/``,
``learning_curves.png`` and ``metrics.json``. Resuming restores model, optimizer,
scheduler and RNG states and the epoch; each epoch's shuffle comes from ``(seed, epoch)``,
so an interrupted run continued with `resume` ends with the same metrics as an
uninterrupted one on the same machine.
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.tensorboard import SummaryWriter
from torchmetrics.functional.classification import multiclass_f1_score

from ferlab.atomic import write_atomically, write_csv_atomically
from ferlab.data import FaceDataset, load_dataset
from ferlab.data.dataset import combine, only_classes
from ferlab.data.images import resize_dataset
from ferlab.data.transforms import augmentation, batch_mixing, fit_to_model, normalize, to_tensor_batch
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.engine.config import TrainConfig, extra_data_teacher, migrate_config
from ferlab.engine.distributed import DistInfo, all_reduce_sum, average_buffers, init_distributed, shutdown
from ferlab.engine.losses import TrainingLoss, class_balance_weights, distillation_loss
from ferlab.errors import FerlabError
from ferlab.evaluate.balanced import balanced_accuracy, confusion_counts
from ferlab.models import create_model
from ferlab.models.base import FerModel
from ferlab.models.files import BEST_NAME, LAST_NAME, TRAIN_FORMAT, load_model, read_checkpoint
from ferlab.priors import OutputCalibration
from ferlab.weights import resolve_model

METRIC_COLUMNS = (
    "epoch",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "val_macro_f1",
    "val_balanced_acc",
    "lr",
    "epoch_seconds",
    "images_per_s",
)


EpochCallback = Callable[[dict[str, float]], bool | None]
"""Called with each finished epoch's metrics row; returning True stops the run (see `train`)."""


def training_data(config: TrainConfig) -> tuple[FaceDataset, FaceDataset]:
    """The training split (with ``extra_data`` joined and ``limit`` applied; its ``extra["teacher"]``
    names each image's distillation teacher, "" for none) and the validation split a run with
    ``config`` uses."""
    if not config.data_root:
        raise FerlabError("no data root given: pass --data-root PATH (the dataset's file or folder)")
    size = (config.input_size, config.input_size) if config.input_size else None

    def read(data: str, root: str, split: str, options: dict[str, Any]) -> FaceDataset:
        dataset = load_dataset(data, root, split, **options)
        return dataset if size is None else resize_dataset(dataset, size)

    train_set = read(config.data, config.data_root, config.train_split, config.data_options)
    val_set = read(config.data, config.data_root, config.val_split, config.data_options)
    teachers = [np.full(len(train_set), config.teacher or "", dtype=object)]
    for entry in config.extra_data:
        extra = read(entry["data"], entry["data_root"], entry.get("split", "train"), entry.get("data_options", {}))
        if "classes" in entry:
            extra = only_classes(extra, entry["classes"])
        joined = combine(train_set, extra, int(entry.get("repeat", 1)))
        teachers.append(np.full(len(joined) - len(train_set), extra_data_teacher(config, entry), dtype=object))
        train_set = joined
    train_set = replace(train_set, extra={**train_set.extra, "teacher": np.concatenate(teachers)})
    if (train_set.labels < 0).any():
        raise FerlabError(f"{config.data_root}: split {config.train_split!r} has unlabelled images")
    if config.limit is not None and config.limit < len(train_set):
        generator = torch.Generator().manual_seed(config.seed)
        keep = torch.randperm(len(train_set), generator=generator)[: config.limit].sort().values.numpy()
        train_set = train_set.subset(keep)
    return train_set, val_set


@dataclass
class TrainResult:
    """What a finished run reports (also written to ``metrics.json``)."""

    run_dir: Path
    model: FerModel
    best_val_acc: float
    best_epoch: int
    history: list[dict[str, float]]
    train_seconds: float


class _Training(nn.Module):
    """Makes ``forward`` the model's `training_outputs` (a dict), so DDP and torch.compile see the call."""

    def __init__(self, model: FerModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.training_outputs(x)


def resolve_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu; a named device must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FerlabError(f"device {name!r} asked for, but no CUDA device is available; use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise FerlabError(f"unknown device {name!r}: expected auto, cpu or cuda") from None


def train(
    config: TrainConfig, resume: bool = False, console: Console | None = None, on_epoch: EpochCallback | None = None
) -> TrainResult:
    """Train ``config.model`` on ``config.data``; continue ``config.out/last.pt`` when ``resume``.

    ``on_epoch`` is called on every process after each epoch's checkpoint is written, with
    that epoch's `METRIC_COLUMNS` row; when it returns True the run stops there (a time
    budget, or a hyperparameter search pruning a bad trial; under DDP it must answer the
    same on every process). The learning-rate schedule
    still spans ``config.epochs``, and ``--resume`` would continue the stopped run.
    """
    device = resolve_device(config.device)
    info = init_distributed(device)
    if device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
        torch.cuda.set_device(device)
    console = console or Console()
    try:
        return _Run(config, device, info, console).fit(resume, on_epoch)
    finally:
        shutdown(info)


class _Run:
    """One training run's state; `fit` is the loop."""

    def __init__(self, config: TrainConfig, device: torch.device, info: DistInfo, console: Console) -> None:
        self.config, self.device, self.info, self.console = config, device, info, console
        self.run_dir = Path(config.out)
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.train_set, self.val_set = training_data(config)
        options = dict(config.model_options)
        in_chans = options.pop("in_chans", self.train_set.channels)
        self.model = create_model(config.model, num_classes=len(self.train_set.classes), in_chans=in_chans, **options)
        if config.input_size:
            self._set_input_size(config.input_size)
        if config.init:
            self._load_init()
        self.model.to(device)
        if config.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.images = torch.from_numpy(self.train_set.images)
        self.labels = torch.from_numpy(self.train_set.labels)
        self.targets = None if self.train_set.targets is None else torch.from_numpy(self.train_set.targets)
        self.steps_per_epoch = len(self.train_set) // info.world_size // config.batch_size
        if self.steps_per_epoch < 1:
            raise FerlabError(
                f"{len(self.train_set)} training images are fewer than one batch of {config.batch_size} per process"
            )
        self.optimizer = self._optimizer()
        self.scheduler = self._scheduler()
        num_classes = len(self.train_set.classes)
        weights = class_balance_weights(self.labels, num_classes, config.class_balance, config.class_balance_beta)
        self.class_weights = None if weights is None else weights.tolist()
        self.loss = TrainingLoss(self.train_set.target_mode, config.label_smoothing, weights, config.focal_gamma)
        self.loss.to(device)
        # the logit-adjusted loss: every loss (labels, teacher) sees logits + tau * log(prior)
        prior = torch.from_numpy(self.train_set.class_prior()).float().clamp(min=1e-12)
        self.logit_offset = (config.logit_adjustment * prior.log()).to(device)
        self.augment = augmentation(config.aug).to(device)
        self.mixing = batch_mixing(config.mix, config.mix_alpha, len(self.train_set.classes))
        teacher_of = self.train_set.extra["teacher"]
        self.teachers = [
            (*self._teacher(name), torch.from_numpy((teacher_of == name).astype(bool)))
            for name in sorted(set(teacher_of) - {""})
        ]
        net: nn.Module = _Training(self.model)
        if info.enabled:
            net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        self.net = torch.compile(net) if config.compile else net
        self.history: list[dict[str, float]] = []
        self.best_val_acc, self.best_epoch, self.start_epoch = -1.0, 0, 0

    def _set_input_size(self, side: int) -> None:
        """Make the model take ``side x side`` input; `FerlabError` when its head cannot."""
        self.model.input_size = (self.model.input_size[0], side, side)
        try:
            with torch.no_grad():
                self.model.eval()(torch.zeros(2, *self.model.input_size))
        except (RuntimeError, FerlabError) as error:
            raise FerlabError(
                f"{self.config.model} cannot take {side}x{side} input ({str(error).splitlines()[0]}); "
                "leave input_size unset for this model"
            ) from None
        self.model.train()

    def _load_init(self) -> None:
        """Copy the weights of ``config.init`` into the new model (fine-tuning); `FerlabError` when it differs."""
        path = resolve_model(self.config.init)
        start, record = load_model(path)
        if record["model"] != self.config.model or tuple(record["classes"]) != tuple(self.train_set.classes):
            raise FerlabError(
                f"--init {path}: a {record['model']} for {', '.join(record['classes'])}; this run "
                f"trains a {self.config.model} for {', '.join(self.train_set.classes)}"
            )
        try:
            self.model.load_state_dict(start.state_dict())
        except RuntimeError as error:  # torch's first line only names the class; the mismatch follows
            detail = next((line.strip() for line in str(error).splitlines()[1:] if line.strip()), str(error))
            raise FerlabError(f"--init {path}: its weights do not fit this model's options ({detail})") from None

    def _teacher(self, name: str) -> tuple[FerModel, Callable[[np.ndarray], np.ndarray]]:
        """The distillation teacher ``name``, frozen in eval mode (it must share the student's classes
        and input), and the map from its raw logits to those of its ``teacher_prior`` operating point."""
        path = resolve_model(name)
        teacher, record = load_model(path)
        if tuple(record["classes"]) != tuple(self.train_set.classes):
            raise FerlabError(
                f"teacher {path} predicts {', '.join(record['classes'])}; "
                f"the training data has {', '.join(self.train_set.classes)}"
            )
        if teacher.input_size[0] != self.model.input_size[0]:
            raise FerlabError(
                f"teacher {path} takes {teacher.input_size[0]}-channel input, the student "
                f"{self.model.input_size[0]}-channel: distillation here needs the same channels"
            )
        teacher.requires_grad_(False)
        teacher.to(self.device)
        targets = OutputCalibration.from_record(record).adjuster(self.config.teacher_prior)
        return (teacher.to(memory_format=torch.channels_last) if self.config.channels_last else teacher), targets

    def _optimizer(self) -> torch.optim.Optimizer:
        config = self.config
        params = self.model.parameters()
        if config.optimizer == "sgd":
            return torch.optim.SGD(
                params,
                lr=config.lr,
                momentum=config.momentum,
                weight_decay=config.weight_decay,
                nesterov=config.momentum > 0,
            )
        optimizer = torch.optim.Adam if config.optimizer == "adam" else torch.optim.AdamW
        return optimizer(params, lr=config.lr, weight_decay=config.weight_decay)

    def _scheduler(self) -> torch.optim.lr_scheduler.LRScheduler:
        config = self.config
        total = config.epochs * self.steps_per_epoch
        if config.schedule == "onecycle":
            return torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=config.lr, total_steps=total)
        warmup = max(1, int(config.warmup_epochs * self.steps_per_epoch))

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if config.schedule == "constant":
                return 1.0
            return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))

        return torch.optim.lr_scheduler.LambdaLR(self.optimizer, factor)

    # -- the loop -----------------------------------------------------------------------------

    def fit(self, resume: bool, on_epoch: EpochCallback | None = None) -> TrainResult:
        if resume:
            self._resume()
        elif self.info.is_main:
            write_atomically(self.run_dir / "config.yaml", yaml.safe_dump(self.config.to_dict(), sort_keys=False))
        writer = SummaryWriter(self.run_dir / "tb", purge_step=self.start_epoch) if self.info.is_main else None
        started = time.perf_counter()
        for epoch in range(self.start_epoch, self.config.epochs):
            row = self._train_epoch(epoch)
            row.update(self._validate())
            self._check_finite(row)
            self.history.append(row)
            if row["val_acc"] > self.best_val_acc:
                self.best_val_acc, self.best_epoch = row["val_acc"], epoch + 1
                if self.info.is_main:
                    save_atomically(
                        self._record({"val_acc": row["val_acc"], "epoch": epoch + 1}), self.run_dir / BEST_NAME
                    )
            if self.info.is_main:  # metrics.csv first: a last.pt always has its epoch's row beside it
                self._log(row, writer)
                self._save_last(epoch + 1)
            if on_epoch is not None and on_epoch(row):
                break
        train_seconds = time.perf_counter() - started
        if writer is not None:
            writer.close()
        result = TrainResult(self.run_dir, self.model, self.best_val_acc, self.best_epoch, self.history, train_seconds)
        if self.info.is_main:
            self._finish(result)
        return result

    def _check_finite(self, row: dict[str, float]) -> None:
        """Stop the run when an epoch's loss is not finite; the checkpoints of the epochs before it are kept.

        Every process sees the same reduced losses, so all of them stop together."""
        bad = [key for key in ("train_loss", "val_loss") if not math.isfinite(row[key])]
        if bad:
            done = len(self.history)
            kept = f"{self.run_dir / LAST_NAME} keeps epoch {done}" if done else "no epoch finished"
            raise FerlabError(
                f"epoch {int(row['epoch'])}: {bad[0]} is {row[bad[0]]} (not finite); training stopped, {kept}; "
                f"try a lower --lr (was {self.config.lr})"
            )

    def _train_epoch(self, epoch: int) -> dict[str, float]:
        config, info = self.config, self.info
        self.net.train()
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + epoch)
        order = torch.randperm(len(self.images), generator=generator)[info.rank :: info.world_size]
        sums = torch.zeros(3, dtype=torch.float64)  # loss x n, correct, n
        started = time.perf_counter()
        with self._progress(epoch) as (progress, task):
            for step in range(self.steps_per_epoch):
                index = order[step * config.batch_size : (step + 1) * config.batch_size]
                loss, correct = self._step(index)
                sums += torch.tensor([loss * len(index), correct, len(index)], dtype=torch.float64)
                if progress is not None:
                    elapsed = time.perf_counter() - started
                    progress.update(
                        task,
                        advance=1,
                        loss=sums[0] / sums[2],
                        acc=sums[1] / sums[2],
                        speed=sums[2] * info.world_size / max(elapsed, 1e-9),
                    )
        seconds = time.perf_counter() - started
        sums = all_reduce_sum(sums, info)
        average_buffers(self.model, info)
        return {
            "epoch": epoch + 1,
            "train_loss": float(sums[0] / sums[2]),
            "train_acc": float(sums[1] / sums[2]),
            "lr": self.optimizer.param_groups[0]["lr"],
            "epoch_seconds": seconds,
            "images_per_s": float(sums[2]) / seconds,
        }

    def _step(self, index: torch.Tensor) -> tuple[float, int]:
        x = self._inputs(self.images[index], train=True)
        labels = self.labels[index].to(self.device)
        targets = None if self.targets is None else self.targets[index].to(self.device)
        target = self.loss.target(labels, targets)
        if self.mixing is not None:
            x, target = self.mixing(x, target)
        with self._autocast():
            outputs = self.net(x)
            outputs = {**outputs, "logits": outputs["logits"] + self.logit_offset}
            loss = self.loss(outputs, target)
            if self.teachers:
                teacher_logits, mask = self._teacher_logits(x, index)
                kd = distillation_loss(outputs["logits"].float(), teacher_logits, self.config.kd_temperature, mask)
                loss = (1.0 - self.config.kd_weight) * loss + self.config.kd_weight * kd
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        correct = int((outputs["logits"].argmax(1) == labels).sum())
        return float(loss.detach()), correct

    @torch.no_grad()
    def _teacher_logits(self, x: torch.Tensor, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Each image of the batch ``x`` (training-set rows ``index``) seen by its own teacher: the
        teachers' target logits (0 for an image no teacher distils) and the mask of the distilled
        images (None when every image is)."""
        logits = torch.zeros(len(index), len(self.train_set.classes), device=self.device)
        distilled = torch.zeros(len(index), dtype=torch.bool, device=self.device)
        for teacher, targets, images in self.teachers:
            chosen = images[index].to(self.device)
            if chosen.any():
                teacher_x = fit_to_model(x[chosen], teacher.in_chans, teacher.input_size[1:])
                raw = teacher(teacher_x).float().cpu().numpy()
                logits[chosen] = torch.from_numpy(targets(raw)).to(self.device)
                distilled |= chosen
        return logits, None if distilled.all() else distilled

    def _inputs(self, images: torch.Tensor, train: bool) -> torch.Tensor:
        x = fit_to_model(to_tensor_batch(images.to(self.device)), self.model.in_chans, self.model.input_size[1:])
        x = normalize(self.augment(x) if train else x)
        return x.contiguous(memory_format=torch.channels_last) if self.config.channels_last else x

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.device.type == "cuda" and self.config.amp:
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @torch.no_grad()
    def _validate(self) -> dict[str, float]:
        self.model.eval()
        logits = []
        for start in range(0, len(self.val_set), 512):
            batch = torch.from_numpy(self.val_set.images[start : start + 512])
            with self._autocast():
                logits.append(self.model(self._inputs(batch, train=False)).float().cpu())
        logits_all = torch.cat(logits) + self.logit_offset.cpu()
        labels = torch.from_numpy(self.val_set.labels)
        return {
            "val_loss": float(nn.functional.cross_entropy(logits_all, labels)),
            "val_acc": float((logits_all.argmax(1) == labels).float().mean()),
            "val_macro_f1": float(multiclass_f1_score(logits_all, labels, len(self.val_set.classes), average="macro")),
            "val_balanced_acc": balanced_accuracy(
                confusion_counts(labels.numpy(), logits_all.argmax(1).numpy(), len(self.val_set.classes))
            ),
        }

    @contextlib.contextmanager
    def _progress(self, epoch: int):
        if not self.info.is_main:
            yield None, None
            return
        columns = (
            TextColumn(f"epoch {epoch + 1}/{self.config.epochs}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]:.3f} acc {task.fields[acc]:.3f} {task.fields[speed]:.0f} img/s"),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=True) as progress:
            yield progress, progress.add_task("train", total=self.steps_per_epoch, loss=0.0, acc=0.0, speed=0.0)

    # -- files --------------------------------------------------------------------------------

    def _record(self, metrics: dict[str, Any]) -> dict[str, Any]:
        options = dict(self.config.model_options)
        options.pop("in_chans", None)
        return model_record(
            self.model,
            self.config.model,
            options,
            self.train_set.classes,
            metrics,
            self.train_set.class_prior(),
            self.config.logit_adjustment,
            self.config.label_smoothing,
            self.class_weights,
        )

    def _save_last(self, epochs_done: int) -> None:
        rng = {"torch": torch.get_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        save_atomically(
            {
                "format": TRAIN_FORMAT,
                "config": self.config.to_dict(),
                "epoch": epochs_done,
                "model_state": self._record({}),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "rng": rng,
                "history": self.history,
                "best_val_acc": self.best_val_acc,
                "best_epoch": self.best_epoch,
            },
            self.run_dir / LAST_NAME,
        )

    def _resume(self) -> None:
        path = self.run_dir / LAST_NAME
        state = read_checkpoint(path, TRAIN_FORMAT)
        saved = migrate_config(state["config"])
        for key in ("model", "model_options", "data", "batch_size", "input_size"):
            if saved.get(key) != getattr(self.config, key):
                raise FerlabError(
                    f"{path}: this run was trained with {key} {saved.get(key)!r}, not {getattr(self.config, key)!r}; "
                    "resume with the same settings or pick another --out"
                )
        try:
            self.model.load_state_dict(state["model_state"]["state_dict"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (RuntimeError, ValueError, KeyError) as error:
            raise FerlabError(f"{path}: checkpoint does not fit this run ({str(error).splitlines()[0]})") from None
        torch.set_rng_state(state["rng"]["torch"])
        if "cuda" in state["rng"] and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["rng"]["cuda"], self.device)
        self.start_epoch, self.history = int(state["epoch"]), list(state["history"])
        self.best_val_acc, self.best_epoch = float(state["best_val_acc"]), int(state["best_epoch"])
        if self.info.is_main:
            self.console.print(f"resuming {self.run_dir} after epoch {self.start_epoch}", markup=False)

    def _log(self, row: dict[str, float], writer: SummaryWriter | None) -> None:
        write_csv_atomically(self.run_dir / "metrics.csv", self.history, METRIC_COLUMNS)
        if writer is not None:
            for key in METRIC_COLUMNS[1:]:
                writer.add_scalar(key, row[key], int(row["epoch"]))
            writer.flush()
        self.console.print(
            f"epoch {int(row['epoch'])}/{self.config.epochs}: train loss {row['train_loss']:.4f} "
            f"acc {row['train_acc']:.4f} | val loss {row['val_loss']:.4f} acc {row['val_acc']:.4f} "
            f"macro-F1 {row['val_macro_f1']:.4f} | {row['epoch_seconds']:.1f} s, {row['images_per_s']:.0f} img/s"
        )

    def _finish(self, result: TrainResult) -> None:
        from ferlab.engine.plots import plot_learning_curves

        plot_learning_curves(self.history, self.run_dir / "learning_curves.png", title=self.config.model)
        summary = {
            "model": self.config.model,
            "data": self.config.data,
            "best_val_acc": result.best_val_acc,
            "best_epoch": result.best_epoch,
            "epochs": self.config.epochs,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "train_images": len(self.train_set),
            "val_images": len(self.val_set),
            "mean_epoch_seconds": float(np.mean([r["epoch_seconds"] for r in self.history])),
            "history": self.history,
        }
        write_atomically(self.run_dir / "metrics.json", json.dumps(summary, indent=2))
        self.console.print(
            f"best val acc {result.best_val_acc:.4f} at epoch {result.best_epoch}; run in {self.run_dir}", markup=False
        )
