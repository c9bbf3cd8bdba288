"""Seeding that makes a resumed run continue exactly as an uninterrupted one."""

import lightning as L
import torch
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException


class EpochSeed(L.Callback):
    """Re-seeds torch's generator at every epoch start from ``(seed, epoch)``.

    Dropout masks then depend only on the seed and the epoch, not on everything the
    process did before, so a run resumed from an epoch-end checkpoint draws the same
    masks as the run that never stopped (the batch order is seeded the same way by
    the datamodule's sampler). Always on: ``train`` adds it, it is not a config choice.
    """

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        torch.manual_seed(self.seed * 1_000_003 + trainer.current_epoch)


class PreemptionCheckpoint(L.Callback):
    """On SIGTERM (a cluster's preemption notice) save ``last.ckpt`` before the process exits.

    Lightning turns SIGTERM into ``SIGTERMException`` after the current batch; the epoch
    is then incomplete, so resuming repeats the rest of that epoch's batch count.
    """

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        checkpoint = trainer.checkpoint_callback
        fitting = trainer.state.fn == TrainerFn.FITTING  # during testing the model holds the best weights, not the last
        if isinstance(exception, SIGTERMException) and fitting and checkpoint is not None and checkpoint.dirpath:
            path = f"{checkpoint.dirpath}/last.ckpt"
            trainer.save_checkpoint(path)
            exception.args = (path,)
