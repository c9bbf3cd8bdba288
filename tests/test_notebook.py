"""notebooks/quickstart.ipynb runs top to bottom (on the tiny digits instead of MNIST), and the
Python API it uses returns what the command writes."""

import json
from pathlib import Path

import matplotlib
import pytest

from conftest import ROOT, tiny_overrides
from lit_dnn.api import fit
from lit_dnn.errors import ConfigError


def test_quickstart_notebook_executes(tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    matplotlib.use("Agg")
    monkeypatch.setenv("PROJECT_ROOT", str(ROOT))
    notebook = json.loads((ROOT / "notebooks" / "quickstart.ipynb").read_text())
    code = ["".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code"]
    tiny = [*tiny_overrides(tiny_data), "trainer.max_epochs=3", f"paths.log_dir={tmp_path}/logs"]
    assert '["data=mnist", "trainer.max_epochs=3"]' in code[0]
    code[0] = code[0].replace('["data=mnist", "trainer.max_epochs=3"]', repr(tiny))
    namespace: dict = {}
    for source in code:
        exec(compile(source, "quickstart.ipynb", "exec"), namespace)  # noqa: S102 - the notebook's own cells
    result, history = namespace["result"], namespace["history"]
    assert result.metrics["test/acc"] > 0.9 and list(history.index) == [1, 2, 3]
    assert list(history.columns) == ["loss", "val_loss", "acc", "val_acc"]
    assert result.run_dir.parent == tmp_path / "logs" / "notebook" / "runs"
    assert (result.run_dir / "notebook_history.png").exists() and (result.run_dir / "metrics.json").exists()


def test_fit_returns_metrics_and_history_as_the_command_writes_them(tiny_data: Path, tmp_path: Path) -> None:
    result = fit([*tiny_overrides(tiny_data), "trainer.max_epochs=2"], run_dir=tmp_path / "run")
    assert result.metrics == pytest.approx(json.loads((tmp_path / "run" / "metrics.json").read_text()))
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert result.history[-1]["val_acc"] == pytest.approx(result.metrics["val/acc"])
    with pytest.raises(ConfigError, match="holds the results of an earlier run"):  # a rerun never overwrites
        fit([*tiny_overrides(tiny_data), "trainer.max_epochs=2"], run_dir=tmp_path / "run")
    with pytest.raises(ConfigError, match="model.net.dropout=1.5 is outside"):
        fit([*tiny_overrides(tiny_data), "model.net.dropout=1.5"], run_dir=tmp_path / "bad")
