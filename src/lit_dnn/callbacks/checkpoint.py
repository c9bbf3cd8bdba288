"""The best epoch's checkpoint, named as the screen counts epochs (Keras' 1..N)."""

from typing import Any

from lightning.pytorch.callbacks import ModelCheckpoint


class EpochCheckpoint(ModelCheckpoint):
    """Lightning's ``ModelCheckpoint`` whose ``{epoch}`` in ``filename`` counts from 1, as the
    progress lines do: the run's ``Epoch 7/8`` line and its ``epoch_007.ckpt`` name one epoch.
    Only the file name changes; the checkpoint's own ``epoch`` field stays Lightning's (0-based)."""

    def format_checkpoint_name(self, metrics: dict[str, Any], filename: str | None = None, ver: int | None = None, **kwargs: Any) -> str:
        if "epoch" in metrics:
            metrics = {**metrics, "epoch": int(metrics["epoch"]) + 1}
        return super().format_checkpoint_name(metrics, filename, ver, **kwargs)
