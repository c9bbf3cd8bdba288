"""What the root scripts share: one-sentence errors, and failures that do not end a sweep."""

import errno
import importlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig
from omegaconf.errors import MissingMandatoryValue

from lit_dnn.errors import Stopped, UserError, first_line
from lit_dnn.run_dir import LOCK_FILE
from lit_dnn.workarounds import prepare_process

log = logging.getLogger(__name__)


def in_multirun() -> bool:
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@contextmanager
def sigterm_stops(message: Callable[[], str]) -> Iterator[None]:
    """Outside Lightning's loops (which handle SIGTERM themselves), turn SIGTERM into ``Stopped``,
    so the process ends with a sentence, not silently with -15."""

    def stop(signum: int, frame: object) -> None:
        raise Stopped(message())

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def is_sigterm(err: BaseException) -> bool:
    """Lightning's SIGTERM exception (imported only when Lightning already is: a config error stays fast)."""
    exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")
    return exceptions is not None and isinstance(err, exceptions.SIGTERMException)


def run_task(task: Callable[[DictConfig], Any] | str, cfg: DictConfig, check: Callable[[DictConfig], None] | None = None) -> Any:
    """Run ``check(cfg)``, then ``task(cfg)``.

    ``task`` may be named as ``"module:function"``: its module (torch, Lightning, ...) is then
    imported after ``check`` has passed, so a config error answers in about the time of
    ``import torch``. A single run that fails on a user's mistake ends as one sentence and exit
    code 2, not a traceback (``HYDRA_FULL_ERROR=1`` shows it). A job of a multirun that fails for
    any reason is recorded in its folder as ``error.json`` and returns ``None``, so the sweep
    goes on and its summary (and Optuna) mark the job failed.
    """
    start = time.perf_counter()
    try:
        if check is not None:
            check(cfg)
        if isinstance(task, str):
            module, name = task.split(":")
            task = getattr(importlib.import_module(module), name)
        prepare_process()  # after the task's imports (importing lightning sets what it undoes)
        return task(cfg)
    except Stopped as err:
        print(f"Stopped by SIGTERM: {err}.", file=sys.stderr)
        sys.exit(143)
    except SystemExit as err:  # Lightning's SIGTERMException is a SystemExit
        if is_sigterm(err):
            print(f"Stopped by SIGTERM: {err.args[0] if err.args else 'no checkpoint saved'}.", file=sys.stderr)
            sys.exit(143)
        raise
    except Exception as err:
        if in_multirun():
            log.exception("Job failed: %s", first_line(err))
            error = {"error": f"{type(err).__name__}: {first_line(err)}", "wall_time_s": round(time.perf_counter() - start, 3)}
            (Path(HydraConfig.get().runtime.output_dir) / "error.json").write_text(json.dumps(error, indent=2) + "\n")
            return None
        if isinstance(err, OSError) and err.errno in WRITE_ERRORS:
            err = UserError(
                f"could not write {err.filename or 'a result file'} ({err.strerror}); free disk space or set "
                f"paths.log_dir to a writable folder (the last complete checkpoint and results are kept)."
            )
        if isinstance(err, MissingMandatoryValue):
            err = UserError(f"{err.full_key} is required; add {err.full_key}=<{REQUIRED.get(err.full_key, 'value')}> to the command.")
        if not isinstance(err, UserError) or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        remove_if_empty_run_folder()
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(2)


WRITE_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)
REQUIRED = {
    "ckpt_path": "a .ckpt written by train.py, e.g. logs/train/runs/<run>/checkpoints/last.ckpt",
    "input": "a folder of images, one image, or a .npy array",
    "data.path": "your table's file (data=csv) or folder of class subfolders (data=images)",
    "data.target": "the column to predict",
}


def remove_if_empty_run_folder() -> None:
    """A command that failed before doing any work leaves no folder behind: Hydra made it for
    its config copy and the log, and both hold only what was printed."""
    if not HydraConfig.initialized():
        return
    folder = Path(HydraConfig.get().runtime.output_dir)
    entries = list(folder.iterdir()) if folder.is_dir() else []
    if all(p.name in (".hydra", LOCK_FILE) or (p.is_file() and p.suffix == ".log") for p in entries):
        shutil.rmtree(folder, ignore_errors=True)
