"""What produced a run: the command, the code's git state, the packages and the hardware (``provenance.json``)."""

import datetime
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

from lit_dnn.run_dir import write_json

PACKAGES = (
    "torch",
    "torchvision",
    "lightning",
    "hydra-core",
    "omegaconf",
    "torchmetrics",
    "numpy",
    "pandas",
    "scikit-learn",
    "optuna",
    "tensorboard",
    "lit-dnn",
)


def seconds_since_process_start() -> float | None:
    """Seconds since this process started, Python's start-up and imports included (Linux's /proc;
    None where there is none)."""
    try:
        started_ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])  # field 22, starttime
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return round(uptime - started_ticks / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


def git(root: Path, *args: str) -> str | None:
    """A git command's output in ``root``, or None where git or the repository is missing."""
    try:
        done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            return next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def provenance(root: Path) -> tuple[dict[str, Any], str | None]:
    """The record, and the uncommitted changes as a patch (None when the tree is clean or not in git)."""
    commit = git(root, "rev-parse", "HEAD")
    status = git(root, "status", "--porcelain", "--untracked-files=no")
    diff = git(root, "diff", "HEAD") if status else None
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    record = {
        "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
        "cwd": os.getcwd(),
        "git": {"commit": commit.strip() if commit else None, "dirty": bool(status), "diff": "git_diff.patch" if diff else None}
        if commit
        else {"commit": None, "note": f"{root} is not a git checkout (or git is missing)"},
        "python": sys.version.split()[0],
        "packages": versions,
        "hardware": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "gpus": gpus,
            "platform": platform.platform(),
        },
    }
    return record, diff


def write_provenance(output_dir: Path, root: Path, write: bool = True) -> str | None:
    """``provenance.json`` (a resume adds ``provenance-<time>.json``, keeping the first) and
    ``git_diff.patch`` beside it when the tree was dirty; returns the commit. ``write=False``
    (the other processes of a distributed run) only returns it."""
    record, diff = provenance(root)
    if not write:
        return record["git"]["commit"]
    output_dir.mkdir(parents=True, exist_ok=True)
    name = "provenance.json"
    if (output_dir / name).exists():
        name = f"provenance-{datetime.datetime.now():%Y-%m-%d_%H-%M-%S}.json"
    if diff:
        patch = output_dir / name.replace("provenance", "git_diff").replace(".json", ".patch")
        patch.write_text(diff)
        record["git"]["diff"] = patch.name
    write_json(output_dir / name, record)
    return record["git"]["commit"]
