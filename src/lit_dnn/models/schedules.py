"""Learning-rate schedules that follow the optimizer's own ``lr``."""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, OneCycleLR

from lit_dnn.errors import ConfigError

INTERVALS = ("epoch", "step")


def check_interval(interval: str) -> None:
    """When the module steps its schedule: the Classifier applies it, and the config check before any import."""
    if interval not in INTERVALS:
        raise ConfigError(f"model.scheduler_interval={interval!r} is not one of {', '.join(INTERVALS)}.")


class OneCycleFromLR(OneCycleLR):
    """One-cycle schedule peaking at ``peak_factor × lr`` of the optimizer.

    Tying the peak to ``model.optimizer.lr`` keeps that one key meaningful: overriding or
    sweeping it moves the whole schedule. ``total_steps`` is filled in from the trainer.
    """

    def __init__(
        self, optimizer: Optimizer, total_steps: int, peak_factor: float = 5.0, cycle_momentum: bool | None = None, **kwargs: float
    ) -> None:
        peaks = [group["lr"] * peak_factor for group in optimizer.param_groups]
        # OneCycleLR cycles momentum (SGD's momentum, Adam's beta1) by default; an optimiser with neither
        # (Adagrad, RMSprop without momentum, plain SGD) would fail or gain momentum it was not given
        has_momentum = "betas" in optimizer.defaults or optimizer.defaults.get("momentum", 0) > 0
        if cycle_momentum and not has_momentum:
            raise ConfigError(
                f"model.scheduler.cycle_momentum=true, but {type(optimizer).__name__} has no momentum to cycle; set it to null or false."
            )
        cycle = has_momentum if cycle_momentum is None else cycle_momentum
        super().__init__(optimizer, max_lr=peaks, total_steps=total_steps, cycle_momentum=cycle, **kwargs)

    def step(self, epoch: int | None = None) -> None:
        """A step past the plan holds the final rate: a run resumed from a mid-epoch checkpoint
        (Ctrl+C, SIGTERM) can take a step more than planned, where OneCycleLR raises."""
        if self.last_epoch >= self.total_steps:
            return
        super().step(epoch)


class LRRangeTest(LRScheduler):
    """The learning-rate range test's schedule (``tune=lr_find``): from ``min_lr`` to ``max_lr``
    in equal ratios over ``num_steps`` optimiser steps, whatever the optimizer's own ``lr``."""

    def __init__(self, optimizer: Optimizer, num_steps: int = 100, min_lr: float = 1e-6, max_lr: float = 1.0) -> None:
        self.check(num_steps, min_lr, max_lr)
        self.num_steps, self.min_lr, self.max_lr = num_steps, min_lr, max_lr
        super().__init__(optimizer)

    @staticmethod
    def check(num_steps: object, min_lr: object, max_lr: object) -> None:
        """``tune=lr_find`` checks its settings with this before any work starts."""
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (num_steps, min_lr, max_lr))
        if not numbers or not isinstance(num_steps, int) or num_steps < 2 or not 0 < min_lr < max_lr:
            raise ConfigError(
                f"lr_find needs a whole number num_steps >= 2 and 0 < min_lr < max_lr, got num_steps={num_steps!r}, "
                f"min_lr={min_lr!r}, max_lr={max_lr!r}; e.g. lr_find.min_lr=1e-6 lr_find.max_lr=1 lr_find.num_steps=100."
            )

    def get_lr(self) -> list[float]:
        t = min(self.last_epoch, self.num_steps - 1) / (self.num_steps - 1)
        return [self.min_lr * (self.max_lr / self.min_lr) ** t for _ in self.optimizer.param_groups]
