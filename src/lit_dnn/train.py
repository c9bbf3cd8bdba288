"""``train(cfg)``: the whole of ``python train.py``, callable from tests and sweeps."""

import logging
import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from omegaconf import DictConfig

from lit_dnn.callbacks.reproducible import EpochSeed, PreemptionCheckpoint
from lit_dnn.callbacks.summary import summary_text
from lit_dnn.checkpoint import build_model, check_shapes, read_checkpoint
from lit_dnn.config_checks import check_metric_names, check_train_config, instantiate, instantiate_all
from lit_dnn.entry_points import remove_if_empty_run_folder, sigterm_stops
from lit_dnn.provenance import seconds_since_process_start, write_provenance
from lit_dnn.record import RunRecord, run_length
from lit_dnn.results import stopped_while_writing, write_results
from lit_dnn.resume import adopt_checkpoint_config, check_schedule, resume_folder
from lit_dnn.run_dir import plain, resolve_ckpt_path
from lit_dnn.workarounds import prepare_trainer

log = logging.getLogger(__name__)


def build(cfg: DictConfig, extra_callbacks: list[Any] = ()) -> tuple[L.LightningDataModule, L.LightningModule, L.Trainer]:
    """The datamodule, model and trainer that ``train`` runs (also used by the benchmark)."""
    datamodule = instantiate(cfg.data, "data")
    datamodule.prepare_data()
    datamodule.setup("fit")  # missing or broken data fails here, before the trainer starts
    model = build_model(cfg.model, datamodule)  # a table's shape and classes are known once it is read
    model.save_hyperparameters(RunRecord.of_run(cfg.model, cfg.data, datamodule, run_length(cfg.trainer), cfg.seed).hparams())
    callbacks = [*instantiate_all(cfg.get("callbacks"), "callbacks"), EpochSeed(cfg.seed), PreemptionCheckpoint(), *extra_callbacks]
    loggers = instantiate_all(cfg.get("logger"), "logger")
    trainer: L.Trainer = instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    check_metric_names(model.metric_names(), cfg)
    prepare_trainer(trainer, model)
    return datamodule, model, trainer


def command_seconds() -> float | None:
    """Seconds since ``python train.py`` started, for a single run of the command (a sweep's job or a
    notebook's ``fit`` runs in a process that started before it: None)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if not HydraConfig.initialized() or HydraConfig.get().mode != RunMode.RUN:
        return None
    return seconds_since_process_start()


def announce_early_stop(trainer: L.Trainer) -> None:
    """Keras prints ``Epoch 12: early stopping``; a run that stops early says so here, on screen and in train.log."""
    stopper = trainer.early_stopping_callback
    if stopper is not None and stopper.stopped_epoch > 0 and trainer.is_global_zero:
        log.info(
            "Early stopping after epoch %d of %d: %s did not improve for %d validations (best %.4f); "
            "callbacks.early_stopping.patience=%d sets how many, callbacks.early_stopping=null turns it off.",
            stopper.stopped_epoch + 1,
            trainer.max_epochs,
            stopper.monitor,
            stopper.wait_count,
            float(stopper.best_score),
            stopper.patience,
        )


def train(cfg: DictConfig) -> dict[str, Any]:
    """Fit, test the best checkpoint, write ``metrics.json``; returns the final metrics.

    The value of ``cfg.optimized_metric`` is ``metrics[cfg.optimized_metric]``.
    """
    start = time.perf_counter()
    check_train_config(cfg)
    if cfg.get("summary_only"):  # Keras' model.summary() without fit: the data gives the shapes
        datamodule = instantiate(cfg.data, "data")
        datamodule.prepare_data()
        datamodule.setup("fit")
        print(summary_text(build_model(cfg.model, datamodule).net, tuple(datamodule.input_shape)))
        remove_if_empty_run_folder()  # nothing was trained: no run folder left behind
        return {}
    ckpt_path = resolve_ckpt_path(cfg.get("ckpt_path"), cfg.paths.log_dir)
    if ckpt_path is not None:
        resumed = read_checkpoint(ckpt_path)  # fail now on a bad file, not after setup
        ckpt_path = ckpt_path.resolve()
        adopt_checkpoint_config(cfg, resumed.record, ckpt_path)
        check_train_config(cfg)
        check_schedule(resumed, cfg, ckpt_path)
        resume_folder(cfg, ckpt_path)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    if cfg.get("lr_find"):  # tune=lr_find: the learning-rate range test instead of a run
        from lit_dnn.lr_find import lr_find

        return lr_find(cfg, build)

    pruning = []
    if cfg.get("optuna_trial") is not None:  # a job of an Optuna sweep with a pruner (imports Optuna only then)
        from lit_dnn.callbacks.pruning import trial_pruning

        pruning = trial_pruning(cfg)
    datamodule, model, trainer = build(cfg, extra_callbacks=pruning)
    # after the last config check: a command refused in one sentence leaves no run folder behind
    commit = write_provenance(Path(cfg.paths.output_dir), Path(cfg.paths.root_dir), write=trainer.is_global_zero)
    if ckpt_path is not None:
        check_shapes(resumed.raw, model, ckpt_path)
    trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
    announce_early_stop(trainer)

    # a run resumed after its last epoch trains no more: its epoch metrics come from the checkpoint
    metrics: dict[str, Any] = {**model.restored_fit_metrics, **{k: plain(v) for k, v in trainer.callback_metrics.items()}}
    checkpoint = next((c for c in trainer.checkpoint_callbacks if isinstance(c, ModelCheckpoint) and c.monitor), None)
    best = checkpoint.best_model_path if checkpoint is not None else ""
    pruned_at = pruning[0].pruned_at_epoch if pruning else None
    if pruned_at is not None:
        metrics["pruned_at_epoch"] = pruned_at  # the sweeper tells Optuna; a pruned trial is not tested
    elif cfg.get("test"):
        # the best checkpoint, not the last weights; fast_dev_run and no-checkpoint runs test the weights in hand
        # not verbose: the test metrics are printed once, as one "Test:" line (write_results) beside the classification report
        test_metrics = trainer.test(model, datamodule=datamodule, ckpt_path=best or None, weights_only=True, verbose=False)
        metrics.update({k: plain(v) for k, v in test_metrics[0].items()})
    metrics.update(
        best_model_path=best,
        epochs_run=trainer.current_epoch,
        wall_time_s=round(time.perf_counter() - start, 3),  # train(): reading the data, training, testing
        command_time_s=command_seconds(),  # and Python's start-up and imports before it
        git_commit=commit,
    )

    output_dir = Path(cfg.paths.output_dir)
    if trainer.is_global_zero:
        with sigterm_stops(lambda: stopped_while_writing(output_dir)):
            write_results(cfg, trainer, metrics, output_dir)
    return metrics
