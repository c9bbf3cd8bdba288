"""``loss.png`` and ``accuracy.png`` (regression: ``mae.png``), train vs validation per epoch, for
people without TensorBoard, and ``history.csv``: Keras' ``history.history``, one row per epoch."""

import csv
from pathlib import Path
from typing import Any

import lightning as L

from lit_dnn.callbacks.plots import curves_figure


class TrainingCurves(L.Callback):
    """Records each epoch's metrics and draws them when fitting ends.

    The module logs an epoch's train metrics after this callback's ``on_train_epoch_end``
    runs, so an epoch is recorded when its values are complete: at the next epoch's start,
    at the end of training, and when a checkpoint is saved (which also stores the history,
    so a resumed run's curves start at epoch 1).
    """

    def __init__(self, output_dir: str, metric: str = "acc") -> None:
        self.output_dir = Path(output_dir)
        self.metric = metric
        self.keys = ("train/loss", "val/loss", f"train/{metric}", f"val/{metric}")
        self.history: dict[int, dict[str, float]] = {}

    def _record(self, trainer: L.Trainer, epoch: int) -> None:
        metrics = trainer.callback_metrics
        if epoch >= 0 and not trainer.sanity_checking and all(k in metrics for k in self.keys):
            self.history[epoch] = {k: float(metrics[k]) for k in self.keys}

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, trainer.current_epoch - 1)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._record(trainer, trainer.current_epoch)
        checkpoint["training_curves"] = {str(k): v for k, v in self.history.items()}

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self.history = {int(k): v for k, v in checkpoint.get("training_curves", {}).items()}

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._record(trainer, trainer.current_epoch - 1)
        if not self.history or not trainer.is_global_zero:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        epochs = sorted(self.history)
        with open(self.output_dir / "history.csv", "w", newline="") as f:  # Keras' names: loss, acc, val_loss, val_acc
            writer = csv.writer(f)
            writer.writerow(["epoch", *(k.replace("train/", "").replace("val/", "val_") for k in self.keys)])
            writer.writerows([e + 1, *(self.history[e][k] for k in self.keys)] for e in epochs)
        for metric, name in (("loss", "loss.png"), (self.metric, "accuracy.png" if self.metric == "acc" else f"{self.metric}.png")):
            fig = curves_figure(
                [e + 1 for e in epochs],
                [self.history[e][f"train/{metric}"] for e in epochs],
                [self.history[e][f"val/{metric}"] for e in epochs],
                "accuracy" if metric == "acc" else metric,
            )
            fig.savefig(self.output_dir / name)
