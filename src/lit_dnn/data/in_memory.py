"""The shared half of every datamodule here: splits held as tensors, batches by indexing."""

import logging
from typing import Any

import torch
from lightning import LightningDataModule
from torch.utils.data import DataLoader

from lit_dnn.data.batches import ShardedBatchSampler, SplitTensors, as_is
from lit_dnn.data.normalization import Normalization
from lit_dnn.data.splits import check_val_from, split_size
from lit_dnn.errors import DataError

log = logging.getLogger(__name__)

# data.batch_size=auto (the tables' default): an epoch of about BATCHES_PER_EPOCH batches, each of
# MIN_BATCH to MAX_BATCH rows, so a table of 100 rows and one of 100,000 both take enough optimiser
# steps in their epochs (the tables' recipe: conf/task/table_classification.yaml)
AUTO = "auto"
BATCHES_PER_EPOCH, MIN_BATCH, MAX_BATCH = 50, 4, 256


def auto_batch_size(train_rows: int) -> int:
    """``data.batch_size=auto``: ``train_rows / 50``, rounded, at least 4 and at most 256."""
    return max(MIN_BATCH, min(MAX_BATCH, round(train_rows / BATCHES_PER_EPOCH)))


class InMemoryDataModule(LightningDataModule):
    """Subclasses set ``class_names``, ``input_shape`` and ``normalization`` (raw inputs → model
    inputs, saved in checkpoints) and implement ``load``, which calls ``set_splits``. Batch size is per process (docs/distributed.md).

    Batches reach Lightning through ``DataLoader``s with ``batch_size=None`` over a split's
    tensors (``SplitTensors``): each batch is one ``index_select``, no per-sample work or collate.
    The samplers shard across processes themselves (``trainer.use_distributed_sampler=false``),
    and ``setup`` moves every split to the trainer's device once."""

    class_names: list[str]
    input_shape: tuple[int, ...]
    normalization: Normalization

    def __init__(
        self,
        batch_size: int | str,
        eval_batch_size: int,
        val_split: float,
        seed: int,
        val_from: str = "random",
        split_seed: int | None = None,
    ) -> None:
        super().__init__()
        check_val_from(val_from)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.val_split = val_split
        self.val_from = val_from
        self.seed = seed  # the epochs' shuffling
        # the validation, test and fold splits: fixed in the configs, so runs of any training seed are
        # measured on the same samples (None: the seed, as checkpoints written before it say)
        self.split_seed = seed if split_seed is None else split_seed
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._datasets: dict[str, SplitTensors] = {}

    task = "classification"

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def output_names(self) -> list[str]:
        """One name per network output: the classes (the table datamodule's regression: its targets)."""
        return self.class_names

    def head(self) -> dict[str, Any]:
        """What the model's head takes from the data (``checkpoint.build_model``)."""
        return {"class_names": list(self.class_names)}

    def load(self) -> None:
        raise NotImplementedError

    def set_splits(self, train_x: torch.Tensor, train_y: torch.Tensor, test_x: torch.Tensor, test_y: torch.Tensor) -> None:
        """Carve the validation set out of the training pool: a random subset seeded by
        ``split_seed``, or with ``val_from="last"`` its last samples, as Keras' ``validation_split``."""
        n_val = split_size(self.val_split, len(train_x))
        if self.val_from == "last":
            order = torch.arange(len(train_x)).roll(n_val)  # the last n_val first
        else:
            order = torch.randperm(len(train_x), generator=torch.Generator().manual_seed(self.split_seed))
        val_idx, train_idx = order[:n_val], order[n_val:]
        self.splits = {
            "train": (train_x[train_idx], train_y[train_idx]),
            "val": (train_x[val_idx], train_y[val_idx]),
            "test": (test_x, test_y),
        }
        self.split_indices = {"train": train_idx, "val": val_idx}

    def check_splits(self) -> None:
        """A run that could not learn or measure ends here, in one sentence: a class missing from
        the training split, or a validation or test split with fewer samples than classes (5
        samples gave val/acc_best=1.0 and test/acc=0.0 from one sample each)."""
        if self.task != "classification":
            return
        k = len(self.class_names)
        for split, (_, y) in self.splits.items():
            if split != "train" and 0 < len(y) < k:
                raise DataError(
                    f"the {split} split holds {len(y)} sample{'s' * (len(y) != 1)} for {k} classes, too few to measure "
                    f"accuracy; use more data, or a larger data.{split}_split."
                )
        missing = sorted(set(range(k)) - set(self.splits["train"][1].unique().tolist()))
        if missing:
            names = ", ".join(repr(self.class_names[i]) for i in missing[:5])
            raise DataError(f"the training split holds no sample of class {names}, which the model could never learn; use more data.")

    def setup(self, stage: str | None = None) -> None:
        if not self.splits:
            self.load()
            self.check_splits()
            if self.batch_size == AUTO:
                rows = len(self.splits["train"][1])
                self.batch_size = auto_batch_size(rows)
                log.info(
                    "data.batch_size=auto: %d (the %d training rows / %d, from %d to %d), %d batches an epoch.",
                    *(self.batch_size, rows, BATCHES_PER_EPOCH, MIN_BATCH, MAX_BATCH, -(-rows // self.batch_size)),
                )
        if self.trainer is not None:  # during fit/test: the data lives where the model does
            self.to(self.trainer.strategy.root_device)

    def split_dataset(self, split: str) -> SplitTensors:
        if split not in self._datasets:
            if not self.splits:
                self.setup()
            self._datasets[split] = SplitTensors(*self.splits[split], self.normalization)
        return self._datasets[split]

    def index_sampler(self, split: str) -> ShardedBatchSampler:
        """Index batches of ``split``, sharded over the trainer's processes when there are several."""
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        train = split == "train"
        return ShardedBatchSampler(
            len(self.split_dataset(split)),
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            seed=self.seed,
            rank=rank,
            world_size=world,
        )

    def loader(self, split: str) -> DataLoader:
        """One batch at a time, each an index batch of ``split``.

        The loader gets a generator of its own: a DataLoader draws a seed for its workers from
        the global torch generator at every iteration otherwise, which would shift the dropout
        masks that ``EpochSeed`` seeds, and a resumed run would no longer match."""
        return DataLoader(
            self.split_dataset(split),
            batch_size=None,
            sampler=self.index_sampler(split),
            collate_fn=as_is,
            generator=torch.Generator(),
        )

    def to(self, device: torch.device) -> None:
        """Hold every split on ``device`` (a GPU) so batches are built there."""
        if self.splits and self.splits["train"][0].device == torch.device(device):
            return
        self.splits = {k: (x.to(device), y.to(device)) for k, (x, y) in self.splits.items()}
        for dataset in self._datasets.values():
            dataset.to(device)
        self.normalization.to(device)  # the datasets share this one object

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Batches are cut on the training device (``setup`` moved each split there once): they pass
        as they are, without Lightning's walk over the batch. A batch on another device moves as
        Lightning moves it."""
        x = batch[0] if isinstance(batch, (tuple, list)) and batch else batch
        if isinstance(x, torch.Tensor) and x.device == device:
            return batch
        return super().transfer_batch_to_device(batch, device, dataloader_idx)

    def train_dataloader(self) -> DataLoader:
        return self.loader("train")

    def val_dataloader(self) -> DataLoader:
        return self.loader("val")

    def test_dataloader(self) -> DataLoader:
        return self.loader("test")
