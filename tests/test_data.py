"""Datamodules: shapes, dtypes, splits, scaling, class names."""

import warnings
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader

from lit_dnn.data.batches import ShardedBatchSampler, SplitTensors, as_is
from lit_dnn.data.binary import BinaryDataModule
from lit_dnn.data.image import DATASETS, ImageDataModule
from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import ConfigError

FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_image_splits_shapes_and_dtypes(tiny_data: Path, dataset: str) -> None:
    dm = ImageDataModule(dataset, str(tiny_data), batch_size=64, val_split=0.2, download=False)
    dm.setup()
    assert {k: len(v[0]) for k, v in dm.splits.items()} == {"train": 480, "val": 120, "test": 200}
    x, y = dm.splits["train"]
    assert x.dtype == torch.uint8 and x.shape[1:] == (28, 28) and y.dtype == torch.int64
    xb, yb = next(iter(dm.train_dataloader()))
    assert xb.shape == (64, 28, 28) and xb.dtype == torch.float32 and yb.shape == (64,)
    assert dm.input_shape == (28, 28) and dm.num_classes == 10


def test_class_names() -> None:
    assert ImageDataModule("mnist").class_names == [str(d) for d in range(10)]
    assert ImageDataModule("fashion_mnist").class_names == FASHION
    assert BinaryDataModule().class_names == ["0", "1"]


def test_splits_disjoint_and_seeded(tiny_data: Path) -> None:
    def val_indices(seed: int) -> set[int]:
        dm = ImageDataModule("mnist", str(tiny_data), val_split=100, seed=seed)
        dm.setup()
        train, val = set(dm.split_indices["train"].tolist()), set(dm.split_indices["val"].tolist())
        assert not train & val and len(train | val) == 600
        return val

    assert val_indices(0) == val_indices(0)
    assert val_indices(0) != val_indices(1)


def test_val_from_last_takes_the_tail_as_keras(tiny_data: Path) -> None:
    dm = ImageDataModule("mnist", str(tiny_data), val_split=0.2, val_from="last", seed=0)
    dm.setup()
    assert dm.split_indices["val"].tolist() == list(range(480, 600))
    assert sorted(dm.split_indices["train"].tolist()) == list(range(480))
    other_seed = ImageDataModule("mnist", str(tiny_data), val_split=0.2, val_from="last", seed=1)
    other_seed.setup()
    assert torch.equal(other_seed.splits["val"][0], dm.splits["val"][0])


def test_binary_defaults_are_70_15_15_and_scaled_on_train_only() -> None:
    dm = BinaryDataModule()
    dm.setup()
    sizes = {k: len(v[0]) for k, v in dm.splits.items()}
    assert sizes == {"train": 700, "val": 150, "test": 150}
    # splits hold the raw features; the batches are standardised with training statistics
    raw_train = dm.splits["train"][0]
    assert raw_train.dtype == torch.float32 and raw_train.shape == (700, 20)
    assert torch.allclose(dm.normalization.mean, raw_train.mean(0), atol=1e-5)
    train_x = dm.split_dataset("train")[torch.arange(700)][0]
    assert torch.allclose(train_x.mean(0), torch.zeros(20), atol=1e-5)
    assert torch.allclose(train_x.std(0), torch.ones(20), atol=1e-4)
    assert torch.equal(dm.splits["train"][0], raw_train)  # normalising a batch leaves the split as it was
    # the validation split is scaled with the training statistics, so it is not exactly standard
    val_x = dm.split_dataset("val")[torch.arange(150)][0]
    assert not torch.allclose(val_x.mean(0), torch.zeros(20), atol=1e-3)


def test_binary_sizes_configurable_and_seeded() -> None:
    a = BinaryDataModule(n_samples=400, n_features=8, n_informative=5, n_redundant=2, val_split=0.2, random_state=3)
    a.setup()
    assert {k: tuple(v[0].shape) for k, v in a.splits.items()} == {"train": (272, 8), "val": (68, 8), "test": (60, 8)}
    b = BinaryDataModule(n_samples=400, n_features=8, n_informative=5, n_redundant=2, val_split=0.2, random_state=3)
    b.setup()
    assert torch.equal(a.splits["test"][0], b.splits["test"][0])


def test_sharded_sampler_covers_each_sample_once_per_epoch() -> None:
    for world in (1, 2, 3):
        shards = [ShardedBatchSampler(100, 16, shuffle=True, seed=5, rank=r, world_size=world) for r in range(world)]
        for epoch in (0, 1):
            seen = []
            for s in shards:
                s.set_epoch(epoch)
                seen += torch.cat(list(s)).tolist()
            assert len(seen) == len(set(seen)) == 100 - 100 % world
        evals = [ShardedBatchSampler(100, 16, shuffle=False, rank=r, world_size=world) for r in range(world)]
        assert sorted(torch.cat([torch.cat(list(s)) for s in evals]).tolist()) == list(range(100))
    a, b = ShardedBatchSampler(50, 10, True, seed=1), ShardedBatchSampler(50, 10, True, seed=1)
    b.set_epoch(1)
    assert not torch.equal(a.indices(), b.indices())


def test_in_memory_batches_equal_torchvision_transform(tiny_data: Path) -> None:
    """The batched path gives the same inputs as ToTensor + Normalize on the same samples."""
    from torchvision import transforms

    spec = DATASETS["mnist"]
    dataset = spec.torchvision_class(
        str(tiny_data), train=True, transform=transforms.Compose([transforms.ToTensor(), transforms.Normalize((spec.mean,), (spec.std,))])
    )
    images = dataset.data
    loader = DataLoader(
        SplitTensors(images, dataset.targets, Normalization(1 / 255, spec.mean, spec.std)),
        batch_size=None,
        sampler=ShardedBatchSampler(len(images), 7, shuffle=False),
        collate_fn=as_is,
    )
    batch, labels = next(iter(loader))
    reference = torch.stack([dataset[i][0][0] for i in range(7)])
    assert torch.equal(batch, reference)
    assert labels.tolist() == [dataset[i][1] for i in range(7)]


def test_the_order_is_drawn_at_the_first_batch_not_when_the_iterator_is_made() -> None:
    """Resuming at an epoch boundary, Lightning makes the loader's iterator before it calls
    set_epoch: an order drawn eagerly in __iter__ repeated epoch 0's (the kill tests caught it)."""
    sampler = ShardedBatchSampler(100, 10, shuffle=True, seed=3)
    batches = iter(sampler)
    sampler.set_epoch(2)
    assert torch.equal(next(batches), sampler.indices()[:10])
    assert not torch.equal(sampler.indices(), ShardedBatchSampler(100, 10, shuffle=True, seed=3).indices())  # epoch 0's differs


def test_lightning_reshuffles_every_epoch(tiny_data: Path, tmp_path: Path) -> None:
    """Lightning finds the sampler and calls set_epoch: epoch 1's order differs from epoch 0's."""
    import lightning as L

    orders = []

    class Record(L.Callback):
        def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            sampler = trainer.train_dataloader.sampler  # the ShardedBatchSampler of index batches
            assert sampler.epoch == trainer.current_epoch
            orders.append(sampler.indices().tolist())

    from conftest import compose_cfg, tiny_overrides
    from lit_dnn.train import build

    datamodule, model, trainer = build(compose_cfg(tiny_overrides(tiny_data), tmp_path), extra_callbacks=[Record()])
    trainer.fit(model, datamodule=datamodule)
    assert len(orders) == 2 and orders[0] != orders[1] and sorted(orders[0]) == sorted(orders[1])


def test_pixel_standardization_uses_training_statistics(tiny_data: Path) -> None:
    dm = ImageDataModule("fashion_mnist", str(tiny_data), val_split=100, standardize="pixel", seed=0)
    dm.setup()
    train = dm.splits["train"][0].float() / 255
    mean, std = dm.normalization.mean, dm.normalization.std
    assert mean.shape == (28, 28) and torch.allclose(mean, train.mean(0))
    assert torch.allclose(std, train.std(0).clamp_min(0.05))
    # the batches are the training images standardised pixel by pixel, with the training statistics
    x, _ = next(iter(dm.train_dataloader()))
    assert x.shape[1:] == (28, 28)
    idx = dm.train_dataloader().sampler.indices()[: len(x)]
    assert torch.allclose(x, (train[idx] - mean) / std, atol=1e-5)
    val = dm.splits["val"][0].float() / 255
    assert not torch.allclose(val.mean(0), mean, atol=1e-3)  # val statistics were not used


def test_standardize_modes(tiny_data: Path) -> None:
    assert ImageDataModule("mnist", standardize=True).standardize == "global"
    assert ImageDataModule("mnist", standardize=False).normalization.as_dict()["std"] == 1.0
    with pytest.raises(ConfigError, match="data.standardize='zscore' is not one of global, pixel, none"):
        ImageDataModule("mnist", standardize="zscore")


def test_to_device_moves_the_pixel_statistics_with_the_data(tiny_data: Path) -> None:
    dm = ImageDataModule("fashion_mnist", str(tiny_data), val_split=100, standardize="pixel")
    dm.setup()
    dm.train_dataloader()
    dm.to(torch.device("meta"))  # any device other than the CPU
    assert dm.normalization.mean.device.type == "meta" and dm.normalization.std.device.type == "meta"
    x, y = next(iter(dm.train_dataloader()))
    assert x.device.type == "meta" and x.shape == (128, 28, 28) and x.dtype == torch.float32


def test_batches_already_on_the_device_pass_as_they_are_others_move(tiny_data: Path) -> None:
    dm = ImageDataModule("mnist", str(tiny_data), batch_size=64, val_split=0.2, download=False)
    dm.setup()
    batch = next(iter(dm.train_dataloader()))
    assert dm.transfer_batch_to_device(batch, torch.device("cpu"), 0) is batch  # cut on the device: nothing walked
    one = next(iter(dm.val_dataloader()))  # an evaluation batch
    assert dm.transfer_batch_to_device(one, torch.device("cpu"), 0) is one
    # from elsewhere (a CPU batch for another device; "meta" stands in for a GPU): every tensor moves
    moved = dm.transfer_batch_to_device(batch, torch.device("meta"), 0)
    assert [t.device.type for t in moved] == ["meta"] * 2 and len(moved[1]) == 64
    assert dm.transfer_batch_to_device({"x": one[0]}, torch.device("meta"), 0)["x"].device.type == "meta"


def test_lightning_gets_real_dataloaders_and_the_data_moves_in_setup(tiny_data: Path, tmp_path: Path) -> None:
    """Documented Lightning pattern: DataLoaders (batch_size=None over index batches), no sampler
    replaced by Lightning, and the splits on the strategy's root device after setup."""
    from conftest import compose_cfg, tiny_overrides
    from lit_dnn.train import build

    datamodule, model, trainer = build(compose_cfg(tiny_overrides(tiny_data), tmp_path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer.fit(model, datamodule=datamodule)
    # the datamodule's own transfer hook, without Lightning's "You have overridden `transfer_batch_to_device` in ..."
    assert not [w for w in caught if "transfer_batch_to_device" in str(w.message)]
    for loader in (trainer.train_dataloader, trainer.val_dataloaders, trainer.test_dataloaders or datamodule.test_dataloader()):
        assert type(loader) is DataLoader and loader.batch_size is None
    assert type(trainer.train_dataloader.sampler).__name__ == "ShardedBatchSampler"
    assert datamodule.splits["train"][0].device == trainer.strategy.root_device


def test_split_seed_fixes_the_splits_and_seed_the_shuffling(tiny_data: Path) -> None:
    """Runs of any training seed are measured on the same validation and test samples; the seed
    moves only the epochs' order. Without split_seed (checkpoints written before it) the seed splits."""
    from lit_dnn.data.table import TableDataModule

    def image(seed: int, split_seed: int | None) -> ImageDataModule:
        dm = ImageDataModule("mnist", str(tiny_data), val_split=100, seed=seed, split_seed=split_seed)
        dm.setup()
        return dm

    one, two = image(1, 42), image(2, 42)
    assert torch.equal(one.split_indices["val"], two.split_indices["val"])
    assert not torch.equal(one.index_sampler("train").indices(), two.index_sampler("train").indices())
    assert not torch.equal(image(1, None).split_indices["val"], image(2, None).split_indices["val"])

    def iris_test(seed: int) -> torch.Tensor:
        dm = TableDataModule("sklearn:iris", "target", seed=seed, split_seed=42)
        dm.setup()
        return dm.splits["test"][0]

    assert torch.equal(iris_test(1), iris_test(2))
