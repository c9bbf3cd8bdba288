"""``evaluate(cfg)``: test a checkpoint on its dataset's test set (``python eval.py``)."""

import logging
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf

from lit_dnn.checkpoint import check_from_checkpoint, datamodule_of_record, load_model
from lit_dnn.config_checks import check_loggers, instantiate, instantiate_all
from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import CheckpointError
from lit_dnn.record import RunRecord
from lit_dnn.results import log_test_line
from lit_dnn.run_dir import plain, write_json
from lit_dnn.text import printable

log = logging.getLogger(__name__)


def datamodule_of(record: RunRecord, cfg: DictConfig) -> L.LightningDataModule:
    """The datamodule a checkpoint was trained on; ``data_dir`` from this machine, ``data.*`` overrides."""
    if not record.data:
        raise CheckpointError(f"{cfg.ckpt_path} does not say which data it was trained on; pass a .ckpt written by train.py.")
    overrides = OmegaConf.to_container(cfg.get("data") or OmegaConf.create({}), resolve=True)
    return datamodule_of_record(record, cfg.ckpt_path, **overrides)


def as_trained(datamodule: Any, record: RunRecord, path: str) -> None:
    """Test the model on inputs prepared as in training: the checkpoint's normalisation, not one
    recomputed from the file as it is today, and the checkpoint's class names; a table must still
    have the classes and input columns it was trained on (else one sentence)."""
    names = record.class_names
    now = list(datamodule.class_names) if datamodule.task == "classification" else names
    table = hasattr(datamodule, "schema")  # a table's labels are encoded from its values: they must not have changed
    if names is not None and now != list(names) and (table or len(now) != len(names)):
        raise CheckpointError(
            f"{path} was trained on the classes {', '.join(map(printable, names[:10]))}, but the data has "
            f"{', '.join(map(printable, now[:10]))} now; evaluate on the data it was trained on."
        )
    if names is not None and datamodule.task == "classification":
        datamodule.class_names = list(names)  # the checkpoint's names for the dataset's class indices
    trained = (record.table or {}).get("input_columns")
    columns = datamodule.schema()["input_columns"] if table else trained
    if trained is not None and columns != trained:
        raise CheckpointError(
            f"{path} was trained on the input columns {', '.join(trained)}, but the table gives "
            f"{', '.join(columns)} now; evaluate on the table it was trained on."
        )
    datamodule.normalization = Normalization.from_dict(record.normalization, record.input_shape)


def evaluate(cfg: DictConfig) -> dict[str, Any]:
    check_loggers(cfg.get("logger"))
    check_from_checkpoint(cfg, "eval.py")
    model, record = load_model(cfg.ckpt_path)
    datamodule = datamodule_of(record, cfg)
    datamodule.setup("test")
    as_trained(datamodule, record, cfg.ckpt_path)
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
