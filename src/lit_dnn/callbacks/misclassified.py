"""A grid of misclassified test images (true and predicted class) in TensorBoard and the run folder."""

from pathlib import Path
from typing import Any

import lightning as L
import torch
from PIL import Image

from lit_dnn.callbacks.plots import examples_figure, to_rgb
from lit_dnn.callbacks.trackers import log_image


class MisclassifiedExamples(L.Callback):
    """Keeps the first ``max_examples`` test mistakes, batch by batch; images only (2-D inputs)."""

    def __init__(self, output_dir: str, max_examples: int = 32) -> None:
        self.output_dir = Path(output_dir)
        self.max_examples = max_examples

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.examples: list[tuple[torch.Tensor, int, int]] = []

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        x, y = batch
        if x.ndim != 3 or len(self.examples) >= self.max_examples or not isinstance(outputs, dict):
            return
        wrong = (outputs["preds"] != y).nonzero().flatten()[: self.max_examples - len(self.examples)]
        self.examples += [(x[i].cpu(), int(y[i]), int(outputs["preds"][i])) for i in wrong.tolist()]

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.examples or not trainer.is_global_zero:
            return
        names = pl_module.class_names
        images = torch.stack([e[0] for e in self.examples])
        normalization = getattr(trainer.datamodule, "normalization", None)
        pixels = normalization is not None and normalization.scale == 1 / 255
        if pixels:  # the original pixels, as the dataset's files hold them (0 black, 255 white)
            images = normalization.invert(images)
        fig = examples_figure(
            images.numpy(),
            [names[e[1]] for e in self.examples],
            [names[e[2]] for e in self.examples],
            f"misclassified test images (first {len(self.examples)})",
            value_range=(0, 255) if pixels else None,
        )
        rgb = to_rgb(fig)
        log_image(trainer, "test/misclassified", rgb, trainer.current_epoch)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rgb).save(self.output_dir / "misclassified.png")
