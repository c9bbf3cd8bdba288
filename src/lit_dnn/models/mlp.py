"""The dense network of the Keras tutorials, as a plain ``nn.Module``."""

from collections.abc import Sequence
from math import prod

from torch import nn

from lit_dnn.errors import ConfigError
from lit_dnn.limits import MAX_HIDDEN_LAYERS
from lit_dnn.models.sequential import SequentialNet

INITS = ("torch", "glorot")
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}


def _number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_net_arguments(hidden_dims: Sequence[int], dropout: float | Sequence[float], activation: str, init: str) -> None:
    """The rules of ``MLP``'s arguments, named by their config keys (``model.net.*``): the
    constructor applies them, and the config check applies them before anything is imported."""
    dims = list(hidden_dims) if isinstance(hidden_dims, Sequence) and not isinstance(hidden_dims, str) else hidden_dims
    if isinstance(dims, list) and len(dims) > MAX_HIDDEN_LAYERS:
        raise ConfigError(
            f"model.net.hidden_dims has {len(dims):,} layers, over lit-dnn's limit of {MAX_HIDDEN_LAYERS} "
            f"(lit_dnn.limits.MAX_HIDDEN_LAYERS); a dense net rarely gains beyond a few."
        )
    if not isinstance(dims, list) or any(not isinstance(d, int) or isinstance(d, bool) or d <= 0 for d in dims):
        raise ConfigError(
            f"model.net.hidden_dims={dims!r} must be a list of positive integers, e.g. [128] or [256,128] ([] for no hidden layer)."
        )
    per_layer = isinstance(dropout, Sequence) and not isinstance(dropout, str)
    rates = list(dropout) if per_layer else [dropout]
    if any(not _number(r) or not 0 <= r < 1 for r in rates):
        raise ConfigError(
            f"model.net.dropout={rates if per_layer else dropout!r} is outside [0, 1); "
            f"use e.g. 0.2 (0 disables dropout), or one rate per hidden layer."
        )
    if per_layer and len(rates) != len(dims):
        raise ConfigError(
            f"model.net.dropout={rates} has {len(rates)} rates for the {len(dims)} layers of "
            f"model.net.hidden_dims={dims}; give one rate, or one per hidden layer."
        )
    if activation not in ACTIVATIONS:
        raise ConfigError(f"model.net.activation={activation!r} is unknown; use one of {', '.join(ACTIVATIONS)}.")
    if init not in INITS:
        raise ConfigError(f"model.net.init={init!r} is unknown; use one of {', '.join(INITS)}.")


def check_arguments(
    hidden_dims: Sequence[int] = (128,), dropout: float | Sequence[float] = 0.2, activation: str = "relu", init: str = "torch", **_: object
) -> None:
    """``model.net.*`` of an MLP (the registry's check; other keys are the constructor's to refuse)."""
    check_net_arguments(hidden_dims, dropout, activation, init)


class MLP(SequentialNet):
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
        check_net_arguments(hidden_dims, dropout, activation, init)
        rates = list(dropout) if isinstance(dropout, Sequence) else [dropout] * len(hidden_dims)
        layers: list[nn.Module] = [nn.Flatten()]
        width = prod(input_shape)
        for dim, rate in zip(hidden_dims, rates):
            layers += [nn.Linear(width, dim), ACTIVATIONS[activation]()]
            if rate > 0:
                layers.append(nn.Dropout(rate))
            width = dim
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)
        if init == "glorot":
            self.glorot_()
