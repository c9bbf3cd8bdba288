"""Crashes, preemption and reruns lose nothing and change nothing."""

import hashlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from conftest import ROOT, compose_cfg, run_script, tiny_overrides, write_dataset
from lit_dnn.checkpoint import read_checkpoint
from lit_dnn.checkpoint_io import AtomicCheckpointIO
from lit_dnn.errors import NonFiniteLossError
from lit_dnn.train import build, train

VOLATILE = ("wall_time_s", "command_time_s", "best_model_path")


def comparable(metrics: dict) -> dict:
    return {k: v for k, v in metrics.items() if k not in VOLATILE}


@pytest.fixture(scope="module")
def medium_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough batches (~370 an epoch at batch 16) to stop a run in the middle of training."""
    return write_dataset(tmp_path_factory.mktemp("medium"), n_train=6000, n_test=300)


def command(data: Path, run_dir: Path, *extra: str) -> list[str]:
    return [*tiny_overrides(data), "data.batch_size=16", "trainer.max_epochs=4", f"hydra.run.dir={run_dir}", *extra]


def default_sigint() -> None:
    """In the child: Ctrl+C as a user's terminal delivers it. A process inherits an ignored SIGINT, and
    Lightning ignores SIGINT in its own process once it has handled a Ctrl+C (trainer/call.py)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "train.py"), *args],
        cwd=ROOT,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        preexec_fn=default_sigint,
    )


def wait_for_epoch(path: Path, epoch: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if path.exists() and torch.load(path, weights_only=True)["epoch"] >= epoch:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached epoch {epoch} (exit code {proc.poll()})")


def test_sigkill_mid_training_then_resume_equals_uninterrupted(medium_data: Path, tmp_path: Path) -> None:
    whole = run_script("train.py", command(medium_data, tmp_path / "whole"))
    assert whole.returncode == 0, whole.stderr[-2000:]
    expected = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    # the command's own time includes Python's start-up and imports before train() starts its clock
    assert expected["command_time_s"] > expected["wall_time_s"] > 0
    took = f"Run finished in {expected['wall_time_s']:.1f} s ({expected['command_time_s']:.1f} s since the command started): "
    assert took in whole.stdout + whole.stderr

    proc = start(command(medium_data, tmp_path / "killed"))
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    wait_for_epoch(last, 1, proc)  # epoch 1 is done; epoch 2 is under way
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "killed" / "metrics.json").exists()
    events_before = set((tmp_path / "killed" / "tensorboard").glob("events.out.tfevents.*"))

    resumed = run_script("train.py", command(medium_data, tmp_path / "resume", f"ckpt_path={last}"))
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


def test_sigterm_saves_a_loadable_last_checkpoint(medium_data: Path, tmp_path: Path) -> None:
    proc = start(command(medium_data, tmp_path / "run", "trainer.max_epochs=50", "model.scheduler=null"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    wait_for_epoch(last, 0, proc)
    before = last.stat().st_mtime_ns
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert f"Stopped by SIGTERM: saved {last}" in err
    assert last.stat().st_mtime_ns != before  # written at the signal, not only at the last epoch end
    assert read_checkpoint(last).raw["global_step"] > 0


def test_ctrl_c_saves_and_says_how_to_resume_and_a_killed_save_leaves_nothing(medium_data: Path, tmp_path: Path) -> None:
    # no early stopping (the default): the run is still training when the signal comes, however slow the machine
    proc = start(command(medium_data, tmp_path / "run", "trainer.max_epochs=50", "model.scheduler=null"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    wait_for_epoch(last, 0, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, err[-3000:]
    assert f"Stopped by Ctrl+C: saved {last} at epoch " in err and f"; resume with ckpt_path={last}." in err
    saved = read_checkpoint(last).raw
    assert saved["global_step"] > 0
    stale = last.with_name(f".last.ckpt.tmp-{2**22 + 7}")  # what a save killed halfway leaves
    stale.write_bytes(b"partial")
    resumed = run_script(
        "train.py", command(medium_data, tmp_path / "again", f"ckpt_path={last}", "trainer.max_epochs=2", "model.scheduler=null")
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not stale.exists()


def test_same_seed_same_metrics(tiny_data: Path, tmp_path: Path) -> None:
    first = train(compose_cfg([*tiny_overrides(tiny_data), "seed=3"], tmp_path / "a"))
    second = train(compose_cfg([*tiny_overrides(tiny_data), "seed=3"], tmp_path / "b"))
    other = train(compose_cfg([*tiny_overrides(tiny_data), "seed=4"], tmp_path / "c"))
    assert comparable(first) == comparable(second)
    assert first["train/loss"] != other["train/loss"]


def test_ckpt_path_last_resumes_only_an_unfinished_run(medium_data: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    args = [*tiny_overrides(medium_data), "model.scheduler=null", f"paths.log_dir={logs}"]
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


def test_killed_at_every_kind_of_moment_resumes_to_the_same_metrics(tiny_data: Path, tmp_path: Path) -> None:
    """scripts/fault_injection.py on tiny data: one kill in training, validation, a checkpoint save,
    testing and at the end of testing (the README reports its 10-kill run on the real MNIST)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from fault_injection import HOOKS, inject

    extra = ["data.val_split=100", "data.batch_size=64"]  # 8 training steps an epoch
    rows = inject(tiny_data, tmp_path, kills=len(HOOKS), epochs=3, seed=0, extra=extra, first_epoch=3)
    killed, first = rows[: len(HOOKS)], rows[len(HOOKS) :]
    assert [r["moment"].split()[0] for r in killed] == list(HOOKS)
    assert all(r["killed_exit"] == -signal.SIGKILL for r in killed), rows
    assert [r["identical"] for r in killed] == [True] * len(HOOKS), rows
    # the first epoch, at random steps: a SIGKILL (nothing saved: started again, the same run), a Ctrl+C
    # (a mid-epoch checkpoint that ckpt_path=last finishes), a SIGKILL
    assert [r["signal"] for r in first] == ["SIGKILL", "SIGINT", "SIGKILL"], rows
    assert all(int(r["moment"].split("#")[1].split()[0]) <= 8 for r in first), rows  # "on_train_batch_end #5 of 24"
    assert [r["then"] for r in first] == ["started again (nothing saved yet)", "ckpt_path=last", "started again (nothing saved yet)"], rows
    assert [r["exit"] for r in first] == [0, 0, 0] and first[0]["identical"] and first[2]["identical"], rows
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
    """The command a user types (progress bar and one-cycle schedule on), Ctrl+C inside the first
    epoch, then the printed ckpt_path: the resume finishes (it crashed in the progress bar, then
    stepped the one-cycle schedule one step past its plan)."""
    run = tmp_path / "run"
    args = ["data=binary", "data.n_samples=400000", "data.batch_size=32", "trainer.max_epochs=2", "logger=csv", f"hydra.run.dir={run}"]
    log = tmp_path / "out.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "train.py"), *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=default_sigint
        )
        deadline = time.time() + 120
        while "Training starts" not in log.read_text() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.05)
        time.sleep(1.0)  # inside the first epoch (about 5 s of 10,938 steps here)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 1, log.read_text()[-3000:]
    last = run / "checkpoints" / "last.ckpt"
    printed = log.read_text()
    assert f"Stopped by Ctrl+C: saved {last} at epoch 1, step " in printed, printed[-2000:]
    assert torch.load(last, weights_only=True)["epoch"] == 0  # still the first epoch
    resumed = run_script("train.py", [f"ckpt_path={last}", *args[:-1]])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "Epoch 1/2 - " in resumed.stdout + resumed.stderr and (run / "metrics.json").is_file()
