"""Figures to the trackers among a trainer's loggers: TensorBoard's images, MLflow's artifacts, W&B's media."""

import lightning as L
import numpy as np
from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger, WandbLogger


def log_image(trainer: L.Trainer, tag: str, rgb: np.ndarray, step: int) -> None:
    """Log an (height, width, 3) image to every TensorBoard logger (as ``tag`` at ``step``) and every
    MLflow logger (as the artifact ``<tag>/step_<step>.png``) and every W&B logger (as the image
    ``tag``, at W&B's current step: W&B refuses a step lower than one it has logged); other loggers
    take none."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.experiment.add_image(tag, rgb, global_step=step, dataformats="HWC")
        elif isinstance(logger, MLFlowLogger):
            logger.experiment.log_image(logger.run_id, rgb, artifact_file=f"{tag}/step_{step:03d}.png")
        elif isinstance(logger, WandbLogger):
            logger.log_image(key=tag, images=[rgb])
