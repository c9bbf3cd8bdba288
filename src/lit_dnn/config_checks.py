"""One validation layer at the config boundary: every check runs before any work starts.

Each failure is one sentence naming the key, the value and what is allowed.
"""

import inspect
import math
import socket
import types
import typing
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import torch
from hydra.utils import get_class
from omegaconf import DictConfig, ListConfig, OmegaConf

from lit_dnn.data.datasets import DATASETS, standardize_mode
from lit_dnn.data.registry import check_datamodule_settings
from lit_dnn.data.splits import check_val_from, split_size
from lit_dnn.errors import ConfigError
from lit_dnn.limits import MAX_SYNTHETIC_VALUES
from lit_dnn.models.registry import check_net_config
from lit_dnn.models.schedules import check_interval


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _positive_int(key: str, value: Any, alternative: str = "") -> None:
    if not _is_int(value) or value <= 0:
        raise ConfigError(f"{key}={value!r} must be a positive integer{' ' + alternative if alternative else ''}.")


def check_model(model: DictConfig) -> None:
    net = model.get("net", {})
    for key in ("num_classes", "input_shape"):
        if key in net:
            raise ConfigError(
                f"model.net.{key} comes from the data and cannot be set; drop it (one sigmoid output for two classes: "
                f"model.binary_output=sigmoid)."
            )
    if model.get("binary_output", "softmax") not in ("softmax", "sigmoid"):
        raise ConfigError(f"model.binary_output={model.get('binary_output')!r} is not one of softmax, sigmoid.")
    check_net_config(net)
    optimizer = model.get("optimizer", {})
    if not isinstance(optimizer, DictConfig):
        raise ConfigError(
            f"model.optimizer={optimizer!r} is not an optimizer config; choose one by its Keras name with "
            f"optimizer={optimizer if isinstance(optimizer, str) else 'sgd'} (adam, adamw, sgd, momentum, nesterov, rmsprop, adagrad), "
            f"or any torch.optim class with model.optimizer._target_."
        )
    target = optimizer.get("_target_")
    try:
        cls = get_class(target)
    except Exception:
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ConfigError(
            f"model.optimizer._target_={target!r} is not a torch optimizer; use e.g. torch.optim.Adam, "
            f"torch.optim.SGD or torch.optim.AdamW."
        )
    accepted = inspect.signature(cls).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())  # **kwargs
    for key in optimizer:
        if not (key.startswith("_") or takes_any or key in accepted):
            raise ConfigError(
                f"model.optimizer.{key} is not an argument of {target}; drop it with ~model.optimizer.{key} "
                f"(it takes {', '.join(k for k in accepted if k != 'params')})."
            )
    lr = optimizer.get("lr", 1e-3)
    if not _is_number(lr) or not 0 < lr < math.inf:
        raise ConfigError(f"model.optimizer.lr={lr!r} must be a positive number, e.g. 0.001.")
    arguments = {k: v for k, v in OmegaConf.to_container(optimizer, resolve=True).items() if not k.startswith("_")}
    try:  # the class checks its own arguments (weight_decay >= 0, momentum with nesterov, ...)
        cls([torch.nn.Parameter(torch.zeros(1))], **arguments)
    except (ValueError, TypeError, RuntimeError) as err:
        raise ConfigError(
            f"model.optimizer ({target}) refuses its arguments: {str(err).strip().rstrip('.')}; fix the model.optimizer.* value it names."
        ) from err
    check_scheduler(model)


def check_scheduler(model: DictConfig) -> None:
    check_interval(model.get("scheduler_interval", "epoch"))
    scheduler = model.get("scheduler")
    if scheduler is None:
        return
    peak = scheduler.get("peak_factor", 1.0)
    if not _is_number(peak) or not 0 < peak < math.inf:
        raise ConfigError(
            f"model.scheduler.peak_factor={peak!r} must be a positive number (the peak lr is "
            f"peak_factor x model.optimizer.lr; e.g. 5), or set model.scheduler=null for a constant lr."
        )


def check_data(data: DictConfig) -> None:
    if data.get("batch_size") != "auto":  # auto: the tables' rule, from the training rows (data/in_memory.py)
        _positive_int("data.batch_size", data.get("batch_size"), "or auto")
    _positive_int("data.eval_batch_size", data.get("eval_batch_size", 1))
    check_val_from(data.get("val_from", "random"))
    check_datamodule_settings(data)  # the datamodule's own early check (data/registry.py)


def check_image_data(data: DictConfig) -> None:
    """MNIST / Fashion-MNIST (ImageDataModule): the dataset, its folder, the validation split, standardisation."""
    if data.get("dataset") not in DATASETS:
        raise ConfigError(f"data.dataset={data.get('dataset')!r} is unknown; use one of {', '.join(DATASETS)}.")
    data_dir = Path(str(data.data_dir)).expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(
            f"data.data_dir={str(data.data_dir)!r} is a file, not a folder; point it (or DATA_DIR) at the folder "
            f"that holds {DATASETS[data.dataset].folder}/raw."
        )
    split_size(data.get("val_split"), DATASETS[data.dataset].train_size)
    standardize_mode(data.get("standardize", "global"))


def check_binary_data(data: DictConfig) -> None:
    """The synthetic binary data (BinaryDataModule): make_classification's sizes and the splits."""
    for key in ("n_samples", "n_features", "n_informative"):
        _positive_int(f"data.{key}", data.get(key))
    if data.n_informative < 2:
        raise ConfigError(
            f"data.n_informative={data.n_informative} must be at least 2: make_classification's two "
            f"classes of two clusters each need 2 x 2 <= 2 ** n_informative."
        )
    redundant = data.get("n_redundant", 0)
    if not _is_int(redundant) or redundant < 0 or data.n_informative + redundant > data.n_features:
        raise ConfigError(
            f"data.n_informative + data.n_redundant = {data.n_informative} + {redundant} must be at most data.n_features={data.n_features}."
        )
    if data.n_samples * data.n_features > MAX_SYNTHETIC_VALUES:
        raise ConfigError(
            f"data.n_samples x data.n_features = {data.n_samples:,} x {data.n_features:,} is over lit-dnn's limit of "
            f"{MAX_SYNTHETIC_VALUES:,} generated values (lit_dnn.limits.MAX_SYNTHETIC_VALUES); lower one of them."
        )
    test = split_size(data.get("test_split"), data.n_samples, key="data.test_split")
    split_size(data.get("val_split"), data.n_samples - test)


PRECISIONS = ("32", "32-true", "64", "64-true", "bf16", "bf16-mixed", "bf16-true", "16", "16-mixed", "16-true")
GPU_ACCELERATORS = ("gpu", "cuda")


def in_a_sweep() -> bool:
    """Whether this process runs a Hydra multirun (``-m``): its sweeper, or one of its jobs."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def check_trainer(trainer: DictConfig) -> None:
    epochs = trainer.get("max_epochs")
    if not _is_int(epochs) or epochs < 1:
        raise ConfigError(f"trainer.max_epochs={epochs!r} must be an integer of at least 1.")
    least = trainer.get("min_epochs")
    if least is not None and (not _is_int(least) or not 0 <= least <= epochs):
        raise ConfigError(f"trainer.min_epochs={least!r} must be a whole number from 0 to trainer.max_epochs={epochs}.")
    every = trainer.get("check_val_every_n_epoch", 1)
    if every is not None and (not _is_int(every) or every < 1):
        raise ConfigError(f"trainer.check_val_every_n_epoch={every!r} must be a positive integer (1: validate every epoch).")
    # counts of batches, or shares of an epoch: Lightning's 0 would skip that stage (validation feeds
    # early stopping, the best checkpoint and val/acc_best; test=false is the way to skip testing)
    for key, meaning in (
        ("limit_train_batches", "the batches of each epoch"),
        ("val_check_interval", "the batches between validations"),
        ("limit_val_batches", "validation batches; validation feeds early stopping and the best checkpoint"),
        ("limit_test_batches", "test batches; test=false skips testing"),
    ):
        value = trainer.get(key)
        if value is not None and not ((_is_int(value) and value >= 1) or (isinstance(value, float) and 0 < value <= 1)):
            raise ConfigError(f"trainer.{key}={value!r} must be a positive integer ({meaning}) or a fraction above 0 and at most 1.0.")
    steps = trainer.get("max_steps", -1)
    if not _is_int(steps) or not (steps == -1 or steps >= 1):
        raise ConfigError(f"trainer.max_steps={steps!r} must be a positive number of optimiser steps, or -1 for no limit.")
    devices = trainer.get("devices", "auto")
    if not (devices == "auto" or devices == -1 or (_is_int(devices) and devices > 0) or isinstance(devices, (ListConfig, str))):
        raise ConfigError(f"trainer.devices={devices!r} must be a positive count, -1 (all) or auto.")
    if trainer.get("strategy") == "ddp" and in_a_sweep() and (devices != 1 or trainer.get("num_nodes", 1) != 1):
        raise ConfigError(
            "trainer.strategy=ddp cannot run a sweep's jobs (-m): Lightning starts the other processes by running the "
            "command again, which would start the sweep again, another trial in each; add trainer.strategy=ddp_spawn."
        )
    precision = str(trainer.get("precision", "32"))
    if precision not in PRECISIONS:
        raise ConfigError(f"trainer.precision={precision} is not one of {', '.join(PRECISIONS)}.")
    accelerator = trainer.get("accelerator", "auto")
    gpu = torch.cuda.is_available()
    if accelerator in GPU_ACCELERATORS and not gpu:
        raise ConfigError(
            f"trainer.accelerator={accelerator} but this machine has no GPU that torch can use; "
            f"drop trainer=gpu (or set trainer.accelerator=cpu)."
        )
    if precision.startswith("16") and (accelerator == "cpu" or not gpu):
        raise ConfigError(
            f"trainer.precision={precision} needs a GPU (on the CPU Lightning would silently use bf16); "
            f"use trainer.precision=bf16-mixed or 32 here."
        )


def check_installed(package: str, needed_by: str, extra: str, instead: str) -> None:
    """A package that comes only with one of lit-dnn's extras (pyproject.toml), named before anything starts."""
    if find_spec(package) is None:
        raise ConfigError(
            f'{needed_by} needs the {package} package, which is not installed; pip install -e ".[{extra}]" (or pip install {package}), '
            f"or {instead}."
        )


def check_serve(cfg: DictConfig) -> None:
    """serve.py: its packages (the "serve" extra; onnxruntime for a .onnx file) and a port to listen on."""
    for package in ("fastapi", "uvicorn", "multipart"):
        check_installed(package, "serve.py", "serve", "use predict.py on files")
    if str(cfg.ckpt_path).endswith(".onnx"):
        check_installed("onnxruntime", "serving a .onnx file", "export", "serve the .ckpt it was exported from")
    if not (_is_int(cfg.port) and 0 <= cfg.port <= 65535):
        raise ConfigError(f"port={cfg.port!r} must be a whole number from 0 to 65535, e.g. 8000.")


# Lightning's loggers whose package comes only with lit-dnn's "trackers" extra; Lightning's own
# error would come when the logger is built, wrapped in Hydra's multi-line one
LOGGER_PACKAGES = {"WandbLogger": "wandb", "MLFlowLogger": "mlflow"}


def check_loggers(loggers: DictConfig | None) -> None:
    for name, logger in (loggers or {}).items():
        package = LOGGER_PACKAGES.get(str(logger.get("_target_")).rsplit(".", 1)[-1]) if logger is not None else None
        if package is not None:
            check_installed(package, f"logger.{name}", "trackers", "choose another logger (logger=tensorboard)")
        if package == "mlflow":
            check_reachable(str(logger.get("tracking_uri") or ""), f"logger.{name}.tracking_uri")


def check_reachable(uri: str, key: str, timeout: float = 3.0) -> None:
    """A tracking server (``http(s)://host:port``) must answer before training starts: MLflow's
    client retries an unreachable one for minutes, then fails after the first epoch."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        socket.create_connection((parts.hostname or "", port), timeout=timeout).close()
    except (OSError, ValueError) as err:
        reason = getattr(err, "strerror", None) or type(err).__name__
        raise ConfigError(
            f"{key}={uri} does not answer ({reason}); start the tracking server, fix the address, or use "
            f"another logger (logger=tensorboard, or logger=mlflow's local default)."
        ) from None


def _fits(value: Any, annotation: Any) -> bool | None:
    """Whether ``value`` has the type a constructor annotates (``None``: the annotation is not one
    of the plain types a config can hold, and is not judged here)."""
    if annotation in (inspect.Parameter.empty, Any):
        return None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        found = [_fits(value, a) for a in typing.get_args(annotation)]
        return True if True in found else (False if all(f is False for f in found) else None)
    if typing.get_origin(annotation) is typing.Literal:
        return value in typing.get_args(annotation)
    plain = {type(None): lambda: value is None, bool: lambda: isinstance(value, bool), int: lambda: _is_int(value)}
    plain |= {float: lambda: _is_number(value), str: lambda: isinstance(value, str)}
    return plain[annotation]() if annotation in plain else None


def _shown(annotation: Any) -> str:
    return str(annotation).replace("typing.", "").replace("NoneType", "None").replace("<class '", "").replace("'>", "")


def check_argument_types(node: Any, key: str) -> None:
    """Every value a config hands a constructor (trainer, callbacks, loggers, datamodule, model) has
    the type its signature annotates: ``trainer.deterministic=nonsense`` is named here, where
    Lightning would take any truthy text. Walks nested nodes; a target that cannot be imported
    or inspected is left to ``instantiate``."""
    if not OmegaConf.is_dict(node):
        return
    target = node.get("_target_")
    parameters = {}
    if isinstance(target, str):
        try:
            parameters = inspect.signature(get_class(target), eval_str=True).parameters
        except Exception:  # noqa: BLE001 - not a class, or annotations that do not evaluate: not judged
            parameters = {}
    for name in node:
        if str(name).startswith("_") and str(name).endswith("_") or OmegaConf.is_missing(node, name):
            continue  # a missing ??? value: reading it names the key (entry_points)
        child = node.get(name)
        if OmegaConf.is_dict(child):
            check_argument_types(child, f"{key}.{name}")
            continue
        if name in SEED_KEYS and child is not None and not (_is_int(child) and 0 <= child < 2**32):
            raise ConfigError(f"{key}.{name}={child!r} must be an integer from 0 to 2**32 - 1 (4294967295).")
        if name in parameters and not OmegaConf.is_list(child):
            annotation = parameters[name].annotation
            if _fits(child, annotation) is False:
                raise ConfigError(f"{key}.{name}={child!r} must be of type {_shown(annotation)}.")


# the rules Lightning's callbacks do not check themselves (their constructors' own refusals are
# turned into sentences by ``instantiate``): each a test of the value and what to write instead
CALLBACK_RULES = {
    "patience": (lambda v: _is_int(v) and v >= 0, "a whole number of validations of at least 0"),
    "min_delta": (lambda v: _is_number(v) and math.isfinite(v) and v >= 0, "a number of at least 0 (the smallest change that counts)"),
    "every_n_epochs": (lambda v: v is None or (_is_int(v) and v >= 0), "a whole number of epochs of at least 0"),
    "save_top_k": (lambda v: _is_int(v) and v >= -1, "-1 (every checkpoint), 0 (none) or a positive count"),
    "max_examples": (lambda v: _is_int(v) and v >= 0, "a count of at least 0"),
    "refresh_seconds": (lambda v: _is_number(v) and v > 0, "a number of seconds above 0"),
}


RULES = (  # keys whose range or choices no constructor checks, by their full name
    ("test", lambda v: isinstance(v, bool), "true or false (test the best checkpoint after training)"),
    ("summary_only", lambda v: isinstance(v, bool), "true or false (print the summary without training)"),
    ("optimized_mode", lambda v: v in ("min", "max"), "min or max"),
    ("task.name", lambda v: v in ("classification", "regression"), "classification or regression (choose it with task=...)"),
    ("task.best_mode", lambda v: v in ("min", "max"), "min or max"),
    ("trainer.num_sanity_val_steps", lambda v: v is None or (_is_int(v) and v >= -1), "-1 (all), 0 (none) or a count of batches"),
    (
        "trainer.gradient_clip_val",
        lambda v: v is None or (_is_number(v) and 0 < v < math.inf),
        "a positive gradient norm, or null for no clipping",
    ),
    (
        "trainer.accumulate_grad_batches",
        lambda v: _is_int(v) and v >= 1,
        "a positive number of batches per optimiser step (1: every batch)",
    ),
    ("trainer.log_every_n_steps", lambda v: v is None or (_is_int(v) and v >= 1), "a positive number of steps"),
)
SEED_KEYS = ("seed", "split_seed", "random_state")  # any seed a datamodule takes, as the run's own


def check_callbacks(callbacks: DictConfig | None) -> None:
    for name, callback in (callbacks or {}).items():
        for key, (ok, allowed) in CALLBACK_RULES.items():
            if callback is not None and key in callback and not ok(callback[key]):
                raise ConfigError(f"callbacks.{name}.{key}={callback[key]!r} must be {allowed}.")


def check_train_config(cfg: DictConfig) -> None:
    """Raise ``ConfigError`` for the first value that cannot work."""
    if not _is_int(cfg.get("seed")) or not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed={cfg.get('seed')!r} must be an integer from 0 to 2**32 - 1 (4294967295).")
    check_model(cfg.model)
    check_data(cfg.data)
    check_trainer(cfg.trainer)
    for key, ok, allowed in RULES:  # the named rules first: their sentences say what to write
        value = OmegaConf.select(cfg, key, default=inspect.Parameter.empty)
        if value is not inspect.Parameter.empty and not ok(value):
            raise ConfigError(f"{key}={value!r} must be {allowed}.")
    check_callbacks(cfg.get("callbacks"))
    for group in ("trainer", "callbacks", "logger", "data", "model"):  # then every constructor argument's type
        check_argument_types(cfg.get(group), group)
    check_loggers(cfg.get("logger"))


def check_metric_names(logged: list[str], cfg: DictConfig) -> None:
    """Callbacks that monitor a metric, and the metric a sweep optimises, must name one that is logged."""
    callbacks = cfg.get("callbacks") or {}
    wanted = [(f"callbacks.{name}.monitor", c.monitor) for name, c in callbacks.items() if c is not None and c.get("monitor")]
    wanted.append(("optimized_metric", cfg.get("optimized_metric", "val/acc_best")))
    for key, name in wanted:
        if name not in logged:
            shown = ", ".join(n for n in logged if not n.startswith("test/acc_per_class/"))
            raise ConfigError(f"{key}={name!r} is not a metric this run logs; use one of {shown}.")
    # a callback that draws one metric's training and validation curves (training_curves.metric)
    both = [n.removeprefix("train/") for n in logged if n.startswith("train/") and "val/" + n.removeprefix("train/") in logged]
    for name, c in callbacks.items():
        if c is not None and isinstance(c.get("metric"), str) and c.metric not in both:
            raise ConfigError(
                f"callbacks.{name}.metric={c.metric!r} is not a metric this run logs for both training and validation; "
                f"use one of {', '.join(both)}."
            )


def instantiate(config: Any, key: str = "", **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` behind one boundary: a constructor's own ``ConfigError`` is
    raised as itself, and any other refusal of its arguments (``ValueError``, ``TypeError``,
    Lightning's ``MisconfigurationException``) as one sentence naming ``key``, the config node
    built (``trainer``, ``callbacks.early_stopping``)."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate as hydra_instantiate
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    try:
        return hydra_instantiate(config, **kwargs)
    except InstantiationException as err:
        cause = err.__cause__
        if isinstance(cause, ConfigError):
            raise cause from None
        if key and isinstance(cause, (ValueError, TypeError, MisconfigurationException)):
            reason = " ".join(str(cause).split())[:300].rstrip(".")
            raise ConfigError(f"{key} cannot be built with these settings ({reason}); fix the {key}.* value on the command line.") from None
        raise


def instantiate_all(group: Any, name: str) -> list[Any]:
    """Every ``_target_`` entry of a callbacks or logger group (entries set to null are off)."""
    return [instantiate(c, f"{name}.{k}") for k, c in (group or {}).items() if c is not None and "_target_" in c]
