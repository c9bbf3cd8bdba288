"""A Hydra callback that tabulates every multirun: one row per job, best first."""

import csv
import json
import logging
import math
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def job_rows(sweep_dir: Path, metric: str) -> list[dict[str, Any]]:
    """One row per job folder (those holding ``.hydra/overrides.yaml``)."""
    rows = []
    for overrides_file in sorted(sweep_dir.glob("*/.hydra/overrides.yaml")):
        job = overrides_file.parent.parent
        overrides = [o for o in OmegaConf.load(overrides_file) if not o.startswith(("hydra.", "+optuna_trial="))]
        row: dict[str, Any] = {"job": job.name, "overrides": " ".join(overrides)}
        if (job / "metrics.json").exists():
            metrics = json.loads((job / "metrics.json").read_text())
            status = f"pruned at epoch {metrics['pruned_at_epoch']}" if metrics.get("pruned_at_epoch") else "ok"
            row.update(status=status, wall_time_s=metrics.get("wall_time_s"), epochs=metrics.get("epochs_run"))
            row.update({k: v for k, v in metrics.items() if "/" in k and "per_class" not in k and isinstance(v, (int, float))})
        elif (job / "error.json").exists():
            error = json.loads((job / "error.json").read_text())
            row.update(status=f"failed: {error['error']}", wall_time_s=error.get("wall_time_s"))
        else:
            row.update(status="failed: no metrics.json (killed?)")
        rows.append(row)
    return rows


def sort_rows(rows: list[dict[str, Any]], metric: str, mode: str) -> list[dict[str, Any]]:
    def key(row: dict[str, Any]) -> tuple[int, float]:
        value = row.get(metric)
        if not isinstance(value, (int, float)) or math.isnan(value):
            return (1, 0.0)
        return (0, -value if mode == "max" else value)

    return sorted(rows, key=key)


def fold_statistics(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For a K-fold sweep (jobs that set ``data.fold``): the mean and the standard deviation (n-1) of
    every metric across the finished folds, as two more rows."""
    done = [r for r in rows if r.get("status") == "ok"]
    if len(done) < 2 or not all("data.fold=" in r["overrides"] for r in rows):
        return []
    keys = sorted({k for r in done for k, v in r.items() if ("/" in k or k in ("wall_time_s", "epochs")) and isinstance(v, (int, float))})
    mean: dict[str, Any] = {"job": "mean", "overrides": f"{len(done)} folds", "status": "ok"}
    std: dict[str, Any] = {"job": "std", "overrides": f"{len(done)} folds", "status": "ok"}
    for key in keys:
        values = [float(r[key]) for r in done if isinstance(r.get(key), (int, float))]
        if len(values) == len(done):
            m = sum(values) / len(values)
            mean[key], std[key] = m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))
    return [mean, std]


def markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else ("" if value is None else str(value))

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def test_the_winner(sweep_dir: Path, best: dict[str, Any], root: Path) -> str:
    """A sweep whose trials are not tested (``test=false``: chosen on validation) tests its best
    trial's best checkpoint once, with ``eval.py`` as a user would, into ``<sweep>/winner_test/<time>``;
    returns the line that says so."""
    metrics_file = sweep_dir / best["job"] / "metrics.json"
    checkpoint = json.loads(metrics_file.read_text()).get("best_model_path") if metrics_file.exists() else None
    if not checkpoint:
        return f"The best trial, {best['job']}, kept no checkpoint to test."
    out = sweep_dir / "winner_test" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S_%f")  # a resumed study tests anew, beside
    ran = subprocess.run(
        [sys.executable, str(root / "eval.py"), f"ckpt_path={checkpoint}", f"hydra.run.dir={out}"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if ran.returncode != 0 or not (out / "metrics.json").exists():
        last = (ran.stderr.strip().splitlines() or ["no output"])[-1]
        return f"Testing the best trial, {best['job']}, failed ({last}); test it with python eval.py ckpt_path={checkpoint}."
    tested = json.loads((out / "metrics.json").read_text())
    shown = " - ".join(f"{k.split('/', 1)[1]} {v:.4f}" for k, v in sorted(tested.items()) if k in ("test/acc", "test/loss", "test/mae"))
    return f"The best trial, {best['job']}, tested once: {shown} (metrics in {out / 'metrics.json'})."


class SweepSummary(Callback):
    """On every multirun's end (any sweeper, any launcher): ``summary.csv`` and
    ``summary.md`` in the sweep folder, sorted by ``optimized_metric``, and printed. A sweep
    run with ``test=false`` (the hparams_search configs) then tests its best trial once."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        metric, mode = config.get("optimized_metric", "val/acc_best"), config.get("optimized_mode", "max")
        rows = sort_rows(job_rows(sweep_dir, metric), metric, mode)
        if not rows:
            return
        rows += fold_statistics(rows)
        metric_columns = sorted({k for r in rows for k in r if "/" in k}, key=lambda k: (k != metric, k))
        columns = ["job", "overrides", "status", *metric_columns, "epochs", "wall_time_s"]
        with open(sweep_dir / "summary.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(rows)
        short = [
            "job",
            "overrides",
            "status",
            metric,
            *(c for c in ("test/acc", "test/mae") if c != metric and c in metric_columns),
            "wall_time_s",
        ]
        table = markdown(rows, columns)
        winner = ""
        best = rows[0]
        if config.get("test") is False and best.get("status") == "ok":
            winner = test_the_winner(sweep_dir, best, Path(sys.argv[0]).resolve().parent)  # eval.py beside train.py
        text = f"Sweep {sweep_dir}, sorted by {metric} ({mode}).\n\n{table}"
        (sweep_dir / "summary.md").write_text(text + (f"\n{winner}\n" if winner else ""))
        log.info(
            "Sweep summary (%d jobs, best first by %s); full table in %s:\n%s",
            len(rows),
            metric,
            sweep_dir / "summary.md",
            markdown(rows, short),
        )
        if winner:
            log.info(winner)
