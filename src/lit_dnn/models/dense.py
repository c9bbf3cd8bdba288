"""The optimisation loop every task shares, written once; a task (``Classifier``) plugs in its loss,
metrics and predictions."""

import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
from lightning import LightningModule
from torch import nn

from lit_dnn.errors import ConfigError, NonFiniteLossError
from lit_dnn.models.schedules import check_interval
from lit_dnn.runtime import PlainHookName

log = logging.getLogger(__name__)


class DenseModule(PlainHookName, LightningModule):
    """A network, its optimiser and schedule, and one training path for every task.

    Every training step receives a sequence of batches (``data.batches_per_step`` of them, Keras'
    ``steps_per_execution``; one is the plain case) and the module steps the optimiser
    once per batch itself (Lightning's manual optimisation): the same updates as one batch per
    step, with Lightning's per-step overhead paid once per list. ``gradient_clip_val`` clips each
    batch's gradient norm (Lightning's ``trainer.gradient_clip_val`` is for automatic optimisation);
    ``trainer.max_steps`` counts optimiser steps, i.e. batches.

    A task implements ``training_loss`` (one batch's loss from the network's outputs),
    ``add_train_sums`` (its running sums, e.g. correct predictions, added once per step over the
    step's outputs: a few small ops per batch between the optimiser's kernels cost more than their
    own time; README, Speed) and ``train_sums`` (those sums by name), the evaluation hooks,
    ``metric_names`` and ``predict_step``.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        gradient_clip_val: float | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        if gradient_clip_val is not None and not (isinstance(gradient_clip_val, (int, float)) and 0 < gradient_clip_val < math.inf):
            raise ConfigError(
                f"model.gradient_clip_val={gradient_clip_val!r} must be a positive number (the largest gradient "
                f"norm of a batch), or null for no clipping."
            )
        check_interval(scheduler_interval)
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.gradient_clip_val = gradient_clip_val
        # a running loss sum and sample count, an in-place add per batch (a torchmetrics update per
        # step costs far more; README, Speed); summed across processes at epoch end, so train/*
        # are exact epoch means
        self.register_buffer("train_loss_sum", torch.zeros((), dtype=torch.float64), persistent=False)
        self.train_count = 0
        self.restored_fit_metrics: dict[str, float | None] = {}  # what the resumed checkpoint's run had logged

    # --- what a task provides
    def training_loss(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One batch's mean loss, from the network's outputs."""
        raise NotImplementedError

    def add_train_sums(self, outputs: torch.Tensor, y: torch.Tensor) -> None:
        """Add a step's (detached) outputs and targets to the task's running per-sample sums."""

    def train_sums(self) -> dict[str, torch.Tensor]:
        """The task's running per-sample sums, logged as ``train/<name>`` epoch means (e.g. correct → acc)."""
        return {}

    def metric_names(self) -> list[str]:
        """Every metric this module logs: what callbacks may monitor and sweeps may optimise."""
        raise NotImplementedError

    # --- the loop
    def batches_per_epoch(self) -> int:
        """The optimiser steps (batches) of a training epoch: the sampler's, or fewer where Lightning
        runs fewer of its steps (``debug=fdr``'s fast_dev_run: one list of ``size`` batches)."""
        sampler = getattr(self.trainer.train_dataloader, "sampler", None)
        if not hasattr(sampler, "num_batches"):  # a DataLoader of lists of one
            return self.trainer.num_training_batches
        return min(sampler.num_batches, self.trainer.num_training_batches * sampler.size)

    def on_train_start(self) -> None:
        # what Keras prints as "Train on N samples": how an epoch is cut into batches and steps
        sampler = getattr(self.trainer.train_dataloader, "sampler", None)
        log.info("Training starts: %d batches per epoch, %d per step.", self.batches_per_epoch(), getattr(sampler, "size", 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: list[tuple[torch.Tensor, torch.Tensor]], batch_idx: int) -> None:
        optimizer = self.optimizers()
        scheduler = self.lr_schedulers() if self.scheduler_interval == "step" else None
        if self.trainer.max_steps >= 0:  # trainer.max_steps counts batches: it may end inside this list
            batch = batch[: max(self.trainer.max_steps - self.global_step, 0)]
        outputs, targets = [], []
        for x, y in batch:  # a step's batches (StepBatches), each cut as it is reached
            out = self.net(x)
            loss = self.training_loss(out, y)
            optimizer.zero_grad()
            self.manual_backward(loss)
            if self.gradient_clip_val is not None:
                self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            outputs.append(out.detach())
            targets.append(y)
        if targets:  # the step's running sums from its outputs at once: the same per-sample losses, summed
            out, y = torch.cat(outputs), torch.cat(targets)
            self.train_loss_sum.add_(self.training_loss(out, y), alpha=len(y))
            self.train_count += len(y)
            self.add_train_sums(out, y)
        self._stop_if_not_finite()

    def _stop_if_not_finite(self) -> None:
        """Checked once per Lightning step on the epoch's running loss sum, not per batch:
        reading a value back from a GPU waits for the queued work (a sync per batch)."""
        if not torch.isfinite(self.train_loss_sum):
            raise NonFiniteLossError(
                f"the training loss became {self.train_loss_sum.item()} at epoch {self.current_epoch + 1}, step {self.global_step}; "
                f"lower model.optimizer.lr or check the data (the last good checkpoint is kept)."
            )

    def on_train_epoch_end(self) -> None:
        scheduler = self.lr_schedulers()
        if scheduler is not None and self.scheduler_interval == "epoch":
            scheduler.step()
        extra = self.train_sums()
        sums = torch.stack(
            [self.train_loss_sum, *(s.to(torch.float64) for s in extra.values()), self.train_loss_sum.new_tensor(self.train_count)]
        )
        loss_sum, *extra_sums, count = self.trainer.strategy.reduce(sums, reduce_op="sum").tolist()
        count = max(count, 1)
        self.log_dict({"train/loss": loss_sum / count, **{f"train/{k}": v / count for k, v in zip(extra, extra_sums)}})
        for buffer in (self.train_loss_sum, *extra.values()):
            buffer.zero_()
        self.train_count = 0

    # --- checkpoints
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The epoch's logged metrics, so a run resumed after its last epoch reports them too."""
        checkpoint["fit_metrics"] = {k: float(v) for k, v in self.trainer.callback_metrics.items() if not k.startswith("test/")}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.restored_fit_metrics = {k: v if math.isfinite(v) else None for k, v in checkpoint.get("fit_metrics", {}).items()}

    # --- optimiser and schedule
    def optimizer_steps_planned(self) -> int:
        """The run's optimiser steps (batches), at most ``trainer.max_steps``."""
        _ = self.trainer.estimated_stepping_batches  # has Lightning load the train dataloader (and count its steps)
        planned = self.batches_per_epoch() * self.trainer.max_epochs
        return min(planned, self.trainer.max_steps) if self.trainer.max_steps >= 0 else planned

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise ValueError(
                f"this {type(self).__name__} was built without an optimizer (for evaluation only); pass optimizer= to train it"
            )
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        kwargs = {}
        factory = self.scheduler_factory
        if "total_steps" in inspect.signature(factory.func).parameters and "total_steps" not in factory.keywords:
            kwargs["total_steps"] = self.optimizer_steps_planned()  # OneCycleLR
        scheduler = factory(optimizer=optimizer, **kwargs)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}
