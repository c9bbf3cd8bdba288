"""Broken data files and checkpoints end in one sentence naming the file and the fix."""

from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import compose_cfg, tiny_overrides, write_dataset
from lit_dnn.checkpoint import load_model, read_checkpoint
from lit_dnn.data.idx import read_idx, write_idx
from lit_dnn.data.image import load_split
from lit_dnn.errors import CheckpointError, ConfigError, DataError
from lit_dnn.train import train


def test_truncated_idx_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x-idx3-ubyte"
    write_idx(path, np.zeros((10, 28, 28), np.uint8))
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match=rf"{path} holds 7756 bytes but its header \(10, 28, 28\) needs 7856"):
        read_idx(path)


def test_wrong_magic_number(tmp_path: Path) -> None:
    path = tmp_path / "x-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 12)
    with pytest.raises(DataError, match=rf"{path} is not an IDX file of unsigned bytes \(wrong magic number 00000d01\)"):
        read_idx(path)


def test_images_and_labels_of_different_counts(tmp_path: Path) -> None:
    write_dataset(tmp_path, n_train=50, n_test=20)
    raw = tmp_path / "MNIST" / "raw"
    write_idx(raw / "t10k-labels-idx1-ubyte", np.zeros(19, np.uint8))
    with pytest.raises(DataError, match="holds 20 images but .*t10k-labels-idx1-ubyte holds 19 labels"):
        load_split(tmp_path, "mnist", "test")


def test_missing_files_without_download(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"MNIST files missing in .*MNIST/raw .*pass data.download=true"):
        load_split(tmp_path, "mnist", "train", download=False)


@pytest.fixture(scope="module")
def trained(tiny_run: tuple[Path, dict]) -> Path:
    return tiny_run[0] / "checkpoints" / "last.ckpt"


def test_random_bytes_are_not_a_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "random.ckpt"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(CheckpointError, match=rf"{path} is not a readable checkpoint"):
        read_checkpoint(path)


def test_truncated_checkpoint(trained: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.ckpt"
    path.write_bytes(trained.read_bytes()[:3000])
    with pytest.raises(CheckpointError, match="is not a readable checkpoint"):
        load_model(path)


def test_resume_with_other_architecture_names_the_difference(trained: Path, tiny_data: Path, tmp_path: Path) -> None:
    cfg = compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=3", f"ckpt_path={trained}", "model.net.hidden_dims=[64]"], tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"resumes a run trained with other settings than this command sets "
        r"\(model.net.hidden_dims=\[64\] \(checkpoint: \[128\]\)\)",
    ):
        train(cfg)


def test_weights_of_other_shapes_name_layers_and_sizes(trained: Path, tmp_path: Path) -> None:
    checkpoint = torch.load(trained, weights_only=True)
    checkpoint["hyper_parameters"]["model"]["net"]["hidden_dims"] = [64]
    path = tmp_path / "other.ckpt"
    torch.save(checkpoint, path)
    with pytest.raises(CheckpointError) as info:
        load_model(path)
    message = str(info.value)
    assert "net.layers.1.weight: checkpoint (128, 784) vs model (64, 784)" in message
    assert "net.layers.4.weight: checkpoint (10, 128) vs model (10, 64)" in message


def test_checkpoint_loads_with_weights_only(trained: Path) -> None:
    checkpoint = torch.load(trained, weights_only=True)  # raises if anything pickled is inside
    assert checkpoint["hyper_parameters"]["model"]["net"]["hidden_dims"] == [128]
    model, _ = load_model(trained)
    assert sum(p.numel() for p in model.net.parameters()) == 101_770
