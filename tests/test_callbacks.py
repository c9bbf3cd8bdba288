"""What a person sees: TensorBoard images and scalars, report files, plots."""

import csv
import io
import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import precision_recall_fscore_support
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_cfg, tiny_overrides
from lit_dnn.callbacks.classification_report import classification_report
from lit_dnn.callbacks.plots import ConfusionFigure


@pytest.fixture
def mnist_run(tiny_run: tuple[Path, dict]) -> tuple[Path, dict]:
    return tiny_run


def events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_confusion_images_per_epoch_and_for_test(mnist_run: tuple[Path, dict]) -> None:
    run, metrics = mnist_run
    acc = events(run)
    val = acc.Images("val/confusion_matrix")
    assert [e.step for e in val] == [0, 1, 2]
    assert len(acc.Images("test/confusion_matrix")) == 1
    for event, (width, height) in [
        *[(e, (600, 300)) for e in [*val, *acc.Images("test/confusion_matrix")]],
        (acc.Images("test/misclassified")[0], (150, 150)),
    ]:
        image = Image.open(io.BytesIO(event.encoded_image_string))
        assert image.format == "PNG" and image.width >= width and image.height >= height


def test_confusion_figure_redrawn_matches_a_fresh_one() -> None:
    names = ["cat", "dog", "bird"]
    first, second = np.array([[5, 0, 1], [2, 7, 0], [0, 0, 9]]), np.array([[6, 0, 0], [0, 9, 0], [3, 0, 6]])
    reused = ConfusionFigure(names, "val confusion matrix")
    before = reused.draw(first)
    after = reused.draw(second)
    # a count is written on its cell (pixels of two colours around the cell's centre), a zero left blank
    written = []
    for x, y in reused.centres:
        block = after[round(y) - 6 : round(y) + 6, round(x) - 6 : round(x) + 6].reshape(-1, 3)
        written.append(len(np.unique(block, axis=0)) > 2)
    assert np.array(written).reshape(3, 3).tolist() == (second > 0).tolist()
    assert (after == ConfusionFigure(names, "val confusion matrix").draw(second)).all()
    assert after.shape == before.shape and (after != before).any(axis=2).mean() > 0.001


def test_test_confusion_counts_match_test_accuracy(mnist_run: tuple[Path, dict]) -> None:
    run, metrics = mnist_run
    counts = np.array(json.loads((run / "confusion_matrix.json").read_text())["counts"])
    assert counts.sum() == 200  # the tiny test set
    assert counts.trace() / counts.sum() == pytest.approx(metrics["test/acc"], abs=1e-6)
    with open(run / "confusion_matrix.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0][1:] == [str(d) for d in range(10)] and np.array([r[1:] for r in rows[1:]], dtype=int).sum() == 200


def test_scalars_hparams_and_per_class_accuracy(mnist_run: tuple[Path, dict]) -> None:
    run, metrics = mnist_run
    acc = events(run)
    scalars = set(acc.Tags()["scalars"])
    for tag in ("train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best", "test/loss", "test/acc", "lr-AdamW"):
        assert tag in scalars, tag
    assert {f"test/acc_per_class/{d}" for d in range(10)} <= scalars
    per_class = [acc.Scalars(f"test/acc_per_class/{d}")[0].value for d in range(10)]
    assert all(0 <= v <= 1 for v in per_class)
    plugins = acc.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in plugins and "_hparams_/experiment" in plugins
    start = plugins["_hparams_/session_start_info"]
    assert b"model/hidden_dims" in start and b"optimizer/lr" in start and b"data/batch_size" in start and b"seed" in start
    assert b"test/acc" in plugins["_hparams_/experiment"] and b"val/acc_best" in plugins["_hparams_/experiment"]


def test_curves_and_examples_saved_as_pngs(mnist_run: tuple[Path, dict]) -> None:
    run, _ = mnist_run
    for name in ("loss.png", "accuracy.png", "misclassified.png"):
        image = Image.open(run / name)
        assert image.width >= 400, name


def test_misclassified_png_holds_the_tensorboard_image(mnist_run: tuple[Path, dict]) -> None:
    run, metrics = mnist_run
    mistakes = min(32, round((1 - metrics["test/acc"]) * 200))  # of the 200 tiny test images
    rows, cols = -(-mistakes // 8), min(8, mistakes)
    logged = events(run).Images("test/misclassified")[0].encoded_image_string
    tensorboard = np.array(Image.open(io.BytesIO(logged)).convert("RGB"))
    png = np.array(Image.open(run / "misclassified.png").convert("RGB"))
    assert tensorboard.shape == png.shape and (tensorboard == png).all()
    assert png.shape[1] == 160 * cols and 200 * rows < png.shape[0] < 260 * rows + 60
    assert (png < 128).all(axis=2).mean() > 0.05  # the black background of the original pixels, not a blank canvas


def test_classification_report_agrees_with_counts(mnist_run: tuple[Path, dict]) -> None:
    run, metrics = mnist_run
    counts = np.array(json.loads((run / "confusion_matrix.json").read_text())["counts"])
    rows = json.loads((run / "classification_report.json").read_text())
    true = np.repeat(np.arange(10), counts.sum(1))
    pred = np.concatenate([np.repeat(np.arange(10), counts[i]) for i in range(10)])
    p, r, f, s = precision_recall_fscore_support(true, pred, labels=range(10), zero_division=0)
    for i, row in enumerate(rows[:10]):
        assert row["class"] == str(i) and row["support"] == s[i]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p[i], r[i], f[i]))
    macro = precision_recall_fscore_support(true, pred, average="macro", zero_division=0)
    weighted = precision_recall_fscore_support(true, pred, average="weighted", zero_division=0)
    assert [rows[10][k] for k in ("precision", "recall", "f1")] == pytest.approx(macro[:3])
    assert [rows[11][k] for k in ("precision", "recall", "f1")] == pytest.approx(weighted[:3])
    assert rows[12]["f1"] == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert "| macro avg |" in (run / "classification_report.md").read_text()


def test_report_of_a_class_never_predicted_is_zero_not_nan() -> None:
    rows = classification_report(np.array([[5, 0], [3, 0]]), ["a", "b"])
    assert rows[1]["precision"] == 0.0 and rows[1]["f1"] == 0.0 and rows[0]["recall"] == 1.0


def test_epoch_line_uses_keras_names_train_first() -> None:
    from lit_dnn.callbacks.progress import epoch_line

    metrics = {
        "val/acc": 0.97,
        "train/acc": 0.95,
        "val/acc_best": 0.97,
        "train/loss": 0.25,
        "val/loss": 0.1,
        "lr-AdamW": 1e-3,
        "test/acc_per_class/0": 1.0,
    }
    assert epoch_line(metrics) == "acc 0.9500 - loss 0.2500 - val_acc 0.9700 - val_loss 0.1000"


def test_progress_bar_counts_batches_and_keeps_one_line_per_epoch(
    tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """500 training images in batches of 64: each epoch is 8 batches, numbered 1..N, and its line
    carries the epoch's train/* and val/* means."""
    from lit_dnn.callbacks.progress import EpochProgressBar
    from lit_dnn.train import build

    overrides = [o for o in tiny_overrides(tiny_data) if "progress_bar" not in o]
    cfg = compose_cfg([*overrides, "data.batch_size=64", "trainer.max_epochs=2"], tmp_path)
    datamodule, model, trainer = build(cfg)
    bar = trainer.progress_bar_callback
    assert isinstance(bar, EpochProgressBar)
    seen = []
    epoch_start = bar.on_train_epoch_start

    def record(trainer, module):
        epoch_start(trainer, module)
        seen.append(bar.bar.total if bar.bar is not None else None)

    bar.on_train_epoch_start = record
    with caplog.at_level(logging.INFO, logger="lit_dnn.callbacks.progress"):
        trainer.fit(model, datamodule=datamodule)
    lines = [r.getMessage() for r in caplog.records if r.name == "lit_dnn.callbacks.progress"]
    assert seen == [8, 8]
    assert len(lines) == 2
    for epoch, line in enumerate(lines, 1):
        assert re.fullmatch(
            rf"Epoch {epoch}/2 - 8 batches - \d+\.\d s - acc [01]\.\d{{4}} - loss \d+\.\d{{4}} - "
            rf"val_acc [01]\.\d{{4}} - val_loss \d+\.\d{{4}}",
            line,
        ), line
    loss = float(lines[-1].split("- loss ")[1].split()[0])
    assert loss == pytest.approx(float(trainer.callback_metrics["train/loss"]), abs=1e-4)


def test_misclassified_tiles_show_the_original_pixels_and_both_classes() -> None:
    from lit_dnn.callbacks.plots import examples_figure, to_rgb
    from lit_dnn.data.normalization import Normalization

    raw = torch.zeros(2, 28, 28, dtype=torch.uint8)
    raw[1] = 255  # one black image, one white one
    normalization = Normalization(1 / 255, 0.2860, 0.3530)
    back = normalization.invert(normalization(raw))
    assert torch.allclose(back, raw.float(), atol=1e-3)  # what the grid shows is what the file holds
    # per-pixel statistics on one device invert images on another (found on an H200: with trainer=gpu
    # the statistics sat on the GPU, the callback's images on the CPU, and the run crashed at test end);
    # the "meta" device stands in for the other device here
    pixelwise = Normalization(1 / 255, torch.full((28, 28), 0.2860), torch.full((28, 28), 0.3530))
    assert pixelwise.invert(torch.zeros(2, 28, 28, device="meta")).device == torch.device("meta")
    fig = examples_figure(back.numpy(), ["Coat", "Bag"], ["Shirt", "Sandal"], "misclassified", value_range=(0, 255))
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["true Coat", "predicted Shirt", "true Bag", "predicted Sandal"]
    rgb = to_rgb(fig)
    dark = (rgb < 10).all(axis=2).sum()  # the black tile: 0 stays black, not stretched or standardised
    assert dark > 0.02 * rgb.shape[0] * rgb.shape[1]


def test_terminal_shows_keras_lines_and_each_table_once(tmp_path: Path) -> None:
    """What `python train.py` prints: messages without timestamps (train.log keeps them), one line
    per epoch, the classification report, one Test line, no Lightning table repeating them."""
    from conftest import run_script

    run = tmp_path / "run"
    result = run_script("train.py", ["data=binary", "trainer.max_epochs=2", f"hydra.run.dir={run}"])
    assert result.returncode == 0, result.stderr[-3000:]
    screen = [line.split("\r")[-1] for line in (result.stdout + result.stderr).splitlines()]  # the bar's last state
    epochs = [line for line in screen if line.startswith("Epoch ")]
    assert [line.split(" - ")[0] for line in epochs] == ["Epoch 1/2", "Epoch 2/2"]
    (test_line,) = [line for line in screen if line.startswith("Test: ")]
    metrics = json.loads((run / "metrics.json").read_text())
    assert test_line.startswith(f"Test: acc {metrics['test/acc']:.4f} - loss {metrics['test/loss']:.4f} - auroc ")
    assert sum("Classification report (test)" in line for line in screen) == 1
    assert not any("Test metric" in line or "acc_per_class" in line for line in screen)
    assert not any(line.startswith("[20") for line in screen)  # no timestamps on screen
    log = (run / "train.log").read_text().splitlines()
    assert any(line.startswith("[20") and line.endswith(epochs[0]) for line in log)  # the file keeps time and source
