"""Where a run writes, and finding the run to resume."""

import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lit_dnn.errors import CheckpointError, ConfigError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; a run folder is not claimed there
    fcntl = None


def is_finished(run: Path) -> bool:
    """A run that wrote its results: resuming must not rewrite them."""
    return (run / "metrics.json").is_file()


# a run's or an evaluation's; tune=lr_find's (written last); predict.py's; export.py's (written after the model file)
RESULT_FILES = ("metrics.json", "lr_find.json", "predictions.csv", "model.json")


def results_in(folder: Path) -> Path | None:
    """The file that says a command finished in ``folder``: a second command there would overwrite its results."""
    return next((folder / name for name in RESULT_FILES if (folder / name).is_file()), None)


LOCK_FILE = ".lock"  # held (flock) by the process writing in a run folder, for its whole life
_claimed: dict[Path, IO[str]] = {}


def claim_run_folder(folder: str | Path) -> None:
    """Hold ``folder`` for this process until it exits, or end in one sentence (``ConfigError``)
    when another live process holds it: two commands writing one folder (a resume while the run
    still trains, the same ``hydra.run.dir`` twice) would overwrite each other's checkpoints and
    results. The lock dies with its process, so a killed run's folder is free to resume. DDP's
    child processes (``LOCAL_RANK`` > 0) write in the folder rank 0 holds."""
    if fcntl is None or any(os.environ.get(v, "0") not in ("", "0") for v in ("RANK", "LOCAL_RANK", "NODE_RANK")):
        return
    folder = Path(folder)
    key = folder.resolve()
    if key in _claimed:
        return
    folder.mkdir(parents=True, exist_ok=True)
    handle = open(folder / LOCK_FILE, "a")  # noqa: SIM115 (held open until the process exits)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise ConfigError(
            f"{folder} is in use by another running command, which this one would overwrite; wait for it to "
            f"finish (or stop it), or choose another folder."
        ) from None
    _claimed[key] = handle


def find_last_checkpoint(log_dir: str | Path, task_name: str = "train") -> Path:
    """The newest ``last.ckpt`` of an unfinished run under ``<log_dir>/<task>/runs`` and ``multiruns``."""
    root = Path(log_dir) / task_name
    candidates = list(root.glob("runs/*/checkpoints/last.ckpt")) + list(root.glob("multiruns/*/*/checkpoints/last.ckpt"))
    unfinished = [p for p in candidates if not is_finished(p.parent.parent)]
    if not unfinished:
        finished = f" ({len(candidates)} finished, whose results are kept)" if candidates else ""
        raise CheckpointError(
            f"ckpt_path=last found no unfinished run to resume under {root}{finished}; start a new run without "
            f"ckpt_path, or train on from a finished run with ckpt_path=<run>/checkpoints/last.ckpt (a new folder)."
        )
    return max(unfinished, key=lambda p: p.stat().st_mtime)


def resolve_ckpt_path(ckpt_path: str | None, log_dir: str | Path) -> Path | None:
    if ckpt_path is None:
        return None
    """``last`` as the newest unfinished run's last.ckpt; any other value as a path (``read_checkpoint`` checks the file)."""
    return find_last_checkpoint(log_dir) if str(ckpt_path) == "last" else Path(str(ckpt_path)).expanduser()


def run_dir_of(checkpoint: Path) -> Path | None:
    """The run folder a checkpoint belongs to, when it sits in ``<run>/checkpoints/``."""
    run = checkpoint.parent.parent
    return run if checkpoint.parent.name == "checkpoints" and (run / ".hydra").is_dir() else None


def plain(value: Any) -> Any:
    """A metric value as a JSON number (tensors, numpy scalars; NaN becomes null)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write next to the target and rename, so a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    tmp.replace(path)


class RunFolderGuard(Callback):
    """Hydra creates the run (or sweep) folder, and writes its config copy there, before any
    lit-dnn code runs. This callback runs first and ends in one sentence (exit code 2) where
    that would go wrong: a folder that cannot be made (Hydra's stack trace otherwise), or a run
    folder given by hand (``hydra.run.dir``) that already holds a finished command's results,
    which a second run would overwrite. It checks the folder that will hold the run's folder:
    the default run name carries the time to the microsecond and is made by Hydra a moment later."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        run = Path(str(config.hydra.run.dir))
        if results := results_in(run):
            print(
                f"Error: hydra.run.dir={run} holds the results of an earlier run (its {results.name}), which this run "
                f"would overwrite; choose another folder, or leave hydra.run.dir out for a new one.",
                file=sys.stderr,
            )
            sys.exit(2)
        self.check(config.hydra.run.dir)
        self.claim(run)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.check(config.hydra.sweep.dir)  # not claimed: Optuna's workers share one study's folder, a trial's subfolder each

    @staticmethod
    def claim(folder: Path) -> None:
        try:
            claim_run_folder(folder)
        except ConfigError as err:
            print(f"Error: {err}", file=sys.stderr)
            sys.exit(2)

    @staticmethod
    def check(folder: str) -> None:
        parent = Path(str(folder)).parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
            tempfile.TemporaryDirectory(dir=parent).cleanup()
        except OSError as err:
            print(
                f"Error: cannot write run folders in {parent} ({err.strerror or type(err).__name__}); "
                f"set paths.log_dir to a folder you can write.",
                file=sys.stderr,
            )
            sys.exit(2)
