"""A callback the DDP tests add from the command line (PYTHONPATH=tests): which samples each rank trains on."""

import json
from pathlib import Path

import lightning as L


class IndexRecorder(L.Callback):
    def __init__(self, output_dir: str) -> None:
        self.output_dir = Path(output_dir)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        sampler = trainer.train_dataloader.sampler  # the ShardedBatchSampler of index batches
        assert (sampler.epoch, sampler.world_size) == (trainer.current_epoch, trainer.world_size), (
            sampler.epoch,
            sampler.world_size,
            trainer.current_epoch,
            trainer.world_size,
        )
        seen = sampler.indices().tolist()  # positions in the training split
        self.output_dir.mkdir(parents=True, exist_ok=True)
        name = f"indices_rank{trainer.global_rank}_epoch{trainer.current_epoch}.json"
        (self.output_dir / name).write_text(json.dumps(seen))
