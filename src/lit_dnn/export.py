"""``export(cfg)``: a self-contained model file (ONNX or TorchScript) and its ``model.json``."""

import json
import logging
from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from lit_dnn.checkpoint import load_classifier
from lit_dnn.errors import ConfigError

log = logging.getLogger(__name__)
FORMATS = {"onnx": "model.onnx", "torchscript": "model.pt"}


class WithSoftmax(nn.Module):
    """The network followed by softmax: the exported file returns probabilities."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).softmax(dim=1)


def export(cfg: DictConfig) -> Path:
    if cfg.format not in FORMATS:
        raise ConfigError(f"format={cfg.format!r} is unknown; use format=onnx or format=torchscript.")
    model, hp = load_classifier(cfg.ckpt_path)
    module = WithSoftmax(model.net).eval()
    example = torch.zeros(2, *hp["input_shape"])
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FORMATS[cfg.format]
    with torch.no_grad():
        if cfg.format == "onnx":
            torch.onnx.export(module, (example,), str(path), input_names=["input"], output_names=["probabilities"],
                              dynamic_axes={"input": {0: "batch"}, "probabilities": {0: "batch"}}, dynamo=False)
        else:
            torch.jit.trace(module, example).save(str(path))
    meta = {
        "format": cfg.format, "file": path.name, "input_name": "input", "output_name": "probabilities",
        "input_shape": ["batch", *hp["input_shape"]], "class_names": hp["class_names"],
        "normalization": hp["normalization"], "checkpoint": str(Path(cfg.ckpt_path).resolve()),
    }
    (out_dir / "model.json").write_text(json.dumps(meta, indent=2) + "\n")
    log.info("Exported %s and model.json to %s", path.name, out_dir)
    return path
