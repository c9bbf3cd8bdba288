"""Fixtures: configs composed as a user's command would, tiny IDX datasets, real data paths."""

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# One torch thread where the tests fork scripts (on the CPU) or pytest -n N's workers share the cores
# (and so do their subprocesses): a child forked from a process whose OpenMP threads have run hangs
# in its first parallel op (it did under pytest -n 0)
if os.environ.get("LIT_DNN_TEST_ACCELERATOR", "cpu") == "cpu" or os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from lit_dnn.data.idx import write_idx

if os.environ.get("OMP_NUM_THREADS") == "1":  # in case torch was imported before the line above
    import torch

    torch.set_num_threads(1)

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
REAL_DATA = Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "datasets")).resolve()
# The accelerator the suite's runs train on: cpu (CI), or gpu to run the same tests on a GPU machine
ACCELERATOR = os.environ.get("LIT_DNN_TEST_ACCELERATOR", "cpu")


def make_images(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Learnable 28×28 digits: class k lights rows 2k..2k+3, plus pixel noise; 4% of the
    labels are then flipped, so a trained model still makes a few mistakes to show."""
    labels = rng.integers(0, 10, n).astype(np.uint8)
    images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for k in range(10):
        images[labels == k, 2 * k + 2 : 2 * k + 6, 4:24] = 230
    flip = rng.random(n) < 0.04
    labels[flip] = (labels[flip] + 1) % 10
    return images, labels


def write_dataset(root: Path, folder: str = "MNIST", n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    raw = root / folder / "raw"
    for split, n in (("train", n_train), ("t10k", n_test)):
        images, labels = make_images(n, rng)
        write_idx(raw / f"{split}-images-idx3-ubyte", images)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return root


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir with small MNIST and FashionMNIST folders in torchvision's layout."""
    root = tmp_path_factory.mktemp("data")
    write_dataset(root, "MNIST")
    write_dataset(root, "FashionMNIST", seed=1)
    return root


@pytest.fixture(scope="session")
def tiny_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The tests' one trained model: 3 epochs on the tiny MNIST (``tiny_overrides``); its run folder
    and metrics. Tests read it and never write into it (each xdist worker trains its own copy)."""
    from lit_dnn.train import train

    tmp = tmp_path_factory.mktemp("tiny_run")
    metrics = train(compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=3"], tmp))
    return tmp / "run", metrics


def compose_cfg(overrides: list[str], tmp_path: Path, config_name: str = "train") -> DictConfig:
    """The config ``python train.py <overrides>`` would get, writing only under ``tmp_path``."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name, overrides=[f"paths.log_dir={tmp_path}/logs", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
    return cfg


def tiny_overrides(data_dir: Path) -> list[str]:
    """Fast settings for the tiny dataset: small validation split, batch 128 (4 batches an epoch), 2 epochs,
    no progress bar."""
    return [
        f"data.data_dir={data_dir}",
        "data.val_split=100",
        "data.download=false",
        "data.batch_size=128",
        "trainer.max_epochs=2",
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
        f"trainer.accelerator={ACCELERATOR}",
    ]


def run_script(
    script: str, args: list[str], env: dict[str, str] | None = None, timeout: int = 300, cwd: Path = ROOT, fresh: bool = False
) -> subprocess.CompletedProcess:
    """``python <script> <args>`` as a user runs it: its exit code, stdout and stderr.

    The script runs as ``__main__`` in a child process forked from this one, whose imports (torch,
    Lightning, Hydra: ~5 s a command on 2 cores) are already done; ``fresh=True`` starts a new
    interpreter instead, for each entry point's smoke test and for what happens at import time."""
    return start_script(script, args, env, cwd, fresh).communicate(timeout)


# CUDA, once this process has used it, cannot be used in a forked child: on a GPU every script starts anew
FORK = ACCELERATOR == "cpu"


class Fresh(subprocess.Popen):
    """A script in a new interpreter (``start_script(fresh=True)``), Ctrl+C as a terminal delivers it;
    ``communicate`` answers as ``Forked``'s does, and a timeout kills it as ``subprocess.run`` does."""

    def __init__(self, script: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        super().__init__(
            [sys.executable, str(ROOT / script), *args],
            cwd=cwd,
            env={**os.environ, **env},
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a background process inherits it ignored
        )

    def communicate(self, timeout: float | None = None) -> subprocess.CompletedProcess:  # type: ignore[override]
        try:
            out, err = super().communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            super().communicate()
            raise
        return subprocess.CompletedProcess(self.args, self.returncode, out, err)


class Forked:
    """A script running in a forked child (``start_script``): Popen's ``pid``, ``poll``, ``wait``,
    ``send_signal`` and ``communicate``, with stdout and stderr in files."""

    def __init__(self, script: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.args, self.returncode = [str(ROOT / script), *args], None
        self.out, self.err = tempfile.TemporaryFile("w+"), tempfile.TemporaryFile("w+")  # nameless: gone once closed
        sys.stdout.flush(), sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:  # the child never returns into pytest
            code = 1
            try:
                code = run_in_child(self.args, env, cwd, self.out.fileno(), self.err.fileno())
            finally:
                os._exit(code)

    def poll(self) -> int | None:
        if self.returncode is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                self.send_signal(signal.SIGKILL)
                self.wait()
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(0.02)
        return self.returncode

    def send_signal(self, sig: int) -> None:
        if self.returncode is None:
            os.kill(self.pid, sig)

    def output(self) -> tuple[str, str]:
        texts = []
        for f in (self.out, self.err):
            f.seek(0)
            texts.append(f.read())
            f.close()
        return texts[0], texts[1]

    def communicate(self, timeout: float | None = None) -> subprocess.CompletedProcess:
        self.wait(timeout)
        return subprocess.CompletedProcess(self.args, self.returncode, *self.output())


def start_script(
    script: str, args: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT, fresh: bool = False
) -> "Forked | Fresh":
    """Start ``python <script> <args>`` and return at once (``run_script`` waits): in a forked child,
    or in a new interpreter with ``fresh=True`` or on a GPU."""
    env = {"PYTHONWARNINGS": "ignore", **(env or {})}
    return Forked(script, args, env, cwd) if FORK and not fresh else Fresh(script, args, env, cwd)


def run_in_child(argv: list[str], env: dict[str, str], cwd: Path, out: int, err: int) -> int:
    """In the forked child: what ``python <argv>`` sets up (its folder on sys.path, the default
    signal handlers, stdout and stderr), then the script as ``__main__``; its exit code."""
    import runpy
    import traceback
    import warnings

    os.dup2(out, 1), os.dup2(err, 2)
    sys.stdout, sys.stderr = open(1, "w", buffering=1, closefd=False), open(2, "w", buffering=1, closefd=False)
    os.chdir(cwd)
    os.environ.update(env)
    warnings.resetwarnings()
    warnings.simplefilter(os.environ["PYTHONWARNINGS"])  # 'ignore' or 'default', as the tests pass it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv, sys.path = argv, [str(Path(argv[0]).parent), *sys.path]
    code = 0
    try:
        runpy.run_path(argv[0], run_name="__main__")
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 0 if exit_.code is None else print(exit_.code, file=sys.stderr) or 1
    except KeyboardInterrupt:  # as Python ends on one: the traceback, then killed by SIGINT
        traceback.print_exc()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:  # noqa: BLE001 - as Python does: the traceback, exit code 1
        traceback.print_exc()
        code = 1
    logging.shutdown()
    sys.stdout.flush(), sys.stderr.flush()
    return code


def real_data() -> Path:
    if not (REAL_DATA / "MNIST" / "raw" / "train-images-idx3-ubyte").exists():
        pytest.fail(f"the real MNIST files are not in {REAL_DATA}; set DATA_DIR to the folder holding MNIST/raw and FashionMNIST/raw")
    return REAL_DATA
