"""``export(cfg)``: a self-contained model file (ONNX or TorchScript) and its ``model.json``."""

import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from lit_dnn.checkpoint import check_from_checkpoint, load_model
from lit_dnn.config_checks import check_installed
from lit_dnn.errors import ConfigError

log = logging.getLogger(__name__)
FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}


class WithSoftmax(nn.Module):
    """The network followed by softmax (one sigmoid unit: [1 - p, p]): the exported file returns
    the probability of every class."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net
        self.sigmoid = net.num_outputs == 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.sigmoid:
            p = out.sigmoid()
            return torch.cat([1 - p, p], dim=1)
        return out.softmax(dim=1)


class TableModel(nn.Module):
    """A table's model as one file: raw feature columns in (training order, text one-hot), the
    training standardisation, the network, then class probabilities or values in the target's units."""

    def __init__(self, model: nn.Module, normalization: dict, regression: bool) -> None:
        super().__init__()
        self.net = model.net
        self.register_buffer("mean", torch.as_tensor(normalization["mean"], dtype=torch.float32))
        self.register_buffer("std", torch.as_tensor(normalization["std"], dtype=torch.float32))
        self.regression = regression
        if regression:
            self.register_buffer("target_mean", model.target_mean.clone())
            self.register_buffer("target_std", model.target_std.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net((x - self.mean) / self.std)
        if self.regression:
            return out * self.target_std + self.target_mean
        if out.shape[1] == 1:  # one sigmoid unit
            p = out.sigmoid()
            return torch.cat([1 - p, p], dim=1)
        return out.softmax(dim=1)


def export(cfg: DictConfig) -> Path:
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format!r} is unknown; use format=onnx or format=torchscript.")
    if cfg.format == "onnx":
        check_installed("onnx", "format=onnx", "export", "use format=torchscript")
    check_from_checkpoint(cfg, "export.py")
    model, record = load_model(cfg.ckpt_path)
    table, regression = record.table, record.regression
    module = (TableModel(model, record.normalization, regression) if table else WithSoftmax(model.net)).eval()
    output_name = "values" if regression else "probabilities"
    example = torch.zeros(2, *record.input_shape)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FORMATS[cfg.format]
    with torch.no_grad():
        if cfg.format == "onnx":
            torch.onnx.export(
                module,
                (example,),
                str(path),
                input_names=["input"],
                output_names=[output_name],
                dynamic_axes={"input": {0: "batch"}, output_name: {0: "batch"}},
                dynamo=False,
            )
        else:
            torch.jit.trace(module, example).save(str(path))
    meta = {
        "format": cfg.format,
        "file": path.name,
        "input_name": "input",
        "output_name": output_name,
        "input_shape": ["batch", *record.input_shape],
        **({"target_names": record.target_names} if regression else {"class_names": record.class_names}),
        "normalization": record.normalization,
        "checkpoint": str(Path(cfg.ckpt_path).resolve()),
    }
    if table:  # the file takes raw columns: the standardisation is inside it
        meta.update(
            features=table["features"],
            targets=table["targets"],
            input_columns=table["input_columns"],
            categories=table["categories"],
            normalization={"inside the model": True, **record.normalization},
        )
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info("Exported %s and model.json to %s", path.name, out_dir)
    return path
