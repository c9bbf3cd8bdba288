"""Regression on the shared training loop: a linear output, MSE (or MAE, Huber), MAE/RMSE/R2 in the target's units."""

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanAbsoluteError, MeanMetric, MeanSquaredError, MetricCollection, MinMetric, R2Score

from lit_dnn.errors import ConfigError
from lit_dnn.models.dense import DenseModule

LOSSES: dict[str, Callable[..., torch.Tensor]] = {"mse": F.mse_loss, "mae": F.l1_loss, "huber": F.huber_loss}


class Regressor(DenseModule):
    """The network's outputs are the targets, standardised with the training split's mean and std
    (``target_mean``/``target_std``; zeros and ones when the data does not standardise them): the loss
    is taken there, and every metric and prediction is turned back into the target's own units.

    Logged: ``{train,val,test}/loss`` (standardised units), ``train/mae``, ``{val,test}/{mae,rmse,r2}``,
    ``val/mae_best``. ``predictions`` holds the last validation and test epoch's (predicted, true)
    values for the figures.
    """

    def __init__(
        self,
        net: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer] | None = None,
        scheduler: Callable[..., Any] | None = None,
        scheduler_interval: str = "epoch",
        target_names: list[str] | None = None,
        target_mean: list[float] | None = None,
        target_std: list[float] | None = None,
        loss: str = "mse",
    ) -> None:
        super().__init__(net, optimizer, scheduler, scheduler_interval)
        if loss not in LOSSES:
            raise ConfigError(f"task.loss={loss!r} is not one of {', '.join(LOSSES)} (the regression losses).")
        outputs = net.num_outputs
        self.target_names = target_names or [f"y{i}" for i in range(outputs)]
        self.loss_name = loss
        self.loss_fn = LOSSES[loss]
        self.register_buffer("target_mean", torch.tensor(target_mean or [0.0] * outputs, dtype=torch.float32))
        self.register_buffer("target_std", torch.tensor(target_std or [1.0] * outputs, dtype=torch.float32))
        self.register_buffer("train_abs_error", torch.zeros((), dtype=torch.float64), persistent=False)
        self.metrics = nn.ModuleDict(
            {
                stage: MetricCollection(
                    {
                        "mae": MeanAbsoluteError(),
                        "rmse": MeanSquaredError(squared=False),
                        "r2": R2Score(multioutput="uniform_average"),
                    }
                )
                for stage in ("val", "test")
            }
        )
        self.losses = nn.ModuleDict({stage: MeanMetric(nan_strategy="disable") for stage in ("val", "test")})
        self.collected: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"val": [], "test": []}
        self.predictions: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # the last epoch's, read by callbacks
        self.val_mae_best = MinMetric()
        self.val_mae_best.persistent(True)

    def metric_names(self) -> list[str]:
        return [
            "train/loss",
            "train/mae",
            "val/mae_best",
            *(f"{stage}/{name}" for stage in ("val", "test") for name in ("mae", "rmse", "r2", "loss")),
        ]

    def unscale(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs * self.target_std + self.target_mean

    def criterion(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss in standardised units."""
        return self.loss_fn(outputs, (y - self.target_mean) / self.target_std)

    def add_train_sums(self, outputs: torch.Tensor, y: torch.Tensor) -> None:
        self.train_abs_error.add_((self.unscale(outputs) - y).abs().mean(1).sum())

    def train_sums(self) -> dict[str, torch.Tensor]:
        return {"mae": self.train_abs_error}

    def _eval_step(self, stage: str, batch: tuple[torch.Tensor, torch.Tensor]) -> None:
        outputs, loss, y = self.model_step(batch)
        self.losses[stage].update(loss, len(y))
        predicted = self.unscale(outputs)
        self.metrics[stage].update(predicted.flatten() if predicted.shape[1] == 1 else predicted, y.flatten() if y.shape[1] == 1 else y)
        self.collected[stage].append((predicted.detach(), y))

    def _eval_epoch_end(self, stage: str) -> dict[str, torch.Tensor]:
        values = {f"{stage}/{k}": v for k, v in self.metrics[stage].compute().items()}
        values[f"{stage}/loss"] = self.losses[stage].compute()
        if self.collected[stage]:
            predicted, true = (torch.cat(t).cpu() for t in zip(*self.collected[stage]))
            self.predictions[stage] = (predicted, true)
        self.collected[stage] = []
        self.metrics[stage].reset()
        self.losses[stage].reset()
        return values

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        values = self._eval_epoch_end("val")
        if not self.trainer.sanity_checking:
            self.val_mae_best.update(values["val/mae"])
        values["val/mae_best"] = self.val_mae_best.compute() if self.val_mae_best.update_count else values["val/mae"]
        self.log_dict(values, prog_bar=True)

    def test_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def on_test_epoch_end(self) -> None:
        self.log_dict(self._eval_epoch_end("test"))

    def predict_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        return self.unscale(self.net(x))
