"""Using a trained model outside training: predict.py on images and arrays, ONNX and TorchScript."""

import csv
import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from conftest import run_script
from lit_dnn.checkpoint import load_model
from lit_dnn.data.image import ImageDataModule, load_split
from lit_dnn.inputs import normalize


@pytest.fixture(scope="module")
def checkpoint(tiny_run: tuple[Path, dict]) -> Path:
    return Path(tiny_run[1]["best_model_path"])


@pytest.fixture(scope="module")
def test_images(tiny_data: Path) -> tuple[np.ndarray, np.ndarray]:
    images, labels = load_split(tiny_data, "mnist", "test")
    return images[:100].numpy(), labels[:100].numpy()


def lightning_probabilities(checkpoint: Path, raw: np.ndarray) -> torch.Tensor:
    model, hp = load_model(checkpoint)
    with torch.no_grad():
        return model.predict_step(normalize(raw, hp.normalization), 0)


def read_predictions(folder: Path) -> list[dict]:
    with open(folder / "predictions.csv") as f:
        return list(csv.DictReader(f))


def test_png_files_get_the_classes_eval_computes(checkpoint: Path, tiny_data: Path, test_images: tuple, tmp_path: Path) -> None:
    images, _ = test_images
    folder = tmp_path / "pngs"
    folder.mkdir()
    for i, image in enumerate(images[:20]):
        Image.fromarray(image).save(folder / f"{i:03d}.png")
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={folder}", f"hydra.run.dir={tmp_path}/out"])
    assert result.returncode == 0, result.stderr[-2000:]
    rows = read_predictions(tmp_path / "out")
    # what evaluation computes: the model on the test split's own tensors, through the datamodule's transform
    model, _ = load_model(checkpoint)
    dm = ImageDataModule("mnist", str(tiny_data), val_split=100)
    dm.setup()
    x, _ = dm.splits["test"]
    expected = model(dm.normalization(x[:20])).argmax(1).tolist()
    assert [r["input"] for r in rows] == [f"{i:03d}.png" for i in range(20)]
    assert [int(r["predicted"]) for r in rows] == expected
    assert "top3" in rows[0] and "│" in result.stdout


def test_inverted_rgb_photo_of_other_size(checkpoint: Path, test_images: tuple, tmp_path: Path) -> None:
    images, _ = test_images
    photo = tmp_path / "photo.jpg"
    Image.fromarray(255 - images[0]).resize((140, 140)).convert("RGB").save(photo, quality=95)
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={photo}", "invert=true", f"hydra.run.dir={tmp_path}/out"])
    assert result.returncode == 0, result.stderr[-2000:]
    expected = int(lightning_probabilities(checkpoint, images[:1]).argmax())
    assert int(read_predictions(tmp_path / "out")[0]["predicted"]) == expected


def test_npy_array_input(checkpoint: Path, test_images: tuple, tmp_path: Path) -> None:
    images, _ = test_images
    np.save(tmp_path / "x.npy", images[:30])
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={tmp_path / 'x.npy'}", f"hydra.run.dir={tmp_path}/out"])
    assert result.returncode == 0, result.stderr[-2000:]
    probs = lightning_probabilities(checkpoint, images[:30])
    rows = read_predictions(tmp_path / "out")
    assert [int(r["predicted"]) for r in rows] == probs.argmax(1).tolist()
    assert [float(r["probability"]) for r in rows] == pytest.approx(probs.max(1).values.tolist(), abs=1e-6)
    # the same command again, into the same folder: one sentence, the first predictions kept
    before = (tmp_path / "out" / "predictions.csv").read_bytes()
    again = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={tmp_path / 'x.npy'}", f"hydra.run.dir={tmp_path}/out"])
    assert again.returncode == 2 and "predictions.csv" in again.stderr.strip().splitlines()[-1], again.stderr[-1000:]
    assert (tmp_path / "out" / "predictions.csv").read_bytes() == before


def huge_png(path: Path) -> Path:
    """A PNG header announcing 30000 x 30000 pixels: Pillow refuses it as a decompression bomb."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda d: (d / "bad.png").write_bytes(b"not an image") and d / "bad.png", "cannot read {} as an image"),
        (lambda d: np.save(d / "w.npy", np.zeros((4, 5))) or d / "w.npy", "has shape (4, 5) but the model expects (N, 28, 28)"),
        (lambda d: huge_png(d / "huge.png"), "{} has more pixels than Pillow reads safely"),
        (lambda d: (d / "t.npy").write_text("hello") and d / "t.npy", "cannot read {} as a .npy array (no .npy header)"),
        (lambda d: np.save(d / "s.npy", np.full((2, 28, 28), "a")) or d / "s.npy", "{} holds <U1 values; save real numbers"),
        (lambda d: np.save(d / "e.npy", np.zeros((0, 28, 28))) or d / "e.npy", "{} holds no samples (shape (0, 28, 28))"),
        (lambda d: np.save(d / "n.npy", np.full((2, 28, 28), np.nan)) or d / "n.npy", "{} has 1568 NaN or infinite values"),
        (lambda d: np.save(d / "c.npy", np.zeros((2, 28, 28), complex)) or d / "c.npy", "{} holds complex128 values"),
        (lambda d: np.save(d / "k.npy", np.zeros((2, 28, 28))) or (d / "k.npy", "top_k=0"), "top_k=0 must be a positive integer"),
        (lambda d: np.save(d / "b.npy", np.zeros((2, 28, 28))) or (d / "b.npy", "batch_size=0"), "batch_size=0 must be a positive integer"),
    ],
)
def test_bad_inputs_are_one_sentence(checkpoint: Path, tmp_path: Path, make_input, message: str) -> None:
    path, *extra = made if isinstance(made := make_input(tmp_path), tuple) else (made,)
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={path}", *extra, f"hydra.run.dir={tmp_path}/out"])
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and message.format(path) in last and "Traceback" not in result.stderr


def test_missing_checkpoint_is_one_sentence(tmp_path: Path) -> None:
    result = run_script("predict.py", [f"ckpt_path={tmp_path}/none.ckpt", f"input={tmp_path}", f"hydra.run.dir={tmp_path}/out"])
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"Error: ckpt_path={tmp_path}/none.ckpt does not exist; pass ckpt_path=<a .ckpt file written by train.py>."
    )


def test_export_without_onnx_is_one_sentence(checkpoint: Path, tmp_path: Path) -> None:
    hide = tmp_path / "hide"  # a machine without the export extra: Python's way to make onnx not importable
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['onnx'] = None\n")
    path = os.pathsep.join(filter(None, [str(hide), os.environ.get("PYTHONPATH")]))
    result = run_script(
        "export.py", [f"ckpt_path={checkpoint}", "format=onnx", f"hydra.run.dir={tmp_path}/out"], {"PYTHONPATH": path}, fresh=True
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        'Error: format=onnx needs the onnx package, which is not installed; pip install -e ".[export]" (or pip install onnx), '
        "or use format=torchscript."
    )
    assert not (tmp_path / "out" / "model.json").exists()


def test_onnx_and_torchscript_match_the_lightning_module(checkpoint: Path, test_images: tuple, tmp_path: Path) -> None:
    images, _ = test_images
    expected = lightning_probabilities(checkpoint, images).numpy()
    _, hp = load_model(checkpoint)
    inputs = normalize(images, hp.normalization).numpy()
    for fmt, name in (("onnx", "model.onnx"), ("torchscript", "model.pt")):
        out = tmp_path / fmt
        result = run_script("export.py", [f"ckpt_path={checkpoint}", f"format={fmt}", f"hydra.run.dir={out}"])
        assert result.returncode == 0, result.stderr[-2000:]
        meta = json.loads((out / "model.json").read_text())
        assert meta["class_names"] == [str(d) for d in range(10)] and meta["input_shape"] == ["batch", 28, 28]
        assert meta["normalization"]["mean"] == pytest.approx(0.1307) and meta["file"] == name
        for batch in (100, 7):  # the export used batch 2
            if fmt == "onnx":
                session = ort.InferenceSession(str(out / name))
                got = session.run(["probabilities"], {"input": inputs[:batch]})[0]
            else:
                with torch.no_grad():
                    got = torch.jit.load(str(out / name))(torch.from_numpy(inputs[:batch])).numpy()
            assert got.shape == (batch, 10)
            assert np.abs(got - expected[:batch]).max() < 1e-5
            assert np.allclose(got.sum(1), 1, atol=1e-5)
