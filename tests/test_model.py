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

    text = summary_text(MLP(hidden_dims=[128], dropout=0.2), (28, 28))
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
    from conftest import run_script

    typed = run_script("train.py", ["data=binary", "summary_only=true", f"hydra.run.dir={tmp_path}/typed"])
    assert typed.returncode == 0 and "Total params: 2,946" in typed.stdout, typed.stderr[-1500:]
    assert not (tmp_path / "typed").exists()  # nothing trained, no run folder left behind


def test_sigmoid_binary_head_trains_predicts_and_exports(tmp_path) -> None:
    """model.binary_output=sigmoid: one output unit, binary cross-entropy, the softmax head's metrics,
    and [1 - p, p] from predict, eval and the exported file."""
    import onnxruntime
    import torch
    from omegaconf import OmegaConf

    from conftest import compose_cfg
    from lit_dnn.checkpoint import load_model
    from lit_dnn.export import export
    from lit_dnn.train import train

    fast = ["data=binary", "trainer.max_epochs=5", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false", "logger=csv"]
    metrics = train(compose_cfg([*fast, "model.binary_output=sigmoid"], tmp_path / "sigmoid"))
    softmax = train(compose_cfg(fast, tmp_path / "softmax"))
    assert set(k for k in metrics if "/" in k) == set(k for k in softmax if "/" in k)  # acc, precision, recall, f1, auroc, loss
    assert metrics["test/acc"] > 0.8 and metrics["test/auroc"] > 0.85
    model, hp = load_model(metrics["best_model_path"])
    assert model.net.layers[-1].out_features == 1 and hp.class_names == ["0", "1"]
    x = torch.randn(7, 20)
    p = model.predict_step(x, 0)
    assert p.shape == (7, 2) and torch.allclose(p.sum(1), torch.ones(7))
    assert torch.allclose(p[:, 1], model.net(x)[:, 0].sigmoid())
    cfg = OmegaConf.create({"ckpt_path": metrics["best_model_path"], "format": "onnx", "paths": {"output_dir": str(tmp_path / "export")}})
    path = export(cfg)
    out = onnxruntime.InferenceSession(str(path)).run(None, {"input": x.numpy()})[0]
    assert out.shape == (7, 2) and abs(out - p.detach().numpy()).max() < 1e-5


def test_the_sigmoid_head_needs_two_classes(tiny_data, tmp_path) -> None:
    from conftest import compose_cfg, tiny_overrides
    from lit_dnn.errors import ConfigError
    from lit_dnn.train import build

    with pytest.raises(ConfigError, match=r"model.binary_output=sigmoid is for two classes; this data has 10 classes: drop it."):
        build(compose_cfg([*tiny_overrides(tiny_data), "model.binary_output=sigmoid"], tmp_path))
