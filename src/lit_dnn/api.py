"""A small Python API over the same configs, for notebooks: Keras' ``model.fit`` in one call.

from lit_dnn.api import fit
result = fit(["data=mnist", "trainer.max_epochs=2"])   # the overrides of python train.py
result.metrics["test/acc"], result.history              # history: Keras' history.history rows
"""

import csv
import datetime
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from lit_dnn.errors import ConfigError
from lit_dnn.run_dir import results_in

ROOT = Path(os.environ.get("PROJECT_ROOT", Path(__file__).resolve().parents[2]))


@dataclass
class FitResult:
    metrics: dict[str, Any]  # what metrics.json holds: test/acc, val/acc_best, best_model_path, ...
    history: list[dict[str, float]]  # one row per epoch: epoch, loss, val_loss, acc, val_acc
    run_dir: Path  # checkpoints, figures, TensorBoard events, train.log


def config(overrides: list[str] = (), run_dir: str | Path | None = None) -> DictConfig:
    """The config ``python train.py <overrides>`` composes, its run folder ``run_dir`` (default:
    ``logs/notebook/runs/<timestamp>``)."""
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=list(overrides))
    with open_dict(cfg):
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
        cfg.paths.output_dir = str(run_dir or Path(cfg.paths.log_dir) / "notebook" / "runs" / stamp)
    return cfg


def fit(overrides: list[str] = (), run_dir: str | Path | None = None) -> FitResult:
    """Train and test as ``python train.py <overrides>`` does; a config mistake raises ``ConfigError``
    with the same sentence the command prints."""
    from lit_dnn.config_checks import check_train_config

    cfg = config(overrides, run_dir)
    if results := results_in(Path(cfg.paths.output_dir)):  # as train.py's run-folder guard: never overwrite a result
        raise ConfigError(
            f"run_dir={cfg.paths.output_dir} holds the results of an earlier run (its {results.name}), which this run would "
            f"overwrite; choose another folder, or leave run_dir out for a new one."
        )
    check_train_config(cfg)
    from lit_dnn.train import train
    from lit_dnn.workarounds import prepare_process

    prepare_process()
    metrics = train(cfg)
    history_file = Path(cfg.paths.output_dir) / "history.csv"
    history = []
    if history_file.exists():  # written by the training-curves callback (callbacks.training_curves)
        with history_file.open() as f:
            history = [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return FitResult(metrics, history, Path(cfg.paths.output_dir))
