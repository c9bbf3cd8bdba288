"""Kill a training run at random moments, resume it, and compare with the run that was never killed.

    python scripts/fault_injection.py [--kills 10] [--epochs 3] [--seed 0] [--data-dir ../shared/datasets] [override ...]

Each trial runs ``python train.py`` as a user would, with a ``KillAt`` callback that SIGKILLs
the process at the n-th call of one hook (a training step, a validation batch, a checkpoint
being saved, a test batch, the end of testing), n drawn at random from the calls the
uninterrupted run made. Then it runs what a user runs next, ``python train.py ckpt_path=last``
(or, when nothing was saved yet and that command says so, the first command again), and
compares ``metrics.json`` with the uninterrupted run's: every key, the same values.
"""

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import lightning as L

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ("on_train_batch_end", "on_validation_batch_end", "on_save_checkpoint", "on_test_batch_end", "on_test_end")
VOLATILE = ("wall_time_s", "best_model_path")


class KillAt(L.Callback):
    """SIGKILL this process at the ``at``-th call of ``hook`` (``at=0``: only count calls into ``counts``)."""

    def __init__(self, hook: str, at: int = 0, counts: str | None = None) -> None:
        self.hook, self.at, self.counts_file, self.calls = hook, at, counts, dict.fromkeys(HOOKS, 0)
        for name in HOOKS:
            setattr(self, name, self._make(name))

    def _make(self, name: str):  # noqa: ANN202
        def hook(*args: object, **kwargs: object) -> None:
            self.calls[name] += 1
            if name == self.hook and self.calls[name] == self.at:
                os.kill(os.getpid(), signal.SIGKILL)
            if name == "on_test_end" and self.counts_file:
                Path(self.counts_file).write_text(json.dumps(self.calls))

        return hook


def command(data_dir: Path, log_dir: Path, epochs: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(ROOT / "train.py"),
        f"data.data_dir={data_dir}",
        "data.download=false",
        f"trainer.max_epochs={epochs}",
        f"paths.log_dir={log_dir}",
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
        *extra,
    ]


def run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)


def metrics_of(log_dir: Path) -> dict:
    (path,) = [p for p in (log_dir / "train" / "runs").glob("*/metrics.json")]
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in VOLATILE}


def kill_callback(hook: str, at: int, counts: Path | None = None) -> list[str]:
    extra = ["+callbacks.kill._target_=fault_injection.KillAt", f"+callbacks.kill.hook={hook}", f"+callbacks.kill.at={at}"]
    return extra + ([f"+callbacks.kill.counts={counts}"] if counts else [])


def inject(data_dir: Path, work: Path, kills: int, epochs: int, seed: int, extra: list[str] = ()) -> list[dict]:
    """The uninterrupted run, then ``kills`` killed-and-resumed runs; one row per kill."""
    counts = work / "counts.json"
    whole = run(command(data_dir, work / "whole", epochs, *extra, *kill_callback("none", 0, counts)))
    if whole.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed:\n{whole.stderr[-3000:]}")
    expected, calls = metrics_of(work / "whole"), json.loads(counts.read_text())
    rng = random.Random(seed)
    rows = []
    for i in range(kills):
        hook = HOOKS[i % len(HOOKS)] if i < len(HOOKS) else rng.choice(HOOKS)  # every kind of moment, then at random
        at = rng.randint(1, calls[hook])
        logs = work / f"kill_{i:02d}"
        killed = run(command(data_dir, logs, epochs, *extra, *kill_callback(hook, at)))
        resumed = run(command(data_dir, logs, epochs, *extra, "ckpt_path=last"))
        how = "ckpt_path=last"
        if resumed.returncode == 2 and "found no unfinished run" in resumed.stderr:
            shutil.rmtree(logs)  # killed before the first checkpoint: the user starts again
            resumed, how = run(command(data_dir, logs, epochs, *extra)), "started again (nothing saved yet)"
        got = metrics_of(logs) if resumed.returncode == 0 else {}
        differing = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
        rows.append(
            {
                "kill": i,
                "moment": f"{hook} #{at} of {calls[hook]}",
                "killed_exit": killed.returncode,
                "then": how,
                "exit": resumed.returncode,
                "identical": not differing,
                "differing": differing[:5],
            }
        )
        print(
            f"{i:2d}  {rows[-1]['moment']:<34} exit {killed.returncode:>3} -> {how:<34} exit {resumed.returncode}  "
            f"metrics.json {'identical' if not differing else 'DIFFERS: ' + ', '.join(differing[:5])}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "datasets")))
    parser.add_argument("overrides", nargs="*", help="more train.py overrides, e.g. data.val_split=100")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = inject(args.data_dir.resolve(), Path(tmp), args.kills, args.epochs, args.seed, args.overrides)
    same = sum(r["identical"] for r in rows)
    print(f"{same} of {len(rows)} killed and resumed runs ended with the uninterrupted run's metrics.json")
    sys.exit(0 if same == len(rows) else 1)


if __name__ == "__main__":
    main()
