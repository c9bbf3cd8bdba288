"""A small Python API over the same configs, for notebooks: Keras' ``model.fit`` in one call.

from lit_dnn.api import fit, predict
result = fit(["data=mnist", "trainer.max_epochs=2"])   # the overrides of python train.py
result.metrics["test/acc"], result.history              # history: Keras' history.history rows
rows = predict(result.metrics["best_model_path"], "digits/")  # python predict.py ckpt_path=... input=...

Both print what the commands print (the summary, one line per epoch, the test line) and keep
it in the run folder's log file.
"""

import csv
import datetime
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from lit_dnn.errors import ConfigError
from lit_dnn.log_format import ConsoleFormatter
from lit_dnn.run_dir import results_in

ROOT = Path(os.environ.get("PROJECT_ROOT", Path(__file__).resolve().parents[2]))


@dataclass
class FitResult:
    metrics: dict[str, Any]  # what metrics.json holds: test/acc, val/acc_best, best_model_path, ...
    history: list[dict[str, float]]  # one row per epoch: epoch, loss, val_loss, acc, val_acc
    run_dir: Path  # checkpoints, figures, TensorBoard events, train.log
    config: DictConfig  # the composed config the run trained with (data.data_dir, model.net, ...)


def config(overrides: list[str] = (), run_dir: str | Path | None = None, name: str = "train") -> DictConfig:
    """The config ``python <name>.py <overrides>`` composes, its run folder ``run_dir`` (default:
    ``logs/notebook/<name>/<timestamp>``; a training run: ``logs/notebook/runs/<timestamp>``)."""
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(name, overrides=list(overrides))
    with open_dict(cfg):
        stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")
        folder = "runs" if name == "train" else name
        cfg.paths.output_dir = str(run_dir or Path(cfg.paths.log_dir) / "notebook" / folder / stamp)
    return cfg


def refuse_earlier_results(cfg: DictConfig) -> None:
    """As the commands' run-folder guard: a call never overwrites an earlier call's results."""
    if results := results_in(Path(cfg.paths.output_dir)):
        raise ConfigError(
            f"run_dir={cfg.paths.output_dir} holds the results of an earlier run (its {results.name}), which this run would "
            f"overwrite; choose another folder, or leave run_dir out for a new one."
        )


@contextmanager
def printed_and_logged(log_file: Path) -> Iterator[None]:
    """While a call runs, lit-dnn's log lines go to the notebook's output as the command prints them and
    to ``log_file``, as Hydra's logging does for the commands (a notebook configures no logging)."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(ConsoleFormatter())
    to_file = logging.FileHandler(log_file)
    to_file.setFormatter(logging.Formatter("[%(asctime)s][%(name)s][%(levelname)s] - %(message)s"))
    logger = logging.getLogger("lit_dnn")
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a notebook that configured logging itself does not show each line twice
    logger.addHandler(console)
    logger.addHandler(to_file)
    try:
        yield
    finally:
        for handler in (console, to_file):
            logger.removeHandler(handler)
            handler.close()
        logger.setLevel(level)
        logger.propagate = propagate


def fit(overrides: list[str] = (), run_dir: str | Path | None = None) -> FitResult:
    """Train and test as ``python train.py <overrides>`` does; a config mistake raises ``ConfigError``
    with the same sentence the command prints."""
    from lit_dnn.config_checks import check_train_config

    cfg = config(overrides, run_dir)
    refuse_earlier_results(cfg)
    check_train_config(cfg)
    from lit_dnn.train import train
    from lit_dnn.workarounds import prepare_process

    prepare_process()
    with printed_and_logged(Path(cfg.paths.output_dir) / "train.log"):
        metrics = train(cfg)
    history_file = Path(cfg.paths.output_dir) / "history.csv"
    history = []
    if history_file.exists():  # written by the training-curves callback (callbacks.training_curves)
        with history_file.open() as f:
            history = [{k: int(v) if k == "epoch" else float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return FitResult(metrics, history, Path(cfg.paths.output_dir), cfg)


def predict(ckpt_path: str | Path, input: str | Path, overrides: list[str] = (), run_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """Predict as ``python predict.py ckpt_path=<ckpt_path> input=<input> <overrides>`` does: the
    table it prints, ``predictions.csv`` in ``run_dir`` (default ``logs/notebook/predict/<timestamp>``),
    and its rows returned (input, predicted, probability, top-k; a regression: the target columns)."""
    from lit_dnn.predict import predict as predict_rows

    cfg = config([f"ckpt_path={ckpt_path}", f"input={input}", *overrides], run_dir, name="predict")
    refuse_earlier_results(cfg)
    with printed_and_logged(Path(cfg.paths.output_dir) / "predict.log"):
        return predict_rows(cfg)
