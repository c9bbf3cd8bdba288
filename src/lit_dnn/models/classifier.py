"""Classification on the shared training loop: cross-entropy, accuracy (and the binary metrics), confusion counts."""

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
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

from lit_dnn.errors import ConfigError
from lit_dnn.models.dense import DenseModule
from lit_dnn.text import printable


def per_class_key(name: str) -> str:
    """The metric key of one class's test accuracy: Lightning's table, TensorBoard and metrics.json
    show it, so a class name from a file is written with its control characters escaped."""
    return f"test/acc_per_class/{printable(name)}"


def eval_metrics(num_classes: int) -> MetricCollection:
    """Accuracy; for two classes also precision, recall, F1 and AUROC of class 1."""
    if num_classes == 2:
        return MetricCollection(
            {
                "acc": BinaryAccuracy(validate_args=False),
                "precision": BinaryPrecision(validate_args=False),
                "recall": BinaryRecall(validate_args=False),
                "f1": BinaryF1Score(validate_args=False),
                "auroc": BinaryAUROC(validate_args=False),
            }
        )
    return MetricCollection({"acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False)})


class Classifier(DenseModule):
    """Cross-entropy on logits; softmax probabilities from ``predict_step``.

    Metrics are updated every step but computed and logged once per epoch: per-step
    ``self.log`` calls and metric syncs are most of a framework's per-step cost on a
    model this small. Per-epoch values are exact (torchmetrics syncs across processes).
    The optimisation loop is ``DenseModule``'s.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        class_names: list[str] | None = None,
        loss: str = "cross_entropy",
        binary_output: str = "softmax",
    ) -> None:
        super().__init__(net, optimizer, scheduler, scheduler_interval)
        if loss != "cross_entropy":
            raise ConfigError(f"task.loss={loss!r}: a classifier trains with cross_entropy; mse, mae and huber are for task=regression.")
        # one sigmoid unit (binary_output=sigmoid) scores class 1 of two; otherwise one logit per class
        self.sigmoid = net.num_outputs == 1
        if self.sigmoid != (binary_output == "sigmoid"):
            needs = "one output" if binary_output == "sigmoid" else "one output per class"
            raise ConfigError(f"model.binary_output={binary_output!r} needs a network with {needs}.")
        num_classes = 2 if self.sigmoid else net.num_outputs
        self.class_names = class_names or [str(i) for i in range(num_classes)]
        self.binary = num_classes == 2
        self.register_buffer("train_correct", torch.zeros((), dtype=torch.float64), persistent=False)
        # per evaluation stage: its metrics, mean loss and confusion counts
        self.metrics = nn.ModuleDict({stage: eval_metrics(num_classes) for stage in ("val", "test")})
        self.losses = nn.ModuleDict({stage: MeanMetric(nan_strategy="disable") for stage in ("val", "test")})
        self.confusion = nn.ModuleDict({stage: MulticlassConfusionMatrix(num_classes, validate_args=False) for stage in ("val", "test")})
        self.confusion_counts: dict[str, torch.Tensor] = {}  # the last epoch's, read by callbacks
        self.val_acc_best = MaxMetric()
        self.val_acc_best.persistent(True)  # kept in checkpoints, so a resumed run knows its best

    def metric_names(self) -> list[str]:
        evals = list(self.metrics["val"].keys()) + ["loss"]
        return (
            ["train/loss", "train/acc", "val/acc_best"]
            + [f"{stage}/{name}" for stage in ("val", "test") for name in evals]
            + [per_class_key(name) for name in self.class_names]
        )

    def criterion(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Cross-entropy, or binary cross-entropy of one sigmoid unit."""
        if self.sigmoid:
            logit = logits[:, 0]
            return F.binary_cross_entropy_with_logits(logit, y.to(logit.dtype))
        return F.cross_entropy(logits, y)

    def predicted_classes(self, logits: torch.Tensor) -> torch.Tensor:
        """The predicted classes."""
        return (logits[:, 0] > 0).long() if self.sigmoid else logits.argmax(1)

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, classes): softmax, or [1 - p, p] of the sigmoid unit."""
        if self.sigmoid:
            p = logits[:, 0].sigmoid()
            return torch.stack([1 - p, p], dim=1)
        return logits.softmax(dim=1)

    def add_train_sums(self, logits: torch.Tensor, y: torch.Tensor) -> None:
        self.train_correct.add_(self.predicted_classes(logits).eq(y).sum())

    def train_sums(self) -> dict[str, torch.Tensor]:
        return {"acc": self.train_correct}

    def _eval_step(self, stage: str, batch: tuple[torch.Tensor, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits, loss, y = self.model_step(batch)
        preds = self.predicted_classes(logits)
        self.losses[stage].update(loss, len(y))
        scores = self.probabilities(logits)[:, 1] if self.binary else logits
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
        values.update({per_class_key(name): acc for name, acc in zip(self.class_names, per_class)})
        self.log_dict(values)

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.probabilities(self.net(x))
