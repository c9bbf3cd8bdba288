"""The sweeper's config, registered as ``hydra/sweeper=lit_optuna``."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class LitOptunaSweeperConf:
    _target_: str = "hydra_plugins.lit_dnn_optuna_sweeper.optuna_sweeper.LitOptunaSweeper"
    study_name: str = "lit_dnn"
    # any SQLAlchemy URL (postgresql://user:pw@host/db shares one study between machines);
    # null: sqlite:///<sweep dir>/optuna.db
    storage: str | None = None
    direction: str = "maximize"
    # trials to finish in the study (completed + failed), counted across every run and worker
    n_trials: int = 20
    # trials asked for at once and handed to the launcher together (joblib runs them in parallel)
    n_jobs: int = 1
    sampler: dict[str, Any] = field(default_factory=lambda: {"name": "tpe", "seed": None})
    # stop unpromising trials early: median (below the median of earlier trials at the same epoch,
    # after 3 trials and 2 epochs) | hyperband | null (every trial trains its epochs out)
    pruner: str | None = None
    # key: Hydra sweep syntax, e.g. tag(log, interval(1e-4, 1e-2)), choice([128], [256,128]), range(1, 4)
    params: dict[str, str] = field(default_factory=dict)


ConfigStore.instance().store(group="hydra/sweeper", name="lit_optuna", node=LitOptunaSweeperConf, provider="lit_dnn")
