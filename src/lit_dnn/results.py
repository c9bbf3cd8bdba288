"""What a finished run writes: ``metrics.json``, the loggers' final hyperparameters, the closing lines."""

import logging
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import MLFlowLogger, TensorBoardLogger
from omegaconf import DictConfig

from lit_dnn.resume import file_resume_record
from lit_dnn.run_dir import write_json

log = logging.getLogger(__name__)


def hparams_of(cfg: DictConfig, git_commit: str | None = None) -> dict[str, Any]:
    """The values a person compares runs by, flattened for TensorBoard's HParams tab."""
    net, opt, data = cfg.model.net, cfg.model.optimizer, cfg.data
    return {
        "model/net": net._target_.rsplit(".", 1)[-1],
        # the network's settings (MLP: hidden_dims, dropout, activation, init; CNN: filters, ...)
        **{f"model/{k}": v if isinstance(v, (int, float, str)) else str(list(v)) for k, v in net.items() if k != "_target_"},
        "optimizer": opt._target_.rsplit(".", 1)[-1],
        "optimizer/lr": opt.lr,
        "scheduler": (cfg.model.scheduler or {}).get("_target_", "none").rsplit(".", 1)[-1],
        "data": data._target_.rsplit(".", 1)[-1] + (f"/{data.dataset}" if "dataset" in data else ""),
        "data/batch_size": data.batch_size,
        "seed": cfg.seed,
        "git_commit": str(git_commit)[:12],
    }


def stopped_while_writing(output_dir: Path) -> str:
    if (output_dir / "metrics.json").exists():
        return f"after its metrics.json was written ({output_dir}); the results are complete"
    return f"while writing the results; the run is unfinished: ckpt_path=last finishes it ({output_dir})"


def log_test_line(metrics: dict[str, Any]) -> None:
    """Keras' ``evaluate`` line, loss and accuracy first: what train.py and eval.py print of a test."""
    tested = {k[len("test/") :]: v for k, v in metrics.items() if k.startswith("test/") and "per_class" not in k and isinstance(v, float)}
    if tested:
        order = sorted(tested, key=lambda k: (k not in ("loss", "acc", "mae"), k))
        log.info("Test: %s", " - ".join(f"{k} {tested[k]:.4f}" for k in order))


def write_results(cfg: DictConfig, trainer: L.Trainer, metrics: dict[str, Any], output_dir: Path) -> None:
    """``metrics.json`` first (a logger failing after it loses no result), the loggers' final
    hyperparameters, the closing lines; a resume files its own folder into the run."""
    write_json(output_dir / "metrics.json", metrics)  # first: a logger failing below loses no result
    headline = [k for k in dict.fromkeys((cfg.optimized_metric, "test/acc", "test/mae")) if metrics.get(k) is not None]
    final = {k: metrics[k] for k in headline}
    hparams = hparams_of(cfg, metrics.get("git_commit"))
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):  # its HParams tab sets these beside the run's settings
            logger.log_hyperparams(hparams, final)
        else:  # CSVLogger and others take the settings alone (hparams.yaml)
            logger.log_hyperparams(hparams)
        if isinstance(logger, MLFlowLogger):  # the run's files a person reads: figures, reports, metrics
            for path in sorted(output_dir.iterdir()):
                if path.suffix in (".png", ".json", ".md", ".csv") and path.is_file():
                    logger.experiment.log_artifact(logger.run_id, str(path))
        logger.save()
    log_test_line(metrics)
    took = f" in {metrics['wall_time_s']:.1f} s" if isinstance(metrics.get("wall_time_s"), float) else ""
    if took and isinstance(metrics.get("command_time_s"), float):
        took += f" ({metrics['command_time_s']:.1f} s since the command started)"
    log.info(
        "Run finished%s: %s\n  metrics:     %s\n  checkpoints: %s\n  tensorboard: tensorboard --logdir %s",
        took,
        ", ".join(f"{k}={metrics[k]:.4f}" for k in headline),
        output_dir / "metrics.json",
        output_dir / "checkpoints",
        output_dir,
    )
    val, test = metrics.get("val/acc_best"), metrics.get("test/acc")
    if isinstance(val, float) and isinstance(test, float) and abs(val - test) >= 0.5:  # a degenerate run says so
        log.warning(
            "val/acc_best=%.4f and test/acc=%.4f differ by %.0f points: the validation or test split is too small "
            "(or not alike) to measure this model; use more data, or larger data.val_split and data.test_split.",
            val,
            test,
            100 * abs(val - test),
        )
    file_resume_record(output_dir)
