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


def test_keras_summary_lists_the_networks_layers_shapes_and_parameters() -> None:
    from lit_dnn.callbacks.summary import summary_text
    from lit_dnn.models.mlp import MLP

    text = summary_text(MLP(hidden_dims=[128], dropout=0.2).layers, (28, 28))
    rows = [line.split() for line in text.splitlines() if line.startswith(("flatten", "linear", "relu", "dropout"))]
    assert [r[0] for r in rows] == ["flatten_0", "linear_1", "relu_2", "dropout_3", "linear_4"]
    assert [" ".join(r[2:-1]) for r in rows] == ["(None, 784)", "(None, 128)", "(None, 128)", "(None, 128)", "(None, 10)"]
    assert [r[-1] for r in rows] == ["0", "100,480", "0", "0", "1,290"]
    assert "Total params: 101,770" in text and "Trainable params: 101,770" in text


def test_summary_only_prints_and_trains_nothing(tiny_data, tmp_path, capsys) -> None:
    from conftest import compose_cfg, tiny_overrides
    from lit_dnn.train import train

    assert train(compose_cfg([*tiny_overrides(tiny_data), "summary_only=true"], tmp_path)) == {}
    assert "Total params: 101,770" in capsys.readouterr().out
    assert not (tmp_path / "run" / "checkpoints").exists()
