"""The slow tier: the real MNIST files, as a user runs them."""

import json
from pathlib import Path

import pytest

from conftest import real_data, run_script

pytestmark = pytest.mark.slow


def test_default_run_reaches_98_percent_and_eval_reproduces_it(tmp_path: Path) -> None:
    env = {"DATA_DIR": str(real_data())}
    result = run_script("train.py", [f"hydra.run.dir={tmp_path}/train"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.98
    assert "checkpoints" in result.stdout + result.stderr and "tensorboard --logdir" in result.stdout + result.stderr

    result = run_script("eval.py", [f"ckpt_path={metrics['best_model_path']}", f"hydra.run.dir={tmp_path}/eval"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    evaluated = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert evaluated["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert evaluated["test/loss"] == pytest.approx(metrics["test/loss"], rel=1e-5)


def test_real_splits_are_55000_5000_10000() -> None:
    from lit_dnn.data.image import ImageDataModule

    dm = ImageDataModule("mnist", str(real_data()), val_split=5000)
    dm.setup()
    assert {k: len(v[0]) for k, v in dm.splits.items()} == {"train": 55_000, "val": 5_000, "test": 10_000}


def test_fashion_default_run_uses_pixel_statistics_and_clears_88_8_percent(tmp_path: Path) -> None:
    # the default seed gave 88.92% here (seeds 1, 2: 88.88%, 89.19%); one global mean/std gave 88.20% (batch 128)
    env = {"DATA_DIR": str(real_data())}
    result = run_script("train.py", ["data=fashion_mnist", f"hydra.run.dir={tmp_path}/train"], env)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "train" / "metrics.json").read_text())
    assert metrics["test/acc"] >= 0.888
    assert "Ankle boot" in (tmp_path / "train" / "classification_report.csv").read_text()
