"""Lightning's rich progress bar, moved every ``refresh_rate`` training steps."""

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ThrottledRichProgressBar(RichProgressBar):
    """``RichProgressBar`` that updates its bar and metrics every ``refresh_rate`` training
    steps (and on the last), as its documentation says, rather than on every step. A step is
    ``data.batches_per_step`` batches.

    Lightning's bar updates its task and re-reads the progress-bar metrics after each training
    batch whatever the refresh rate, a measurable share of the tutorial net's step (README,
    Speed). Every 10 steps the bar looks the same.
    """

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        done = batch_idx + 1
        if done % max(1, self.refresh_rate) == 0 or done == trainer.num_training_batches:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
