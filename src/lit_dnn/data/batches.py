"""Batches cut from whole-split tensors: no per-sample Python work, no collate.

A ``DataLoader`` over a map-style dataset calls ``__getitem__`` and a PIL transform for
every sample and then collates, many times the model's own compute on MNIST (the
benchmark's row (3)). Here a split lives in memory as one tensor and a batch is one
``index_select`` plus a vectorised ``Normalization``.
"""

from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch.utils.data import Dataset

from lit_dnn.seeds import epoch_seed

Transform = Callable[[torch.Tensor], torch.Tensor]


class ShardedBatchSampler:
    """Yields index tensors of batches; reshuffled each epoch from ``epoch_seed(seed, epoch)``.

    Shuffling from ``(seed, epoch)`` alone makes the order of every epoch reproducible,
    so a run resumed at an epoch boundary sees the same batches as an uninterrupted one.
    With ``world_size > 1`` each rank takes a disjoint shard: for training, a slice of
    the epoch's permutation (the last ``n % world_size`` samples of the permutation are
    left out so that every rank runs the same number of steps); for evaluation, every
    sample exactly once across ranks and no padding duplicates.
    Lightning calls ``set_epoch`` before each epoch.
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def indices(self) -> torch.Tensor:
        """This rank's sample indices for the current epoch, in order."""
        if self.shuffle:
            generator = torch.Generator().manual_seed(epoch_seed(self.seed, self.epoch))  # every rank: one permutation
            order = torch.randperm(self.num_samples, generator=generator)
            per_rank = self.num_samples // self.world_size
            return order[self.rank * per_rank : (self.rank + 1) * per_rank]
        return torch.arange(self.num_samples).tensor_split(self.world_size)[self.rank]

    def __iter__(self) -> Iterator[torch.Tensor]:
        # drawn at the first batch, not when the iterator is made: resuming at an epoch boundary,
        # Lightning makes the loader's iterator before it calls set_epoch with the resumed epoch
        yield from self.indices().split(self.batch_size)

    def __len__(self) -> int:
        if self.shuffle:
            shard = self.num_samples // self.world_size
        else:
            shard = -(-self.num_samples // self.world_size)  # the largest shard
        return -(-shard // self.batch_size)


class SplitTensors(Dataset):
    """A split held as two tensors, whose items are whole batches: ``dataset[index_tensor]`` is
    one ``(inputs, targets)`` batch. A ``DataLoader`` with ``batch_size=None`` and a
    ``ShardedBatchSampler`` hands them to Lightning as they are.

    ``inputs`` is kept as stored (uint8 images, float features); ``transform`` turns a batch into
    model inputs. ``to(device)`` moves the whole split once, so on a GPU the batches are built on
    the device and nothing is copied per step.
    """

    def __init__(self, inputs: torch.Tensor, targets: torch.Tensor, transform: Transform | None = None) -> None:
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        self.inputs = inputs
        self.targets = targets
        self.transform = transform

    def to(self, device: torch.device | str) -> "SplitTensors":
        self.inputs = self.inputs.to(device)
        self.targets = self.targets.to(device)
        return self

    def __len__(self) -> int:
        return len(self.targets)

    @property
    def device(self) -> torch.device:
        return self.inputs.device

    def __getitem__(self, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        indices = indices.to(self.inputs.device, non_blocking=True)
        x = self.inputs.index_select(0, indices)
        return (self.transform(x) if self.transform else x), self.targets.index_select(0, indices)


def as_is(item: Any) -> Any:
    """The DataLoader's collate function: an item is already a batch."""
    return item
