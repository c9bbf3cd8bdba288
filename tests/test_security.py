"""An attacker's files and a clumsy user's folders (issue "a crafted checkpoint can still run code").

The cases are scripts/attack.py's, run in this process: the tests assert every one is refused in
one sentence with nothing written, where the script prints the table for the docs.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import attack
from conftest import ROOT, run_script
from lit_dnn.callbacks.plots import ConfusionFigure
from lit_dnn.config_checks import check_reachable
from lit_dnn.errors import ConfigError, DataError
from lit_dnn.limits import MAX_CLASSES
from lit_dnn.run_dir import LOCK_FILE, claim_run_folder
from lit_dnn.text import csv_cell, printable


@pytest.fixture(scope="module")
def victim(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A real 2-epoch checkpoint (data=binary) and a work folder holding the input predict reads."""
    work = tmp_path_factory.mktemp("attack")
    source = attack.train_run(["data=binary", "trainer.max_epochs=2"], work / "victim")
    np.save(work / "input.npy", np.zeros((3, 20), np.float32))
    return source, work


def outcomes(cases: list[attack.Case], victim: tuple[Path, Path], start: int) -> dict[str, list[str]]:
    source, work = victim
    found: dict[str, list[str]] = {}
    for i, case in enumerate(cases):
        outcome, detail = attack.run_case(case, source, work, start + i)
        found.setdefault(outcome, []).append(f"{case.name} [{case.command}]: {detail}")
    return found


def test_a_payload_at_any_key_is_refused_by_every_command(victim: tuple[Path, Path]) -> None:
    """A ``_target_`` (alone, in a list, in a list of lists), an interpolation, ``_args_`` and
    ``_recursive_`` at every key of a real checkpoint: resume, eval, predict and export all refuse
    the file before building anything (the canary a payload would write is never written). Each
    case runs one command here, all four in scripts/attack.py."""
    hp = torch.load(victim[0], weights_only=True)["hyper_parameters"]
    every = attack.fuzz_cases(hp)  # each (key, payload) once per command, the commands in a row
    n = len(attack.COMMANDS)
    cases = [c for i, c in enumerate(every) if i % n == (i // n) % n]  # each once, the commands taking turns
    assert len(every) > 500 and len(cases) == len(every) // n and {c.command for c in cases} == set(attack.COMMANDS)
    found = outcomes(cases, victim, 0)
    assert set(found) == {"refused"}, found.get("FAILED", [])[:5]
    messages = found["refused"]
    assert all("pass a .ckpt written by train.py" in m for m in messages), [m for m in messages if "pass a .ckpt" not in m][:3]
    assert any("sets model.net.hidden_dims[0]._target_='builtins.open', which lit-dnn does not build" in m for m in messages)
    assert any("an interpolation lit-dnn never writes" in m for m in messages)


@pytest.mark.parametrize("group", ["sizes", "values"])
def test_sizes_and_values_that_could_not_work_are_refused(group: str, victim: tuple[Path, Path]) -> None:
    table = attack.SIZE_CASES if group == "sizes" else attack.VALUE_CASES
    cases = [attack.Case(group, name, command, make) for name, make in table.items() for command in attack.COMMANDS]
    found = outcomes(cases, victim, 10_000 if group == "sizes" else 20_000)
    assert set(found) == {"refused"}, found.get("FAILED", [])[:5]
    refused = "\n".join(found["refused"])
    assert "over lit-dnn's limit of 200,000,000 (lit_dnn.limits.MAX_PARAMETERS)" in refused or group == "values"
    assert "NaN or infinite values in net." in refused or group == "sizes"


def test_hostile_class_names_are_shown_and_written_inert(victim: tuple[Path, Path]) -> None:
    """Terminal escapes, spreadsheet formulas and rich markup in class names: predict and eval run,
    and neither the terminal output nor predictions.csv carries them live."""
    cases = [attack.Case("text", n, c, m, attack.text_is_safe) for n, m in attack.TEXT_CASES.items() for c in ("predict", "eval")]
    found = outcomes(cases, victim, 30_000)
    assert set(found) == {"ran-safe"}, found


def test_printable_and_csv_cell() -> None:
    assert printable("a\x1b[31mb\u202ec\n") == "a\\x1b[31mb\\u202ec\\n"
    assert printable("Ankle boot 한글") == "Ankle boot 한글"
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("-0.5") == "-0.5" and csv_cell(-0.5) == -0.5 and csv_cell("@SUM") == "'@SUM"
    assert csv_cell("x\x1b[2J") == "x\\x1b[2J"


def test_hostile_tables_are_refused_in_one_sentence(tmp_path: Path) -> None:
    found = {name: attack.run_plain(name, fn) for name, fn in attack.table_cases(tmp_path)}
    assert {outcome for outcome, _ in found.values()} == {"refused"}, found
    assert "more fields than its header row names" in found["every row one field too many"][1]
    assert "Expected 3 fields in line 7, saw 1000003" in found["a row with 1,000,000 extra fields"][1]
    assert found["the target listed as a feature"][1].startswith("data.features lists the target 'label'")
    assert "1,500 different texts in column 'b'" in found["1,500 distinct texts in a feature"][1]
    assert f"2,000 classes in 'label', over lit-dnn's limit of {MAX_CLASSES:,}" in found["2,000 classes in the target"][1]
    assert "a class name of 1,000 characters" in found["a 1,000-character class name"][1]


def test_a_folder_another_process_writes_is_refused(tmp_path: Path) -> None:
    """Two commands in one folder (a resume while the run trains, one hydra.run.dir twice): the
    second ends in one sentence and touches nothing; the lock dies with its process."""
    folder = tmp_path / "run"
    hold = f"from lit_dnn.run_dir import claim_run_folder as c; c({str(folder)!r}); print('held', flush=True); input()"
    holder = subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(ConfigError, match=r"is in use by another running command, which this one would overwrite"):
            claim_run_folder(folder)
        result = run_script("train.py", ["data=binary", "trainer.max_epochs=1", f"hydra.run.dir={folder}"])
        assert result.returncode == 2, result.stderr[-1500:]
        assert result.stderr.strip() == (
            f"Error: {folder} is in use by another running command, which this one would overwrite; wait for it to "
            f"finish (or stop it), or choose another folder."
        )
        assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]  # no .hydra, no log written over
    finally:
        holder.kill()
        holder.wait()
    claim_run_folder(folder)  # free once its process is gone
    claim_run_folder(folder)  # and this process may claim its own folder again


def test_an_unreachable_tracking_server_is_one_sentence() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=rf"^logger.mlflow.tracking_uri=http://127.0.0.1:{port} does not answer \("):
        check_reachable(f"http://127.0.0.1:{port}", "logger.mlflow.tracking_uri")
    check_reachable("sqlite:///logs/mlflow.db", "logger.mlflow.tracking_uri")  # a local store needs no server


def test_predictions_that_overflow_are_one_sentence(victim: tuple[Path, Path], tmp_path: Path) -> None:
    from lit_dnn.predict import predict

    checkpoint = torch.load(victim[0], weights_only=True)
    attack.first_weight(checkpoint).fill_(1e38)  # finite, but 20 inputs of ~100 sum past float32's 3.4e38
    torch.save(checkpoint, tmp_path / "huge.ckpt")
    np.save(tmp_path / "ones.npy", np.ones((4, 20), np.float32) * 100)
    cfg = attack.compose_cfg("predict", [f"ckpt_path={tmp_path / 'huge.ckpt'}", f"input={tmp_path / 'ones.npy'}"], tmp_path / "out")
    with pytest.raises(DataError, match=r"^the model's outputs are NaN or infinite for 4 of 4 inputs \(the first: "):
        predict(cfg)
    assert not (tmp_path / "out" / "predictions.csv").exists()


def test_a_confusion_matrix_of_many_classes_stays_a_readable_image() -> None:
    """1,000 classes drew a 30,000-pixel square (3.6 GB); over 60 classes the figure is colour only."""
    pixels = ConfusionFigure([f"c{i}" for i in range(MAX_CLASSES)], "test confusion matrix").draw(np.eye(MAX_CLASSES, dtype=int))
    assert pixels.shape == (2000, 2120, 3)
    assert ConfusionFigure([str(i) for i in range(10)], "t").draw(np.eye(10, dtype=int)).shape == (500, 620, 3)


def test_the_attack_script_is_the_one_documented() -> None:
    assert "python scripts/attack.py" in (ROOT / "README.md").read_text()
