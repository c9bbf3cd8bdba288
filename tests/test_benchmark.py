"""The benchmark runs end to end on tiny data (its figures are for the README, not asserted)."""

import re
from pathlib import Path

from conftest import run_script


def test_benchmark_runs_and_writes_its_table(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.md"
    result = run_script("scripts/benchmark.py", [
        "--batch-sizes", "32", "64", "--reps", "1", "--epochs", "1", "--out", str(out),
        "--override", f"data.data_dir={tiny_data}", "--override", "data.val_split=100", "--override", "data.download=false",
    ])
    assert result.returncode == 0, result.stderr[-3000:]
    table = out.read_text()
    assert "500 training samples per epoch" in table
    for batch in (32, 64):
        row = next(line for line in table.splitlines() if line.startswith(f"| {batch} |"))
        cells = [c.strip().strip("*") for c in row.strip("|").split("|")]
        assert all(re.fullmatch(r"[\d,.]+(–[\d.]+)?", c) for c in cells), row  # every column measured
    # the full run, at the defaults on the tiny files: its own peak RSS (a few hundred MB), not this process's
    tta = re.search(r"\*\*([\d.]+) s\*\* from process start .* \*\*([\d.]+)%\*\* after (\d+) epochs; "
                    r"first training step after ([\d.]+) s; peak RSS ([\d,]+) MB", table)
    assert tta, table[-400:]
    wall, acc, epochs, first_step, peak = float(tta[1]), float(tta[2]), int(tta[3]), float(tta[4]), int(tta[5].replace(",", ""))
    assert 0 < first_step < wall and 0 <= acc <= 100 and 1 <= epochs <= 8 and 100 < peak < 3000  # early stopping may end it
