"""The dense network of the Keras tutorials, as a plain ``nn.Module``."""

from collections.abc import Sequence
from math import prod

import torch
from torch import nn

INITS = ("torch", "glorot")
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


class MLP(nn.Module):
    """Flatten → [Linear → activation → Dropout] per entry of ``hidden_dims`` → Linear.

    ``forward`` returns logits: cross-entropy on logits is the numerically sound form of
    the tutorials' softmax + categorical cross-entropy. Softmax is applied at prediction.
    ``hidden_dims=[]`` is softmax (multinomial logistic) regression. ``dropout`` is one rate
    for every hidden layer or a list with one rate per layer (0 leaves the Dropout out).
    ``init="glorot"`` initialises as Keras does, to reproduce its tutorials closely.
    """

    def __init__(
        self,
        input_shape: Sequence[int] = (28, 28),
        num_classes: int = 10,
        hidden_dims: Sequence[int] = (128,),
        dropout: float | Sequence[float] = 0.2,
        activation: str = "relu",
        init: str = "torch",
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        rates = list(dropout) if isinstance(dropout, Sequence) else [dropout] * len(hidden_dims)
        if len(rates) != len(hidden_dims):
            raise ValueError(f"dropout has {len(rates)} rates for {len(hidden_dims)} hidden layers")
        layers: list[nn.Module] = [nn.Flatten()]
        width = prod(input_shape)
        for dim, rate in zip(hidden_dims, rates):
            layers += [nn.Linear(width, dim), ACTIVATIONS[activation]()]
            if rate > 0:
                layers.append(nn.Dropout(rate))
            width = dim
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        if init == "glorot":  # Keras' Dense default: Glorot-uniform weights, zero biases
            for layer in self.layers:
                if isinstance(layer, nn.Linear):
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
