"""docs/sweeps.md's optuna-dashboard command serves a sweep's study on localhost."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import optuna


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_optuna_dashboard_serves_the_sweeps_study(tmp_path: Path) -> None:
    db = tmp_path / "optuna.db"  # as a sweep leaves it: logs/train/optuna/<study_name>/optuna.db
    study = optuna.create_study(study_name="mnist_optuna", storage=f"sqlite:///{db}", direction="maximize")
    for value in (0.97, 0.98):
        trial = study.ask()
        trial.report(value - 0.01, step=1)
        study.tell(trial, value)
    pruned = study.ask()
    pruned.report(0.5, step=1)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)

    port = free_port()
    command = shutil.which("optuna-dashboard") or str(Path(sys.executable).parent / "optuna-dashboard")
    # docs/sweeps.md's command: optuna-dashboard sqlite:///logs/train/optuna/<study_name>/optuna.db
    server = subprocess.Popen([command, f"sqlite:///{db}", "--port", str(port), "--quiet"], stdout=subprocess.DEVNULL)
    try:
        deadline, studies = time.time() + 60, None
        while studies is None and time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as response:
                    studies = json.loads(response.read())
            except OSError:
                time.sleep(0.5)
        assert studies is not None, "optuna-dashboard did not answer within 60 s"
        (summary,) = studies["study_summaries"]
        assert summary["study_name"] == "mnist_optuna" and summary["directions"] == ["maximize"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies/{summary['study_id']}", timeout=10) as response:
            detail = json.loads(response.read())
        assert [t["state"] for t in detail["trials"]] == ["Complete", "Complete", "Pruned"]
        assert [t["values"] for t in detail["best_trials"]] == [[0.98]]
        assert detail["trials"][2]["intermediate_values"] == [{"step": 1, "value": 0.5}]  # the pruned trial's curve
    finally:
        server.terminate()
        server.wait(timeout=30)
