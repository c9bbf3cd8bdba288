"""Run every tutorial experiment and write their comparison table (scripts/experiments.md).

    python scripts/run_experiments.py [--only mnist_tutorial fashion_100] [--seeds 42 1 2]

Each experiment runs as ``python train.py experiment=<name> seed=<seed>`` in a subprocess, once
per seed; the table (experiment, command, the tutorial's figure, ours: the mean over the seeds
and each seed's figure) goes to scripts/experiments.md; with --only, the rows of the other
experiments already there are kept.
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# name → (what the tutorial reports, its figure, the metric of ours to compare with it)
TUTORIALS = {
    "mnist_tutorial": ("test accuracy", "≈ 98% (train 98.7%)", "test/acc"),
    "mnist_128_64": ("test accuracy", "97.57%", "test/acc"),
    "fashion_128_64": ("test accuracy", "87.59%", "test/acc"),
    "fashion_softmax": ("validation accuracy", "85.9%", "val/acc"),
    "fashion_100": ("validation accuracy", "87.85%", "val/acc"),
    "binary_deep": ("test accuracy", "not stated", "test/acc"),
    "binary_small": ("test accuracy", "not stated", "test/acc"),
}


Runner = Callable[[list[str]], subprocess.CompletedProcess]


def train_py(args: list[str]) -> subprocess.CompletedProcess:
    """``python train.py <args>`` in a new process, from the project root."""
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, capture_output=True, text=True)


def run(name: str, seed: int, launch: Runner = train_py) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        quiet = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]
        result = launch([f"experiment={name}", f"seed={seed}", f"hydra.run.dir={run_dir}", *quiet])
        if result.returncode != 0:
            raise RuntimeError(f"experiment={name} failed:\n{result.stderr[-2000:]}")
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    metrics["wall_s"] = time.perf_counter() - start
    return metrics


def main(argv: list[str] | None = None, launch: Runner = train_py) -> None:
    """``launch`` runs one ``train.py`` command (the tests pass one that forks)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=list(TUTORIALS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 1, 2])
    parser.add_argument("--out", type=Path, default=ROOT / "scripts" / "experiments.md")
    args = parser.parse_args(argv)
    seeds = ", ".join(map(str, args.seeds))
    rows = [
        f"| experiment | command | tutorial | ours: mean (seeds {seeds}) | per seed | test / train (seed {args.seeds[0]}) | wall time |",
        "|---|---|---|---|---|---|---:|",
    ]
    for name in args.only:
        what, figure, key = TUTORIALS[name]
        runs = [run(name, seed, launch) for seed in args.seeds]
        values = [m[key] * 100 for m in runs]
        first = runs[0]
        theirs = figure if figure == "not stated" else f"{figure} {what}"
        rows.append(
            f"| {name} | `python train.py experiment={name}` | {theirs} | **{statistics.mean(values):.2f}%** {what.split()[0]} "
            f"| {' / '.join(f'{v:.2f}' for v in values)} | {first['test/acc'] * 100:.2f}% / {first['train/acc'] * 100:.2f}% "
            f"| {statistics.mean(m['wall_s'] for m in runs):.0f} s |"
        )
        print(rows[-1], flush=True)
    if args.out.exists() and set(args.only) != set(TUTORIALS):  # keep the rows of experiments not run now

        def name(row: str) -> str:
            return row.split("|")[1].strip()

        kept = [row for row in args.out.read_text().splitlines()[2:] if name(row) not in args.only]
        rows = rows[:2] + sorted(rows[2:] + kept, key=lambda row: list(TUTORIALS).index(name(row)))
    args.out.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
