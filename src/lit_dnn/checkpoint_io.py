"""Checkpoint files that are always complete: written beside the target, then renamed."""

import os
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO


class AtomicCheckpointIO(TorchCheckpointIO):
    """``os.replace`` of a fully written, fsynced temporary file in the same folder.

    A process killed at any moment leaves either the previous ``last.ckpt`` or the new
    one, never half a file. (Lightning's own atomic save writes the temporary file in
    ``/tmp``, and a move across file systems is a copy, not a rename.)
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            with open(tmp, "wb") as f:
                torch.save(checkpoint, f)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
