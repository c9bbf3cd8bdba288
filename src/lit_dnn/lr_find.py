"""``python train.py tune=lr_find``: the learning-rate range test, by Lightning's ``Tuner.lr_find``,
on the template's own datamodule, network, optimizer and training step.

Lightning trains from ``min_lr`` to ``max_lr`` in equal ratios, one batch a step, records the
smoothed loss, stops once it diverges and restores the initial weights; its suggestion is the
steepest fall of the smoothed loss. lit-dnn adds the plot (lr_find.png and the trackers), the
table (lr_find.csv) and the command that trains with the suggestion."""

import csv
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
from hydra.core.hydra_config import HydraConfig
from lightning.pytorch.callbacks import LearningRateFinder
from lightning.pytorch.tuner import Tuner
from matplotlib.figure import Figure
from omegaconf import DictConfig, open_dict
from PIL import Image

from lit_dnn.callbacks.plots import to_rgb
from lit_dnn.callbacks.trackers import log_image
from lit_dnn.errors import ConfigError
from lit_dnn.run_dir import write_json

log = logging.getLogger(__name__)
SKIP_BEGIN, SKIP_END = 10, 1  # as Lightning's suggestion()


def check_settings(num_steps: object, min_lr: object, max_lr: object) -> None:
    """Before any work: one sentence for settings the range test cannot use."""
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (num_steps, min_lr, max_lr))
    if not numbers or not isinstance(num_steps, int) or num_steps < 2 or not 0 < min_lr < max_lr:
        raise ConfigError(
            f"lr_find needs a whole number num_steps >= 2 and 0 < min_lr < max_lr, got num_steps={num_steps!r}, "
            f"min_lr={min_lr!r}, max_lr={max_lr!r}; e.g. lr_find.min_lr=1e-6 lr_find.max_lr=1 lr_find.num_steps=100."
        )


class RangeTestPlot(L.Callback):
    """Draws the range test's result and logs it to the trackers in ``teardown``: the last hook
    before Lightning closes the loggers (an image logged after that went into a second, reopened
    TensorBoard file that the process could exit before flushing)."""

    def __init__(self) -> None:
        self.lrs: list[float] = []
        self.smoothed: list[float] = []  # Lightning's smoothed training loss at each rate
        self.suggested: float | None = None
        self.rgb: Any = None

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        finder = next((c.optimal_lr for c in trainer.callbacks if isinstance(c, LearningRateFinder)), None)
        if finder is None or not finder.results:
            return
        self.lrs, self.smoothed = list(finder.results["lr"]), list(finder.results["loss"])
        self.suggested = suggestion(self.lrs, self.smoothed)
        self.rgb = to_rgb(figure(self.lrs, self.smoothed, self.suggested))
        log_image(trainer, "lr_find", self.rgb, step=0)


def suggestion(lrs: list[float], smoothed: list[float]) -> float | None:
    """The learning rate where the smoothed loss falls fastest per step, skipping the first 10 steps
    and the last (None: too few steps to tell). Lightning's ``suggestion()`` takes the slope against
    the learning rate itself, so on an exponential range the smallest rates' noise, divided by their
    tiny spacing, decides it (on data=binary it picked 4.6e-06, at the start of the curve); per step
    is the slope on the plot's log axis, as fast.ai's range test reads it."""
    losses = np.array(smoothed[SKIP_BEGIN:-SKIP_END])
    finite = np.isfinite(losses)
    if finite.sum() < 2:
        return None
    index = int(np.gradient(losses[finite]).argmin())
    return float(np.array(lrs[SKIP_BEGIN:])[: len(losses)][finite][index])


def figure(lrs: list[float], smoothed: list[float], suggested: float | None) -> Figure:
    fig = Figure(figsize=(7, 4.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    ax.plot(lrs, smoothed, color="tab:blue", label="smoothed training loss")
    if suggested is not None:
        y = smoothed[lrs.index(suggested)]
        ax.plot([suggested], [y], "o", color="tab:red", ms=9, label=f"suggested lr {suggested:.2g}")
    finite = [s for s in smoothed if math.isfinite(s)]
    if finite:  # the divergence at the end would flatten everything else
        ax.set_ylim(min(finite) * 0.9, min(max(finite), 3 * finite[0]) * 1.05)
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
    check_settings(settings.num_steps, settings.min_lr, settings.max_lr)
    if cfg.trainer.get("fast_dev_run"):  # Lightning skips the range test then
        raise ConfigError("tune=lr_find does not run with debug=fdr (trainer.fast_dev_run); run it without a debug= option.")
    steps = settings.num_steps
    with open_dict(cfg):
        schedule = cfg.model.get("scheduler") or {}
        peak_factor = float(schedule["peak_factor"]) if "OneCycle" in str(schedule.get("_target_", "")) else None
        cfg.model.scheduler = None  # Lightning's range test sets the rates
        cfg.trainer.max_epochs = steps  # Lightning stops after num_steps batches, however many epochs they span
        cfg.trainer.min_epochs = 0  # a diverging loss stops the test at once
        cfg.trainer.num_sanity_val_steps = 0
        cfg.trainer.enable_checkpointing = False
        cfg.callbacks = {}
    plot = RangeTestPlot()
    datamodule, model, trainer = build(cfg, extra_callbacks=[plot])
    Tuner(trainer).lr_find(
        model,
        datamodule=datamodule,
        min_lr=float(settings.min_lr),
        max_lr=float(settings.max_lr),
        num_training=steps,
        early_stop_threshold=settings.get("early_stop_threshold"),
        update_attr=False,  # the suggestion is printed as a command, not applied
    )
    lrs, smoothed, suggested = plot.lrs, plot.smoothed, plot.suggested
    output_dir = Path(cfg.paths.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    Image.fromarray(plot.rgb).save(output_dir / "lr_find.png")
    with open(output_dir / "lr_find.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "lr", "smoothed_loss"])
        writer.writerows([i + 1, lr, s] for i, (lr, s) in enumerate(zip(lrs, smoothed)))
    result: dict[str, Any] = {"lr_find/suggestion": suggested, "lr_find/steps": len(smoothed)}
    write_json(output_dir / "lr_find.json", result)  # last: it marks the test finished (run_dir.RESULT_FILES)
    if suggested is None:
        log.info("No suggestion: the loss diverged within %d steps; lower lr_find.min_lr or raise lr_find.num_steps.", len(smoothed))
        return result
    lines = [f"Suggested learning rate: {suggested:.2e} (the steepest fall of the smoothed loss, {len(smoothed)} steps).", "Train with it:"]
    if peak_factor:  # the one-cycle schedule peaks at peak_factor × lr: its peak at the suggestion
        lines.append(f"  {command_with(f'model.optimizer.lr={suggested / peak_factor:.2e}')}   # one-cycle peaks at {suggested:.2e}")
    lines.append(f"  {command_with(f'model.scheduler=null model.optimizer.lr={suggested:.2e}')}   # a constant rate, as Keras")
    lines.append(f"Plot: {output_dir / 'lr_find.png'}")
    log.info("\n".join(lines))
    return result
