"""python train.py tune=lr_find: the learning-rate range test on the template's training path."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import run_script
from lit_dnn.lr_find import suggestion

FAST = ["data=binary", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]


def test_suggestion_is_the_steepest_fall_of_the_smoothed_loss() -> None:
    lrs = list(np.geomspace(1e-5, 1.0, 60))
    # flat, then falling fastest around lr 1e-2, then flat again
    smoothed = [2.0 - 1.5 / (1 + math.exp(-3 * (math.log10(lr) + 2))) for lr in lrs]
    assert suggestion(lrs, smoothed) == pytest.approx(1e-2, rel=0.25)
    assert suggestion(lrs[:11], smoothed[:11]) is None  # too few steps past the first 10


def test_lr_find_writes_plot_table_and_the_command_that_uses_it(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_script("train.py", ["tune=lr_find", *FAST, "optimizer=sgd", f"hydra.run.dir={run}"])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((run / "lr_find.csv").open()))
    lrs = [float(r["lr"]) for r in rows]
    assert lrs[0] == pytest.approx(1e-6) and all(b > a for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] <= 1.0 and lrs[-1] / lrs[-2] == pytest.approx(1e6 ** (1 / 100))  # Lightning's exponential range, 100 steps
    assert int(rows[-1]["step"]) == len(rows) <= 100
    found = json.loads((run / "lr_find.json").read_text())
    suggested = found["lr_find/suggestion"]
    assert found["lr_find/steps"] == len(rows) and suggested in lrs and 1e-6 < suggested < 1
    # the printed commands keep the user's choices, drop the range test, and use the suggestion
    out = result.stdout + result.stderr
    assert f"Suggested learning rate: {suggested:.2e}" in out
    kept = "data=binary callbacks.progress_bar=null +trainer.enable_progress_bar=false optimizer=sgd"
    one_cycle = f"python train.py {kept} model.optimizer.lr={suggested / 5:.2e}"
    assert one_cycle in out and f"model.scheduler=null model.optimizer.lr={suggested:.2e}" in out
    assert "tune=lr_find" not in out.split("Train with it:")[1]
    with Image.open(run / "lr_find.png") as image:
        assert image.size == (700, 450)
    # one event file: the plot is logged before Lightning closes the logger (logged after, it went
    # into a second, reopened file that the process could exit before flushing)
    assert len(list((run / "tensorboard").glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert "lr_find" in events.Tags()["images"]
    assert not (run / "checkpoints").exists() and not (run / "metrics.json").exists()
    # the same command into the same folder again: one sentence, and the first test's files kept
    written = {path.name: path.read_bytes() for path in run.glob("lr_find.*")}
    again = run_script("train.py", ["tune=lr_find", *FAST, "optimizer=adam", f"hydra.run.dir={run}"])
    assert again.returncode == 2
    assert again.stderr.strip() == (
        f"Error: hydra.run.dir={run} holds the results of an earlier run (its lr_find.json), which this run "
        "would overwrite; choose another folder, or leave hydra.run.dir out for a new one."
    )
    assert {path.name: path.read_bytes() for path in run.glob("lr_find.*")} == written and len(written) == 3


def test_a_diverging_loss_ends_the_test_early(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_script("train.py", ["tune=lr_find", *FAST, "lr_find.min_lr=0.1", "lr_find.max_lr=1e6", f"hydra.run.dir={run}"])
    assert result.returncode == 0, result.stderr[-3000:]
    rows = list(csv.DictReader((run / "lr_find.csv").open()))
    smoothed = [float(r["smoothed_loss"]) for r in rows]
    assert len(rows) < 100  # stopped once the smoothed loss passed 4 × its lowest
    assert smoothed[-1] > 4 * min(smoothed[:-1]) or not math.isfinite(smoothed[-1])


@pytest.mark.parametrize("bad", ["lr_find.num_steps=abc", "lr_find.min_lr=0", "lr_find.max_lr=1e-7"])
def test_bad_range_test_settings_are_one_sentence_and_leave_no_folder(bad: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_script("train.py", ["tune=lr_find", *FAST, bad, f"hydra.run.dir={run}"])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("Error: lr_find needs a whole number num_steps >= 2 and 0 < min_lr < max_lr")
    assert not run.exists()
