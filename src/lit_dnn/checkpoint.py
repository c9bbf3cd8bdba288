"""Reading checkpoints safely and rebuilding what they hold from checked plain values.

A checkpoint is a file people send each other. It is read with ``weights_only=True`` (no
pickled objects), and nothing named in it is ever instantiated: its settings are plain
values, checked here and handed to the project's own classes (``MLP``, ``Classifier``, the
datamodules of ``DATAMODULES``). A ``_target_`` written in a file is compared, never imported.
"""

import copy
import importlib
import inspect
import math
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from lit_dnn.config_checks import instantiate
from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import CheckpointError, ConfigError, first_line
from lit_dnn.models.classifier import Classifier
from lit_dnn.models.mlp import MLP

# the datamodules a checkpoint may name, by the ``_target_`` that conf/data writes
DATAMODULES = ("lit_dnn.data.image.ImageDataModule", "lit_dnn.data.binary.BinaryDataModule", "lit_dnn.data.table.TableDataModule")
PLAIN = (str, int, float, bool, type(None))
# the model class each task trains, by the ``_target_`` that conf/model and conf/task write
HEADS = {"classification": "lit_dnn.models.classifier.Classifier", "regression": "lit_dnn.models.regressor.Regressor"}


# the trainer settings that fix a run's length in optimiser steps (a one-cycle schedule is planned
# for it), with their values where a checkpoint does not record them
RUN_LENGTH = {"max_epochs": None, "limit_train_batches": None, "max_steps": -1}


def run_length(trainer_cfg: Any) -> dict[str, Any]:
    return {key: trainer_cfg.get(key, unset) for key, unset in RUN_LENGTH.items()}


def metadata(model_cfg: Any, data_cfg: Any, datamodule: Any, length: dict[str, Any], seed: int) -> dict[str, Any]:
    """Everything a checkpoint says about its run, as plain values (its ``hyper_parameters``): the
    configs, the data's shape, head (class names, or regression targets and their scaling) and input
    normalisation."""

    def to_plain(cfg: Any) -> Any:  # resolved in place: data.seed is ${seed} of the whole config
        return OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else copy.deepcopy(cfg)

    return {
        "model": to_plain(model_cfg),
        "data": to_plain(data_cfg),
        "input_shape": list(datamodule.input_shape),
        "task": datamodule.task,
        **datamodule.head(),
        "normalization": datamodule.normalization.as_dict(),
        **({"table": datamodule.schema()} if hasattr(datamodule, "schema") else {}),
        **length,  # max_epochs, limit_train_batches, max_steps
        "seed": seed,
    }


def build_model(model_cfg: Any, datamodule: Any) -> Any:
    """The model of a training config (the user's own ``conf/`` and command line), shaped by the data:
    its inputs, one output per class (or regression target), and the head's settings from the data."""
    plain = OmegaConf.to_container(model_cfg if isinstance(model_cfg, DictConfig) else OmegaConf.create(model_cfg), resolve=True)
    head = HEADS[datamodule.task]
    if plain.get("_target_") not in HEADS.values():
        raise ConfigError(f"model._target_={plain.get('_target_')!r} is not one of lit-dnn's heads ({', '.join(HEADS.values())}).")
    if plain["_target_"] != head:
        fix = "task=regression" if datamodule.task == "regression" else "task=classification"
        raise ConfigError(
            f"the data is a {datamodule.task} (data.target {getattr(datamodule, 'targets', '')}) but the model "
            f"is {plain['_target_'].rsplit('.', 1)[-1]}; add {fix} to the command (or set data.task)."
        )
    outputs = len(datamodule.output_names)
    if plain.get("binary_output") == "sigmoid":
        if datamodule.task != "classification" or outputs != 2:
            raise ConfigError(
                f"model.binary_output=sigmoid is for two classes; this data has {outputs} "
                f"{'classes' if datamodule.task == 'classification' else 'regression targets'}: drop it."
            )
        outputs = 1
    if datamodule.task == "regression":
        plain.pop("binary_output", None)
    return instantiate(
        plain,
        net={"input_shape": list(datamodule.input_shape), "num_classes": outputs},
        **datamodule.head(),
        _convert_="all",
    )


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``, turning every failure into one sentence."""
    path = Path(str(path))
    if path.is_dir():
        raise CheckpointError(f"ckpt_path={path} is a folder; pass a .ckpt file in it, e.g. {path}/last.ckpt.")
    if not path.is_file():
        raise CheckpointError(f"ckpt_path={path} does not exist; pass ckpt_path=<a .ckpt file written by train.py>.")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes); pass another .ckpt, e.g. checkpoints/last.ckpt of the run.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "GLOBAL" not in str(err):  # torch names the refused global: "unsupported GLOBAL posix.system"
            raise CheckpointError(
                f"{path} is not a readable checkpoint (not a torch file, or a damaged one); "
                f"pass another .ckpt, e.g. checkpoints/last.ckpt of the run."
            ) from err
        raise CheckpointError(
            f"{path} holds pickled objects other than tensors and plain values, refused for safety "
            f"(loading them could run code); pass a .ckpt written by train.py."
        ) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or not a torch file: {first_line(err)[:120]}); "
            f"pass another .ckpt, e.g. checkpoints/last.ckpt of the run."
        ) from err
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path} is a torch file but not a Lightning checkpoint (no state_dict); pass a .ckpt written by train.py.")
    hp = checkpoint.get("hyper_parameters")
    if not isinstance(hp, dict) or not isinstance(hp.get("model"), dict):
        raise CheckpointError(
            f"{path} was not written by lit-dnn (no model config in its hyperparameters); pass a .ckpt written by train.py."
        )
    check_plain(hp, path)
    return checkpoint


def check_plain(value: Any, path: str | Path, where: str = "hyper_parameters") -> None:
    """Only strings, numbers, booleans, None, lists and string-keyed dicts of them."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{path} has a non-text key {key!r} in {where}; pass a .ckpt written by train.py.")
            check_plain(item, path, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_plain(item, path, f"{where}[{i}]")
    elif not isinstance(value, PLAIN) or (isinstance(value, float) and not math.isfinite(value)):
        raise CheckpointError(f"{path} has {where}={value!r}, which is not a plain value; pass a .ckpt written by train.py.")


def _positive_ints(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)


def output_names(hp: dict[str, Any], path: str | Path) -> list[str]:
    """The class names (two or more) or, for a regression, the target names (one or more)."""
    regression = hp.get("task") == "regression"
    names = hp.get("target_names" if regression else "class_names")
    if not (isinstance(names, list) and len(names) >= (1 if regression else 2) and all(isinstance(c, str) for c in names)):
        raise CheckpointError(f"{path} lacks valid {'target_names' if regression else 'class_names'}; pass a .ckpt written by train.py.")
    return names


def net_from_hparams(hp: dict[str, Any], path: str | Path) -> MLP:
    """The checkpoint's network, built by ``MLP`` from its checked arguments."""
    net = hp["model"].get("net")
    shape, classes = hp.get("input_shape"), output_names(hp, path)
    if not (_positive_ints(shape) and shape and isinstance(net, dict)):
        raise CheckpointError(f"{path} lacks a valid input_shape or model.net; pass a .ckpt written by train.py.")
    accepted = set(inspect.signature(MLP).parameters) - {"input_shape", "num_classes"}
    unknown = sorted(set(net) - accepted - {"_target_"})
    if net.get("_target_") != "lit_dnn.models.mlp.MLP" or unknown:
        raise CheckpointError(
            f"{path} describes a network lit-dnn does not build (model.net: target "
            f"{net.get('_target_')!r}, unknown keys {unknown}); pass a .ckpt written by train.py."
        )
    kwargs = {k: v for k, v in net.items() if k != "_target_"}
    try:  # MLP checks its own arguments (check_net_arguments)
        outputs = 1 if hp["model"].get("binary_output") == "sigmoid" and len(classes) == 2 else len(classes)
        return MLP(input_shape=tuple(shape), num_classes=outputs, **kwargs)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"{path} has model.net settings MLP refuses ({err}); pass a .ckpt written by train.py.") from err


def check_shapes(checkpoint: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """Raise naming every layer whose shape differs between a checkpoint and a model."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items() if isinstance(v, torch.Tensor)}
    problems = [f"{k}: checkpoint {found[k]} vs model {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    problems += [f"{k}: missing in checkpoint" for k in expected if k not in found]
    problems += [f"{k}: not in model" for k in checkpoint["state_dict"] if k not in expected]
    if problems:
        shown = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
        raise CheckpointError(f"{path} holds a different architecture ({shown}); use the model settings it was trained with.")


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    """The trained model of a checkpoint (a ``Classifier`` or a ``Regressor``), in eval mode, and its hyperparameters."""
    checkpoint = read_checkpoint(path)
    hp = checkpoint["hyper_parameters"]
    net = net_from_hparams(hp, path)
    norm = hp.get("normalization")
    if not (isinstance(norm, dict) and {"scale", "mean", "std"} <= set(norm)):
        raise CheckpointError(f"{path} lacks its input normalisation (scale, mean, std); pass a .ckpt written by train.py.")
    try:
        Normalization.from_dict(norm, tuple(hp["input_shape"]))
    except ValueError as err:
        raise CheckpointError(f"{path} has an input normalisation that does not fit ({err}); pass a .ckpt written by train.py.") from err
    if hp.get("task") == "regression":
        from lit_dnn.models.regressor import LOSSES, Regressor

        stats = [hp.get("target_mean"), hp.get("target_std")]
        n = len(hp["target_names"])
        loss = hp["model"].get("loss", "mse")
        if (
            not all(isinstance(s, list) and len(s) == n and all(isinstance(v, (int, float)) for v in s) for s in stats)
            or min(stats[1]) <= 0
            or loss not in LOSSES
        ):
            raise CheckpointError(
                f"{path} lacks a valid target scaling (target_mean, target_std) or loss; pass a .ckpt written by train.py."
            )
        model = Regressor(net, target_names=hp["target_names"], target_mean=stats[0], target_std=stats[1], loss=loss)
    else:
        model = Classifier(net, class_names=hp["class_names"], binary_output=hp["model"].get("binary_output", "softmax"))
    check_shapes(checkpoint, model, path)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), hp


def datamodule_from_hparams(data: dict[str, Any], path: str | Path, **overrides: Any) -> Any:
    """The checkpoint's datamodule: a class of ``DATAMODULES`` built from the file's plain arguments."""
    target = data.get("_target_") if isinstance(data, dict) else None
    if target not in DATAMODULES:
        raise CheckpointError(
            f"{path} names data {target!r}, not one of lit-dnn's datamodules ({', '.join(DATAMODULES)}); pass a .ckpt written by train.py."
        )
    module, name = target.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    accepted = set(inspect.signature(cls).parameters)
    kwargs = {k: v for k, v in {**data, **overrides}.items() if k in accepted}
    return cls(**kwargs)
