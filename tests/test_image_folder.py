"""Your own images (data=images): Keras' image_dataset_from_directory conventions, plus a test split."""

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from conftest import compose_cfg, make_images, real_data
from lit_dnn.checkpoint import load_model
from lit_dnn.entry_points import run_task
from lit_dnn.evaluate import evaluate
from lit_dnn.export import export
from lit_dnn.inputs import load_inputs, normalize
from lit_dnn.predict import predict
from lit_dnn.train import train

FAST = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false", "logger=csv", "trainer.accelerator=cpu"]


def write_folder(root: Path, images: np.ndarray, labels: np.ndarray, names: list[str]) -> Path:
    """One PNG per image in the subfolder of its class, as a user's photos folder."""
    for i, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[int(label)]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(folder / f"{i:05d}.png")
    return root


@pytest.fixture(scope="module")
def digit_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 of the tests' learnable 28x28 digits, named zero..nine: alphanumeric order is not 0..9."""
    images, labels = make_images(400, np.random.default_rng(3))
    names = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    return write_folder(tmp_path_factory.mktemp("photos") / "digits", images, labels, names)


def test_a_folder_trains_predicts_evaluates_and_exports_with_its_class_names(digit_folder: Path, tmp_path: Path) -> None:
    metrics = train(compose_cfg(["data=images", f"data.path={digit_folder}", "trainer.max_epochs=4", *FAST], tmp_path / "t"))
    assert metrics["test/acc"] >= 0.85  # 80 test images held out first, then 64 for validation
    model, record = load_model(metrics["best_model_path"])
    assert record.class_names == sorted(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])
    assert record.input_shape == (28, 28) and record.data["test_split"] == 0.2

    cfg = compose_cfg([f"ckpt_path={metrics['best_model_path']}", f"input={digit_folder / 'seven'}"], tmp_path / "p", "predict")
    rows = predict(cfg)
    right = sum(row["predicted"] == "seven" for row in rows)
    assert right >= 0.85 * len(rows)
    evaluated = evaluate(compose_cfg([f"ckpt_path={metrics['best_model_path']}", "trainer.accelerator=cpu"], tmp_path / "e", "eval"))
    assert evaluated["test/acc"] == pytest.approx(metrics["test/acc"], abs=1e-6)  # the same 80 test images, the same split

    cfg = compose_cfg([f"ckpt_path={metrics['best_model_path']}", "format=onnx"], tmp_path / "x", "export")
    export(cfg)
    meta = json.loads((Path(cfg.paths.output_dir) / "model.json").read_text())
    assert meta["class_names"] == record.class_names and meta["input_shape"] == ["batch", 28, 28]
    names, raw = load_inputs(digit_folder / "two", record.input_shape)
    inputs = normalize(raw, record.normalization).numpy()
    got = ort.InferenceSession(str(Path(cfg.paths.output_dir) / "model.onnx")).run(["probabilities"], {"input": inputs})[0]
    assert np.mean([record.class_names[i] == "two" for i in got.argmax(1)]) >= 0.85


def test_colour_images_train_a_cnn_channels_last(tmp_path: Path) -> None:
    """color_mode=rgb holds (height, width, 3) as Keras does; model=cnn reads it channels last."""
    rng = np.random.default_rng(0)
    colours = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}
    for name, rgb in colours.items():
        (tmp_path / "colours" / name).mkdir(parents=True)
        for i in range(20):  # other sizes than image_size: every image is resized
            pixels = np.clip(rng.normal(0, 40, (30 + i, 20, 3)) + rgb, 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / "colours" / name / f"{i}.jpg")
    overrides = ["data=images", f"data.path={tmp_path / 'colours'}", "data.color_mode=rgb", "data.image_size=[12,12]"]
    metrics = train(compose_cfg([*overrides, "model=cnn", "model.net.filters=[8]", "trainer.max_epochs=6", *FAST], tmp_path / "t"))
    _, record = load_model(metrics["best_model_path"])
    assert record.input_shape == (12, 12, 3) and record.class_names == ["blue", "green", "red"]
    assert metrics["test/acc"] >= 0.9
    cfg = compose_cfg([f"ckpt_path={metrics['best_model_path']}", f"input={tmp_path / 'colours' / 'green'}"], tmp_path / "p", "predict")
    assert sum(row["predicted"] == "green" for row in predict(cfg)) >= 18


def folder(tmp_path: Path, layout: dict[str, list[str]]) -> Path:
    """Subfolders of files: a name ending in .png is a real image unless its text is given."""
    root = tmp_path / "photos"
    root.mkdir()
    for sub, files in layout.items():
        (root / sub).mkdir(parents=True, exist_ok=True)
        for name in files:
            path = root / sub / name.split("=")[0]
            if "=" in name:
                path.write_text(name.split("=")[1])
            else:
                Image.fromarray(np.zeros((5, 5), np.uint8)).save(path)
    return root


BAD_FOLDERS = [
    ({"cat": ["a.png", "b.png"]}, [], "has 1 class subfolder; a classifier needs two or more, one subfolder of images per class"),
    ({"cat": ["a.png"], "dog": ["notes.txt=hello"]}, [], "dog holds no images (.bmp, .gif, .jpeg, .jpg, .png); add some, remove"),
    ({"cat": ["a.png"], "dog": ["b.png=not a png"]}, [], "b.png as an image (UnidentifiedImageError); remove it or replace it"),
    ({"cat": ["a.png"], "dog": ["b.png"]}, ["data.class_names=[cat,fox]"], "data.class_names names fox, not a subfolder of"),
    ({"cat": ["a.png"] * 1, "dog": ["b.png"]}, ["data.color_mode=cmyk"], "data.color_mode='cmyk' is not one of grayscale, rgb, rgba"),
    ({"cat": ["a.png"], "dog": ["b.png"]}, ["data.image_size=[28]"], "data.image_size=[28] must be [height, width] in pixels"),
]


@pytest.mark.parametrize(("layout", "overrides", "message"), BAD_FOLDERS, ids=[m.split(";")[0][:40] for *_, m in BAD_FOLDERS])
def test_bad_folders_are_one_sentence(layout, overrides, message: str, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:  # noqa: ANN001
    root = folder(tmp_path, layout)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, compose_cfg(["data=images", f"data.path={root}", *overrides, *FAST], tmp_path))
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and err.startswith("Error: ") and message in err and "\n" not in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_folder_of_mnist_test_images_trains_at_the_defaults(tmp_path: Path) -> None:
    """The issue's check: 2,000 MNIST test images written as PNG folders 0..9, `data=images` at its defaults."""
    from lit_dnn.data.image import load_split

    images, labels = load_split(real_data(), "mnist", "test")
    root = write_folder(tmp_path / "mnist_png", images[:2000].numpy(), labels[:2000].numpy(), [str(d) for d in range(10)])
    metrics = train(compose_cfg(["data=images", f"data.path={root}", *FAST], tmp_path / "t"))
    assert metrics["test/acc"] >= 0.88  # 1,280 training images (91.75% here at seed 42)
