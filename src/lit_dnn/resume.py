"""Resuming: which run to continue, and with which config.

A resumed run continues with its checkpoint's own model, data and seed; the command line may
change only what cannot alter the training (``SAFE``), and anything else it sets differently
is refused in one sentence naming the difference. What the command line does not set comes
from the checkpoint, so ``python train.py ckpt_path=last`` continues a Fashion-MNIST run on
Fashion-MNIST. The checkpoint's settings are plain values, checked by ``read_checkpoint``
before they reach the config: a ``_target_`` only where the project builds one (its own classes,
torch's optimisers and schedules), no interpolation anywhere, so resuming never imports or
resolves anything a file names.
"""

import logging
import shutil
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict

from lit_dnn.checkpoint import Checkpoint
from lit_dnn.errors import ConfigError
from lit_dnn.record import RunRecord, run_length
from lit_dnn.run_dir import claim_run_folder, is_finished, run_dir_of

log = logging.getLogger(__name__)

# data keys that say where the files are or how evaluation is batched, not what is trained on
SAFE_DATA = ("data_dir", "download", "eval_batch_size")
# command-line groups that set keys all over the config
WHOLE_CONFIG_GROUPS = ("experiment", "hparams_search", "debug", "task")


def command_line_keys() -> list[str] | None:
    """The keys and groups this command sets (``None`` when not run by Hydra's CLI: then every key counts)."""
    if not HydraConfig.initialized():
        return None
    keys = []
    for override in HydraConfig.get().overrides.task:
        key = override.split("=", 1)[0].lstrip("+~")
        keys.append(key.split("@", 1)[0])
    return keys


def _set_by(key: str, command_keys: list[str] | None) -> bool:
    if command_keys is None:
        return True
    return any(k in WHOLE_CONFIG_GROUPS or key == k or key.startswith(k + ".") for k in command_keys)


def _flatten(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}"))
        return out
    return {prefix: value}


def adopt_checkpoint_config(cfg: DictConfig, record: RunRecord, path: Path) -> None:
    """Make ``cfg`` the checkpoint's run: its model, data, seed and length, with safe changes kept."""
    command_keys = command_line_keys()
    theirs: dict[str, Any] = {**_flatten(record.model, "model"), **_flatten(record.data, "data")}
    if record.seed is not None:
        theirs["seed"] = record.seed
    ours = {
        **_flatten(OmegaConf.to_container(cfg.model, resolve=True), "model"),
        **_flatten(OmegaConf.to_container(cfg.data, resolve=True), "data"),
        "seed": cfg.seed,
        "trainer.max_epochs": cfg.trainer.max_epochs,
    }
    safe = {f"data.{k}" for k in SAFE_DATA} | {"trainer.max_epochs"}  # max_epochs: check_schedule guards one-cycle runs
    if record.seed is None:  # a checkpoint from before seeds were recorded
        safe.add("seed")
    differences = [
        f"{k}={ours.get(k, '<unset>')!r} (checkpoint: {theirs.get(k, '<unset>')!r})"
        for k in sorted(set(ours) | set(theirs))
        if k not in safe and ours.get(k, "<unset>") != theirs.get(k, "<unset>") and _set_by(k, command_keys)
    ]
    if differences:
        shown = "; ".join(differences[:4]) + ("; ..." if len(differences) > 4 else "")
        raise ConfigError(
            f"ckpt_path={path} resumes a run trained with other settings than this command sets ({shown}); "
            f"drop those overrides to continue that run, or start a new run without ckpt_path."
        )
    with open_dict(cfg):
        cfg.model = OmegaConf.create(record.model)
        if record.data:  # where this machine keeps the files, for a datamodule that reads files
            cfg.data = OmegaConf.merge(
                OmegaConf.create(record.data), {k: cfg.data[k] for k in SAFE_DATA if k in cfg.data and k in record.data}
            )
        if record.seed is not None and not _set_by("seed", command_keys):
            cfg.seed = record.seed
        for key, value in record.settings().items():  # the run's length and clipping, unless this command sets them
            if not _set_by(f"trainer.{key}", command_keys):
                cfg.trainer[key] = value


def check_schedule(checkpoint: Checkpoint, cfg: DictConfig, path: Path) -> None:
    """A one-cycle schedule is planned for the run's length (its epochs, batches an epoch and step
    limit): resuming must keep that length, or the schedule would be stepped past its end."""
    planned = checkpoint.record.planned_length()
    ours = run_length(cfg.trainer)
    changed = " ".join(f"trainer.{k}={planned[k]}" for k in planned if ours[k] != planned[k])
    if "total_steps" in (checkpoint.raw.get("lr_schedulers") or [{}])[0] and changed:
        raise ConfigError(
            f"{path} resumes a one-cycle learning-rate schedule planned for {changed}; keep {changed}, "
            f"or train a new run with model.scheduler=null to extend training freely."
        )


def resume_folder(cfg: DictConfig, ckpt_path: Path) -> None:
    """An unfinished run continues in its own folder; a finished one keeps its results, and training
    from its checkpoint goes on in this command's new folder."""
    run = run_dir_of(ckpt_path)
    if run is None:
        log.info("Training on from %s in %s", ckpt_path, cfg.paths.output_dir)
    elif is_finished(run):
        log.info("%s is a finished run (its metrics.json is kept); training on from %s in %s", run, ckpt_path.name, cfg.paths.output_dir)
    else:
        claim_run_folder(run)  # not while the run itself (or another resume) still writes there
        log.info("Resuming the unfinished run %s from %s", run, ckpt_path.name)
        for partial in (run / "checkpoints").glob(".*.tmp-*"):  # a save the killed process never finished
            partial.unlink(missing_ok=True)
        with open_dict(cfg):
            cfg.paths.output_dir = str(run)


def file_resume_record(output_dir: Path) -> None:
    """A resume writes into the run it continues; its own Hydra folder (config and log) moves
    there too, as ``resumes/<time>``, so no second folder is left behind."""
    if not HydraConfig.initialized() or HydraConfig.get().mode == RunMode.MULTIRUN:  # a sweep's job folders stay
        return
    own = Path(HydraConfig.get().runtime.output_dir)
    if not own.is_dir() or own.resolve() == output_dir.resolve():
        return
    target = output_dir / "resumes" / own.name
    target.parent.mkdir(exist_ok=True)
    shutil.move(own, target)  # the log handler keeps writing to the moved file
