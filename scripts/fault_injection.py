"""Kill a training run at random moments, resume it, and compare with the run that was never killed.

    python scripts/fault_injection.py [--kills 10] [--first-epoch 3] [--epochs 3] [--seed 0] [--data-dir ../shared/datasets] [override ...]

Each trial runs ``python train.py`` as a user would, with a ``KillAt`` callback that SIGKILLs
the process at the n-th call of one hook (a training step, a validation batch, a checkpoint
being saved, a test batch, the end of testing), n drawn at random from the calls the
uninterrupted run made. Then it runs what a user runs next, ``python train.py ckpt_path=last``
(or, when nothing was saved yet and that command says so, the first command again), and
compares ``metrics.json`` with the uninterrupted run's: every key, the same values.

``--first-epoch N`` adds N interruptions at random training steps of the first epoch, alternately
a SIGKILL (nothing is saved yet: the user starts again, and the run must equal the uninterrupted
one) and a Ctrl+C (SIGINT: a mid-epoch checkpoint is saved and ``ckpt_path=last`` must finish the
run; it repeats the rest of that epoch's batch count, so its metrics may differ slightly, as
docs/reliability.md says).
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
from collections.abc import Callable
from pathlib import Path

import lightning as L

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ("on_train_batch_end", "on_validation_batch_end", "on_save_checkpoint", "on_test_batch_end", "on_test_end")
VOLATILE = ("wall_time_s", "command_time_s", "best_model_path")


class KillAt(L.Callback):
    """Send ``signal_name`` (SIGKILL, or SIGINT as Ctrl+C does) to this process at the ``at``-th call of
    ``hook`` (``at=0``: only count calls into ``counts``)."""

    def __init__(self, hook: str, at: int = 0, counts: str | None = None, signal_name: str = "SIGKILL") -> None:
        self.hook, self.at, self.counts_file, self.calls = hook, at, counts, dict.fromkeys(HOOKS, 0)
        self.signal = signal.Signals[signal_name]
        if self.signal == signal.SIGINT:  # a process started in the background ignores Ctrl+C; a terminal's does not
            signal.signal(signal.SIGINT, signal.default_int_handler)
        for name in HOOKS:
            setattr(self, name, self._make(name))

    def _make(self, name: str):  # noqa: ANN202
        def hook(*args: object, **kwargs: object) -> None:
            self.calls[name] += 1
            if name == self.hook and self.calls[name] == self.at:
                os.kill(os.getpid(), self.signal)
            if name == "on_test_end" and self.counts_file:
                Path(self.counts_file).write_text(json.dumps(self.calls))

        return hook


def command(data_dir: Path, log_dir: Path, epochs: int, *extra: str, progress_bar: bool = False) -> list[str]:
    """``python train.py`` on ``data_dir``; ``progress_bar``: with the bar a user sees (the first-epoch trials)."""
    quiet = [] if progress_bar else ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]
    return [
        sys.executable,
        str(ROOT / "train.py"),
        f"data.data_dir={data_dir}",
        "data.download=false",
        f"trainer.max_epochs={epochs}",
        f"paths.log_dir={log_dir}",
        *quiet,
        *extra,
    ]


Runner = Callable[[list[str]], subprocess.CompletedProcess]


def run(args: list[str]) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env=env, timeout=1800)


def metrics_of(log_dir: Path) -> dict:
    (path,) = [p for p in (log_dir / "train" / "runs").glob("*/metrics.json")]
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in VOLATILE}


def kill_callback(hook: str, at: int, counts: Path | None = None, signal_name: str = "SIGKILL") -> list[str]:
    extra = ["+callbacks.kill._target_=fault_injection.KillAt", f"+callbacks.kill.hook={hook}", f"+callbacks.kill.at={at}"]
    return extra + [f"+callbacks.kill.signal_name={signal_name}"] + ([f"+callbacks.kill.counts={counts}"] if counts else [])


def inject(
    data_dir: Path, work: Path, kills: int, epochs: int, seed: int, extra: list[str] = (), first_epoch: int = 0, run: Runner = run
) -> list[dict]:
    """The uninterrupted run, then ``kills`` killed-and-resumed runs and ``first_epoch`` interrupted in
    the first epoch; one row per kill. ``run`` runs one command (the tests pass one that forks)."""
    counts = work / "counts.json"
    whole = run(command(data_dir, work / "whole", epochs, *extra, *kill_callback("none", 0, counts)))
    if whole.returncode != 0:
        raise SystemExit(f"the uninterrupted run failed:\n{whole.stderr[-3000:]}")
    expected, calls = metrics_of(work / "whole"), json.loads(counts.read_text())
    rng = random.Random(seed)
    rows = []
    for i in range(kills + first_epoch):
        if i < kills:
            hook = HOOKS[i % len(HOOKS)] if i < len(HOOKS) else rng.choice(HOOKS)  # every kind of moment, then at random
            at, how_killed = rng.randint(1, calls[hook]), "SIGKILL"
        else:  # a training step of the first epoch, a SIGKILL and a Ctrl+C in turn
            hook, at = "on_train_batch_end", rng.randint(1, calls["on_train_batch_end"] // epochs)
            how_killed = ("SIGKILL", "SIGINT")[(i - kills) % 2]
        logs, bar = work / f"kill_{i:02d}", i >= kills  # the first epoch's trials run with the progress bar on
        killed = run(command(data_dir, logs, epochs, *extra, *kill_callback(hook, at, signal_name=how_killed), progress_bar=bar))
        resumed = run(command(data_dir, logs, epochs, *extra, "ckpt_path=last", progress_bar=bar))
        how = "ckpt_path=last"
        if resumed.returncode == 2 and "found no unfinished run" in resumed.stderr:
            shutil.rmtree(logs)  # killed before the first checkpoint: the user starts again
            resumed, how = run(command(data_dir, logs, epochs, *extra, progress_bar=bar)), "started again (nothing saved yet)"
        got = metrics_of(logs) if resumed.returncode == 0 else {}
        differing = sorted(k for k in set(got) | set(expected) if got.get(k) != expected.get(k))
        rows.append(
            {
                "kill": i,
                "moment": f"{hook} #{at} of {calls[hook]}",
                "signal": how_killed,
                "killed_exit": killed.returncode,
                "then": how,
                "exit": resumed.returncode,
                "identical": not differing,
                "differing": differing[:5],
            }
        )
        print(
            f"{i:2d}  {how_killed:<7} {rows[-1]['moment']:<34} exit {killed.returncode:>3} -> {how:<34} exit {resumed.returncode}  "
            f"metrics.json {'identical' if not differing else 'DIFFERS: ' + ', '.join(differing[:5])}",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--first-epoch", type=int, default=0, help="more interruptions in the first epoch (SIGKILL, Ctrl+C in turn)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("DATA_DIR", ROOT.parent / "shared" / "datasets")))
    parser.add_argument("overrides", nargs="*", help="more train.py overrides, e.g. data.val_split=100")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = inject(args.data_dir.resolve(), Path(tmp), args.kills, args.epochs, args.seed, args.overrides, args.first_epoch)
    killed = [r for r in rows if r["signal"] == "SIGKILL"]
    same = sum(r["identical"] for r in killed)
    print(f"{same} of {len(killed)} killed (SIGKILL) and resumed runs ended with the uninterrupted run's metrics.json")
    interrupted = [r for r in rows if r["signal"] == "SIGINT"]
    if interrupted:
        finished = sum(r["exit"] == 0 and r["then"] == "ckpt_path=last" for r in interrupted)
        print(f"{finished} of {len(interrupted)} runs stopped by Ctrl+C in the first epoch finished with ckpt_path=last")
    sys.exit(0 if same == len(killed) and all(r["exit"] == 0 for r in interrupted) else 1)


if __name__ == "__main__":
    main()
