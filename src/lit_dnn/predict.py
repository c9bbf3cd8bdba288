"""``predict(cfg)``: class probabilities (or regression values) for a user's images, arrays or table rows (``python predict.py``)."""

import csv
import logging
from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from torch.utils.data import DataLoader, TensorDataset

from lit_dnn.checkpoint import check_from_checkpoint, load_model
from lit_dnn.config_checks import instantiate
from lit_dnn.errors import ConfigError, DataError
from lit_dnn.inputs import load_inputs, load_table_inputs, normalize
from lit_dnn.text import csv_cell, printable

log = logging.getLogger(__name__)


def class_rows(names: list[str], probabilities: torch.Tensor, classes: list[str], top_k: int) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per input: the predicted class, its probability and the top-k classes; the columns shown."""
    k = min(top_k, probabilities.shape[1])
    top_p, top_i = probabilities.topk(k, dim=1)
    rows = [
        {
            "input": name,
            "predicted": classes[int(i[0])],
            "probability": float(p[0]),
            **{f"top{j + 1}": f"{classes[int(i[j])]} ({float(p[j]):.3f})" for j in range(k)},
        }
        for name, p, i in zip(names, top_p, top_i)
    ]
    return rows, ["input", "predicted", *(f"top{j + 1}" for j in range(k))]


def predict(cfg: DictConfig) -> list[dict[str, Any]]:
    """Runs ``trainer.predict`` (the model's softmax ``predict_step``); writes ``predictions.csv``."""
    for key in ("top_k", "batch_size"):
        value = cfg.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{key}={value!r} must be a positive integer.")
    check_from_checkpoint(cfg, "predict.py")
    model, record = load_model(cfg.ckpt_path)
    if record.table is not None:  # a model trained on a table reads a table with its feature columns
        names, raw = load_table_inputs(cfg.input, record.table)
    else:
        names, raw = load_inputs(cfg.input, record.input_shape, invert=cfg.invert)
    inputs = normalize(raw, record.normalization)
    trainer: L.Trainer = instantiate(cfg.trainer, "trainer", logger=False, enable_progress_bar=len(names) > 10_000)
    outputs = torch.cat(trainer.predict(model, dataloaders=DataLoader(TensorDataset(inputs), batch_size=cfg.batch_size)))
    bad = ~torch.isfinite(outputs).all(dim=1)
    if bad.any():  # finite weights and inputs can still overflow: values far outside what the model was trained on
        first = names[int(bad.nonzero()[0])]
        raise DataError(
            f"the model's outputs are NaN or infinite for {int(bad.sum())} of {len(names)} inputs (the first: "
            f"{printable(first)}), whose values lie far outside the training data's; check their scale (predict.py "
            f"normalises them as training did)."
        )
    if record.regression:
        targets = record.target_names
        rows = [{"input": name, **{t: f"{v:.6g}" for t, v in zip(targets, values)}} for name, values in zip(names, outputs.tolist())]
        columns = ["input", *targets]
    else:
        rows, columns = class_rows(names, outputs, record.class_names, cfg.top_k)

    table = Table(title=f"Predictions of {Path(cfg.ckpt_path).name}")
    for column in columns:
        table.add_column(column)
    for row in rows[:50]:  # names from files (class names, file names) are shown as text, not markup or escapes
        table.add_row(*(escape(printable(row[c])) for c in columns))
    Console().print(table)
    if len(rows) > 50:
        print(f"... and {len(rows) - 50} more")
    out = Path(cfg.paths.output_dir) / "predictions.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)  # a spreadsheet runs no formula from a name
    log.info("Wrote %d predictions to %s", len(rows), out)
    return rows
