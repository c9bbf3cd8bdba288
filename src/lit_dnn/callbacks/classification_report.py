"""The per-class classification report at test time, as a printed table and files."""

import csv
import json
from pathlib import Path

import lightning as L
import numpy as np
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lit_dnn.text import csv_cell, printable


def classification_report(counts: np.ndarray, class_names: list[str]) -> list[dict]:
    """Precision, recall, F1 and support per class, then macro and weighted averages
    (the rows of scikit-learn's ``classification_report``), from confusion counts. Class names
    come from files (a table's labels, a checkpoint): their control characters are escaped."""
    counts = counts.astype(float)
    tp = np.diag(counts)
    predicted, support = counts.sum(axis=0), counts.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denominator = precision + recall
    f1 = np.divide(2 * precision * recall, denominator, out=np.zeros_like(tp), where=denominator > 0)
    rows = [
        {"class": printable(name), "precision": p, "recall": r, "f1": f, "support": int(s)}
        for name, p, r, f, s in zip(class_names, precision, recall, f1, support)
    ]
    weights = support / max(support.sum(), 1)
    for name, w in (("macro avg", np.full(len(tp), 1 / len(tp))), ("weighted avg", weights)):
        rows.append(
            {
                "class": name,
                "precision": float(precision @ w),
                "recall": float(recall @ w),
                "f1": float(f1 @ w),
                "support": int(support.sum()),
            }
        )
    rows.append(
        {
            "class": "accuracy",
            "precision": None,
            "recall": None,
            "f1": float(tp.sum() / max(support.sum(), 1)),
            "support": int(support.sum()),
        }
    )
    return [{k: float(v) if isinstance(v, np.floating) else v for k, v in row.items()} for row in rows]


class ClassificationReport(L.Callback):
    """After testing: prints the report with class names; saves ``classification_report.{md,csv,json}``."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = Path(output_dir)

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        counts = getattr(pl_module, "confusion_counts", {}).get("test")
        if counts is None or not trainer.is_global_zero:
            return
        rows = classification_report(counts.numpy(), pl_module.class_names)
        fmt = lambda v: "" if v is None else f"{v:.4f}"  # noqa: E731
        table = Table(title="Classification report (test)")
        for column in ("class", "precision", "recall", "f1", "support"):
            table.add_column(column, justify="left" if column == "class" else "right")
        for row in rows:
            table.add_row(escape(row["class"]), fmt(row["precision"]), fmt(row["recall"]), fmt(row["f1"]), str(row["support"]))
        Console().print(table)

        self.output_dir.mkdir(parents=True, exist_ok=True)
        (self.output_dir / "classification_report.json").write_text(json.dumps(rows, indent=1) + "\n")
        with open(self.output_dir / "classification_report.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        lines = ["| class | precision | recall | f1 | support |", "|---|---:|---:|---:|---:|"]
        lines += [f"| {r['class']} | {fmt(r['precision'])} | {fmt(r['recall'])} | {fmt(r['f1'])} | {r['support']} |" for r in rows]
        (self.output_dir / "classification_report.md").write_text("\n".join(lines) + "\n")
