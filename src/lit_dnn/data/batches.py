"""Batches cut from whole-split tensors: no per-sample Python work, no collate.

A ``DataLoader`` over a map-style dataset calls ``__getitem__`` and a PIL transform for
every sample and then collates, many times the model's own compute on MNIST (the
benchmark's row (3)). Here a split lives in memory as one tensor and a batch is one
``index_select`` plus a vectorised scale/normalise.
"""

from collections.abc import Callable, Iterator
from itertools import islice

import torch

Transform = Callable[[torch.Tensor], torch.Tensor]


class ShardedBatchSampler:
    """Yields index tensors of batches; reshuffled each epoch from ``seed + epoch``.

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
            generator = torch.Generator().manual_seed(self.seed + self.epoch)
            order = torch.randperm(self.num_samples, generator=generator)
            per_rank = self.num_samples // self.world_size
            return order[self.rank * per_rank : (self.rank + 1) * per_rank]
        return torch.arange(self.num_samples).tensor_split(self.world_size)[self.rank]

    def __iter__(self) -> Iterator[torch.Tensor]:
        return iter(self.indices().split(self.batch_size))

    def __len__(self) -> int:
        if self.shuffle:
            shard = self.num_samples // self.world_size
        else:
            shard = -(-self.num_samples // self.world_size)  # the largest shard
        return -(-shard // self.batch_size)


class InMemoryBatches:
    """An iterable of ``(inputs, targets)`` batches that Lightning accepts as a dataloader.

    ``inputs`` is kept as stored (uint8 images, float features); ``transform`` turns a
    batch into model inputs. ``to(device)`` moves the whole split once, so on a GPU the
    batches are built on the device and nothing is copied per step.
    """

    def __init__(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        sampler: ShardedBatchSampler,
        transform: Transform | None = None,
    ) -> None:
        if len(inputs) != len(targets):
            raise ValueError(f"{len(inputs)} inputs but {len(targets)} targets")
        self.inputs = inputs
        self.targets = targets
        self.sampler = sampler  # the name Lightning looks for to call set_epoch each epoch
        self.batch_sampler = None  # read by Lightning's DataLoader checks: no torch batch sampler here
        self.transform = transform

    def to(self, device: torch.device | str) -> "InMemoryBatches":
        self.inputs = self.inputs.to(device)
        self.targets = self.targets.to(device)
        return self

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for idx in self.sampler:
            idx = idx.to(self.inputs.device, non_blocking=True)  # the data may move to a GPU mid-iteration
            x = self.inputs.index_select(0, idx)
            yield (self.transform(x) if self.transform else x), self.targets.index_select(0, idx)

    def __len__(self) -> int:
        return len(self.sampler)


class BatchGroups:
    """Hands Lightning ``size`` consecutive batches per training step, as a list: Keras'
    ``steps_per_execution``. The module takes one optimiser step per batch, so training is
    the same batch for batch; Lightning's per-step work (hooks of every callback, closures,
    progress, logging) is paid once per group instead of once per batch (README, Speed).
    """

    def __init__(self, batches: InMemoryBatches, size: int) -> None:
        self.batches = batches
        self.size = size
        self.sampler = batches.sampler  # Lightning calls its set_epoch each epoch
        self.batch_sampler = None

    @property
    def num_batches(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[list[tuple[torch.Tensor, torch.Tensor]]]:
        batches = iter(self.batches)
        while group := list(islice(batches, self.size)):
            yield group

    def __len__(self) -> int:
        return -(-len(self.batches) // self.size)


class Normalize:
    """uint8 pixels → float in [0, 1] → ``(x - mean) / std``: ToTensor + Normalize, batched.

    ``mean`` and ``std`` are numbers, or tensors of one image's shape (per-pixel statistics)."""

    def __init__(self, mean: float | torch.Tensor, std: float | torch.Tensor) -> None:
        self.mean = mean
        self.std = std

    def to(self, device: torch.device | str) -> "Normalize":
        """Per-pixel statistics go where the data goes (``InMemoryDataModule.to``)."""
        if isinstance(self.mean, torch.Tensor):
            self.mean, self.std = self.mean.to(device), self.std.to(device)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return x.float().div_(255.0).sub_(self.mean).div_(self.std)
