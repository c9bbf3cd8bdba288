"""Mixed precision (CPU and GPU) and the GPU path: data resident on the device, checkpoints that
load on a machine without one. The GPU tests need CUDA: CI has none and runs the CPU ones; on a
GPU machine run ``LIT_DNN_TEST_ACCELERATOR=gpu pytest`` (README, GPU)."""

import json
from pathlib import Path

import lightning as L
import pytest
import torch

from conftest import compose_cfg, tiny_overrides
from lit_dnn.evaluate import evaluate
from lit_dnn.train import train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (run on a GPU machine)")


class BatchWatch(L.Callback):
    """Added from the command line (``+callbacks.watch``): writes to ``path`` where the training
    batches lived and the dtype of the network's output under the run's precision."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.devices: set[str] = set()
        self.output_dtypes: set[str] = set()

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch, batch_idx: int) -> None:
        x, _ = batch
        self.devices.add(x.device.type)
        with trainer.precision_plugin.forward_context():
            self.output_dtypes.add(str(pl_module.net(x[:1]).dtype))

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.path.write_text(json.dumps({"devices": sorted(self.devices), "output_dtypes": sorted(self.output_dtypes)}))


def run(tiny_data: Path, tmp_path: Path, accelerator: str, precision: str) -> tuple[dict, dict]:
    watched = tmp_path / "watch.json"
    overrides = [f"trainer.accelerator={accelerator}", f"trainer.precision={precision}", "trainer.max_epochs=3"]
    watch = ["+callbacks.watch._target_=test_precision_gpu.BatchWatch", f"+callbacks.watch.path={watched}"]
    metrics = train(compose_cfg([*tiny_overrides(tiny_data), *overrides, *watch], tmp_path))
    return metrics, json.loads(watched.read_text())


def test_bf16_mixed_trains_on_cpu(tiny_data: Path, tmp_path: Path) -> None:
    metrics, watch = run(tiny_data, tmp_path, "cpu", "bf16-mixed")
    assert watch["output_dtypes"] == ["torch.bfloat16"]  # the matrix products ran in bfloat16
    assert metrics["test/acc"] > 0.9 and torch.isfinite(torch.tensor(metrics["train/loss"]))


@needs_cuda
@pytest.mark.parametrize("precision", ["32", "bf16-mixed", "16-mixed"])
def test_gpu_keeps_data_on_the_device_and_its_checkpoint_loads_on_cpu(tiny_data: Path, tmp_path: Path, precision: str) -> None:
    metrics, watch = run(tiny_data, tmp_path, "gpu", precision)
    assert watch["devices"] == ["cuda"]  # the splits moved once, in setup: batches are built on the GPU
    expected = {"32": "torch.float32", "bf16-mixed": "torch.bfloat16", "16-mixed": "torch.float16"}[precision]
    assert watch["output_dtypes"] == [expected]
    assert metrics["test/acc"] > 0.9
    # the best checkpoint, written on the GPU, evaluates on the CPU to the same accuracy
    eval_cfg = compose_cfg(
        [f"ckpt_path={metrics['best_model_path']}", "trainer.accelerator=cpu", f"data.data_dir={tiny_data}"], tmp_path / "eval", "eval"
    )
    tolerance = 1e-6 if precision == "32" else 0.02  # a half-precision run's test ran in half precision
    assert evaluate(eval_cfg)["test/acc"] == pytest.approx(metrics["test/acc"], abs=tolerance)
