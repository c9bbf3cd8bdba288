"""Run every tutorial experiment and write the README's comparison table.

    python scripts/run_experiments.py [--only mnist_tutorial fashion_100] [--seed 42]

Each experiment runs as ``python train.py experiment=<name> seed=<seed>`` in a subprocess;
the table (experiment, command, the tutorial's figure, ours) goes to scripts/experiments.md.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
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


def run(name: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "train.py"), f"experiment={name}", f"seed={seed}", f"hydra.run.dir={run_dir}",
             "callbacks.rich_progress_bar=null", "+trainer.enable_progress_bar=false"],
            cwd=ROOT, capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"experiment={name} failed:\n{result.stderr[-2000:]}")
        metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    metrics["wall_s"] = time.perf_counter() - start
    return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", default=list(TUTORIALS))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=ROOT / "scripts" / "experiments.md")
    args = parser.parse_args()
    rows = ["| experiment | command | tutorial | ours (seed %d) | wall time |" % args.seed, "|---|---|---|---|---:|"]
    for name in args.only:
        what, figure, key = TUTORIALS[name]
        m = run(name, args.seed)
        ours = f"{m[key] * 100:.2f}% {what.split()[0]} (test {m['test/acc'] * 100:.2f}%, train {m['train/acc'] * 100:.2f}%)"
        theirs = figure if figure == "not stated" else f"{figure} {what}"
        rows.append(f"| {name} | `python train.py experiment={name}` | {theirs} | {ours} | {m['wall_s']:.0f} s |")
        print(rows[-1], flush=True)
    args.out.write_text("\n".join(rows) + "\n")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
