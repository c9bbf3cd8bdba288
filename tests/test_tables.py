"""Your own data: CSV tables for classification and regression, the bundled tables, K-fold."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf
from PIL import Image

from conftest import ACCELERATOR, REAL_DATA, compose_cfg, run_script
from lit_dnn.config_checks import check_data
from lit_dnn.data.table import TableDataModule
from lit_dnn.errors import ConfigError, DataError
from lit_dnn.sweep_summary import fold_statistics
from lit_dnn.train import train

FAST = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false", f"trainer.accelerator={ACCELERATOR}", "logger=csv"]


def write_table(path: Path, n: int = 300, seed: int = 0, regression: bool = False) -> Path:
    """Two numeric features, one text feature (city) and a target: a class that the features decide
    (label: cat/dog/fox), or a price that is a linear function of them plus a little noise."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(50, 10, n), rng.normal(0, 1, n)
    city = rng.choice(["Seoul", "Busan"], n)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["x1", "x2", "city", "price" if regression else "label"])
        for a, b, c in zip(x1, x2, city):
            if regression:
                target = f"{3 * a + 20 * b + (15 if c == 'Seoul' else 0) + rng.normal(0, 1):.3f}"
            else:
                target = ["cat", "dog", "fox"][int(b > 0.5) + int(b > -0.5)]
            writer.writerow([f"{a:.3f}", f"{b:.3f}", c, target])
    return path


def test_csv_classification_trains_and_names_its_classes(tmp_path: Path) -> None:
    table = write_table(tmp_path / "animals.csv")
    cfg = compose_cfg(["data=csv", f"data.path={table}", "data.target=label", "trainer.max_epochs=15", *FAST], tmp_path)
    metrics = train(cfg)
    assert metrics["test/acc"] >= 0.9  # the classes are thresholds of x2
    checkpoint = torch.load(metrics["best_model_path"], weights_only=True)
    hp = checkpoint["hyper_parameters"]
    assert hp["class_names"] == ["cat", "dog", "fox"] and hp["task"] == "classification"
    assert hp["input_shape"] == [4]  # x1, x2 and city one-hot as two columns
    assert "city=Busan, city=Seoul" in hp["normalization"]["doc"]


def test_csv_regression_reports_errors_in_the_targets_units(tmp_path: Path) -> None:
    table = write_table(tmp_path / "prices.csv", regression=True)
    cfg = compose_cfg(["data=csv", "task=regression", f"data.path={table}", "data.target=price", "trainer.max_epochs=30", *FAST], tmp_path)
    metrics = train(cfg)
    out = tmp_path / "run"
    # the price's standard deviation is ~37; a linear fit is within a few units
    assert metrics["test/mae"] < 5 and metrics["test/r2"] > 0.95 and metrics["val/mae_best"] < 6
    assert cfg.optimized_metric == "val/mae_best" and cfg.callbacks.model_checkpoint.monitor == "val/mae"
    rows = list(csv.DictReader(open(out / "predictions.csv")))
    assert len(rows) == 60 and set(rows[0]) == {"price_true", "price_predicted"}  # 20% of 300 rows
    mae = np.mean([abs(float(r["price_true"]) - float(r["price_predicted"])) for r in rows])
    assert mae == pytest.approx(metrics["test/mae"], rel=1e-3)
    assert (out / "regression_test.png").stat().st_size > 10_000 and (out / "mae.png").exists()


def test_the_regression_figure_redrawn_each_epoch_equals_a_new_one() -> None:
    """RegressionPlots draws one figure again each validation epoch: its pixels are those of a
    figure built for the same values, and new values change them."""
    from lit_dnn.callbacks.plots import RegressionFigure

    rng = np.random.default_rng(0)
    true = rng.normal(22, 9, 80)
    reused = RegressionFigure("(price)", "val set, price")
    first = reused.draw(true + rng.normal(0, 5, 80), true)
    later = true + rng.normal(0, 1, 80)
    again = reused.draw(later, true)
    assert again.shape == (450, 1000, 3) and not np.array_equal(first, again)
    assert np.array_equal(again, RegressionFigure("(price)", "val set, price").draw(later, true))


def test_splits_are_seeded_stratified_and_standardised_on_training_rows(tmp_path: Path) -> None:
    table = write_table(tmp_path / "animals.csv")
    dm = TableDataModule(str(table), "label", task="classification", seed=3)
    dm.setup()
    assert {k: len(v[0]) for k, v in dm.splits.items()} == {"train": 192, "val": 48, "test": 60}
    labels = np.array([row["label"] for row in csv.DictReader(open(table))])
    share = {c: np.mean(labels == c) for c in dm.class_names}
    test_share = {c: float((dm.splits["test"][1] == i).float().mean()) for i, c in enumerate(dm.class_names)}
    assert all(abs(share[c] - test_share[c]) < 0.02 for c in share)  # stratified
    assert torch.allclose(dm.normalization.mean, dm.splits["train"][0].mean(0))
    again = TableDataModule(str(table), "label", task="classification", seed=3)
    again.setup()
    assert torch.equal(again.splits["test"][0], dm.splits["test"][0])


def test_k_fold_test_sets_cover_every_row_once(tmp_path: Path) -> None:
    table = write_table(tmp_path / "prices.csv", n=100, regression=True)
    tests = []
    for fold in range(5):
        dm = TableDataModule(str(table), "price", task="regression", folds=5, fold=fold)
        dm.setup()
        tests.append(dm.splits["test"][1].flatten())
    assert sorted(torch.cat(tests).tolist()) == pytest.approx(sorted(float(r["price"]) for r in csv.DictReader(open(table))))
    with pytest.raises(ConfigError, match=r"data.fold=5 must be one of 0..4 for data.folds=5"):
        TableDataModule(str(table), "price", folds=5, fold=5)


def test_fold_statistics_add_mean_and_std_rows() -> None:
    rows = [
        {"job": str(i), "overrides": f"data=boston data.fold={i}", "status": "ok", "test/mae": v, "wall_time_s": 1.0}
        for i, v in enumerate([2.0, 3.0, 4.0])
    ]
    mean, std = fold_statistics(rows)
    assert mean["job"] == "mean" and mean["test/mae"] == pytest.approx(3.0) and std["test/mae"] == pytest.approx(1.0)
    assert fold_statistics([{**r, "overrides": "seed=1"} for r in rows]) == []


@pytest.mark.parametrize("name, rows, classes", [("iris", 150, 3), ("wine", 178, 3), ("breast_cancer", 569, 2)])
def test_bundled_tables_need_no_download(name: str, rows: int, classes: int, tmp_path: Path) -> None:
    cfg = compose_cfg([f"data={name}"], tmp_path)
    from lit_dnn.config_checks import instantiate

    dm = instantiate(cfg.data)
    dm.setup()
    assert sum(len(v[0]) for v in dm.splits.values()) == rows and len(dm.class_names) == classes
    if name == "iris":
        assert dm.class_names == ["setosa", "versicolor", "virginica"]


def test_diabetes_and_boston_choose_regression(tmp_path: Path) -> None:
    for name in ("diabetes", "boston"):
        cfg = compose_cfg([f"data={name}"], tmp_path)
        assert cfg.task.name == "regression" and cfg.model._target_.endswith("Regressor") and cfg.data.task == "regression"


def bad(tmp_path: Path, text: str, **kwargs) -> str:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    dm = TableDataModule(str(path), kwargs.pop("target", "y"), **kwargs)
    with pytest.raises((DataError, ConfigError)) as err:
        dm.setup()
    return str(err.value)


def test_bad_tables_are_one_sentence(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40))
    assert (
        bad(tmp_path, "a,b,y\n" + rows, target="price")
        == f"{tmp_path}/bad.csv has no column 'price' (data.target); its columns are a, b, y."
    )
    assert (
        bad(tmp_path, "a,b,y\n" + rows + "4x,1,0\n")
        == f"{tmp_path}/bad.csv has the value '4x' in numeric column 'a' (row 42 of the file, counting the header); "
        f"fix it, or list the column in data.features only if it is text."
    )
    assert (
        bad(tmp_path, "a,b,y\n" + rows + ",1,0\n,,1\n")
        == f"{tmp_path}/bad.csv has empty cells in a (2), b (1); fill them, or pass data.dropna=true to drop those rows."
    )
    assert (
        bad(tmp_path, "a,b,y\n" + "".join(f"{i},1,0\n" for i in range(20)))
        == f"{tmp_path}/bad.csv has a single class ['0'] in 'y'; a classifier needs two or more."
    )
    assert (
        bad(tmp_path, "a,b,y\n1,2,0\n2,3,1\n3,3,1\n")
        == f"{tmp_path}/bad.csv keeps 2 rows for training and validation, too few for data.val_split=0.2; "
        f"add rows or lower data.val_split (or data.test_split)."
    )
    assert (
        bad(tmp_path, "a,b,y\n" + "".join(f"{i},{i},{i * 0.37:.2f}\n" for i in range(40)), task="classification")
        == f"{tmp_path}/bad.csv: the target 'y' holds 40 different numbers, a regression; add task=regression to the command."
    )
    missing = tmp_path / "nope.csv"
    with pytest.raises(DataError, match=f"data.path={missing} is not a file; pass the path of a CSV"):
        TableDataModule(str(missing), "y").setup()


def test_dropna_drops_the_incomplete_rows(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    path.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)) + ",1,0\n")
    dm = TableDataModule(str(path), "y", dropna=True)
    dm.setup()
    assert sum(len(v[0]) for v in dm.splits.values()) == 40


def test_the_command_line_says_what_is_wrong_with_a_table(tmp_path: Path) -> None:
    path = write_table(tmp_path / "animals.csv")
    result = run_script("train.py", ["data=csv", f"data.path={path}", "data.target=Label", f"hydra.run.dir={tmp_path}/run"])
    assert result.returncode == 2
    assert (
        result.stderr.strip().splitlines()[-1] == f"Error: {path} has no column 'Label' (data.target); its columns are x1, x2, city, label."
    )
    result = run_script("train.py", ["data=csv", f"hydra.run.dir={tmp_path}/run2"])
    assert result.returncode == 2 and "data.path" in result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_boston_tutorial_reaches_the_keras_figure(tmp_path: Path) -> None:
    """The Keras house-price recipe on the real file: a test MAE near the tutorial's 2.5-3.0 ($1000s)."""
    cfg = compose_cfg(["experiment=boston_tutorial", f"paths.data_dir={REAL_DATA}", *FAST], tmp_path)
    metrics = train(cfg)
    assert metrics["test/mae"] < 3.2 and metrics["test/r2"] > 0.75
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test/mae"] == pytest.approx(metrics["test/mae"])


@pytest.fixture(scope="module")
def trained_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """A classifier and a regressor trained on small tables: {task: (checkpoint, table)}."""
    root = tmp_path_factory.mktemp("tables")
    out = {}
    for task, target, regression in (("classification", "label", False), ("regression", "price", True)):
        table = write_table(root / f"{task}.csv", regression=regression)
        cfg = compose_cfg(
            ["data=csv", f"task={task}", f"data.path={table}", f"data.target={target}", "trainer.max_epochs=15", *FAST], root / task
        )
        out[task] = (Path(train(cfg)["best_model_path"]), table)
    return out


def test_predict_eval_and_export_on_a_table(trained_tables: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    import onnxruntime

    checkpoint, table = trained_tables["regression"]
    rows = list(csv.DictReader(open(table)))[:5]
    new = tmp_path / "new.csv"
    with open(new, "w", newline="") as f:  # the user's new rows: the target column left out
        writer = csv.writer(f)
        writer.writerow(["city", "x2", "x1"])  # any column order
        writer.writerows([r["city"], r["x2"], r["x1"]] for r in rows)
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={new}", f"hydra.run.dir={tmp_path}/predict"])
    assert result.returncode == 0, result.stderr[-2000:]
    predicted = list(csv.DictReader(open(tmp_path / "predict" / "predictions.csv")))
    assert [p["input"] for p in predicted] == [f"row {i}" for i in range(2, 7)]
    errors = [abs(float(p["price"]) - float(r["price"])) for p, r in zip(predicted, rows)]
    assert np.mean(errors) < 8  # prices spread ~37 around ~165

    result = run_script("eval.py", [f"ckpt_path={checkpoint}", f"hydra.run.dir={tmp_path}/eval"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text())["test/mae"] < 8

    result = run_script("export.py", [f"ckpt_path={checkpoint}", "format=onnx", f"hydra.run.dir={tmp_path}/export"])
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((tmp_path / "export" / "model.json").read_text())
    assert meta["input_columns"] == ["x1", "x2", "city=Busan", "city=Seoul"] and meta["output_name"] == "values"
    raw = np.array([[float(r["x1"]), float(r["x2"]), r["city"] == "Busan", r["city"] == "Seoul"] for r in rows], dtype=np.float32)
    session = onnxruntime.InferenceSession(str(tmp_path / "export" / "model.onnx"))
    values = session.run(None, {"input": raw})[0][:, 0]
    assert values == pytest.approx([float(p["price"]) for p in predicted], rel=1e-4)


def test_predict_names_missing_and_extra_columns(trained_tables: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    checkpoint, _ = trained_tables["classification"]
    new = tmp_path / "new.csv"
    new.write_text("x1,city,colour\n1.0,Seoul,red\n")
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={new}", f"hydra.run.dir={tmp_path}/predict"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: {new} does not have the columns the model was trained on "
        f"(missing x2; extra colour); give it exactly x1, x2, city (the target column may stay)."
    )
    new.write_text("x1,x2,city,label\n50,1.5,Seoul,fox\n50,-1.5,Mokpo,cat\n")  # a city training never saw: no one-hot column
    result = run_script("predict.py", [f"ckpt_path={checkpoint}", f"input={new}", f"hydra.run.dir={tmp_path}/predict2"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert [r["predicted"] for r in csv.DictReader(open(tmp_path / "predict2" / "predictions.csv"))] == ["fox", "cat"]


def test_the_data_pages_table_walkthrough_runs_as_written(tmp_path: Path) -> None:
    """docs/data.md's copy-paste block, run as it stands in a fresh folder (python → this interpreter, scripts from the repo)."""
    import re
    import subprocess
    import sys

    from conftest import ROOT

    block = re.search(r"```bash\n# your own table, end to end\n(.*?)```", (ROOT / "docs" / "data.md").read_text(), re.S).group(1)
    script = re.sub(r"^python (\w+\.py)", lambda m: f"{sys.executable} {ROOT}/{m.group(1)}", block, flags=re.M)
    ran = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    predicted = list(csv.DictReader(open(tmp_path / "runs" / "animals_predict" / "predictions.csv")))
    assert [p["predicted"] for p in predicted] == ["cat", "dog"]
    assert json.loads((tmp_path / "runs" / "animals_eval" / "metrics.json").read_text())["test/acc"] >= 0.8
    meta = json.loads((tmp_path / "runs" / "animals_export" / "model.json").read_text())
    assert meta["input_columns"] == ["weight", "height", "city=Busan", "city=Seoul"]
    assert (tmp_path / "runs" / "animals_export" / "model.onnx").stat().st_size > 1000


TABLE_DEFAULTS = [  # what docs/data.md reports for `python train.py data=<name>`, with a margin
    ("iris", 42, "test/acc", 0.93),
    ("iris", 1, "test/acc", 0.93),
    ("iris", 2, "test/acc", 0.93),
    ("wine", 42, "test/acc", 0.94),
    ("breast_cancer", 42, "test/acc", 0.94),
    ("diabetes", 42, "test/mae", 46.0),
    ("boston", 42, "test/mae", 2.6),
]


@pytest.mark.slow
@pytest.mark.parametrize("name, seed, metric, bound", TABLE_DEFAULTS, ids=[f"{n}-seed{s}" for n, s, _, _ in TABLE_DEFAULTS])
def test_bundled_tables_train_well_at_their_defaults(name: str, seed: int, metric: str, bound: float, tmp_path: Path) -> None:
    """No epoch or batch override: the tables' recipe (30 epochs, data.batch_size=auto) reaches
    docs/data.md's figures (at 8 epochs of batch 32, iris gave 76.7%)."""
    metrics = train(compose_cfg([f"data={name}", f"seed={seed}", f"paths.data_dir={REAL_DATA}", *FAST], tmp_path))
    assert metrics["epochs_run"] == 30
    assert metrics[metric] >= bound if metric.endswith("acc") else metrics[metric] <= bound


@pytest.mark.parametrize("guide", ["guide.ko.md", "guide.md"])
def test_the_guides_commands_compose(guide: str) -> None:
    """Every `python train.py ...` line of the Korean guide and its English twin composes a valid
    config, and the twins hold the same commands (the guides stay as true as the README)."""
    import re
    import shlex

    from conftest import ROOT

    def commands(name: str) -> list[str]:
        text = (ROOT / "docs" / name).read_text()
        return [line.split("#")[0].strip() for line in re.findall(r"^python train\.py[^\n]*", text, re.M)]

    lines = commands(guide)
    assert len(lines) >= 13 and lines == commands("guide.ko.md")
    for line in lines:
        args = [a for a in shlex.split(line)[2:] if a != "-m" and not a.startswith(("ckpt_path", "hydra."))]
        args = [a.split(",")[0] if a.startswith("model.net.dropout=") else a for a in args]  # one value of a sweep
        args = ["data.fold=0" if a.startswith("data.fold=") else a for a in args]
        cfg = compose_cfg([a.replace("<", "").replace(">", "") for a in args], Path("/tmp/unused"))
        assert cfg.trainer.max_epochs >= 1, line


def test_tsv_a_separate_test_file_and_refused_text_columns(tmp_path: Path) -> None:
    table = write_table(tmp_path / "animals.csv")
    lines = table.read_text().splitlines()
    (tmp_path / "train.tsv").write_text("\n".join(line.replace(",", "\t") for line in lines[:201]) + "\n")
    (tmp_path / "test.csv").write_text("\n".join([lines[0], *lines[201:]]) + "\n")
    dm = TableDataModule(str(tmp_path / "train.tsv"), "label", task="classification", test_path=str(tmp_path / "test.csv"))
    dm.setup()
    assert {k: len(v[0]) for k, v in dm.splits.items()} == {"train": 160, "val": 40, "test": 100}
    assert dm.input_columns == ["x1", "x2", "city=Busan", "city=Seoul"]
    refuse = TableDataModule(str(table), "label", task="classification", categorical="refuse")
    with pytest.raises(DataError, match=r"animals.csv has text columns city; drop them from data.features or pass data.categorical"):
        refuse.setup()
    few = TableDataModule(str(tmp_path / "train.tsv"), "label", task="classification", folds=5)
    (tmp_path / "train.tsv").write_text("\n".join(line.replace(",", "\t") for line in lines[:8]) + "\n")
    with pytest.raises(DataError, match=r"train.tsv has 7 rows, too few for data.folds=5; use fewer folds."):
        few.setup()


@pytest.mark.slow
def test_every_train_line_of_the_guides_runs(tmp_path: Path) -> None:
    """Each `python train.py ...` line of the guides, run as typed (from a folder holding the
    guide's animals.csv, with DATA_DIR set), cut to one batch of one epoch: it trains, or, where
    this machine cannot do what it asks (a GPU; nothing unfinished to resume), it ends in one
    sentence with exit code 2. Never a traceback."""
    import re
    import shlex

    from conftest import ROOT, run_script

    text = (ROOT / "docs" / "guide.ko.md").read_text()
    lines = [line.split("#")[0].strip() for line in re.findall(r"^python train\.py[^\n]*", text, re.M)]
    write_table(tmp_path / "animals.csv")
    for i, name in enumerate(["cat", "dog"] * 8):  # the guide's photos/ folder: two classes of small pictures
        (tmp_path / "photos" / name).mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((12, 10), 40 + 150 * (name == "dog"), np.uint8)).save(tmp_path / "photos" / name / f"{i}.png")
    quick = [
        "trainer.max_epochs=1",
        "+trainer.limit_train_batches=1",
        "+trainer.limit_val_batches=1",
        "+trainer.limit_test_batches=1",
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
        f"paths.log_dir={tmp_path}/logs",
    ]
    outcomes = {}
    for line in lines:
        args = [a.replace("${DATA_DIR}", str(REAL_DATA)) for a in shlex.split(line)[2:]]  # as the shell expands it
        extra = ["hydra.sweeper.n_trials=1"] if "hparams_search=mnist_optuna" in line else []
        done = run_script("train.py", [*args, *quick, *extra], env={"DATA_DIR": str(REAL_DATA)}, cwd=tmp_path, timeout=600)
        assert "Traceback" not in done.stderr, f"{line}\n{done.stderr[-2000:]}"
        if done.returncode == 2:
            last = done.stderr.strip().splitlines()[-1]
            assert last.startswith("Error: ") and last.endswith("."), f"{line}\n{last}"
        else:
            assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
        outcomes[line] = done.returncode
    refused = sorted(line for line, code in outcomes.items() if code == 2)
    gpu_line = [] if torch.cuda.is_available() else ["python train.py trainer=gpu trainer.precision=bf16-mixed"]
    assert refused == ["python train.py ckpt_path=last", *gpu_line]


def test_eval_prepares_inputs_as_trained_and_names_changed_classes(trained_tables: dict[str, tuple[Path, Path]], tmp_path: Path) -> None:
    """eval.py standardises with the checkpoint's statistics, not ones recomputed from the table as it
    is today; a table whose classes changed since training is one sentence."""
    from omegaconf import OmegaConf

    from lit_dnn.checkpoint import load_model
    from lit_dnn.errors import CheckpointError
    from lit_dnn.evaluate import as_trained, datamodule_of

    checkpoint, table = trained_tables["classification"]
    _, record = load_model(checkpoint)
    header, *rows = list(csv.reader(open(table)))

    def edited(name: str, edit) -> object:  # noqa: ANN001
        path = tmp_path / name
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows([header, *(edit(list(r)) for r in rows)])
        dm = datamodule_of(record, OmegaConf.create({"ckpt_path": str(checkpoint), "data": {"path": str(path)}}))
        dm.setup("test")
        return dm

    rescaled = edited("rescaled.csv", lambda r: [str(float(r[0]) * 1000), *r[1:]])  # x1 now in other units
    assert rescaled.normalization.as_dict()["mean"][0] == pytest.approx(1000 * record.normalization["mean"][0], rel=1e-3)
    as_trained(rescaled, record, str(checkpoint))
    assert rescaled.normalization.as_dict()["mean"] == pytest.approx(record.normalization["mean"])

    renamed = edited("renamed.csv", lambda r: [*r[:3], "wolf" if r[3] == "fox" else r[3]])
    with pytest.raises(CheckpointError, match=r"was trained on the classes cat, dog, fox, but the data has cat, dog, wolf now"):
        as_trained(renamed, record, str(checkpoint))


def test_auto_batch_size_is_a_fiftieth_of_the_training_rows(caplog: pytest.LogCaptureFixture) -> None:
    from lit_dnn.data.in_memory import auto_batch_size

    assert [auto_batch_size(n) for n in (15, 96, 364, 1_000, 12_800, 100_000)] == [4, 4, 7, 20, 256, 256]
    caplog.set_level("INFO", logger="lit_dnn")
    iris = TableDataModule("sklearn:iris", "target", task="classification", split_seed=42)
    iris.setup()
    assert iris.batch_size == 4 and len(iris.splits["train"][1]) == 96
    assert "data.batch_size=auto: 4 (the 96 training rows / 50, from 4 to 256), 24 batches an epoch." in caplog.text
    with pytest.raises(ConfigError, match=r"data.batch_size='many' must be a positive integer or auto\."):
        check_data(OmegaConf.create({"batch_size": "many", "path": "x.csv"}))
