"""Optuna pruning inside a trial: each validation epoch's value goes to the study, and the
study's pruner may stop the run early (``hydra.sweeper.pruner=median|hyperband``).

The sweeper (``hydra/sweeper=lit_optuna``) owns the study: it asks for trials and tells their
results. A trial runs in its own job (another process with the joblib launcher, another
machine with SLURM), so the job reaches the same study through its storage, by name, and
reports to the trial the sweeper opened (its number is the job's ``optuna_trial``)."""

import lightning as L
import optuna
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from hydra_plugins.lit_dnn_optuna_sweeper.optuna_sweeper import make_pruner, open_storage, storage_url
from lit_dnn.errors import ConfigError

PRUNED = "pruned_at_epoch"  # the key in metrics.json that tells the sweeper


class OptunaPruning(L.Callback):
    """Reports ``monitor`` at the end of every validation epoch (step = the epoch, 1..N) and stops
    training at the end of that epoch when the pruner says so; ``pruned_at_epoch`` is then set."""

    def __init__(self, study_name: str, storage_url: str, pruner: str, trial_number: int, monitor: str) -> None:
        storage = open_storage(storage_url)
        study = optuna.load_study(study_name=study_name, storage=storage, pruner=make_pruner(pruner))
        trial_id = storage.get_trial_id_from_study_id_trial_number(storage.get_study_id_from_name(study_name), trial_number)
        self.trial = optuna.trial.Trial(study, trial_id)
        self.monitor = monitor
        self.pruned_at_epoch: int | None = None

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if trainer.sanity_checking or value is None or self.pruned_at_epoch is not None:
            return
        epoch = trainer.current_epoch + 1
        self.trial.report(float(value), step=epoch)
        if self.trial.should_prune():
            self.pruned_at_epoch = epoch
            trainer.should_stop = True  # Lightning ends the fit after this epoch


def trial_pruning(cfg: DictConfig) -> list[OptunaPruning]:
    """The callback for a job of a pruned Optuna sweep (the sweeper adds ``+optuna_trial``)."""
    hydra = HydraConfig.get() if HydraConfig.initialized() else None
    sweeper = hydra.sweeper if hydra is not None else {}
    if not sweeper.get("pruner"):
        raise ConfigError(
            "optuna_trial is what the Optuna sweeper gives its trials' jobs when it prunes (hydra.sweeper.pruner); "
            "remove +optuna_trial from the command."
        )
    url = storage_url(hydra.sweep.dir, sweeper.get("storage"))
    return [OptunaPruning(sweeper.study_name, url, sweeper.pruner, int(cfg.optuna_trial), cfg.optimized_metric)]
