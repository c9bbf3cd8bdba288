"""Reading checkpoints safely and rebuilding what they hold from checked plain values.

A checkpoint is a file people send each other. It is read with ``weights_only=True`` (no
pickled objects), and nothing named in it is ever instantiated: its settings are plain
values, checked here and handed to the project's own classes (``MLP``, ``Classifier``, the
datamodules of ``DATAMODULES``). A ``_target_`` written in a file is compared, never imported;
``read_checkpoint`` refuses one anywhere but at the places of ``TARGETS``, any ``${...}``
interpolation, sizes over ``lit_dnn.limits`` and non-finite weights, for every command alike.
"""

import importlib
import inspect
import math
import pickle
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

import torch
from omegaconf import DictConfig, OmegaConf

from lit_dnn.config_checks import instantiate
from lit_dnn.data.registry import DATAMODULES
from lit_dnn.errors import CheckpointError, ConfigError, first_line
from lit_dnn.limits import MAX_PARAMETERS, MAX_TEXT_CHARS
from lit_dnn.models.classifier import Classifier
from lit_dnn.models.registry import NETS, net_class
from lit_dnn.record import RunRecord
from lit_dnn.text import printable

PLAIN = (str, int, float, bool, type(None))
# the model class each task trains, by the ``_target_`` that conf/model and conf/task write
HEADS = {"classification": "lit_dnn.models.classifier.Classifier", "regression": "lit_dnn.models.regressor.Regressor"}
# where a checkpoint's settings may name a class, and which (optimisers and schedules: allowed_target)
TARGETS = {
    "model": tuple(HEADS.values()),
    "model.net": tuple(NETS),
    "model.scheduler": ("lit_dnn.models.schedules.OneCycleFromLR",),
    "data": tuple(DATAMODULES),
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
        "model",
        net={"input_shape": list(datamodule.input_shape), "num_classes": outputs},
        **datamodule.head(),
        _convert_="all",
    )


class Checkpoint(NamedTuple):
    record: RunRecord  # what the file says about its run, checked
    raw: dict[str, Any]  # the file as Lightning wrote it (state_dict, epoch, global_step, ...)


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint with ``weights_only=True``, turning every failure into one sentence; the
    one place a file's ``hyper_parameters`` become a ``RunRecord``."""
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
    for key in ("hyper_parameters", "fit_metrics", "training_curves"):  # what lit-dnn reads back from the file
        check_plain(checkpoint.get(key), path, "" if key == "hyper_parameters" else key)
    record = RunRecord.from_hparams(hp, path)
    check_weights(checkpoint, path)
    check_architecture(checkpoint, record, path)
    return Checkpoint(record, checkpoint)


def allowed_target(where: str, target: Any) -> bool:
    """Whether a checkpoint may name ``target`` at ``where`` (a dotted key path): the project's own
    classes there, and torch's optimisers and schedules; nothing anywhere else."""
    if where == "model.optimizer":
        name = target.rsplit(".", 1)[-1] if isinstance(target, str) and target.startswith("torch.optim.") else ""
        cls = getattr(torch.optim, name, None) if name.isidentifier() else None
        return inspect.isclass(cls) and issubclass(cls, torch.optim.Optimizer)
    if where == "model.scheduler" and isinstance(target, str) and target.startswith("torch.optim.lr_scheduler."):
        cls = getattr(torch.optim.lr_scheduler, target.rsplit(".", 1)[-1], None)
        return inspect.isclass(cls) and issubclass(cls, torch.optim.lr_scheduler.LRScheduler)
    return target in TARGETS.get(where, ())


def check_plain(value: Any, path: str | Path, where: str = "") -> None:
    """Only strings, finite numbers, booleans, None, lists and string-keyed dicts of them, and
    nothing Hydra or OmegaConf would act on: a ``_target_`` only where ``allowed_target`` accepts
    it, ``_partial_`` only beside it, no other ``_key_`` (``_args_``, ``_recursive_``), no
    ``${...}`` interpolation in any string. Lists are walked like dicts, at every depth."""
    shown = where or "hyper_parameters"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise CheckpointError(f"{path} has a non-text key {key!r} in {shown}; pass a .ckpt written by train.py.")
            check_plain(key, path, f"{shown} (a key)")
            inner = f"{where}.{key}" if where else key
            if key.startswith("_") and key.endswith("_"):
                named = "_target_" in value and allowed_target(where, value["_target_"])
                if not (named and (key == "_target_" or (key == "_partial_" and isinstance(item, bool)))):
                    raise CheckpointError(
                        f"{path} sets {inner}={printable(repr(item)[:80])}, which lit-dnn does not build from a checkpoint; "
                        f"pass a .ckpt written by train.py."
                    )
            check_plain(item, path, inner)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_plain(item, path, f"{where}[{i}]")
    elif isinstance(value, str):
        if "${" in value:
            raise CheckpointError(
                f"{path} has {shown}={printable(value[:80])!r}, an interpolation lit-dnn never writes; pass a .ckpt written by train.py."
            )
        if len(value) > MAX_TEXT_CHARS:
            raise CheckpointError(
                f"{path} has a text of {len(value):,} characters in {shown} (lit-dnn reads at most {MAX_TEXT_CHARS:,}); "
                f"pass a .ckpt written by train.py."
            )
    elif not isinstance(value, PLAIN) or (isinstance(value, float) and not math.isfinite(value)):
        raise CheckpointError(
            f"{path} has {shown}={printable(repr(value)[:80])}, which is not a plain value; pass a .ckpt written by train.py."
        )


def check_weights(checkpoint: dict[str, Any], path: str | Path) -> None:
    """Tensors only, and the network's finite: NaN or infinite weights would give NaN predictions and metrics."""
    for key, tensor in checkpoint["state_dict"].items():
        if not isinstance(tensor, torch.Tensor):
            raise CheckpointError(
                f"{path} has state_dict[{printable(repr(key)[:80])}], which is not a tensor; pass a .ckpt written by train.py."
            )
        # the network's weights; a metric's state may be infinite (MaxMetric starts at -inf)
        if key.startswith("net.") and tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(
                f"{path} has NaN or infinite values in {printable(key[:80])}; retrain, or pass a checkpoint saved before the loss diverged."
            )


def check_architecture(checkpoint: dict[str, Any], record: RunRecord, path: str | Path) -> None:
    """The network the settings describe, built on the meta device (no memory), must be the one
    whose weights the file holds, and within ``MAX_PARAMETERS``: a file cannot ask for more memory
    than it brings."""
    with torch.device("meta"):
        net = net_of(record, path)
    parameters = sum(p.numel() for p in net.parameters())
    if parameters > MAX_PARAMETERS:
        raise CheckpointError(
            f"{path} describes a network of {parameters:,} parameters, over lit-dnn's limit of {MAX_PARAMETERS:,} "
            f"(lit_dnn.limits.MAX_PARAMETERS); pass a .ckpt written by train.py."
        )
    held = {k: v for k, v in checkpoint["state_dict"].items() if k.startswith("net.")}
    check_shapes({"state_dict": held}, torch.nn.ModuleDict({"net": net}), path)  # the model's own key names


def net_of(record: RunRecord, path: str | Path) -> torch.nn.Module:
    """The checkpoint's network: a class of the registry (``NETS``) built from its checked arguments."""
    net = record.model.get("net")
    if not isinstance(net, dict):
        raise CheckpointError(f"{path} lacks a valid model.net; pass a .ckpt written by train.py.")
    target = net.get("_target_")
    accepted = set(inspect.signature(net_class(target)).parameters) - {"input_shape", "num_classes"} if target in NETS else set()
    unknown = sorted(set(net) - accepted - {"_target_"})
    if target not in NETS or unknown:
        raise CheckpointError(
            f"{path} describes a network lit-dnn does not build (model.net: target "
            f"{target!r}, unknown keys {unknown}); pass a .ckpt written by train.py."
        )
    kwargs = {k: v for k, v in net.items() if k != "_target_"}
    name = target.rsplit(".", 1)[-1]
    outputs = len(record.output_names)
    if record.model.get("binary_output") == "sigmoid" and outputs == 2:
        outputs = 1
    try:  # the network checks its own arguments (its module's check_arguments)
        return net_class(target)(input_shape=record.input_shape, num_classes=outputs, **kwargs)
    except (ValueError, TypeError) as err:
        reason = str(err).rstrip(".")
        raise CheckpointError(f"{path} has model.net settings {name} refuses ({reason}); pass a .ckpt written by train.py.") from err


def check_shapes(checkpoint: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """Raise naming every layer whose shape differs between a checkpoint and a model."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items() if isinstance(v, torch.Tensor)}
    problems = [f"{k}: checkpoint {found[k]} vs model {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    problems += [f"{k}: missing in checkpoint" for k in expected if k not in found]
    problems += [f"{printable(k[:80])}: not in model" for k in checkpoint["state_dict"] if k not in expected]
    if problems:
        shown = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
        raise CheckpointError(f"{path} holds a different architecture ({shown}); use the model settings it was trained with.")


def check_from_checkpoint(cfg: DictConfig, command: str) -> None:
    """eval, predict and export take the network and the dataset from the checkpoint: a ``model=``
    or ``data=`` choice on their command line is refused naming it, not silently ignored."""
    from hydra.core.hydra_config import HydraConfig

    choices = HydraConfig.get().runtime.choices if HydraConfig.initialized() else {}
    chosen = [f"{g}={choices.get(g) or '...'}" for g in ("model", "data") if "_target_" in (cfg.get(g) or {})]
    if chosen:
        raise ConfigError(
            f"{' and '.join(chosen)} cannot be chosen for {command}: the checkpoint decides its network and dataset; drop "
            f"{'them' if len(chosen) > 1 else 'it'} (data.data_dir=<folder> says where this machine keeps the data files)."
        )


def load_model(path: str | Path) -> tuple[Any, RunRecord]:
    """The trained model of a checkpoint (a ``Classifier`` or a ``Regressor``), in eval mode, and its record."""
    record, checkpoint = read_checkpoint(path)
    net = net_of(record, path)
    if record.regression:
        from lit_dnn.models.regressor import Regressor

        loss = record.model.get("loss", "mse")
        model = Regressor(net, target_names=record.target_names, target_mean=record.target_mean, target_std=record.target_std, loss=loss)
    else:
        model = Classifier(net, class_names=record.class_names, binary_output=record.model.get("binary_output", "softmax"))
    check_shapes(checkpoint, model, path)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), record


def datamodule_of_record(record: RunRecord, ckpt_path: str | Path, /, **overrides: Any) -> Any:
    """The checkpoint's datamodule: a class of ``DATAMODULES`` built from the record's plain arguments."""
    target = record.data.get("_target_")
    if target not in DATAMODULES:
        raise CheckpointError(
            f"{ckpt_path} names data {target!r}, not one of lit-dnn's datamodules ({', '.join(DATAMODULES)}); "
            f"pass a .ckpt written by train.py."
        )
    module, name = target.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    accepted = set(inspect.signature(cls).parameters)
    kwargs = {k: v for k, v in {**record.data, **overrides}.items() if k in accepted}
    return cls(**kwargs)
