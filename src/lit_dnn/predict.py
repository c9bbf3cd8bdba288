"""``predict(cfg)``: class probabilities for a user's images or arrays (``python predict.py``)."""

import csv
import logging
from pathlib import Path
from typing import Any

import hydra
import lightning as L
import torch
from omegaconf import DictConfig
from rich.console import Console
from rich.table import Table
from torch.utils.data import DataLoader, TensorDataset

from lit_dnn.checkpoint import load_classifier
from lit_dnn.errors import ConfigError
from lit_dnn.inputs import load_inputs, normalize

log = logging.getLogger(__name__)


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Runs ``trainer.predict`` (the model's softmax ``predict_step``); writes ``predictions.csv``."""
    for key in ("top_k", "batch_size"):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}={value!r} must be a positive integer.")
    model, hp = load_classifier(cfg.ckpt_path)
    names, raw = load_inputs(cfg.input, tuple(hp["input_shape"]), invert=cfg.invert)
    inputs = normalize(raw, hp["normalization"])
    trainer: L.Trainer = hydra.utils.instantiate(cfg.trainer, logger=False, enable_progress_bar=len(names) > 10_000)
    batches = trainer.predict(model, dataloaders=DataLoader(TensorDataset(inputs), batch_size=cfg.batch_size))
    probabilities = torch.cat(batches)
    k = min(cfg.top_k, probabilities.shape[1])
    top_p, top_i = probabilities.topk(k, dim=1)
    classes = hp["class_names"]
    rows = [{"input": name, "predicted": classes[int(i[0])], "probability": float(p[0]),
             **{f"top{j + 1}": f"{classes[int(i[j])]} ({float(p[j]):.3f})" for j in range(k)}}
            for name, p, i in zip(names, top_p, top_i)]

    table = Table(title=f"Predictions of {Path(cfg.ckpt_path).name}")
    for column in ("input", "predicted", *(f"top{j + 1}" for j in range(k))):
        table.add_column(column)
    for row in rows[:50]:
        table.add_row(row["input"], row["predicted"], *(row[f"top{j + 1}"] for j in range(k)))
    Console().print(table)
    if len(rows) > 50:
        print(f"... and {len(rows) - 50} more")
    out = Path(cfg.paths.output_dir) / "predictions.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    log.info("Wrote %d predictions to %s", len(rows), out)
    return rows
