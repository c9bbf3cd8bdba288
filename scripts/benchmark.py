"""Training speed of the template against the machine's floor, in one process.

    python scripts/benchmark.py                      # the full tables into docs/benchmarks.md
    python scripts/benchmark.py --batch-sizes 128 --reps 3 --no-time-to-accuracy

For each batch size, repetitions interleaved, it times one training epoch of
  (1) the template, exactly as ``python train.py`` builds it (datamodule, module, callbacks, logger);
  (2) a plain PyTorch loop over the same in-memory tensors, model, optimiser and batch size, run
      inside each epoch of (1) and of (0), at least 16 of its batches at a time before the template's, so each
      pair is measured over the same seconds (this VM's speed drifts within seconds);
  (3) the naive path: torchvision's dataset with ToTensor/Normalize and a DataLoader, inside Lightning;
  (0) Lightning's own floor: a minimal LightningModule (forward, cross-entropy, the same optimiser)
      on the same batches with no callbacks, logger, progress bar, metrics, schedule or validation.
Then whole runs, interleaved: ``import torch``, ``import lightning``, ``python train.py --help``,
``scripts/plain_pytorch.py`` (the default recipe as a plain PyTorch script, process start to test
accuracy) and ``python train.py`` at its defaults (process start to exit after metrics.json is
written; time to the first training step, test accuracy, peak RSS).
"""

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra import compose, initialize_config_dir  # noqa: E402
from hydra.errors import HydraException  # noqa: E402
from omegaconf import DictConfig, open_dict  # noqa: E402
from torch.utils.data import DataLoader, random_split  # noqa: E402
from torchvision import transforms  # noqa: E402

from lit_dnn.config_checks import check_train_config  # noqa: E402
from lit_dnn.data.image import DATASETS  # noqa: E402
from lit_dnn.errors import ConfigError, UserError, first_line  # noqa: E402
from lit_dnn.train import build  # noqa: E402
from lit_dnn.workarounds import prepare_process  # noqa: E402


class EpochTimer(L.Callback):
    """Per epoch: the training batches (``times``), and the epoch-end work after them
    (validation, checkpoints, images: ``end_times``), timed apart. The plain loop's batches run
    inside the epoch (``PlainInterleaved``): their time is taken out of ``times``."""

    def __init__(self, plain: "PlainInterleaved | None" = None) -> None:
        self.plain = plain
        self.times: list[float] = []
        self.end_times: list[float] = []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.start = time.perf_counter()

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs, batch, batch_idx: int) -> None:
        if batch_idx == trainer.num_training_batches - 1:
            self.last_batch_end = time.perf_counter()
            inside = self.plain.times[-1] if self.plain is not None else 0.0
            self.times.append(self.last_batch_end - self.start - inside)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.end_times.append(time.perf_counter() - self.last_batch_end)


def config(batch_size: int, overrides: list[str], output_dir: str) -> DictConfig:
    """``python train.py``'s config with these overrides, checked as train.py checks it."""
    try:
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            cfg = compose("train", overrides=[f"data.batch_size={batch_size}", *overrides])
    except HydraException as err:
        raise ConfigError(f"the overrides {overrides} do not compose: {first_line(err)}") from err
    with open_dict(cfg):
        cfg.paths.output_dir = output_dir
    check_train_config(cfg)
    return cfg


def exit_on_user_error(main) -> None:
    """Run a script's ``main``: a mistake in an override or the data ends in one sentence, exit code 2."""
    try:
        main()
    except UserError as err:
        print(f"Error: {err}", file=sys.stderr)
        sys.exit(2)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive integer")
    return value


def template_epochs(cfg: DictConfig, epochs: int) -> tuple[list[float], list[float], list[float]]:
    """A real fit of ``epochs`` epochs after a warm-up epoch: each epoch's training time, its
    epoch-end time (validation, checkpoints, confusion image), and the plain loop's epoch run
    inside it."""
    plain = PlainInterleaved(cfg)
    timer = EpochTimer(plain)
    with open_dict(cfg):
        cfg.trainer.max_epochs = epochs + 1  # the one-cycle schedule is planned for the run's length
    datamodule, model, trainer = build(cfg, extra_callbacks=[plain, timer])
    trainer.fit(model, datamodule=datamodule)
    return timer.times[1:], timer.end_times[1:], plain.times[1:]


class MinimalModule(L.LightningModule):
    """The least a LightningModule can be: what (0) times."""

    def __init__(self, net: torch.nn.Module, optimizer_factory) -> None:
        super().__init__()
        self.net = net
        self.optimizer_factory = optimizer_factory

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self.net(x), y)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(params=self.parameters())


def lightning_floor_epochs(cfg: DictConfig, epochs: int) -> tuple[list[float], list[float]]:
    """(0)'s epochs after a warm-up epoch, and the plain loop's epochs run inside them."""
    plain = PlainInterleaved(cfg)
    timer = EpochTimer(plain)
    datamodule, model, _ = build(cfg)
    trainer = L.Trainer(
        max_epochs=epochs + 1,
        accelerator=cfg.trainer.accelerator,
        devices=1,
        logger=False,
        callbacks=[plain, timer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(MinimalModule(model.net, model.optimizer_factory), datamodule=datamodule)
    return timer.times[1:], plain.times[1:]


class PlainLoop:
    """The floor: the same batches, model and optimiser, no framework (its own datamodule and
    net, so it leaves the template's state alone)."""

    def __init__(self, cfg: DictConfig) -> None:
        datamodule, model, _ = build(cfg)  # its splits already loaded
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        datamodule.to(self.device)
        self.net = model.net.to(self.device).train()
        self.optimizer = model.optimizer_factory(params=self.net.parameters())
        self.dataset = datamodule.split_dataset("train")  # the same tensors, indexed directly: no DataLoader
        self.sampler = datamodule.index_sampler("train")
        self.epochs_run = 0

    def start_epoch(self) -> None:
        self.sampler.set_epoch(self.epochs_run)
        self.epochs_run += 1
        self.batches = (self.dataset[idx] for idx in self.sampler)

    def run(self, n: int) -> float:
        """Seconds for the epoch's next ``n`` batches."""
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for x, y in islice(self.batches, n):
            self.optimizer.zero_grad()
            F.cross_entropy(self.net(x), y).backward()
            self.optimizer.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - start


class PlainInterleaved(L.Callback):
    """Runs the plain loop inside a Lightning epoch: before a step, as many plain batches as the
    framework has run since the last chunk, once they reach ``chunk`` (and at the last step).
    Each epoch's pair is then measured over the same seconds: timed whole epochs apart, pairs
    on this VM ranged 0.7-1.9 for the same code."""

    def __init__(self, cfg: DictConfig, chunk: int = 16) -> None:
        self.plain = PlainLoop(cfg)
        self.chunk = chunk
        self.times: list[float] = []  # the plain loop's seconds in each epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.plain.start_epoch()
        self.owed = 0
        self.times.append(0.0)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        self.owed += 1
        if self.owed >= self.chunk or batch_idx == trainer.num_training_batches - 1:
            self.times[-1] += self.plain.run(self.owed)
            self.owed = 0


class NaiveImages(L.LightningDataModule):
    """What most tutorials do: a torchvision dataset, a per-sample transform, a DataLoader."""

    def __init__(self, data_dir: str, dataset: str, batch_size: int, val_size: int) -> None:
        super().__init__()
        spec = DATASETS[dataset]
        self.transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((spec.mean,), (spec.std,))])
        full = spec.torchvision_class(data_dir, train=True, transform=self.transform)
        self.train_set, self.val_set = random_split(full, [len(full) - val_size, val_size], generator=torch.Generator().manual_seed(0))
        self.batch_size = batch_size

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1000)


def naive_epoch(cfg: DictConfig) -> float:
    timer = EpochTimer()
    with open_dict(cfg):
        cfg.trainer.max_epochs = 1
    datamodule, model, trainer = build(cfg, extra_callbacks=[timer])
    naive = NaiveImages(cfg.data.data_dir, cfg.data.dataset, cfg.data.batch_size, len(datamodule.splits["val"][0]))
    trainer.fit(model, datamodule=naive)
    return timer.times[0]


# train.py is started by a small Python process that reports its child's peak RSS: a child
# forked from this benchmark process inherits its pages in the kernel's count (ru_maxrss
# survives exec), so reading RUSAGE_CHILDREN here gave this process's own peak.
LAUNCHER = (
    "import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
    "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(rc)"
)


class FirstStep(L.Callback):
    """Added to ``python train.py`` from the command line: writes the wall-clock time of the first
    training step's start to ``path``."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        if not self.path.exists():
            self.path.write_text(repr(time.time()))


def time_to_accuracy(overrides: list[str]) -> dict[str, float]:
    """``python train.py`` at its defaults, timed from the outside; the first step by ``FirstStep``."""
    with tempfile.TemporaryDirectory() as run_dir:
        stamp = Path(run_dir) / "first_step"
        probe = ["+callbacks.first_step._target_=benchmark.FirstStep", f"+callbacks.first_step.path={stamp}"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
        start_wall, start = time.time(), time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-S", "-c", LAUNCHER, sys.executable, str(ROOT / "train.py"), f"hydra.run.dir={run_dir}", *probe, *overrides],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=ROOT,
            env=env,
        )
        wall = time.perf_counter() - start
        lines = proc.stdout.splitlines()
        if proc.returncode != 0:
            raise RuntimeError("python train.py failed:\n" + "\n".join(lines[-20:]))
        first_step = float(stamp.read_text()) - start_wall
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    peak_kb = int(lines[-1].split()[-1])  # the launcher's last line
    return {
        "wall_s": wall,
        "first_step_s": first_step,
        "test_acc": metrics["test/acc"],
        "epochs": metrics["epochs_run"],
        "peak_rss_mb": peak_kb / 1024,
    }


def wall(command: list[str]) -> float:
    """Seconds from process start to exit of ``command`` (run from the project root)."""
    start = time.perf_counter()
    proc = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n" + proc.stdout[-2000:])
    return time.perf_counter() - start


def whole_runs(reps: int, overrides: list[str], data_dir: str, val_size: int) -> dict[str, list[float]]:
    """Interleaved per repetition: ``import torch``, ``import lightning``, ``python train.py --help``,
    the plain script (``scripts/plain_pytorch.py``: the default recipe, process start to test
    accuracy) and ``python train.py`` at its defaults (process start to exit)."""
    times: dict[str, list[float]] = {}
    python = sys.executable
    for _ in range(reps):
        for name, command in (
            ("import torch", [python, "-c", "import torch"]),
            ("import lightning", [python, "-c", "import lightning"]),
            ("train.py --help", [python, "train.py", "--help"]),
            ("plain script", [python, "scripts/plain_pytorch.py", "--data-dir", data_dir, "--val-size", str(val_size)]),
        ):
            times.setdefault(name, []).append(wall(command))
        for key, value in time_to_accuracy(overrides).items():
            times.setdefault(f"train.py {key}", []).append(value)
    return times


# docs/benchmarks.md: its text is written by hand; what lies between these markers is written by this script
LATEST = ("<!-- benchmark.py: the latest run (generated) -->", "<!-- benchmark.py: end of the latest run -->")
RUN_LOG = ("<!-- benchmark.py: one row per run (generated) -->", "<!-- benchmark.py: end of the run log -->")


def publish(out: Path, tables: str, row: str) -> None:
    """A file with the markers keeps its own text, gets this run's tables as the latest run and one
    more row in its run log; any other file (or a new one) gets the tables alone."""
    text = out.read_text() if out.exists() else ""
    if LATEST[0] not in text or RUN_LOG[0] not in text:
        out.write_text(tables)
        return
    head, rest = text.split(LATEST[0], 1)
    text = head + LATEST[0] + "\n\n" + tables + "\n" + LATEST[1] + rest.split(LATEST[1], 1)[1]
    log_head, log_rest = text.split(RUN_LOG[1], 1)
    out.write_text(log_head.rstrip("\n") + "\n" + row + "\n" + RUN_LOG[1] + log_rest)


def commit() -> str:
    """The code measured: the short commit, ``+changes`` when the tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return "-"
    return head + ("+changes" if dirty.strip() else "")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU only, {torch.get_num_threads()} torch threads"
    return f"{cpu}, {os.cpu_count()} cores; {device}; torch {torch.__version__}, lightning {L.__version__}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-sizes", type=positive_int, nargs="+", default=[32, 128, 512])
    parser.add_argument("--reps", type=positive_int, default=3, help="interleaved repetitions of (1) and (2)")
    parser.add_argument("--epochs", type=positive_int, default=2, help="timed epochs per template fit (after one warm-up)")
    parser.add_argument("--naive", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument(
        "--time-to-accuracy",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time whole runs: the plain script and python train.py, interleaved",
    )
    parser.add_argument("--run-reps", type=int, default=3, help="interleaved repetitions of the whole runs")
    parser.add_argument("--override", action="append", default=[], help="a Hydra override for every run, e.g. data.val_split=0.2")
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="a Markdown file: one with the run markers (docs/benchmarks.md) keeps its text and gets this run; any other gets the tables",
    )
    args = parser.parse_args()
    prepare_process()  # as python train.py does

    results: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for bs in args.batch_sizes:
                cfg = config(bs, args.override, f"{tmp}/{rep}-{bs}")
                train_s, end_s, plain_s = template_epochs(cfg, args.epochs)
                results.setdefault(("template", bs), []).extend(train_s)
                results.setdefault(("epoch_end", bs), []).extend(end_s)
                results.setdefault(("plain", bs), []).extend(plain_s)
                floor_s, floor_plain_s = lightning_floor_epochs(cfg, args.epochs)
                results.setdefault(("floor", bs), []).extend(floor_s)
                results.setdefault(("floor_plain", bs), []).extend(floor_plain_s)
                if args.naive and rep == 0:  # slow, and its spread is small next to its size
                    results.setdefault(("naive", bs), []).append(naive_epoch(cfg))
                print(f"rep {rep} bs {bs}: " + ", ".join(f"{k[0]} {v[-1]:.3f}s" for k, v in results.items() if k[1] == bs), flush=True)
    own_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    cfg = config(args.batch_sizes[0], args.override, "unused")
    dm = build(cfg)[0]
    n_train = len(dm.splits["train"][0])
    rows = [
        "| batch | (1) template s/epoch | (2) plain loop s/epoch | (1)/(2) | (1)/(2) of single epochs | (0) Lightning floor s/epoch "
        "| (0)/(2) | (3) naive s/epoch | (1) samples/s | (2) samples/s | (3) samples/s | (1) epoch end s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    log_ratios, log_floors = [], []  # (1)/(2) and (1)/(0) by batch size, for the run log
    for bs in args.batch_sizes:
        t, p = statistics.median(results[("template", bs)]), statistics.median(results[("plain", bs)])
        n = results.get(("naive", bs))
        naive = f"{statistics.median(n):.2f}" if n else "-"
        naive_sps = f"{n_train / statistics.median(n):,.0f}" if n else "-"
        end = statistics.median(results[("epoch_end", bs)])
        floor = statistics.median(results[("floor", bs)])
        # the median of each epoch's ratio: the VM's speed drifts more between epochs than within one
        pairs = [a / b for a, b in zip(results[("template", bs)], results[("plain", bs)])]
        ratio = statistics.median(pairs)
        floor_ratio = statistics.median(a / b for a, b in zip(results[("floor", bs)], results[("floor_plain", bs)]))
        log_ratios.append(f"{bs}: {ratio:.2f}")
        log_floors.append(f"{bs}: {t / floor:.2f}")
        rows.append(
            f"| {bs} | {t:.3f} | {p:.3f} | **{ratio:.2f}** | {min(pairs):.2f}–{max(pairs):.2f} | {floor:.3f} "
            f"| {floor_ratio:.2f} | {naive} "
            f"| {n_train / t:,.0f} | {n_train / p:,.0f} | {naive_sps} | {end:.3f} |"
        )
    lines = [
        f"Measured {datetime.date.today()} on {machine()}.",
        f"{n_train:,} training samples per epoch; medians over {args.reps} repetitions of {args.epochs} epochs after a "
        f"warm-up epoch; the plain loop (2) runs inside each epoch of (1) and of (0), 16 batches at a time before the "
        f"framework's, and is timed apart from them: (1)/(2) and (0)/(2) are medians of each epoch's ratio. "
        f"s/epoch times the training batches; "
        f"'epoch end' is what the template then does each epoch (validation, checkpoints, confusion image). "
        f"Peak RSS of this benchmark process: {own_peak:,.0f} MB.",
        "",
        *rows,
    ]
    whole_cells = ["-", "-", "-"]  # for the run log: train.py / plain, train.py s, test acc
    if args.time_to_accuracy and args.run_reps > 0:  # --run-reps 0: the per-epoch table only
        runs = whole_runs(args.run_reps, args.override, str(cfg.data.data_dir), len(dm.splits["val"][0]))
        ratios = [a / b for a, b in zip(runs["train.py wall_s"], runs["plain script"])]

        def med(key: str) -> float:
            return statistics.median(runs[key])

        lines += [
            "",
            f"Whole runs, medians of {args.run_reps} interleaved repetitions, seconds from process start to exit:",
            "",
            "| `import torch` | `import lightning` | `train.py --help` | plain script (8 epochs, test) "
            "| `python train.py` | train.py / plain | train.py: first step | train.py test acc | peak RSS MB |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
            f"| {med('import torch'):.2f} | {med('import lightning'):.2f} | {med('train.py --help'):.2f} "
            f"| {med('plain script'):.2f} | {med('train.py wall_s'):.2f} | **{statistics.median(ratios):.2f}** "
            f"({min(ratios):.2f}–{max(ratios):.2f}) | {med('train.py first_step_s'):.2f} "
            f"| {med('train.py test_acc') * 100:.2f}% | {med('train.py peak_rss_mb'):,.0f} |",
        ]
        whole_cells = [f"{statistics.median(ratios):.2f}", f"{med('train.py wall_s'):.2f}", f"{med('train.py test_acc') * 100:.2f}%"]
    table = "\n".join(lines) + "\n"
    row = (
        f"| {datetime.date.today()} | {commit()} | {machine().split(';')[0]} | `{' '.join(sys.argv[1:]) or '(defaults)'}` "
        f"| {', '.join(log_ratios)} | {', '.join(log_floors)} | {' | '.join(whole_cells)} |"
    )
    publish(args.out, table, row)
    print(table)
    print(f"Written to {args.out}")


if __name__ == "__main__":
    exit_on_user_error(main)
