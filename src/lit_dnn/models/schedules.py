"""Learning-rate schedules that follow the optimizer's own ``lr``."""

from torch.optim import Optimizer
from torch.optim.lr_scheduler import OneCycleLR

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
