"""Fixtures: configs composed as a user's command would, tiny IDX datasets, real data paths."""

import os
import subprocess
import sys
from pathlib import Path

if os.environ.get("PYTEST_XDIST_WORKER"):  # pytest -n N: N workers share the cores, one torch thread each (and their subprocesses)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from lit_dnn.data.idx import write_idx

if os.environ.get("PYTEST_XDIST_WORKER"):
    import torch

    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
REAL_DATA = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "datasets")).resolve()
# The accelerator the suite's runs train on: cpu (CI), or gpu to run the same tests on a GPU machine
ACCELERATOR = os.environ.get("LIT_DNN_TEST_ACCELERATOR", "cpu")


def make_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28×28 digits: class k lights rows 2k..2k+3, plus pixel noise; 4% of the
    labels are then flipped, so a trained model still makes a few mistakes to show."""
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for k in range(10):
        images[labels == k, 2 * k + 2 : 2 * k + 6, 4:24] = 230
    flip = rng.random(n) < 0.04
    labels[flip] = (labels[flip] + 1) % 10
    return images, labels


def write_dataset(root: Path, folder: str = "MNIST", n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = make_images(n, rng)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir with small MNIST and FashionMNIST folders in torchvision's layout."""
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, "MNIST")
    write_dataset(root, "FashionMNIST", seed=1)
    return root


def compose_cfg(overrides: list[str], tmp_path: Path, config_name: str = "train") -> DictConfig:
    """The config ``python train.py <overrides>`` would get, writing only under ``tmp_path``."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name, overrides=[f"paths.log_dir={tmp_path}/logs", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    return cfg


def tiny_overrides(data_dir: Path) -> list[str]:
    """Fast settings for the tiny dataset: small validation split, batch 128 (4 batches an epoch), 2 epochs,
    no progress bar."""
    return [
        f"data.data_dir={data_dir}",
        "data.val_split=100",
        "data.download=false",
        "data.batch_size=128",
        "trainer.max_epochs=2",
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
        f"trainer.accelerator={ACCELERATOR}",
    ]


def run_script(script: str, args: list[str], env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python <script> <args>`` from the project root as a user would."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
        timeout=timeout,
    )


def real_data() -> Path:
    if not (REAL_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.fail(f"the real MNIST files are not in {REAL_DATA}; set DATA_DIR to the folder holding MNIST/raw and FashionMNIST/raw")
    return REAL_DATA
