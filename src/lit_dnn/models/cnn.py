"""keras.io's "simple MNIST convnet", as a plain ``nn.Module`` (``model=cnn``)."""

from collections.abc import Sequence

import torch
from torch import nn

from lit_dnn.errors import ConfigError
from lit_dnn.limits import MAX_HIDDEN_LAYERS
from lit_dnn.models.sequential import SequentialNet

INITS = ("glorot", "torch")


def check_arguments(
    filters: Sequence[int] = (32, 64), kernel_size: int = 3, dropout: float = 0.5, init: str = "glorot", **_: object
) -> None:
    """``model.net.*`` of a CNN, named by their config keys (the registry's check and the constructor's)."""
    widths = list(filters) if isinstance(filters, Sequence) and not isinstance(filters, str) else filters
    if not isinstance(widths, list) or not widths or len(widths) > MAX_HIDDEN_LAYERS:
        raise ConfigError(f"model.net.filters={filters!r} must be a list of 1 to {MAX_HIDDEN_LAYERS} positive integers, e.g. [32,64].")
    if any(not isinstance(w, int) or isinstance(w, bool) or w <= 0 for w in widths):
        raise ConfigError(f"model.net.filters={widths!r} must be a list of positive integers, e.g. [32,64].")
    if not isinstance(kernel_size, int) or isinstance(kernel_size, bool) or not 1 <= kernel_size <= 15:
        raise ConfigError(f"model.net.kernel_size={kernel_size!r} must be an integer from 1 to 15 (Keras' example: 3).")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigError(f"model.net.dropout={dropout!r} is outside [0, 1); use e.g. 0.5 (0 disables dropout).")
    if init not in INITS:
        raise ConfigError(f"model.net.init={init!r} is unknown; use one of {', '.join(INITS)}.")


class ChannelsFirst(nn.Module):
    """Images as the datamodules hold them, ``(N, H, W)`` or channels last ``(N, H, W, C)`` as
    Keras does, to the ``(N, C, H, W)`` that ``Conv2d`` takes."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.unsqueeze(1) if x.dim() == 3 else x.permute(0, 3, 1, 2)


class CNN(SequentialNet):
    """[Conv2d(k×k) → ReLU → MaxPool2d(2)] per entry of ``filters`` → Flatten → Dropout → Linear.

    Takes images ``(N, H, W)`` or ``(N, H, W, C)`` (channels last, as Keras and ``data=images``
    hold colour) and returns logits.
    ``init="glorot"`` initialises as Keras does (Glorot-uniform weights, zero biases).
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28),
        num_classes: int = 10,
        filters: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        dropout: float = 0.5,
        init: str = "glorot",
    ) -> None:
        super().__init__()
        check_arguments(filters, kernel_size, dropout, init)
        if len(input_shape) not in (2, 3):
            raise ConfigError(
                f"model=cnn reads images (height, width[, channels]), but this data's inputs have shape {tuple(input_shape)}; "
                f"use model=mlp for a table."
            )
        height, width = input_shape[:2]
        channels = input_shape[2] if len(input_shape) == 3 else 1
        layers: list[nn.Module] = [ChannelsFirst()]
        for count in filters:
            height, width = (height - kernel_size + 1) // 2, (width - kernel_size + 1) // 2
            if height < 1 or width < 1:
                raise ConfigError(
                    f"model.net.filters={list(filters)} has more blocks than {tuple(input_shape)} images allow "
                    f"(each takes {kernel_size - 1} pixels and halves the rest); use fewer."
                )
            layers += [nn.Conv2d(channels, count, kernel_size), nn.ReLU(), nn.MaxPool2d(2)]
            channels = count
        layers += [nn.Flatten(), nn.Dropout(dropout), nn.Linear(channels * height * width, num_classes)]
        self.layers = nn.Sequential(*layers)
        if init == "glorot":
            self.glorot_()
