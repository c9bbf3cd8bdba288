"""Sweeps run the way a user runs them: the real command (run_script), synthetic binary data."""

import csv
import json
import os
import signal
import time
from pathlib import Path

import optuna
import pytest
from hydra import compose, initialize_config_dir

from conftest import ROOT, run_script, start_script

FAST = ["data=binary", "trainer.max_epochs=2", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]


def summary(sweep: Path) -> list[dict]:
    with open(sweep / "summary.csv") as f:
        return list(csv.DictReader(f))


def test_grid_gives_one_folder_per_combination_and_a_summary(tmp_path: Path) -> None:
    sweep = tmp_path / "grid"
    args = ["-m", *FAST, "model.net.dropout=0.1,0.3", "model.optimizer.lr=0.001,0.01", f"hydra.sweep.dir={sweep}"]
    result = run_script("train.py", args)
    assert result.returncode == 0, result.stderr[-2000:]
    for job in range(4):
        folder = sweep / str(job)
        assert (folder / "metrics.json").exists() and (folder / "checkpoints" / "last.ckpt").exists()
        assert list((folder / "tensorboard").glob("events.out.tfevents.*"))
    rows = summary(sweep)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    values = [float(r["val/acc_best"]) for r in rows]
    assert values == sorted(values, reverse=True)
    assert {r["overrides"].split("dropout=")[1].split()[0] + "/" + r["overrides"].split("lr=")[1].split()[0] for r in rows} == {
        "0.1/0.001",
        "0.1/0.01",
        "0.3/0.001",
        "0.3/0.01",
    }
    assert (sweep / "summary.md").read_text().count("| ok |") == 4


def test_a_failing_job_does_not_end_the_sweep(tmp_path: Path) -> None:
    sweep = tmp_path / "fail"
    result = run_script("train.py", ["-m", *FAST, "model.net.dropout=0.2,1.5", f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {r["overrides"].split("dropout=")[1].split()[0]: r for r in summary(sweep)}
    assert rows["0.2"]["status"] == "ok" and float(rows["0.2"]["test/acc"]) > 0.5
    assert rows["1.5"]["status"] == (
        "failed: ConfigError: model.net.dropout=1.5 is outside [0, 1); use e.g. 0.2 (0 disables dropout), or one rate per hidden layer."
    )
    assert summary(sweep)[-1]["overrides"].endswith("dropout=1.5")  # failures sort last


def optuna_command(log_dir: Path, *extra: str) -> list[str]:
    return [
        "-m",
        "hparams_search=binary_optuna",
        *FAST,
        f"paths.log_dir={log_dir}",
        "hydra.sweeper.n_trials=4",
        *extra,
    ]


def study(log_dir: Path) -> optuna.Study:
    db = log_dir / "train" / "optuna" / "binary_optuna" / "optuna.db"
    return optuna.load_study(study_name="binary_optuna", storage=f"sqlite:///{db}")


def test_optuna_search_interrupted_resumes_to_exactly_n_trials(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    proc = start_script("train.py", optuna_command(logs))
    third = logs / "train" / "optuna" / "binary_optuna" / "trial_0002" / ".hydra"
    deadline = time.time() + 180
    while not third.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # two trials done, the third under way
    proc.communicate()
    assert len(study(logs).get_trials(states=(optuna.trial.TrialState.COMPLETE,))) == 2

    assert study(logs).trials[2].state == optuna.trial.TrialState.RUNNING  # what the killed worker left

    again = run_script("train.py", optuna_command(logs))
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Trial 2 was left running by a stopped worker" in again.stderr + again.stdout
    assert "3 trials finished of 4" in again.stderr + again.stdout  # the killed trial counts as failed
    trials = study(logs).trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert trials[3].params not in (trials[0].params, trials[1].params)  # the rerun's sampler is seeded anew


def test_unknown_optimized_metric_fails_before_any_trial(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = run_script("train.py", optuna_command(logs, "optimized_metric=val/accuracy"))
    assert result.returncode == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("Error: optimized_metric='val/accuracy' is not a metric this run logs; use one of train/loss, train/acc, val/acc_best")
    )
    assert not list(logs.glob("train/optuna/*/trial_*"))


def run_two_workers(logs: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    """Two Optuna workers on one study at once (sampler seeds 0 and 1), each to its end."""
    workers = [start_script("train.py", optuna_command(logs, f"hydra.sweeper.sampler.seed={i}", *extra), env) for i in range(2)]
    for w in workers:
        done = w.communicate(timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=submitit_local"]])
def test_launchers_complete_a_two_job_sweep(launcher: list[str], tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    result = run_script("train.py", ["-m", *FAST, "model.net.dropout=0.1,0.3", *launcher, f"hydra.sweep.dir={sweep}"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert [r["status"] for r in summary(sweep)] == ["ok", "ok"]


def test_slurm_launcher_config_composes() -> None:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm"], return_hydra_config=True)
    assert cfg.hydra.launcher._target_.endswith("SlurmLauncher") and cfg.hydra.launcher.gpus_per_node == 1


def test_median_pruner_stops_trials_and_the_study_and_summary_say_so(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    pruned_run = ["hydra.sweeper.pruner=median", "hydra.sweeper.n_trials=8", "trainer.max_epochs=4"]
    result = run_script("train.py", optuna_command(logs, *pruned_run))
    assert result.returncode == 0, result.stderr[-3000:]
    trials = study(logs).trials
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(trials) == 8 and pruned and len(pruned) + len(complete) == 8
    for trial in complete:  # every epoch of every trial reached the study, from the job's own process
        assert sorted(trial.intermediate_values) == [1, 2, 3, 4]
    sweep = logs / "train" / "optuna" / "binary_optuna"
    summary = (sweep / "summary.md").read_text()
    for trial in pruned:
        last = max(trial.intermediate_values)
        assert 2 <= last < 4  # the median pruner waits 2 epochs; a pruned trial stops before the end
        metrics = json.loads((sweep / f"trial_{trial.number:04d}" / "metrics.json").read_text())
        assert metrics["pruned_at_epoch"] == last == metrics["epochs_run"] and "test/acc" not in metrics
        assert f"| trial_{trial.number:04d} |" in summary
        assert f"pruned at epoch {last}" in summary.split(f"| trial_{trial.number:04d} |")[1].splitlines()[0]
    assert "+optuna_trial" not in summary


def test_unknown_pruner_is_one_sentence(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    result = run_script("train.py", optuna_command(logs, "hydra.sweeper.pruner=mean"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "Error: hydra.sweeper.pruner=mean is not one of median, hyperband or null."
    assert not list(logs.glob("train/optuna/*/trial_*"))


def test_optuna_trial_by_hand_is_one_sentence(tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = run_script("train.py", [*FAST, "+optuna_trial=3", f"hydra.run.dir={run}"])
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: optuna_trial is what the Optuna sweeper gives its trials' jobs when it prunes (hydra.sweeper.pruner); "
        "remove +optuna_trial from the command."
    )
    assert not run.exists()


def test_an_optuna_sweep_tests_only_its_best_trial_once(tmp_path: Path) -> None:
    """Trials are chosen on validation (test=false); the winner's best checkpoint is tested once, by eval.py."""
    logs = tmp_path / "logs"
    result = run_script("train.py", optuna_command(logs, "hydra.sweeper.n_trials=2"))
    assert result.returncode == 0, result.stderr[-2000:]
    sweep = logs / "train" / "optuna" / "binary_optuna"
    rows = summary(sweep)
    assert len(rows) == 2 and all("test/acc" not in json.loads((sweep / r["job"] / "metrics.json").read_text()) for r in rows)
    (tested,) = (sweep / "winner_test").iterdir()
    metrics = json.loads((tested / "metrics.json").read_text())
    best = json.loads((sweep / rows[0]["job"] / "metrics.json").read_text())["best_model_path"]
    assert metrics["ckpt_path"] == best and 0 <= metrics["test/acc"] <= 1
    line = f"The best trial, {rows[0]['job']}, tested once: acc {metrics['test/acc']:.4f}"
    assert line in result.stderr + result.stdout and line in (sweep / "summary.md").read_text()


def test_two_optuna_workers_with_ddp_jobs_share_one_study(tmp_path: Path) -> None:
    """Two workers on one study (both workers' trials are in it), each trial a DDP job of two
    processes (ddp_spawn: Lightning's default ddp would start each process by running the sweep's
    command again, and is refused)."""
    logs = tmp_path / "logs"
    ddp = [
        "trainer=ddp_sim",
        "trainer.strategy=ddp_spawn",
        "hydra.sweeper.n_trials=2",
        "+callbacks.index_recorder._target_=ddp_probe.IndexRecorder",
        "+callbacks.index_recorder.output_dir=${hydra:runtime.output_dir}/indices",
    ]
    run_two_workers(logs, *ddp, env={"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])})
    trials = study(logs).get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    assert len(trials) >= 3 and len({t.user_attrs["worker"] for t in trials}) == 2
    folders = sorted((logs / "train" / "optuna" / "binary_optuna").glob("trial_*/indices"))
    assert len(folders) >= 3 and all((f / "indices_rank1_epoch1.json").exists() for f in folders)  # two processes a trial

    plain_ddp = run_script("train.py", ["-m", *FAST, "trainer=ddp_sim", "model.net.dropout=0.1", f"hydra.sweep.dir={tmp_path / 'grid'}"])
    assert summary(tmp_path / "grid")[0]["status"].startswith(
        "failed: ConfigError: trainer.strategy=ddp cannot run a sweep's jobs (-m): Lightning starts the other processes"
    ), plain_ddp.stderr[-2000:]
