"""Confusion matrices to TensorBoard: validation every epoch, test once, counts saved as files."""

import csv
import json
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt

from lit_dnn.callbacks.plots import confusion_figure
from lit_dnn.callbacks.tensorboard import log_figure


class ConfusionMatrixLogger(L.Callback):
    """Draws the counts the module's torchmetrics ``MulticlassConfusionMatrix`` accumulated
    batch by batch (synced across processes), with class names on the axes.

    Images go to TensorBoard as ``val/confusion_matrix`` (step = epoch) and
    ``test/confusion_matrix``; the test counts also go to ``output_dir`` as
    ``confusion_matrix.csv`` and ``.json``.
    """

    def __init__(self, output_dir: str, val: bool = True, test: bool = True) -> None:
        self.output_dir = Path(output_dir)
        self.val = val
        self.test = test

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.val and not trainer.sanity_checking and trainer.is_global_zero:
            self._log(trainer, pl_module, "val", trainer.current_epoch)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (self.test and trainer.is_global_zero):
            return
        counts = self._log(trainer, pl_module, "test", trainer.current_epoch)
        if counts is None:
            return
        names = pl_module.class_names
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_dir / "confusion_matrix.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted", *names])
            writer.writerows([name, *row] for name, row in zip(names, counts.tolist()))
        (self.output_dir / "confusion_matrix.json").write_text(
            json.dumps({"class_names": names, "counts": counts.tolist()}, indent=1) + "\n"
        )

    @staticmethod
    def _log(trainer: L.Trainer, pl_module: L.LightningModule, stage: str, step: int):
        counts = getattr(pl_module, "confusion_counts", {}).get(stage)
        if counts is None:
            return None
        counts = counts.long().numpy()
        fig = confusion_figure(counts, pl_module.class_names, f"{stage} confusion matrix")
        log_figure(trainer, f"{stage}/confusion_matrix", fig, step)
        plt.close(fig)
        return counts
