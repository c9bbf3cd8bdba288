"""notebooks/quickstart.ipynb runs top to bottom (on the tiny digits instead of MNIST), and the
Python API it uses returns what the command writes."""

import csv
import json
from pathlib import Path

import matplotlib
import pytest

from conftest import ROOT, tiny_overrides
from lit_dnn.api import fit
from lit_dnn.errors import ConfigError


def test_quickstart_notebook_executes(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    matplotlib.use("Agg")
    monkeypatch.setenv("PROJECT_ROOT", str(ROOT))
    notebook = json.loads((ROOT / "notebooks" / "quickstart.ipynb").read_text())
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    # the tiny digits, with the progress bar a user sees (its one line per epoch)
    tiny = [o for o in tiny_overrides(tiny_data) if "progress_bar" not in o] + ["trainer.max_epochs=3", f"paths.log_dir={tmp_path}/logs"]
    assert '["data=mnist", "trainer.max_epochs=3"]' in code[0]
    code[0] = code[0].replace('["data=mnist", "trainer.max_epochs=3"]', repr(tiny))
    call = 'predict(result.metrics["best_model_path"], result.run_dir / "ten_test_digits.npy")'
    assert call in code[3]
    code[3] = code[3].replace(call, call[:-1] + f', ["paths.log_dir={tmp_path}/logs"])')
    namespace: dict = {}
    for source in code:
        exec(compile(source, "quickstart.ipynb", "exec"), namespace)  # noqa: S102 - the notebook's own cells
    result, history = namespace["result"], namespace["history"]
    assert result.metrics["test/acc"] > 0.9 and list(history.index) == [1, 2, 3]
    assert list(history.columns) == ["loss", "val_loss", "acc", "val_acc"]
    assert result.run_dir.parent == tmp_path / "logs" / "notebook" / "runs"
    assert (result.run_dir / "notebook_history.png").exists() and (result.run_dir / "metrics.json").exists()
    # fit() shows what python train.py prints, and keeps it in train.log as the command does
    shown = capsys.readouterr().out
    for line in ("Total params: 101,770", "Epoch 1/3 - ", "Epoch 3/3 - ", "Test: acc ", "Run finished in "):
        assert line in shown and line in (result.run_dir / "train.log").read_text()
    # predict() on ten test digits: the rows predict.py writes, mostly right
    rows = namespace["rows"]
    assert [row["input"] for row in rows] == [f"ten_test_digits.npy[{i}]" for i in range(10)]
    predicted = [row["predicted"] for row in rows]
    truth = [str(label) for label in namespace["labels"][:10].tolist()]
    assert sum(p == t for p, t in zip(predicted, truth)) >= 8
    written = list(csv.DictReader(open(next((tmp_path / "logs" / "notebook" / "predict").glob("*/predictions.csv")))))
    assert [row["predicted"] for row in written] == predicted
    # predict() again into the same folder: refused, the first predictions.csv kept
    folder = next((tmp_path / "logs" / "notebook" / "predict").glob("*/predictions.csv")).parent
    with pytest.raises(ConfigError, match=r"holds the results of an earlier run \(its predictions.csv\)"):
        namespace["predict"](result.metrics["best_model_path"], result.run_dir / "ten_test_digits.npy", run_dir=folder)
    assert [row["predicted"] for row in csv.DictReader(open(folder / "predictions.csv"))] == predicted


def test_fit_returns_metrics_and_history_as_the_command_writes_them(tiny_data: Path, tmp_path: Path) -> None:
    result = fit([*tiny_overrides(tiny_data), "trainer.max_epochs=2"], run_dir=tmp_path / "run")
    assert result.metrics == pytest.approx(json.loads((tmp_path / "run" / "metrics.json").read_text()))
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert result.history[-1]["val_acc"] == pytest.approx(result.metrics["val/acc"])
    with pytest.raises(ConfigError, match="holds the results of an earlier run"):  # a rerun never overwrites
        fit([*tiny_overrides(tiny_data), "trainer.max_epochs=2"], run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="model.net.dropout=1.5 is outside"):
        fit([*tiny_overrides(tiny_data), "model.net.dropout=1.5"], run_dir=tmp_path / "bad")
