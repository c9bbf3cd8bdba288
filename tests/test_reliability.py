"""Crashes, preemption and reruns lose nothing and change nothing."""

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from fault_injection import HOOKS, inject, kill_callback

from conftest import ROOT, compose_cfg, run_script, tiny_overrides
from lit_dnn.checkpoint import read_checkpoint
from lit_dnn.checkpoint_io import AtomicCheckpointIO
from lit_dnn.errors import NonFiniteLossError
from lit_dnn.train import build, train

VOLATILE = ("wall_time_s", "command_time_s", "best_model_path")


def comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in VOLATILE}


def command(data: Path, run_dir: Path, *extra: str) -> list[str]:
    """3 epochs of 8 steps on the tiny data."""
    return [*tiny_overrides(data), "data.batch_size=64", "trainer.max_epochs=3", f"hydra.run.dir={run_dir}", *extra]


def test_sigkill_mid_training_then_resume_equals_uninterrupted(tiny_data: Path, tmp_path: Path) -> None:
    whole = run_script("train.py", command(tiny_data, tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    expected = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    # the command's own time includes Python's start-up and imports before train() starts its clock
    assert expected["command_time_s"] > expected["wall_time_s"] > 0
    took = f"Run finished in {expected['wall_time_s']:.1f} s ({expected['command_time_s']:.1f} s since the command started): "
    assert took in whole.stdout + whole.stderr

    killed = run_script("train.py", command(tiny_data, tmp_path / "killed", *kill_callback("on_train_batch_end", 12)))
    assert killed.returncode == -signal.SIGKILL  # at step 12: epoch 1 is saved, epoch 2 half done
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    assert read_checkpoint(last).raw["global_step"] == 8
    assert not (tmp_path / "killed" / "metrics.json").exists()
    events_before = set((tmp_path / "killed" / "tensorboard").glob("events.out.tfevents.*"))

    resumed = run_script("train.py", command(tiny_data, tmp_path / "resume", f"ckpt_path={last}"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    got = json.loads((tmp_path / "killed" / "metrics.json").read_text())  # the run's own folder
    assert comparable(got) == comparable(expected)
    events_after = set((tmp_path / "killed" / "tensorboard").glob("events.out.tfevents.*"))
    assert events_before and events_before < events_after  # the resumed run appends to the same logs


def _save_and_die(path: str) -> None:
    """Child process: start overwriting ``path`` and get SIGKILLed halfway through the bytes."""
    real_save = torch.save

    def half_then_kill(obj: object, f: object) -> None:
        real_save(obj, f)
        f.truncate(f.tell() // 2)
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = half_then_kill
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.ones(1000)}, "epoch": 9}, path)


def test_sigkill_while_saving_keeps_the_previous_complete_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "last.ckpt"
    AtomicCheckpointIO().save_checkpoint({"state_dict": {"w": torch.zeros(1000)}, "epoch": 3}, path)
    child = multiprocessing.get_context("fork").Process(target=_save_and_die, args=(str(path),))
    child.start()
    child.join()
    assert child.exitcode == -signal.SIGKILL
    kept = torch.load(path, weights_only=True)
    assert kept["epoch"] == 3 and torch.equal(kept["state_dict"]["w"], torch.zeros(1000))


def stopped_at_step_11(tiny_data: Path, tmp_path: Path, signal_name: str) -> tuple[subprocess.CompletedProcess, Path]:
    """A run sent ``signal_name`` at its 11th step (epoch 2 of 8 steps each): the command's result and its last.ckpt."""
    run = tmp_path / "run"
    stopped = run_script("train.py", command(tiny_data, run, *kill_callback("on_train_batch_end", 11, signal_name=signal_name)))
    return stopped, run / "checkpoints" / "last.ckpt"


def test_sigterm_saves_a_loadable_last_checkpoint(tiny_data: Path, tmp_path: Path) -> None:
    stopped, last = stopped_at_step_11(tiny_data, tmp_path, "SIGTERM")
    assert stopped.returncode == 143, stopped.stderr[-2000:]
    assert f"Stopped by SIGTERM: saved {last}" in stopped.stderr
    assert read_checkpoint(last).raw["global_step"] == 11  # written at the signal, not only at an epoch's end (8)


def test_ctrl_c_saves_and_says_how_to_resume_and_a_killed_save_leaves_nothing(tiny_data: Path, tmp_path: Path) -> None:
    stopped, last = stopped_at_step_11(tiny_data, tmp_path, "SIGINT")
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    assert f"Stopped by Ctrl+C: saved {last} at epoch 2, step 11; resume with ckpt_path={last}." in stopped.stderr
    assert read_checkpoint(last).raw["global_step"] == 11
    stale = last.with_name(f".last.ckpt.tmp-{2**22 + 7}")  # what a save killed halfway leaves
    stale.write_bytes(b"partial")
    resumed = run_script("train.py", command(tiny_data, tmp_path / "again", f"ckpt_path={last}"))
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not stale.exists()


def test_same_seed_same_metrics(tiny_data: Path, tmp_path: Path) -> None:
    first = train(compose_cfg([*tiny_overrides(tiny_data), "seed=3"], tmp_path / "a"))
    second = train(compose_cfg([*tiny_overrides(tiny_data), "seed=3"], tmp_path / "b"))
    other = train(compose_cfg([*tiny_overrides(tiny_data), "seed=4"], tmp_path / "c"))
    assert comparable(first) == comparable(second)
    assert first["train/loss"] != other["train/loss"]


def test_ckpt_path_last_resumes_only_an_unfinished_run(tiny_data: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    args = [*tiny_overrides(tiny_data), "model.scheduler=null", f"paths.log_dir={logs}"]
    assert run_script("train.py", [*args, "trainer.max_epochs=1"]).returncode == 0
    (finished,) = (logs / "train" / "runs").iterdir()
    before = digest(finished)
    refused = run_script("train.py", [*args, "trainer.max_epochs=2", "ckpt_path=last"])
    assert refused.returncode == 2
    assert (
        refused.stderr.strip()
        .splitlines()[-1]
        .startswith(f"Error: ckpt_path=last found no unfinished run to resume under {logs}/train (1 finished, whose results are kept)")
    )
    # train on from the finished run's checkpoint: a new folder, the finished run untouched
    extended = run_script("train.py", [*args, "trainer.max_epochs=2", f"ckpt_path={finished}/checkpoints/last.ckpt"])
    assert extended.returncode == 0, extended.stderr[-2000:]
    assert digest(finished) == before
    (new,) = {p for p in (logs / "train" / "runs").iterdir() if p != finished and (p / "metrics.json").exists()}
    assert json.loads((new / "metrics.json").read_text())["epochs_run"] == 2


def digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def test_failing_runs_leave_earlier_runs_untouched(tiny_data: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    args = [*tiny_overrides(tiny_data), f"paths.log_dir={logs}"]
    assert run_script("train.py", args).returncode == 0
    (run,) = (logs / "train" / "runs").iterdir()
    before = digest(run)
    failures = [
        ["model.net.dropout=2"],
        ["ckpt_path=last", "model.net.hidden_dims=[64]"],
        ["ckpt_path=last", "trainer.max_epochs=9"],
        ["data.data_dir=/nonexistent", "data.download=false"],
    ]
    for extra in failures:
        result = run_script("train.py", [*args, *extra])
        assert result.returncode == 2, (extra, result.stderr[-1000:])
    assert digest(run) == before


@pytest.mark.parametrize("batch_size", [128, 16], ids=["checked at epoch end", "checked every 16 batches"])
def test_non_finite_loss_stops_with_step_and_keeps_last_good_checkpoint(batch_size: int, tiny_data: Path, tmp_path: Path) -> None:
    cfg = compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=3", f"data.batch_size={batch_size}"], tmp_path)
    datamodule, model, trainer = build(cfg)
    forward = model.net.forward
    calls = {"n": 0}

    def poisoned(x: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        out = forward(x)
        return out * float("nan") if model.training and trainer.current_epoch == 1 and calls["n"] > 8 else out

    model.net.forward = poisoned
    with pytest.raises(NonFiniteLossError, match=r"the training loss became nan at epoch 2, step \d+"):
        trainer.fit(model, datamodule=datamodule)
    last = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt").raw
    assert last["epoch"] == 0 and all(torch.isfinite(v).all() for v in last["state_dict"].values() if v.is_floating_point())


def test_nan_from_the_command_line_is_one_sentence(tmp_path: Path) -> None:
    result = run_script(
        "train.py",
        [
            "data=binary",
            "model.optimizer._target_=torch.optim.SGD",
            "model.optimizer.lr=1e30",
            "model.scheduler=null",
            f"hydra.run.dir={tmp_path}/run",
        ],
    )
    assert result.returncode == 2
    assert "Error: the training loss became nan at epoch 1, step" in result.stderr.strip().splitlines()[-1]


def forked(command: list[str]) -> subprocess.CompletedProcess:
    """fault_injection's ``python train.py ...`` commands, run by ``run_script``."""
    assert command[:2] == [sys.executable, str(ROOT / "train.py")]
    return run_script("train.py", command[2:], timeout=600)


def test_killed_at_every_kind_of_moment_resumes_to_the_same_metrics(tiny_data: Path, tmp_path: Path) -> None:
    """scripts/fault_injection.py on tiny data: one kill in training, validation, a checkpoint save,
    testing and at the end of testing (docs/reliability.md reports its 10-kill run on the real MNIST)."""
    extra = ["data.val_split=100", "data.batch_size=64"]  # 8 training steps an epoch
    rows = inject(tiny_data, tmp_path, kills=len(HOOKS), epochs=3, seed=0, extra=extra, first_epoch=2, run=forked)
    killed, first = rows[: len(HOOKS)], rows[len(HOOKS) :]
    assert [r["moment"].split()[0] for r in killed] == list(HOOKS)
    assert all(r["killed_exit"] == -signal.SIGKILL for r in killed), rows
    assert [r["identical"] for r in killed] == [True] * len(HOOKS), rows
    # the first epoch, at random steps: a SIGKILL (nothing saved: started again, the same run), then a
    # Ctrl+C (a mid-epoch checkpoint that ckpt_path=last finishes)
    assert [r["signal"] for r in first] == ["SIGKILL", "SIGINT"], rows
    assert all(int(r["moment"].split("#")[1].split()[0]) <= 8 for r in first), rows  # "on_train_batch_end #5 of 24"
    assert [r["then"] for r in first] == ["started again (nothing saved yet)", "ckpt_path=last"], rows
    assert [r["exit"] for r in first] == [0, 0] and first[0]["identical"], rows
    assert first[1]["killed_exit"] == 1, rows  # Ctrl+C: saved, said how to resume, exit 1


def test_disk_full_while_saving_is_one_sentence_and_keeps_the_last_checkpoint(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import errno

    from lit_dnn.entry_points import run_task

    real_save, saves = torch.save, {"n": 0}

    def full_after_two(obj: object, f: object) -> None:
        saves["n"] += 1
        if saves["n"] > 2:  # epoch 0: the best and last.ckpt; then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(getattr(f, "name", f)))
        real_save(obj, f)

    monkeypatch.setattr(torch, "save", full_after_two)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=3"], tmp_path))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("Error: could not write ") and "(No space left on device); free disk space" in err
    monkeypatch.setattr(torch, "save", real_save)
    assert read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt").raw["epoch"] == 0
    assert not list((tmp_path / "run" / "checkpoints").glob(".*tmp*"))


def test_sigterm_while_writing_the_results_is_one_sentence(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """After testing, Lightning's SIGTERM handling is over: the process used to end with -15 and no word."""
    import lit_dnn.results
    from lit_dnn.entry_points import run_task

    def terminated(path: Path, data: dict) -> None:
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(lit_dnn.results, "write_json", terminated)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, compose_cfg(tiny_overrides(tiny_data), tmp_path))
    assert exit_info.value.code == 143
    run = tmp_path / "run"
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"Stopped by SIGTERM: while writing the results; the run is unfinished: ckpt_path=last finishes it ({run})."
    )
    assert not (run / "metrics.json").exists() and read_checkpoint(run / "checkpoints" / "last.ckpt").raw["epoch"] == 1
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler lived only while writing


def test_the_same_command_twice_never_overwrites_the_first_result(tiny_data: Path, tmp_path: Path) -> None:
    args = [*tiny_overrides(tiny_data), "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}/run"]
    assert run_script("train.py", args).returncode == 0
    before = digest(tmp_path / "run")
    again = run_script("train.py", args)
    assert again.returncode == 2
    assert again.stderr.strip().splitlines() == [
        f"Error: hydra.run.dir={tmp_path}/run holds the results of an earlier run (its metrics.json), which this run "
        f"would overwrite; choose another folder, or leave hydra.run.dir out for a new one."
    ]
    assert digest(tmp_path / "run") == before  # Hydra's config copy and log included


def test_ctrl_c_in_the_first_epoch_then_resume_as_typed(tmp_path: Path) -> None:
    """The command a user types (progress bar and one-cycle schedule on), Ctrl+C at the 5th of the
    first epoch's 22 steps, then the printed ckpt_path: the resume finishes (it crashed in the
    progress bar, then stepped the one-cycle schedule one step past its plan)."""
    run = tmp_path / "run"
    args = ["data=binary", "trainer.max_epochs=2", "logger=csv", f"hydra.run.dir={run}"]
    stopped = run_script("train.py", [*args, *kill_callback("on_train_batch_end", 5, signal_name="SIGINT")])
    assert stopped.returncode == 1, stopped.stderr[-3000:]
    last = run / "checkpoints" / "last.ckpt"
    printed = stopped.stdout + stopped.stderr
    assert f"Stopped by Ctrl+C: saved {last} at epoch 1, step 5; resume with ckpt_path={last}." in printed, printed[-2000:]
    saved = torch.load(last, weights_only=True)
    assert (saved["epoch"], saved["global_step"]) == (0, 5)  # still the first epoch
    resumed = run_script("train.py", [f"ckpt_path={last}", *args[:-1]])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Epoch 1/2 - " in resumed.stdout + resumed.stderr and (run / "metrics.json").is_file()
