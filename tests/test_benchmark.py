"""The benchmark runs end to end on tiny data (its figures are for the README, not asserted)."""

import re
import sys
from pathlib import Path

from conftest import ROOT, run_script


def test_benchmark_runs_and_writes_its_table(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    result = run_script("scripts/benchmark.py", [
        "--batch-sizes", "32", "64", "--reps", "1", "--epochs", "1", "--no-time-to-accuracy", "--out", str(out),
        "--override", f"data.data_dir={tiny_data}", "--override", "data.val_split=100", "--override", "data.download=false",
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    table = out.read_text()
    assert "500 training samples per epoch" in table
    for batch in (32, 64):
        row = next(line for line in table.splitlines() if line.startswith(f"| {batch} |"))
        cells = [c.strip().strip("*") for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"[\d,.]+(–[\d.]+)?", c) for c in cells), row  # every column measured
