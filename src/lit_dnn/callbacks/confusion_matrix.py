"""Confusion matrices to TensorBoard: validation every epoch, test once, counts saved as files."""

import csv
import json
from pathlib import Path

import lightning as L
import numpy as np

from lit_dnn.callbacks.plots import ConfusionFigure
from lit_dnn.callbacks.trackers import log_image


class ConfusionMatrixLogger(L.Callback):
    """Draws the counts the module's torchmetrics ``MulticlassConfusionMatrix`` accumulated
    batch by batch (synced across processes), with class names on the axes.

    Images go to TensorBoard as ``val/confusion_matrix`` (step = epoch) and
    ``test/confusion_matrix``; the test counts also go to ``output_dir`` as
    ``confusion_matrix.csv`` and ``.json``. One figure per stage is redrawn with new counts
    (its cost per validation epoch is in docs/benchmarks.md); ``val=False`` leaves those
    images out (for long sweeps). They are drawn in line: a background thread made the
    training batches slower by more than the drawing costs (the GIL and two busy cores).
    """

    def __init__(self, output_dir: str, val: bool = True, test: bool = True) -> None:
        self.output_dir = Path(output_dir)
        self.val = val
        self.test = test
        self.figures: dict[tuple[str, tuple[str, ...]], ConfusionFigure] = {}  # one per stage, redrawn

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        counts = getattr(pl_module, "confusion_counts", {}).get("val")
        if self.val and counts is not None and not trainer.sanity_checking and trainer.is_global_zero:
            self._draw(trainer, counts.long().numpy(), pl_module.class_names, "val", trainer.current_epoch)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not (self.test and trainer.is_global_zero):
            return
        counts = getattr(pl_module, "confusion_counts", {}).get("test")
        if counts is None:
            return
        counts = counts.long().numpy()
        self._draw(trainer, counts, pl_module.class_names, "test", trainer.current_epoch)
        names = pl_module.class_names
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with open(self.output_dir / "confusion_matrix.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["true \\ predicted", *names])
            writer.writerows([name, *row] for name, row in zip(names, counts.tolist()))
        (self.output_dir / "confusion_matrix.json").write_text(
            json.dumps({"class_names": names, "counts": counts.tolist()}, indent=1) + "\n"
        )

    def _draw(self, trainer: L.Trainer, counts: np.ndarray, class_names: list[str], stage: str, step: int) -> None:
        key = (stage, tuple(class_names))
        if key not in self.figures:
            self.figures[key] = ConfusionFigure(class_names, f"{stage} confusion matrix")
        log_image(trainer, f"{stage}/confusion_matrix", self.figures[key].draw(counts), step)
