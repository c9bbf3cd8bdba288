"""``python train.py tune=lr_find``: the learning-rate range test on the template's own training
path (its datamodule, network, optimizer and manual-optimisation step).

Lightning's ``Tuner.lr_find`` reads the loss that ``training_step`` returns and steps its own
scheduler from Lightning's loop; the template's step optimises a list of batches itself and
returns nothing. So the range test is a schedule here (``LRRangeTest``, stepped per batch like
any schedule) and a callback that records each batch's loss; the suggestion follows Lightning's
(the steepest descent of the smoothed loss, skipping the first 10 steps and the last)."""

import csv
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from hydra.core.hydra_config import HydraConfig
from matplotlib.figure import Figure
from omegaconf import DictConfig, open_dict
from PIL import Image

from lit_dnn.callbacks.plots import to_rgb
from lit_dnn.callbacks.tensorboard import log_image
from lit_dnn.models.schedules import LRRangeTest
from lit_dnn.run_dir import write_json

log = logging.getLogger(__name__)
SKIP_BEGIN, SKIP_END, BETA = 10, 1, 0.98  # as Lightning's lr_find


class RangeRecorder(L.Callback):
    """Each batch's learning rate and loss (the module's running loss sum before and after the
    batch), smoothed as Lightning does; stops the run once the smoothed loss diverges. At the end
    of training it draws the plot and logs it while the loggers are still open (Lightning closes
    them when ``fit`` returns: an image logged after that is not flushed)."""

    def __init__(self, early_stop_threshold: float | None) -> None:
        self.threshold = early_stop_threshold
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.average = 0.0
        self.lowest = math.inf  # of the smoothed loss

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.should_stop:
            return
        self.lrs.append(trainer.optimizers[0].param_groups[0]["lr"])
        self.before = (float(pl_module.train_loss_sum), pl_module.train_count)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.should_stop:  # diverged at the last batch: that batch was its last
            return
        loss_sum, count = self.before
        loss = (float(pl_module.train_loss_sum) - loss_sum) / max(pl_module.train_count - count, 1)
        self.losses.append(loss)
        self.average = BETA * self.average + (1 - BETA) * loss
        smoothed = self.average / (1 - BETA ** len(self.losses))
        self.smoothed.append(smoothed)
        if not math.isfinite(smoothed) or (self.threshold and smoothed > self.threshold * self.lowest):
            trainer.should_stop = True
        self.lowest = min(self.lowest, smoothed)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.lrs = self.lrs[: len(self.losses)]
        self.suggested = suggestion(self.lrs, self.smoothed)
        self.rgb = to_rgb(figure(self.lrs, self.losses, self.smoothed, self.suggested))
        log_image(trainer, "lr_find", self.rgb, step=0)


def suggestion(lrs: list[float], smoothed: list[float]) -> float | None:
    """The learning rate where the smoothed loss falls fastest (None: too few steps to tell)."""
    losses = np.array(smoothed[SKIP_BEGIN:-SKIP_END])
    finite = np.isfinite(losses)
    if finite.sum() < 2:
        return None
    index = int(np.gradient(losses[finite]).argmin())
    return float(np.array(lrs[SKIP_BEGIN:])[: len(losses)][finite][index])


def figure(lrs: list[float], losses: list[float], smoothed: list[float], suggested: float | None) -> Figure:
    fig = Figure(figsize=(7, 4.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(lrs, losses, color="lightgray", lw=1, label="batch loss")
    ax.plot(lrs, smoothed, color="tab:blue", label="smoothed loss")
    if suggested is not None:
        y = smoothed[lrs.index(suggested)]
        ax.plot([suggested], [y], "o", color="tab:red", ms=9, label=f"suggested lr {suggested:.2g}")
    finite = [s for s in smoothed if math.isfinite(s)]
    if finite:  # the divergence at the end would flatten everything else
        low = min(v for v in [*losses, *finite] if math.isfinite(v))
        ax.set_ylim(low * 0.9, min(max(finite), 3 * finite[0]) * 1.05)
    ax.set(xscale="log", xlabel="learning rate (log scale)", ylabel="training loss", title="learning-rate range test")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return fig


def command_with(lr_overrides: str) -> str:
    """The user's command with the range test swapped for ``lr_overrides``."""
    user = HydraConfig.get().overrides.task if HydraConfig.initialized() else []
    kept = [o for o in user if not o.startswith(("tune=", "lr_find.", "model.optimizer.lr=", "model.scheduler="))]
    return " ".join(["python train.py", *kept, lr_overrides])


def lr_find(cfg: DictConfig, build: Any) -> dict[str, Any]:
    """Run the range test with ``build`` (``lit_dnn.train.build``); write lr_find.png/.csv/.json."""
    settings = cfg.lr_find
    LRRangeTest.check(settings.num_steps, settings.min_lr, settings.max_lr)  # before any work: one sentence
    steps = settings.num_steps
    with open_dict(cfg):
        schedule = cfg.model.get("scheduler") or {}
        peak_factor = float(schedule["peak_factor"]) if "OneCycle" in str(schedule.get("_target_", "")) else None
        cfg.model.scheduler = {
            "_target_": "lit_dnn.models.schedules.LRRangeTest",
            "_partial_": True,
            "num_steps": steps,
            "min_lr": float(settings.min_lr),
            "max_lr": float(settings.max_lr),
        }
        cfg.model.scheduler_interval = "step"
        cfg.data.batches_per_step = 1  # a Lightning step per batch: the recorder sees every batch
        cfg.trainer.max_steps = steps
        cfg.trainer.max_epochs = steps  # max_steps ends it first (the bar's epoch count is set below)
        cfg.trainer.min_epochs = 0  # a diverging loss stops the test at once
        cfg.trainer.limit_val_batches = 0
        cfg.trainer.num_sanity_val_steps = 0
        cfg.trainer.enable_checkpointing = False
        cfg.callbacks = {k: v for k, v in cfg.callbacks.items() if k == "progress_bar"}
    recorder = RangeRecorder(settings.get("early_stop_threshold"))
    datamodule, model, trainer = build(cfg, extra_callbacks=[recorder])
    trainer.fit_loop.max_epochs = math.ceil(steps / len(datamodule.train_dataloader()))
    trainer.fit(model, datamodule=datamodule)

    lrs, losses, smoothed, suggested = recorder.lrs, recorder.losses, recorder.smoothed, recorder.suggested
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(recorder.rgb).save(output_dir / "lr_find.png")
    with open(output_dir / "lr_find.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "lr", "loss", "smoothed_loss"])
        writer.writerows([i + 1, lr, loss, s] for i, (lr, loss, s) in enumerate(zip(lrs, losses, smoothed)))
    result: dict[str, Any] = {"lr_find/suggestion": suggested, "lr_find/steps": len(losses)}
    write_json(output_dir / "lr_find.json", result)  # last: it marks the test finished (run_dir.RESULT_FILES)
    if suggested is None:
        log.info("No suggestion: the loss diverged within %d steps; lower lr_find.min_lr or raise lr_find.num_steps.", len(losses))
        return result
    lines = [f"Suggested learning rate: {suggested:.2e} (the steepest fall of the smoothed loss, {len(losses)} steps).", "Train with it:"]
    if peak_factor:  # the one-cycle schedule peaks at peak_factor × lr: its peak at the suggestion
        lines.append(f"  {command_with(f'model.optimizer.lr={suggested / peak_factor:.2e}')}   # one-cycle peaks at {suggested:.2e}")
    lines.append(f"  {command_with(f'model.scheduler=null model.optimizer.lr={suggested:.2e}')}   # a constant rate, as Keras")
    lines.append(f"Plot: {output_dir / 'lr_find.png'}")
    log.info("\n".join(lines))
    return result
