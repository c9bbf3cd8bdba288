"""``evaluate(cfg)``: test a checkpoint on its dataset's test set (``python eval.py``)."""

import logging
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from lit_dnn.checkpoint import check_from_checkpoint, datamodule_from_hparams, load_model
from lit_dnn.config_checks import check_loggers, instantiate, instantiate_all
from lit_dnn.errors import CheckpointError
from lit_dnn.results import log_test_line
from lit_dnn.run_dir import plain, write_json

log = logging.getLogger(__name__)


def datamodule_of(hparams: dict[str, Any], cfg: DictConfig) -> L.LightningDataModule:
    """The datamodule a checkpoint was trained on; ``data_dir`` from this machine, ``data.*`` overrides."""
    data = hparams.get("data")
    if not isinstance(data, dict):
        raise CheckpointError(f"{cfg.ckpt_path} does not say which data it was trained on; pass a .ckpt written by train.py.")
    overrides = OmegaConf.to_container(cfg.get("data") or OmegaConf.create({}), resolve=True)
    return datamodule_from_hparams(data, cfg.ckpt_path, **overrides)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    check_loggers(cfg.get("logger"))
    check_from_checkpoint(cfg, "eval.py")
    model, hparams = load_model(cfg.ckpt_path)
    datamodule = datamodule_of(hparams, cfg)
    datamodule.setup("test")
    L.seed_everything(cfg.seed, verbose=False)
    trainer: L.Trainer = instantiate(cfg.trainer, "trainer", logger=instantiate_all(cfg.get("logger"), "logger") or False)
    metrics = {k: plain(v) for k, v in trainer.test(model, datamodule=datamodule, verbose=False)[0].items()}
    metrics["ckpt_path"] = str(Path(cfg.ckpt_path).resolve())
    if trainer.is_global_zero:
        write_json(Path(cfg.paths.output_dir) / "metrics.json", metrics)
        log_test_line(metrics)  # the line train.py prints, not Lightning's table
        key = "test/mae" if "test/mae" in metrics else "test/acc"
        log.info("Test of %s: %s=%.4f; metrics in %s", cfg.ckpt_path, key, metrics[key], cfg.paths.output_dir)
    return metrics
