"""The shared half of every datamodule here: splits held as tensors, batches by indexing."""

from typing import Any

import torch
from lightning import LightningDataModule

from lit_dnn.data.batches import BatchGroups, InMemoryBatches, Normalize, ShardedBatchSampler, Transform
from lit_dnn.data.splits import check_val_from, split_size


class InMemoryDataModule(LightningDataModule):
    """Subclasses set ``class_names``, ``input_shape``, ``transform`` and implement ``load``,
    which calls ``set_splits``. Batch size is per process (see README, distributed).

    Each training step gets a list of ``batches_per_step`` batches (``BatchGroups``); the
    ``Classifier`` steps its optimiser once per batch."""

    class_names: list[str]
    input_shape: tuple[int, ...]
    transform: Transform | None = None

    def __init__(
        self, batch_size: int, eval_batch_size: int, val_split: float, seed: int, val_from: str = "random",
        batches_per_step: int = 1,
    ) -> None:
        super().__init__()
        check_val_from(val_from)
        self.batch_size = batch_size
        self.batches_per_step = batches_per_step
        self.eval_batch_size = eval_batch_size
        self.val_split = val_split
        self.val_from = val_from
        self.seed = seed
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._loaders: dict[str, InMemoryBatches] = {}

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def load(self) -> None:
        raise NotImplementedError

    def normalization(self) -> dict[str, Any]:
        """How raw inputs become model inputs: ``(x - mean) / std`` (saved in checkpoints)."""
        raise NotImplementedError

    def set_splits(self, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> None:
        """Carve the validation set out of the training pool: a random subset seeded by
        ``seed``, or with ``val_from="last"`` its last samples, as Keras' ``validation_split``."""
        n_val = split_size(self.val_split, len(train_x))
        if self.val_from == "last":
            order = torch.arange(len(train_x)).roll(n_val)  # the last n_val first
        else:
            order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(self.seed))
        val_idx, train_idx = order[:n_val], order[n_val:]
        self.splits = {
            "train": (train_x[train_idx], train_y[train_idx]),
            "val": (train_x[val_idx], train_y[val_idx]),
            "test": (test_x, test_y),
        }
        self.split_indices = {"train": train_idx, "val": val_idx}

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            self.load()

    def loader(self, split: str) -> InMemoryBatches:
        """The batches of ``split``, sharded over the trainer's processes when there are several."""
        if split not in self._loaders:
            if not self.splits:
                self.setup()
            x, y = self.splits[split]
            trainer = self.trainer
            rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
            train = split == "train"
            sampler = ShardedBatchSampler(
                len(x), self.batch_size if train else self.eval_batch_size, shuffle=train,
                seed=self.seed, rank=rank, world_size=world,
            )
            self._loaders[split] = InMemoryBatches(x, y, sampler, self.transform)
        return self._loaders[split]

    def to(self, device: torch.device) -> None:
        """Hold every split on ``device`` (a GPU) so batches are built there."""
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}
        for loader in self._loaders.values():
            loader.to(device)
        if isinstance(self.transform, Normalize):  # the loaders share this one object
            self.transform.to(device)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        # on the first batch for an accelerator, move the whole dataset there once
        if device.type != "cpu" and self.splits and self.splits["train"][0].device != device:
            self.to(device)
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def train_dataloader(self) -> BatchGroups:
        return BatchGroups(self.loader("train"), self.batches_per_step)

    def val_dataloader(self) -> InMemoryBatches:
        return self.loader("val")

    def test_dataloader(self) -> InMemoryBatches:
        return self.loader("test")
