"""Networks come from a registry (lit_dnn/models/registry.py): model=cnn, keras.io's simple MNIST
convnet, was added as its module, its YAML and one registry line, and trains, evaluates, predicts
and exports as model=mlp does."""

import json
import re
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch

from conftest import ROOT, compose_cfg, tiny_overrides
from lit_dnn.callbacks.summary import summary_text
from lit_dnn.checkpoint import load_model
from lit_dnn.data.image import load_split
from lit_dnn.errors import ConfigError
from lit_dnn.evaluate import evaluate
from lit_dnn.export import export
from lit_dnn.inputs import normalize
from lit_dnn.models.cnn import CNN
from lit_dnn.models.registry import NETS
from lit_dnn.train import train


def test_cnn_is_keras_simple_mnist_convnet_in_the_summary() -> None:
    text = summary_text(CNN(), (28, 28))  # the summary walks any network with forward hooks
    rows = [line.split() for line in text.splitlines() if re.match(r"^[a-z0-9]+_\d+ ", line)]
    assert [r[0] for r in rows] == [
        "channelsfirst_0", "conv2d_1", "relu_2", "maxpool2d_3", "conv2d_4", "relu_5", "maxpool2d_6", "flatten_7", "dropout_8", "linear_9",
    ]  # fmt: skip
    shapes = [" ".join(r[2:-1]) for r in rows]
    assert shapes[1] == "(None, 32, 26, 26)" and shapes[6] == "(None, 64, 5, 5)" and shapes[-1] == "(None, 10)"
    assert [r[-1] for r in rows if r[-1] != "0"] == ["320", "18,496", "16,010"]
    assert "Total params: 34,826" in text  # keras.io's figure


def test_adding_a_net_touched_its_module_its_yaml_and_the_registry_only() -> None:
    naming = sorted(
        str(p.relative_to(ROOT))
        for folder in ("src", "conf")
        for p in (ROOT / folder).rglob("*")
        if p.suffix in (".py", ".yaml") and ("models.cnn" in p.read_text() or "model=cnn" in p.read_text())
    )
    assert naming == ["conf/model/cnn.yaml", "conf/model/net/cnn.yaml", "src/lit_dnn/models/cnn.py", "src/lit_dnn/models/registry.py"]
    assert set(NETS) == {"lit_dnn.models.mlp.MLP", "lit_dnn.models.cnn.CNN"}


def test_model_cnn_trains_evaluates_and_exports(tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    metrics = train(compose_cfg([*tiny_overrides(tiny_data), "model=cnn", "trainer.max_epochs=3"], tmp_path / "train"))
    assert metrics["test/acc"] > 0.9  # the tiny digits are easy
    checkpoint = metrics["best_model_path"]
    model, hp = load_model(checkpoint)  # built from the registry, never from the file's _target_
    assert isinstance(model.net, CNN) and hp.model["net"]["filters"] == [32, 64]
    evaluated = evaluate(
        compose_cfg([f"ckpt_path={checkpoint}", f"data.data_dir={tiny_data}", "trainer.accelerator=cpu"], tmp_path / "e", "eval")
    )
    assert evaluated["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    out = tmp_path / "export"
    cfg = compose_cfg([f"ckpt_path={checkpoint}", "format=onnx"], tmp_path / "x", "export")
    cfg.paths.output_dir = str(out)
    export(cfg)
    images, _ = load_split(tiny_data, "mnist", "test")
    inputs = normalize(images[:20].numpy(), hp.normalization)
    with torch.no_grad():
        expected = model.predict_step(inputs, 0).numpy()
    got = ort.InferenceSession(str(out / "model.onnx")).run(["probabilities"], {"input": inputs.numpy()})[0]
    assert np.abs(got - expected).max() < 1e-5
    assert json.loads((out / "model.json").read_text())["input_shape"] == ["batch", 28, 28]


def test_cnn_on_a_table_and_bad_cnn_settings_are_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"model=cnn reads images \(height, width\[, channels\]\), but this data's inputs have shape \(4,\)"
    ):
        train(compose_cfg(["data=iris", "model=cnn", "logger=csv"], tmp_path))
    from lit_dnn.config_checks import check_train_config

    for override, message in (
        ("model.net.filters=[32,-1]", r"model.net.filters=\[32, -1\] must be a list of positive integers"),
        ("model.net.kernel_size=0", r"model.net.kernel_size=0 must be an integer from 1 to 15"),
        ("model.net.filters=[8,8,8,8,8]", r"model.net.filters=\[8, 8, 8, 8, 8\] has more blocks than \(28, 28\) images allow"),
        ("model.net._target_=os.system", r"model.net._target_='os.system' is not one of lit-dnn's networks"),
    ):
        cfg = compose_cfg(["model=cnn", override], tmp_path)
        with pytest.raises(ConfigError, match=message):
            check_train_config(cfg)
            CNN(filters=list(cfg.model.net.filters), kernel_size=cfg.model.net.kernel_size)


def test_datamodules_are_named_by_the_registry_alone() -> None:
    """No allow-list or key-sniffing elsewhere: the code names a datamodule's target only in
    data/registry.py (its YAML names it in conf/data), and the early checks run by that target."""
    from lit_dnn.config_checks import check_data
    from lit_dnn.data.registry import DATAMODULES

    for target in DATAMODULES:
        naming = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "src").rglob("*.py") if target in p.read_text())
        assert naming == ["src/lit_dnn/data/registry.py"], (target, naming)
    with pytest.raises(ConfigError, match=r"data._target_='my.Data' is not one of lit-dnn's datamodules \(.*\); register yours in"):
        check_data(compose_cfg(["data._target_=my.Data"], Path("/tmp/unused")).data)
