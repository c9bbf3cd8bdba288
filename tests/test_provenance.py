"""Every run records what produced it: command, git state (with the uncommitted diff), packages, hardware."""

import json
import subprocess
from pathlib import Path

from lit_dnn.provenance import write_provenance


def test_provenance_records_the_commit_and_the_uncommitted_diff(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(repo)]
    subprocess.run([*run[:-2], "init", "-q", str(repo)], check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*run, "add", "train.py"], check=True)
    subprocess.run([*run, "commit", "-qm", "first"], check=True)
    commit = subprocess.run([*run, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    out = tmp_path / "run"

    assert write_provenance(out, repo) == commit
    record = json.loads((out / "provenance.json").read_text())
    assert record["git"] == {"commit": commit, "dirty": False, "diff": None}
    assert record["packages"]["torch"] and record["hardware"]["cores"] >= 1 and record["python"].count(".") == 2

    (repo / "train.py").write_text("print(2)\n")  # an uncommitted change; a rerun keeps the first record
    assert write_provenance(out, repo) == commit
    second = sorted(out.glob("provenance-*.json"))
    assert len(second) == 1 and json.loads((out / "provenance.json").read_text())["git"]["dirty"] is False
    record = json.loads(second[0].read_text())
    assert record["git"]["dirty"] is True and "+print(2)" in (out / record["git"]["diff"]).read_text()


def test_outside_git_the_record_says_so(tmp_path: Path) -> None:
    assert write_provenance(tmp_path / "run", tmp_path) is None
    record = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert record["git"]["commit"] is None and "not a git checkout" in record["git"]["note"]


def test_a_run_carries_its_commit_in_metrics_json(tiny_data: Path, tmp_path: Path) -> None:
    from conftest import ROOT, compose_cfg, tiny_overrides
    from lit_dnn.train import train

    metrics = train(compose_cfg(tiny_overrides(tiny_data), tmp_path))
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip() or None
    assert metrics["git_commit"] == head
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["git_commit"] == head
    assert json.loads((tmp_path / "run" / "provenance.json").read_text())["git"]["commit"] == head
