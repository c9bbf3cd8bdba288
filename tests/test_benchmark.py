"""The benchmark runs end to end on tiny data (its figures are for the README, not asserted)."""

import re
from pathlib import Path

import pytest

from conftest import run_script


def test_benchmark_runs_and_writes_its_table(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    result = run_script(
        "scripts/benchmark.py",
        [
            "--batch-sizes",
            "32",
            "64",
            "--reps",
            "1",
            "--epochs",
            "1",
            "--run-reps",
            "1",
            "--out",
            str(out),
            "--override",
            f"data.data_dir={tiny_data}",
            "--override",
            "data.val_split=100",
            "--override",
            "data.download=false",
        ],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    table = out.read_text()
    assert "500 training samples per epoch" in table
    for batch in (32, 64):
        row = next(line for line in table.splitlines() if line.startswith(f"| {batch} |"))
        cells = [c.strip().strip("*") for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"[\d,.]+(–[\d.]+)?", c) for c in cells), row  # every column measured
    # whole runs, at the defaults on the tiny files: train.py's own peak RSS (a few hundred MB), not this process's
    header, _, row = table.splitlines()[-3:]
    assert "plain script" in header and "`python train.py`" in header
    cells = [c.replace("*", "").strip() for c in row.strip("|").split("|")]
    torch_s, lightning_s, help_s, plain_s, train_s = map(float, cells[:5])
    first_step, acc, peak = float(cells[6]), float(cells[7].rstrip("%")), int(cells[8].replace(",", ""))
    assert 0 < torch_s < lightning_s and 0 < help_s and 0 < first_step < train_s and 0 < plain_s
    assert re.fullmatch(r"[\d.]+ \([\d.]+–[\d.]+\)", cells[5]) and float(cells[5].split()[0]) == pytest.approx(train_s / plain_s, rel=0.5)
    assert 0 <= acc <= 100 and 100 < peak < 3000


def test_a_bad_override_is_one_sentence(tiny_data: Path, tmp_path: Path) -> None:
    result = run_script("scripts/benchmark.py", ["--override", f"data.data_dir={tiny_data}", "--override", "model.net.dropout=1.5"])
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "Error: model.net.dropout=1.5 is outside [0, 1); use e.g. 0.2 (0 disables dropout), or one rate per hidden layer."
    )
