"""Every tutorial experiment composes and runs a fast_dev_run; the binary metrics exist."""

from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, compose_cfg, run_script, tiny_overrides
from lit_dnn.train import train

EXPERIMENTS = sorted(p.stem for p in (ROOT / "conf" / "experiment").glob("*.yaml"))


def test_all_six_tutorials_are_there() -> None:
    assert len(EXPERIMENTS) >= 7, EXPERIMENTS  # tutorial 4 has two variants


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_fast_dev_run(name: str, tiny_data: Path, tmp_path: Path) -> None:
    base = [o for o in tiny_overrides(tiny_data) if not o.startswith(("data.val_split", "data.data_dir", "data.download"))]
    cfg = compose_cfg([f"experiment={name}", *base, "debug=fdr"], tmp_path)
    if "data_dir" in cfg.data:
        cfg.data.data_dir = str(tiny_data)
        if cfg.data.val_split >= 1:  # a count meant for 60,000 images
            cfg.data.val_split = 100
    if "path" in cfg.data:  # a table: the experiment's columns, 60 random rows
        columns = "CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT,MEDV".split(",")
        rows = np.random.default_rng(0).uniform(1, 50, (60, len(columns)))
        (tmp_path / "table.csv").write_text(",".join(columns) + "\n" + "".join(",".join(f"{v:.2f}" for v in r) + "\n" for r in rows))
        cfg.data.path = str(tmp_path / "table.csv")
    metrics = train(cfg)
    assert 0 <= metrics["test/acc"] <= 1 if cfg.task.name == "classification" else metrics["test/mae"] > 0


def test_experiment_settings_are_the_tutorials() -> None:
    cfg = compose_cfg(["experiment=fashion_128_64"], Path("/tmp/unused"))
    assert cfg.data.dataset == "fashion_mnist" and list(cfg.model.net.hidden_dims) == [128, 64]
    assert cfg.data.batch_size == 128 and cfg.data.val_split == 0.3 and cfg.trainer.max_epochs == 10
    assert cfg.data.val_from == "last" and cfg.data.standardize == "none"  # as Keras' validation_split, pixels / 255
    cfg = compose_cfg(["experiment=binary_deep"], Path("/tmp/unused"))
    assert list(cfg.model.net.dropout) == [0.5, 0.0] and cfg.callbacks.early_stopping.patience == 5


def test_binary_run_logs_binary_metrics(tmp_path: Path) -> None:
    cfg = compose_cfg(
        ["data=binary", "trainer.max_epochs=3", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"], tmp_path
    )
    metrics = train(cfg)
    for stage in ("val", "test"):
        for name in ("acc", "precision", "recall", "f1", "auroc"):
            assert 0 <= metrics[f"{stage}/{name}"] <= 1, f"{stage}/{name}"
    assert metrics["test/acc"] > 0.7
    assert (tmp_path / "run" / "classification_report.md").read_text().count("\n") == 2 + 2 + 3


def test_run_experiments_reports_the_mean_of_its_seeds(tmp_path: Path) -> None:
    out = tmp_path / "experiments.md"
    from run_experiments import main

    main(["--only", "binary_small", "--seeds", "1", "2", "--out", str(out)], launch=lambda args: run_script("train.py", args))
    row = next(line for line in out.read_text().splitlines() if line.startswith("| binary_small |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    mean = float(cells[3].split("%")[0].strip("*"))
    per_seed = [float(v) for v in cells[4].split(" / ")]
    assert len(per_seed) == 2 and all(50 <= v <= 100 for v in per_seed)
    assert abs(mean - sum(per_seed) / 2) < 0.006
