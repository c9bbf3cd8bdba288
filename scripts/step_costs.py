"""Where a training batch's time goes, measured inside one real ``python train.py`` fit (classification).

    python scripts/step_costs.py                 # 14 epochs at batch 128, the table to stdout
    python scripts/step_costs.py --epochs 8 --override data.batch_size=512

The template's ``DenseModule.training_step`` is swapped, step by step in turn, for variants
that drop one layer of its work at a time, and the plain loop of ``scripts/benchmark.py`` (its
own network and optimiser) runs as many batches in the turn after. Each variant is timed over
the same seconds as the others (this VM's speed drifts within minutes), and each row is the
median over its steps, in microseconds per batch:

  plain       the plain loop: zero_grad, forward, cross-entropy, backward, optimiser step
  bare        that work inside Lightning's step: the template's batches and network, the bare
              torch optimiser, no schedule, no running sums
  +schedule   + the one-cycle schedule's step after each batch
  +sums       + the running loss and accuracy instead (each batch's outputs kept, summed per step)
  +recipe     + both: the template's step with ``loss.backward()`` and the bare optimiser
  +backward   + Lightning's ``manual_backward`` (its hooks around the backward pass)
  +step       + Lightning's ``LightningOptimizer.step`` instead (its hooks around the step)
  template    the template's own step: both
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("PROJECT_ROOT", str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import lightning as L  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmark import PlainLoop, config, exit_on_user_error, positive_int  # noqa: E402
from lit_dnn.errors import ConfigError  # noqa: E402
from lit_dnn.models.dense import DenseModule  # noqa: E402
from lit_dnn.runtime import prepare_process  # noqa: E402
from lit_dnn.train import build  # noqa: E402

REAL_STEP = DenseModule.training_step


def recipe_step(module: DenseModule, batch, backward, step, schedule: bool = True, sums: bool = True) -> None:
    """The template's step with the backward pass and the optimiser step given, with or without
    the schedule's step and the running sums."""
    scheduler = module.lr_schedulers()
    outputs, targets = [], []
    for x, y in batch:
        out = module.net(x)
        loss = module.training_loss(out, y)
        module.optimizers().zero_grad()
        backward(loss)
        step()
        if schedule:
            scheduler.step()
        if sums:
            outputs.append(out.detach())
            targets.append(y)
    if sums:
        out, y = torch.cat(outputs), torch.cat(targets)
        module.train_loss_sum.add_(module.training_loss(out, y), alpha=len(y))
        module.train_count += len(y)
        module.add_train_sums(out, y)


def bare(module: DenseModule, batch) -> None:
    optimizer = module.optimizers().optimizer
    for x, y in batch:
        optimizer.zero_grad()
        F.cross_entropy(module.net(x), y).backward()
        optimizer.step()


def backward(loss: torch.Tensor) -> None:
    loss.backward()


VARIANTS = {
    "bare": bare,
    "+schedule": lambda m, b: recipe_step(m, b, backward, m.optimizers().optimizer.step, sums=False),
    "+sums": lambda m, b: recipe_step(m, b, backward, m.optimizers().optimizer.step, schedule=False),
    "+recipe": lambda m, b: recipe_step(m, b, backward, m.optimizers().optimizer.step),
    "+backward": lambda m, b: recipe_step(m, b, m.manual_backward, m.optimizers().optimizer.step),
    "+step": lambda m, b: recipe_step(m, b, backward, m.optimizers().step),
    "template": lambda m, b: REAL_STEP(m, b, 0),
}


class Turns(L.Callback):
    """Starts the plain loop's epochs with the template's."""

    def __init__(self, plain: PlainLoop) -> None:
        self.plain = plain

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.plain.start_epoch()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=positive_int, default=14)
    parser.add_argument("--override", action="append", default=[], help="a Hydra override, e.g. data.batch_size=512")
    args = parser.parse_args()
    prepare_process()  # as python train.py does
    with tempfile.TemporaryDirectory() as run_dir:  # its checkpoints and logs are not kept
        measure(config(128, [f"trainer.max_epochs={args.epochs}", "callbacks.early_stopping=null", *args.override], run_dir))


def measure(cfg) -> None:
    plain = PlainLoop(cfg)
    turns = [*VARIANTS.items(), ("plain", lambda m, b: plain.run(len(b)))]
    times: dict[str, list[float]] = {name: [] for name, _ in turns}
    step_index = 0

    def training_step(module: DenseModule, batch, batch_idx: int) -> None:
        nonlocal step_index
        name, run = turns[step_index % len(turns)]
        step_index += 1
        start = time.perf_counter()
        run(module, batch)
        times[name].append((time.perf_counter() - start) / len(batch) * 1e6)

    DenseModule.training_step = training_step  # this process only: the variants above in turn
    datamodule, model, trainer = build(cfg, extra_callbacks=[Turns(plain)])
    trainer.fit(model, datamodule=datamodule)
    if min(len(v) for v in times.values()) < 2:
        raise ConfigError(
            f"{step_index} training steps gave each variant fewer than 2 turns; raise --epochs (or lower data.batches_per_step)."
        )
    base = statistics.median(times["plain"][1:])
    print(
        f"µs a batch, medians over the steps of {cfg.trainer.max_epochs} epochs at batch {cfg.data.batch_size} (the first round left out):"
    )
    print("| variant | µs / batch | × plain |\n|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values[1:])
        print(f"| {name} | {median:,.0f} | {median / base:.3f} |")


if __name__ == "__main__":
    exit_on_user_error(main)
