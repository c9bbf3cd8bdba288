"""How raw inputs become model inputs, one object for training, eval, predict and export."""

import math
from typing import Any

import torch

Stat = float | torch.Tensor
TINY = torch.finfo(torch.float32).tiny  # the smallest normal float32: a std below it is zero or denormal


class Normalization:
    """``(x * scale - mean) / std``, batched: ToTensor + Normalize for uint8 pixels (scale 1/255),
    standardisation for features (scale 1). ``mean`` and ``std`` are numbers, or tensors of one
    sample's shape (per-pixel or per-feature statistics from the training split).

    The datamodule applies it to every batch; the checkpoint keeps ``as_dict()`` (plain values) and
    eval, predict and export rebuild it with ``from_dict``, so every path scales inputs alike.
    """

    TINY = TINY

    def __init__(self, scale: float, mean: Stat, std: Stat, doc: str = "") -> None:
        self.scale = float(scale)
        self.mean = mean
        self.std = std
        self.doc = doc

    def to(self, device: torch.device | str) -> "Normalization":
        """Per-sample-shaped statistics go where the data goes (``InMemoryDataModule.to``)."""
        if isinstance(self.mean, torch.Tensor):
            self.mean, self.std = self.mean.to(device), self.std.to(device)
        return self

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        # one new tensor, then in place: a float batch is never modified where it came from. Divided
        # by 1/scale as ToTensor divides by 255, so the batches equal torchvision's bit for bit
        return x.to(torch.float32, copy=True).div_(1 / self.scale).sub_(self.mean).div_(self.std)

    def invert(self, x: torch.Tensor) -> torch.Tensor:
        """Model inputs back to raw inputs (pixels 0-255, features in their units): what a person looks at.
        Works wherever ``x`` lies: the statistics may sit on the training device while ``x`` is on the CPU."""
        mean, std = (s.to(x.device) if isinstance(s, torch.Tensor) else s for s in (self.mean, self.std))
        return (x * std + mean) / self.scale

    def as_dict(self) -> dict[str, Any]:
        def plain(stat: Stat) -> Any:
            return stat.tolist() if isinstance(stat, torch.Tensor) else float(stat)

        return {"scale": self.scale, "mean": plain(self.mean), "std": plain(self.std), "doc": self.doc}

    @classmethod
    def from_dict(cls, values: dict[str, Any], input_shape: tuple[int, ...]) -> "Normalization":
        """The normalisation a checkpoint describes; ``ValueError`` names what does not fit ``input_shape``."""

        def stat(key: str) -> Stat:
            value = values.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            try:
                tensor = torch.tensor(value, dtype=torch.float32)
            except (TypeError, ValueError, RuntimeError) as err:
                raise ValueError(f"normalization {key} is {type(value).__name__}, not a number or an array of numbers") from err
            if tuple(tensor.shape) != tuple(input_shape):
                raise ValueError(f"normalization {key} has shape {tuple(tensor.shape)}, not the input shape {tuple(input_shape)}")
            return tensor

        scale = values.get("scale")
        if not isinstance(scale, (int, float)) or isinstance(scale, bool) or not math.isfinite(scale) or scale <= 0:
            raise ValueError(f"normalization scale is {scale!r}, not a positive number")
        mean, std = stat("mean"), stat("std")
        if not bool(torch.isfinite(torch.as_tensor(mean)).all()):
            raise ValueError("normalization mean has NaN or infinite values")
        # zero, negative, denormal or infinite: inputs divided by it would be infinite, NaN or zero
        if not bool(torch.all((torch.as_tensor(std) >= TINY) & torch.isfinite(torch.as_tensor(std)))):
            raise ValueError(f"normalization std has values that are not finite numbers of at least {TINY:.3g}")
        return cls(scale, mean, std, str(values.get("doc", "")))
