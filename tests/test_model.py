import pytest
import torch
from torch import nn

from lit_dnn.models.mlp import MLP


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_tutorial_net_has_101770_parameters() -> None:
    assert n_params(MLP((28, 28), 10, [128], 0.2, "relu")) == 101_770


def test_layers_follow_the_config() -> None:
    net = MLP((28, 28), 10, [256, 128], 0.3, "sigmoid")
    kinds = [type(m).__name__ for m in net.layers]
    assert kinds == ["Flatten", "Linear", "Sigmoid", "Dropout", "Linear", "Sigmoid", "Dropout", "Linear"]
    assert [m.p for m in net.layers if isinstance(m, nn.Dropout)] == [0.3, 0.3]
    assert net(torch.zeros(4, 28, 28)).shape == (4, 10)


def test_no_hidden_layer_is_softmax_regression() -> None:
    net = MLP((28, 28), 10, [], 0.2, "relu")
    assert n_params(net) == 784 * 10 + 10


def test_unknown_activation_is_refused() -> None:
    with pytest.raises(ValueError, match=r"model.net.activation=.gelu. is unknown; use one of relu, sigmoid, tanh"):
        MLP(activation="gelu")
