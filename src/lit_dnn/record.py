"""What a checkpoint says about its run: one typed record, written by train.py and read back in one place.

``RunRecord.of_run`` builds it from the run's configs and data; its ``hparams()`` are the plain
values Lightning saves as the checkpoint's ``hyper_parameters``. ``RunRecord.from_hparams``
(called by ``checkpoint.read_checkpoint`` only) checks every field of a file's values and builds
the record; eval, predict, export, serve and a resume read its attributes, never the raw dict.
"""

import copy
import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from lit_dnn.config_checks import check_data
from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import CheckpointError, ConfigError
from lit_dnn.limits import MAX_CLASSES, MAX_INPUT_VALUES, MAX_NAME_CHARS
from lit_dnn.text import printable

TASKS = ("classification", "regression")
# the trainer settings that fix a run's length in optimiser steps (a one-cycle schedule is planned
# for it), with their values where a checkpoint does not record them
RUN_LENGTH = {"max_epochs": None, "limit_train_batches": None, "max_steps": -1, "accumulate_grad_batches": 1}
# the trainer's settings a resume takes from its checkpoint unless the command sets them
RUN_SETTINGS = (*RUN_LENGTH, "gradient_clip_val")
# the run's own settings beside model and data, by their types in the file
SETTING_TYPES: dict[str, tuple[type, ...]] = {
    "seed": (int,),
    "max_epochs": (int, type(None)),
    "limit_train_batches": (int, float, type(None)),
    "max_steps": (int,),
    "accumulate_grad_batches": (int, type(None)),
    "gradient_clip_val": (int, float, type(None)),
}
FIX = "pass a .ckpt written by train.py."


def run_length(trainer_cfg: Any) -> dict[str, Any]:
    """The trainer's settings a checkpoint records: the run's length (a one-cycle schedule is planned
    for it) and its gradient clipping."""
    return {
        **{key: trainer_cfg.get(key, unset) for key, unset in RUN_LENGTH.items()},
        "gradient_clip_val": trainer_cfg.get("gradient_clip_val"),
    }


@dataclass(frozen=True)
class RunRecord:
    model: dict[str, Any]  # the model config, resolved: head, net, optimizer, scheduler
    data: dict[str, Any]  # the data config, resolved (its _target_ is one of DATAMODULES)
    input_shape: tuple[int, ...]  # one sample's shape
    task: str  # classification or regression
    normalization: dict[str, Any]  # the inputs' scaling as trained (Normalization.as_dict)
    class_names: list[str] | None = None  # classification: one name per output
    target_names: list[str] | None = None  # regression: one name per output, with their scaling
    target_mean: list[float] | None = None
    target_std: list[float] | None = None
    table: dict[str, Any] | None = None  # a table's columns (TableDataModule.schema)
    seed: int | None = None  # None: not recorded (a checkpoint from before seeds were)
    max_epochs: int | None = None
    limit_train_batches: int | float | None = None
    max_steps: int = -1
    accumulate_grad_batches: int | None = 1
    gradient_clip_val: int | float | None = None
    recorded: frozenset[str] = field(default=frozenset(RUN_SETTINGS), compare=False)  # which run settings the file holds

    @property
    def regression(self) -> bool:
        return self.task == "regression"

    @property
    def output_names(self) -> list[str]:
        """The class names, or for a regression the target names."""
        return list(self.target_names if self.regression else self.class_names)

    def planned_length(self) -> dict[str, Any]:
        """The run length its schedule was planned for (``RUN_LENGTH``'s defaults where not recorded)."""
        return {key: getattr(self, key) if key in self.recorded else unset for key, unset in RUN_LENGTH.items()}

    def settings(self) -> dict[str, Any]:
        """The recorded trainer settings a resume adopts."""
        return {key: getattr(self, key) for key in RUN_SETTINGS if key in self.recorded}

    def hparams(self) -> dict[str, Any]:
        """The plain values saved as the checkpoint's ``hyper_parameters`` (the file's format)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "recorded"}
        values["input_shape"] = list(self.input_shape)
        optional = ("class_names", "target_names", "target_mean", "target_std", "table", "seed")
        return {k: copy.deepcopy(v) for k, v in values.items() if not (k in optional and v is None)}

    @classmethod
    def of_run(cls, model_cfg: Any, data_cfg: Any, datamodule: Any, length: dict[str, Any], seed: int) -> "RunRecord":
        """The record of a run about to train: its configs, the data's shape, head (class names, or
        regression targets and their scaling), input normalisation and table schema."""

        def to_plain(cfg: Any) -> Any:  # resolved in place: data.seed is ${seed} of the whole config
            return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else copy.deepcopy(cfg)

        return cls(
            model=to_plain(model_cfg),
            data=to_plain(data_cfg),
            input_shape=tuple(datamodule.input_shape),
            task=datamodule.task,
            normalization=datamodule.normalization.as_dict(),
            table=datamodule.schema() if hasattr(datamodule, "schema") else None,
            seed=seed,
            **datamodule.head(),
            **length,
        )

    @classmethod
    def from_hparams(cls, hp: dict[str, Any], path: str | Path) -> "RunRecord":
        """The record of a file's ``hyper_parameters`` (already walked by ``check_plain``): every field
        has its type, sizes are within ``lit_dnn.limits``, the normalisation and target scaling fit."""
        hp = copy.deepcopy(hp)
        upgrade(hp)
        for key, types in SETTING_TYPES.items():
            value = hp.get(key)
            if key in hp and (isinstance(value, bool) or not isinstance(value, types)):
                kind = "a number" if float in types else "an integer"
                raise CheckpointError(f"{path} has {key}={printable(repr(value)[:80])}, not {kind}; {FIX}")
        task = hp.get("task", "classification")
        if task not in TASKS:
            raise CheckpointError(f"{path} has task={printable(repr(task)[:80])}, not one of {', '.join(TASKS)}; {FIX}")
        if not isinstance(hp.get("data", {}), dict):
            raise CheckpointError(f"{path} has a data config that is not a mapping; {FIX}")
        shape = hp.get("input_shape")
        if not (positive_ints(shape) and shape):
            raise CheckpointError(f"{path} lacks a valid input_shape; {FIX}")
        if math.prod(shape) > MAX_INPUT_VALUES:
            raise CheckpointError(
                f"{path} has input_shape={shape}, {math.prod(shape):,} values a sample, over lit-dnn's limit of "
                f"{MAX_INPUT_VALUES:,} (lit_dnn.limits.MAX_INPUT_VALUES); {FIX}"
            )
        check_names(hp, task, path)
        check_scaling(hp, task, shape, path)
        table = hp.get("table")
        if table is not None and not (isinstance(table, dict) and isinstance(table.get("input_columns"), list)):
            raise CheckpointError(f"{path} has a table schema without its input_columns; {FIX}")
        try:  # the same rules as a training config's data (sizes of generated data among them)
            check_data(OmegaConf.create(hp.get("data", {})))
        except ConfigError as err:
            raise CheckpointError(f"{path} has data settings lit-dnn refuses ({str(err).rstrip('.')}); {FIX}") from err
        regression = task == "regression"
        return cls(
            model=hp["model"],
            data=hp.get("data", {}),
            input_shape=tuple(shape),
            task=task,
            normalization=hp["normalization"],
            class_names=None if regression else hp["class_names"],
            target_names=hp["target_names"] if regression else None,
            target_mean=hp.get("target_mean") if regression else None,
            target_std=hp.get("target_std") if regression else None,
            table=table,
            seed=hp.get("seed"),
            **{key: hp.get(key, unset) for key, unset in RUN_LENGTH.items()},
            gradient_clip_val=hp.get("gradient_clip_val"),
            recorded=frozenset(key for key in RUN_SETTINGS if key in hp),
        )


def upgrade(hp: dict[str, Any]) -> None:
    """A checkpoint from before training used Lightning's automatic optimisation names two settings
    that moved: ``data.batches_per_step`` (how many batches one Lightning step held; the updates
    were the same, so it is dropped) and ``model.gradient_clip_val`` (now the trainer's, kept as
    the run's ``gradient_clip_val`` for a resume)."""
    data = hp.get("data")
    if isinstance(data, dict):
        data.pop("batches_per_step", None)
    clip = hp["model"].pop("gradient_clip_val", None)
    if clip is not None and hp.get("gradient_clip_val") is None:
        hp["gradient_clip_val"] = clip


def positive_ints(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)


def check_names(hp: dict[str, Any], task: str, path: str | Path) -> None:
    """The class names (two or more) or, for a regression, the target names (one or more), within the limits."""
    key = "target_names" if task == "regression" else "class_names"
    names = hp.get(key)
    if not (isinstance(names, list) and len(names) >= (1 if task == "regression" else 2) and all(isinstance(c, str) for c in names)):
        raise CheckpointError(f"{path} lacks valid {key}; {FIX}")
    if len(names) > MAX_CLASSES:
        raise CheckpointError(
            f"{path} names {len(names):,} outputs, over lit-dnn's limit of {MAX_CLASSES:,} (lit_dnn.limits.MAX_CLASSES); {FIX}"
        )
    long = next((n for n in names if len(n) > MAX_NAME_CHARS), None)
    if long is not None:
        raise CheckpointError(
            f"{path} has an output name of {len(long):,} characters ({printable(long[:40])}...), over lit-dnn's limit of "
            f"{MAX_NAME_CHARS} (lit_dnn.limits.MAX_NAME_CHARS); {FIX}"
        )


def check_scaling(hp: dict[str, Any], task: str, shape: list[int], path: str | Path) -> None:
    """The input normalisation and a regression's target scaling and loss: what eval, predict, export
    and a resume read beside the weights, each refused here if it could not work."""
    norm = hp.get("normalization")
    if not (isinstance(norm, dict) and {"scale", "mean", "std"} <= set(norm)):
        raise CheckpointError(f"{path} lacks its input normalisation (scale, mean, std); {FIX}")
    try:
        Normalization.from_dict(norm, tuple(shape))
    except ValueError as err:
        raise CheckpointError(f"{path} has an input normalisation that does not fit ({err}); {FIX}") from err
    if task == "regression":
        from lit_dnn.models.regressor import LOSSES

        stats = [hp.get("target_mean"), hp.get("target_std")]
        n = len(hp["target_names"])
        if (
            not all(isinstance(s, list) and len(s) == n and all(isinstance(v, (int, float)) for v in s) for s in stats)
            or min(stats[1]) < Normalization.TINY
            or hp["model"].get("loss", "mse") not in LOSSES
        ):
            raise CheckpointError(f"{path} lacks a valid target scaling (target_mean, target_std) or loss; {FIX}")
