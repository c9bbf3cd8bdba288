"""Ask Optuna for trials, launch them as Hydra jobs, tell Optuna the results.

Why not ``hydra-optuna-sweeper``: it pins optuna < 3, whose SQL storage fails under
SQLAlchemy 2, so persistent (resumable, shared) studies need three libraries held years
back. This sweeper is ~100 lines over the current Optuna API.

Optuna and SQLAlchemy are imported when a sweep starts: Hydra imports every plugin module
at each start, and importing those two would slow every ``python train.py``.
"""

from __future__ import annotations

import json
import logging
import math
import os
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, Override, RangeSweep
from hydra.core.plugins import Plugins
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from hydra_plugins.lit_dnn_optuna_sweeper import config as sweeper_config  # noqa: F401  (registers hydra/sweeper=lit_optuna)

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)
SAMPLERS = {"tpe": "TPESampler", "random": "RandomSampler"}  # names in optuna.samplers
PRUNERS = ("median", "hyperband")


def make_pruner(name: str | None) -> optuna.pruners.BasePruner:
    """The study's pruner by name; the sweeper and each trial's job build the same one."""
    import optuna

    if name is None:
        return optuna.pruners.NopPruner()
    if name == "median":  # an epoch's value below the median of earlier trials' at that epoch
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    raise ValueError(f"hydra.sweeper.pruner={name} is not one of {', '.join(PRUNERS)} or null.")


def storage_url(sweep_dir: str | Path, storage: str | None) -> str:
    """The study's storage: ``storage`` when given, else SQLite in the sweep folder."""
    return storage or f"sqlite:///{Path(sweep_dir).resolve()}/optuna.db"


def open_storage(url: str) -> optuna.storages.RDBStorage:
    import optuna

    engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=engine)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def search_space(params: dict[str, str]) -> dict[str, Override]:
    parser = OverridesParser.create()
    return {o.key_or_group: o for o in parser.parse_overrides([f"{k}={v}" for k, v in params.items()])}


def suggest(trial: optuna.Trial, key: str, override: Override) -> str:
    """One sampled value, as Hydra override text."""
    sweep = override.value()
    if isinstance(sweep, ChoiceSweep):
        options = {override._get_value_element_as_str(v): v for v in sweep.list}
        return trial.suggest_categorical(key, list(options))
    if isinstance(sweep, RangeSweep):
        return str(trial.suggest_int(key, int(sweep.start), int(sweep.stop) - 1, step=int(sweep.step or 1)))
    if isinstance(sweep, IntervalSweep):
        log_scale = "log" in sweep.tags
        if isinstance(sweep.start, int) and isinstance(sweep.end, int):
            return str(trial.suggest_int(key, sweep.start, sweep.end, log=log_scale))
        return repr(trial.suggest_float(key, float(sweep.start), float(sweep.end), log=log_scale))
    raise ValueError(f"hydra.sweeper.params.{key}={override.input_line!r}: use choice(...), range(...) or interval(...)")


class LitOptunaSweeper(Sweeper):
    def __init__(
        self,
        study_name: str,
        storage: str | None,
        direction: str,
        n_trials: int,
        n_jobs: int,
        sampler: dict[str, Any],
        params: dict[str, str],
        pruner: str | None = None,
    ) -> None:
        self.study_name, self.storage, self.direction = study_name, storage, direction
        self.n_trials, self.n_jobs = n_trials, n_jobs
        self.sampler_conf = dict(sampler)
        self.pruner = pruner
        self.space = search_space(dict(params or {}))
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(hydra_context=hydra_context, task_function=task_function, config=config)

    def _study(self) -> optuna.Study:
        import optuna
        import sqlalchemy

        sweep_dir = Path(self.config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        url = storage_url(sweep_dir, self.storage)
        pruner = make_pruner(self.pruner)
        for attempt in range(5):
            try:  # two workers starting together race to create the schema; the loser retries
                return optuna.create_study(
                    study_name=self.study_name, storage=open_storage(url), direction=self.direction, pruner=pruner, load_if_exists=True
                )
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
                if attempt == 4:
                    raise
                time.sleep(0.5 + attempt)
        raise AssertionError("unreachable")

    def sampler(self, trials_so_far: int) -> optuna.samplers.BaseSampler:
        """Seeded from the sampler seed and the trials already in the study: a rerun or a second
        worker draws new parameters instead of repeating the first worker's sequence."""
        import optuna

        seed = self.sampler_conf.get("seed")
        if seed is not None:
            seed = (int(seed) + 1_000_003 * trials_so_far) % 2**32
        return getattr(optuna.samplers, SAMPLERS[self.sampler_conf.get("name", "tpe")])(seed=seed)

    def fail_abandoned_trials(self, study: optuna.Study) -> None:
        """Trials left RUNNING by a worker of this machine that no longer runs (killed) are marked failed."""
        import optuna

        host = socket.gethostname()
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            worker_host, _, pid = str(trial.user_attrs.get("worker", "")).rpartition(":")
            if worker_host == host and pid.isdigit() and not pid_alive(int(pid)):
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
                log.warning("Trial %d was left running by a stopped worker (%s); marked failed", trial.number, trial.user_attrs["worker"])

    def check_config(self) -> None:
        """A metric name that no run logs fails every trial: say so once, before the first."""
        from lit_dnn.checkpoint import build_model
        from lit_dnn.config_checks import check_metric_names, instantiate
        from lit_dnn.errors import UserError

        try:
            datamodule = instantiate(self.config.data)
            datamodule.prepare_data()
            datamodule.setup()  # a table's columns and classes are known once it is read
            model = build_model(self.config.model, datamodule)
            check_metric_names(model.metric_names(), self.config)
        except UserError as err:
            print(f"Error: {err}", file=sys.stderr)
            sys.exit(2)

    def sweep(self, arguments: list[str]) -> None:
        import optuna

        self.check_config()
        try:
            make_pruner(self.pruner)
        except ValueError as err:
            print(f"Error: {err}", file=sys.stderr)
            sys.exit(2)
        study = self._study()
        self.fail_abandoned_trials(study)
        study.sampler = self.sampler(len(study.trials))
        finished = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL, optuna.trial.TrialState.PRUNED)
        fixed = list(arguments)
        log.info(
            "Study %r (%s): %d trials finished of %d",
            study.study_name,
            self.storage or "sqlite in the sweep folder",
            len(study.get_trials(deepcopy=False, states=finished)),
            self.n_trials,
        )
        while (done := len(study.get_trials(deepcopy=False, states=finished))) < self.n_trials:
            trials = [study.ask() for _ in range(min(self.n_jobs, self.n_trials - done))]
            for trial in trials:  # which process ran it: useful when several machines share a study
                trial.set_user_attr("worker", self.worker)
            # with a pruner, each job reports its epochs to its trial (lit_dnn.callbacks.pruning)
            batch = [
                fixed
                + [f"{k}={suggest(t, k, o)}" for k, o in self.space.items()]
                + [f"hydra.sweep.subdir=trial_{t.number:04d}"]
                + ([f"+optuna_trial={t.number}"] if self.pruner else [])
                for t in trials
            ]
            results = self.launcher.launch(batch, initial_job_idx=trials[0].number)
            for trial, result in zip(trials, results):
                value = result.return_value if result.status.name == "COMPLETED" else None
                metrics_file = Path(self.config.hydra.sweep.dir) / f"trial_{trial.number:04d}" / "metrics.json"
                pruned_at = json.loads(metrics_file.read_text()).get("pruned_at_epoch") if metrics_file.exists() else None
                if pruned_at:
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    log.info("Trial %d: pruned after epoch %d", trial.number, pruned_at)
                elif isinstance(value, (int, float)) and math.isfinite(value):
                    study.tell(trial, float(value))
                    log.info("Trial %d: %s = %.4f", trial.number, self.config.get("optimized_metric"), value)
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    error = Path(self.config.hydra.sweep.dir) / f"trial_{trial.number:04d}" / "error.json"
                    log.warning("Trial %d failed (%s)", trial.number, f"see {error}" if error.exists() else "no error.json: killed?")
        best = study.best_trial if any(t.state.name == "COMPLETE" for t in study.trials) else None
        if best is not None:
            log.info("Best trial %d: %.4f with %s", best.number, best.value, best.params)
            OmegaConf.save(
                OmegaConf.create({"value": best.value, "params": best.params, "trial": best.number}),
                Path(self.config.hydra.sweep.dir) / "optimization_results.yaml",
            )
