"""The LightningModule: loss, metrics and optimisers around a plain network."""

import inspect
import logging
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from lightning import LightningModule
from torch import nn
from torchmetrics import MaxMetric, MeanMetric, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
)

from lit_dnn.errors import ConfigError, NonFiniteLossError
from lit_dnn.models.schedules import check_interval

log = logging.getLogger(__name__)


def eval_metrics(num_classes: int) -> MetricCollection:
    """Accuracy; for two classes also precision, recall, F1 and AUROC of class 1."""
    if num_classes == 2:
        return MetricCollection({
            "acc": BinaryAccuracy(validate_args=False),
            "precision": BinaryPrecision(validate_args=False),
            "recall": BinaryRecall(validate_args=False),
            "f1": BinaryF1Score(validate_args=False),
            "auroc": BinaryAUROC(validate_args=False),
        })
    return MetricCollection({"acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False)})


class Classifier(LightningModule):
    """Cross-entropy on logits; softmax probabilities from ``predict_step``.

    Metrics are updated every step but computed and logged once per epoch: per-step
    ``self.log`` calls and metric syncs are most of a framework's per-step cost on a
    model this small. Per-epoch values are exact (torchmetrics syncs across processes).

    One training path: every training step receives a list of batches (``data.batches_per_step``
    of them, Keras' ``steps_per_execution``; a list of one is the plain case) and the module steps
    the optimiser once per batch itself (Lightning's manual optimisation): the same updates as one
    batch per step, with Lightning's per-step overhead paid once per list. ``gradient_clip_val``
    clips each batch's gradient norm (Lightning's ``trainer.gradient_clip_val`` is for automatic
    optimisation); ``trainer.max_steps`` counts optimiser steps, i.e. batches.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        class_names: list[str] | None = None,
        gradient_clip_val: float | None = None,
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        if gradient_clip_val is not None and not (isinstance(gradient_clip_val, (int, float)) and 0 < gradient_clip_val < math.inf):
            raise ConfigError(f"model.gradient_clip_val={gradient_clip_val!r} must be a positive number (the largest gradient "
                              f"norm of a batch), or null for no clipping.")
        self.gradient_clip_val = gradient_clip_val
        self.net = net
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        check_interval(scheduler_interval)
        self.scheduler_interval = scheduler_interval
        num_classes = net.layers[-1].out_features
        self.class_names = class_names or [str(i) for i in range(num_classes)]
        self.binary = num_classes == 2
        # training: a running loss sum and correct count, two in-place adds per batch (torchmetrics
        # updates of loss and accuracy at every step cost far more; README, Speed); summed
        # across processes at epoch end, so train/loss and train/acc are exact epoch means
        self.register_buffer("train_loss_sum", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("train_correct", torch.zeros((), dtype=torch.float64), persistent=False)
        self.train_count = 0
        # per evaluation stage: its metrics, mean loss and confusion counts
        self.metrics = nn.ModuleDict({stage: eval_metrics(num_classes) for stage in ("val", "test")})
        self.losses = nn.ModuleDict({stage: MeanMetric(nan_strategy="disable") for stage in ("val", "test")})
        self.confusion = nn.ModuleDict(
            {stage: MulticlassConfusionMatrix(num_classes, validate_args=False) for stage in ("val", "test")}
        )
        self.confusion_counts: dict[str, torch.Tensor] = {}  # the last epoch's, read by callbacks
        self.restored_fit_metrics: dict[str, float | None] = {}  # what the resumed checkpoint's run had logged
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # kept in checkpoints, so a resumed run knows its best

    def on_train_start(self) -> None:
        # what Keras prints as "Train on N samples": how an epoch is cut into batches and steps
        loader = self.trainer.train_dataloader
        sampler = getattr(loader, "sampler", None)
        log.info("Training starts: %d batches per epoch, %d per step.",
                 getattr(sampler, "num_batches", self.trainer.num_training_batches), getattr(sampler, "size", 1))

    def metric_names(self) -> list[str]:
        """Every metric this module logs: what callbacks may monitor and sweeps may optimise."""
        evals = list(self.metrics["val"].keys()) + ["loss"]
        return (["train/loss", "train/acc", "val/acc_best"] + [f"{stage}/{name}" for stage in ("val", "test") for name in evals]
                + [f"test/acc_per_class/{name}" for name in self.class_names])

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """The epoch's logged metrics, so a run resumed after its last epoch reports them too."""
        checkpoint["fit_metrics"] = {k: float(v) for k, v in self.trainer.callback_metrics.items() if not k.startswith("test/")}

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.restored_fit_metrics = {k: v if math.isfinite(v) else None for k, v in checkpoint.get("fit_metrics", {}).items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: list[tuple[torch.Tensor, torch.Tensor]], batch_idx: int) -> None:
        optimizer = self.optimizers()
        scheduler = self.lr_schedulers() if self.scheduler_interval == "step" else None
        for x, y in batch:  # a list of batches (BatchGroupSampler)
            if 0 <= self.trainer.max_steps <= self.global_step:
                break
            loss = self._loss(x, y)
            optimizer.zero_grad()
            self.manual_backward(loss)
            if self.gradient_clip_val is not None:
                self.clip_gradients(optimizer, gradient_clip_val=self.gradient_clip_val, gradient_clip_algorithm="norm")
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
        self._stop_if_not_finite()
        return None

    def _loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of one training batch, added to the epoch's running sums."""
        logits = self.net(x)
        loss = F.cross_entropy(logits, y)
        self.train_loss_sum.add_(loss.detach(), alpha=len(y))
        self.train_correct.add_(logits.argmax(1).eq(y).sum())
        self.train_count += len(y)
        return loss

    def _stop_if_not_finite(self) -> None:
        """Checked once per Lightning step on the epoch's running loss sum, not per batch:
        reading a value back from a GPU waits for the queued work (a sync per batch)."""
        if not torch.isfinite(self.train_loss_sum):
            raise NonFiniteLossError(
                f"the training loss became {self.train_loss_sum.item()} at epoch {self.current_epoch}, step {self.global_step}; "
                f"lower model.optimizer.lr or check the data (the last good checkpoint is kept)."
            )

    def on_train_epoch_end(self) -> None:
        scheduler = self.lr_schedulers()
        if scheduler is not None and self.scheduler_interval == "epoch":
            scheduler.step()
        sums = torch.stack([self.train_loss_sum, self.train_correct, self.train_loss_sum.new_tensor(self.train_count)])
        loss_sum, correct, count = self.trainer.strategy.reduce(sums, reduce_op="sum").tolist()
        self.log_dict({"train/loss": loss_sum / max(count, 1), "train/acc": correct / max(count, 1)})
        self.train_loss_sum.zero_()
        self.train_correct.zero_()
        self.train_count = 0

    def _eval_step(self, stage: str, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = self.net(x)
        self.losses[stage].update(F.cross_entropy(logits, y), len(y))
        preds = logits.argmax(dim=1)
        scores = logits.softmax(dim=1)[:, 1] if self.binary else logits
        self.metrics[stage].update(scores, y)
        self.confusion[stage].update(preds, y)
        return {"preds": preds}

    def _eval_epoch_end(self, stage: str) -> dict[str, torch.Tensor]:
        values = {f"{stage}/{k}": v for k, v in self.metrics[stage].compute().items()}
        values[f"{stage}/loss"] = self.losses[stage].compute()
        self.confusion_counts[stage] = self.confusion[stage].compute().cpu()
        for metric in (self.metrics[stage], self.losses[stage], self.confusion[stage]):
            metric.reset()
        return values

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        values = self._eval_epoch_end("val")
        if not self.trainer.sanity_checking:
            self.val_acc_best.update(values["val/acc"])
        values["val/acc_best"] = self.val_acc_best.compute() if self.val_acc_best.update_count else values["val/acc"]
        self.log_dict(values, prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> dict[str, torch.Tensor]:
        return self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        values = self._eval_epoch_end("test")
        counts = self.confusion_counts["test"].double()
        per_class = counts.diagonal() / counts.sum(1).clamp_min(1)
        values.update({f"test/acc_per_class/{name}": acc for name, acc in zip(self.class_names, per_class)})
        self.log_dict(values)

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.net(x).softmax(dim=1)

    def optimizer_steps_planned(self) -> int:
        """The run's optimiser steps (batches): Lightning's estimate counts its steps, lists of batches.
        A sampler without ``num_batches`` (a DataLoader of lists of one) has one batch a step."""
        steps = self.trainer.estimated_stepping_batches  # also loads the train dataloader when not yet loaded
        sampler = getattr(self.trainer.train_dataloader, "sampler", None)
        if not hasattr(sampler, "num_batches"):
            return steps
        planned = sampler.num_batches * self.trainer.max_epochs
        return min(planned, self.trainer.max_steps) if self.trainer.max_steps >= 0 else planned

    def configure_optimizers(self) -> Any:
        if self.optimizer_factory is None:
            raise ValueError("this Classifier was built without an optimizer (for evaluation only); pass optimizer= to train it")
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        kwargs = {}
        factory = self.scheduler_factory
        if "total_steps" in inspect.signature(factory.func).parameters and "total_steps" not in factory.keywords:
            kwargs["total_steps"] = self.optimizer_steps_planned()  # OneCycleLR
        scheduler = factory(optimizer=optimizer, **kwargs)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": self.scheduler_interval}}
