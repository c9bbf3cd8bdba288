"""Keras' ``fit`` output: a bar per epoch counting batches, and one line kept per finished epoch."""

import logging
import sys
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ProgressBar
from tqdm import tqdm

log = logging.getLogger(__name__)


def epoch_line(metrics: dict[str, Any]) -> str:
    """``acc 0.9301 - loss 0.2410 - val_acc 0.9652 - val_loss 0.1203``: what training logs (train/*) and
    the same metrics on validation, with Keras' names; the others are in TensorBoard."""
    names = sorted(k.split("/", 1)[1] for k in metrics if k.startswith("train/") and k.count("/") == 1)
    shown = [(name, f"train/{name}") for name in names] + [(f"val_{name}", f"val/{name}") for name in names]
    return " - ".join(f"{label} {float(metrics[key]):.4f}" for label, key in shown if key in metrics)


class EpochProgressBar(ProgressBar):
    """A bar over the epoch's batches titled ``Epoch 3/8`` (epochs counted 1..N, as Keras does),
    with the running training loss; when an epoch is done, one line that stays, on screen and in
    ``train.log`` (Keras' ``verbose=2``)::

        Epoch 3/8 - 215 batches - 0.5 s - acc 0.9537 - loss 0.1529 - val_acc 0.9626 - val_loss 0.1240

    The line of an epoch is written when the next begins (or training ends), once the module has logged the
    epoch's ``train/*`` means. The bar is drawn only on a terminal (``tqdm``'s ``disable=None``)
    and at most every ``refresh_seconds``.
    """

    def __init__(self, refresh_seconds: float = 0.5) -> None:
        super().__init__()
        self.refresh_seconds = refresh_seconds
        self.enabled = True
        self.bar: tqdm | None = None
        self.finished: tuple[int, int, float] | None = None  # epoch, batches, seconds: the line still to write

    def disable(self) -> None:
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # a resume from a checkpoint saved mid-epoch (Ctrl+C, SIGTERM) continues that epoch without
        # on_train_epoch_start: its batches count from here, under the epoch's own number
        self.epoch, self.batches, self.start, self.shown = trainer.current_epoch + 1, 0, time.monotonic(), 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write_finished_epoch(trainer)
        self.epoch, self.batches, self.start, self.shown = trainer.current_epoch + 1, 0, time.monotonic(), 0.0
        if self.enabled and trainer.is_global_zero:
            self.bar = tqdm(
                total=trainer.num_training_batches,
                desc=f"Epoch {self.epoch}/{trainer.max_epochs}",
                unit="batch",
                leave=False,
                dynamic_ncols=True,
                file=sys.stderr,
                disable=None,
            )

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.batches += 1
        if self.bar is None or self.bar.disable:
            return
        self.bar.update()
        now = time.monotonic()
        if now - self.shown >= self.refresh_seconds:  # reading the loss back waits for a GPU: not every step
            self.shown = now
            count = getattr(pl_module, "train_count", 0)
            if count:
                self.bar.set_postfix(loss=f"{float(pl_module.train_loss_sum) / count:.4f}", refresh=False)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.close_bar()
        self.finished = (self.epoch, self.batches, time.monotonic() - self.start)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.write_finished_epoch(trainer)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.close_bar()

    def write_finished_epoch(self, trainer: L.Trainer) -> None:
        if self.finished is not None and trainer.is_global_zero:
            epoch, batches, seconds = self.finished
            line = epoch_line(trainer.callback_metrics)
            log.info("Epoch %d/%d - %d batches - %.1f s%s", epoch, trainer.max_epochs, batches, seconds, f" - {line}" if line else "")
        self.finished = None

    def close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def print(self, *args: Any, **kwargs: Any) -> None:
        (self.bar.write if self.bar is not None else print)(" ".join(map(str, args)), **kwargs)
