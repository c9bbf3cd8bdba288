"""The training step every task shares, written once; a task (``Classifier``) plugs in its loss,
metrics and predictions."""

import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
from lightning import LightningModule
from torch import nn

from lit_dnn.errors import NonFiniteLossError
from lit_dnn.models.schedules import check_interval
from lit_dnn.workarounds import PlainHookName

log = logging.getLogger(__name__)
FINITE_CHECK_EVERY = 16  # batches between checks that the training loss is finite


class DenseModule(PlainHookName, LightningModule):
    """A network, its optimiser and schedule, and the step every task shares.

    Lightning's automatic optimisation: ``training_step`` returns one batch's loss, and Lightning
    runs the backward pass, ``trainer.gradient_clip_val``, ``trainer.accumulate_grad_batches``,
    the optimiser and the schedule, so every ``trainer.*`` count means what Lightning's
    documentation says. ``model_step`` (outputs, loss, targets of a batch) is shared by training,
    validation and test.

    A task implements ``criterion`` (one batch's mean loss from the network's outputs),
    ``add_train_sums`` (its running per-sample sums, e.g. correct predictions) and ``train_sums``
    (those sums by name), the evaluation hooks, ``metric_names`` and ``predict_step``. The
    running sums are plain buffers added to in place, summed across processes at epoch end: the
    ``train/*`` values are exact epoch means without a metric update or a ``self.log`` per batch.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
    ) -> None:
        super().__init__()
        check_interval(scheduler_interval)
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.scheduler_interval = scheduler_interval
        self.register_buffer("train_loss_sum", torch.zeros((), dtype=torch.float64), persistent=False)
        self.train_count = 0
        self.restored_fit_metrics: dict[str, float | None] = {}  # what the resumed checkpoint's run had logged

    # --- what a task provides
    def criterion(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One batch's mean loss, from the network's outputs."""
        raise NotImplementedError

    def add_train_sums(self, outputs: torch.Tensor, y: torch.Tensor) -> None:
        """Add a batch's (detached) outputs and targets to the task's running per-sample sums."""

    def train_sums(self) -> dict[str, torch.Tensor]:
        """The task's running per-sample sums, logged as ``train/<name>`` epoch means (e.g. correct → acc)."""
        return {}

    def metric_names(self) -> list[str]:
        """Every metric this module logs: what callbacks may monitor and sweeps may optimise."""
        raise NotImplementedError

    # --- the step
    def on_train_start(self) -> None:
        # what Keras prints as "Train on N samples": how an epoch is cut
        log.info("Training starts: %d batches per epoch.", self.trainer.num_training_batches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def model_step(self, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A batch's network outputs, mean loss and targets: the one forward pass of every stage."""
        x, y = batch
        outputs = self.net(x)
        return outputs, self.criterion(outputs, y), y

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        outputs, loss, y = self.model_step(batch)
        self.train_loss_sum.add_(loss.detach(), alpha=len(y))
        self.train_count += len(y)
        self.add_train_sums(outputs.detach(), y)
        if (batch_idx + 1) % FINITE_CHECK_EVERY == 0:
            self.stop_if_not_finite()
        return loss

    def stop_if_not_finite(self) -> None:
        """Checked every ``FINITE_CHECK_EVERY`` batches and at epoch end, on the epoch's running loss
        sum: reading a value back from a GPU waits for its queued work, a stall per check."""
        if not torch.isfinite(self.train_loss_sum):
            raise NonFiniteLossError(
                f"the training loss became {self.train_loss_sum.item()} at epoch {self.current_epoch + 1}, step {self.global_step}; "
                f"lower model.optimizer.lr or check the data (the last good checkpoint is kept)."
            )

    def on_train_epoch_end(self) -> None:
        self.stop_if_not_finite()
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
            # OneCycleLR: the run's optimiser steps as Lightning counts them (max_steps, limit_train_batches,
            # accumulate_grad_batches and the processes included)
            kwargs["total_steps"] = self.trainer.estimated_stepping_batches
        scheduler = factory(optimizer=optimizer, **kwargs)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}
