"""Finding the TensorBoard writer among a trainer's loggers."""

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure


def log_figure(trainer: L.Trainer, tag: str, fig: Figure, step: int) -> None:
    """Log a figure as an image to every TensorBoard logger (none: nothing to do)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_figure(tag, fig, global_step=step, close=False)
