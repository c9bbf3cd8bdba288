"""The benchmark runs end to end on tiny data (its figures are for docs/benchmarks.md, not asserted)."""

import datetime
import re
from pathlib import Path

import pytest

from conftest import ROOT, run_script


def test_benchmark_runs_and_writes_its_table(tiny_data: Path, tmp_path: Path) -> None:
    from benchmark import LATEST, RUN_LOG

    out = tmp_path / "benchmarks.md"  # a copy of the docs page: the run lands between its markers
    out.write_text((ROOT / "docs" / "benchmarks.md").read_text())
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
    page = out.read_text()
    table = page.split(LATEST[0])[1].split(LATEST[1])[0].strip()
    row = page.split(RUN_LOG[1])[0].strip().splitlines()[-1]
    assert re.fullmatch(
        rf"\| {datetime.date.today()} \| \S+ \| .+ \| `--batch-sizes 32 64 .+` \| 32: [\d.]+, 64: [\d.]+ \| 32: [\d.]+, 64: [\d.]+ "
        r"\| [\d.]+ \| [\d.]+ \| [\d.]+% \|",
        row,
    ), row
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


def test_publish_replaces_the_latest_run_and_adds_a_log_row_keeping_the_text(tmp_path: Path) -> None:
    """docs/benchmarks.md is generated where its markers say: the latest run replaced, one row more in
    the run log, every hand-written line kept (the script's own run writes it the same way above)."""
    from benchmark import LATEST, RUN_LOG, publish

    page = tmp_path / "benchmarks.md"
    before = (ROOT / "docs" / "benchmarks.md").read_text()
    page.write_text(before)
    publish(page, "first tables\n", "| row 1 |")
    publish(page, "second tables\n", "| row 2 |")
    after = page.read_text()
    assert after.split(LATEST[0])[1].split(LATEST[1])[0].strip() == "second tables"
    log = after.split(RUN_LOG[0])[1].split(RUN_LOG[1])[0]
    assert log.strip().splitlines()[-2:] == ["| row 1 |", "| row 2 |"] and log.count("| date | commit |") == 1
    hand_written = before.split(LATEST[0])[0] + before.split(LATEST[1])[1].split(RUN_LOG[0])[0] + before.split(RUN_LOG[1])[1]
    assert all(line in after for line in hand_written.splitlines())
    publish(tmp_path / "other.md", "tables alone\n", "| row |")  # a file without the markers gets the tables
    assert (tmp_path / "other.md").read_text() == "tables alone\n"
