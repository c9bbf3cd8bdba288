"""Seeding that makes a resumed run continue exactly as an uninterrupted one, and saving on a signal."""

import sys
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

from lit_dnn.seeds import epoch_seed


class EpochSeed(L.Callback):
    """Re-seeds torch's generator at every epoch start from ``(seed, epoch, rank)`` (``epoch_seed``).

    Dropout masks then depend only on the seed and the epoch, not on everything the
    process did before, so a run resumed from an epoch-end checkpoint draws the same
    masks as the run that never stopped (the batch order is seeded the same way by
    the datamodule's sampler). Always on: ``train`` adds it, it is not a config choice.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.manual_seed(epoch_seed(self.seed, trainer.current_epoch, trainer.global_rank))  # each process its own masks


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM (a cluster's preemption notice) or Ctrl+C, save ``last.ckpt`` and say how to resume.

    Lightning turns SIGTERM into ``SIGTERMException`` after the current batch; the epoch is
    then incomplete, so resuming repeats the rest of that epoch's batch count. During testing
    nothing is saved: the model then holds the best weights, and ``last.ckpt`` already holds the
    last epoch (resuming it only tests again). The sentence goes into the exception (SIGTERM:
    ``run_task`` prints it) or to stderr (Ctrl+C: Lightning exits with code 1 right after).
    """

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        checkpoint = trainer.checkpoint_callback
        if not isinstance(exception, (SIGTERMException, KeyboardInterrupt)) or checkpoint is None or not checkpoint.dirpath:
            return
        path = Path(checkpoint.dirpath) / "last.ckpt"
        if trainer.state.fn == TrainerFn.FITTING:
            trainer.save_checkpoint(path)
            told = f"saved {path} at epoch {trainer.current_epoch + 1}, step {trainer.global_step}; resume with ckpt_path={path}"
        elif path.exists():
            told = f"stopped while {trainer.state.fn.value}; {path} holds the last epoch: resume with ckpt_path={path}"
        else:
            return
        if isinstance(exception, KeyboardInterrupt):
            print(f"Stopped by Ctrl+C: {told}.", file=sys.stderr)
        exception.args = (told,)
