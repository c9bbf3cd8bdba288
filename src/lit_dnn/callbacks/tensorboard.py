"""Finding the TensorBoard writer among a trainer's loggers."""

import lightning as L
import numpy as np
from lightning.pytorch.loggers import TensorBoardLogger


def log_image(trainer: L.Trainer, tag: str, rgb: np.ndarray, step: int) -> None:
    """Log an (height, width, 3) image to every TensorBoard logger (none: nothing to do)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(tag, rgb, global_step=step, dataformats="HWC")
