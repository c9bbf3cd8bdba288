"""Regression figures to TensorBoard and as PNGs, and the test set's predictions as a CSV."""

import csv
from pathlib import Path

import lightning as L
import numpy as np
from PIL import Image

from lit_dnn.callbacks.plots import RegressionFigure
from lit_dnn.callbacks.trackers import log_image


class RegressionPlots(L.Callback):
    """Predicted-vs-true scatter and residual histogram of the first target: ``val/regression`` each
    validation epoch (step = epoch), ``test/regression`` once, ``regression_test.png``, and
    ``predictions.csv`` (every test row: true and predicted value of each target)."""

    def __init__(self, output_dir: str, val: bool = True) -> None:
        self.output_dir = Path(output_dir)
        self.val = val
        self.figures: dict[tuple[str, str], RegressionFigure] = {}  # one per stage and target, redrawn

    def _draw(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> np.ndarray:
        predicted, true = pl_module.predictions[stage]
        name = pl_module.target_names[0]
        if (stage, name) not in self.figures:
            self.figures[stage, name] = RegressionFigure(f"({name})", f"{stage} set, {name}")
        rgb = self.figures[stage, name].draw(predicted[:, 0].numpy(), true[:, 0].numpy())
        log_image(trainer, f"{stage}/regression", rgb, trainer.current_epoch)
        return rgb

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.val and "val" in getattr(pl_module, "predictions", {}) and not trainer.sanity_checking and trainer.is_global_zero:
            self._draw(trainer, pl_module, "val")

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if "test" not in getattr(pl_module, "predictions", {}) or not trainer.is_global_zero:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(self._draw(trainer, pl_module, "test")).save(self.output_dir / "regression_test.png")
        predicted, true = pl_module.predictions["test"]
        names = pl_module.target_names
        with open(self.output_dir / "predictions.csv", "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([h for n in names for h in (f"{n}_true", f"{n}_predicted")])
            writer.writerows(
                [v for j in range(len(names)) for v in (f"{t[j]:.6g}", f"{p[j]:.6g}")] for t, p in zip(true.tolist(), predicted.tolist())
            )
