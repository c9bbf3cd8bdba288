"""Files from other people, resumes and exports that a person can trust (issue "Runs you can trust")."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import ROOT, compose_cfg, run_script, tiny_overrides
from lit_dnn.train import train

CANARY = "lit_dnn_canary"


@pytest.fixture(scope="module")
def fashion_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished Fashion-MNIST run (per-pixel standardisation, the dataset's default) of 2 epochs."""
    tmp = tmp_path_factory.mktemp("fashion")
    train(compose_cfg(["data=fashion_mnist", *tiny_overrides(tiny_data)], tmp))
    return tmp / "run"


def crafted(source: Path, folder: Path, name: str, edit) -> Path:  # noqa: ANN001
    checkpoint = torch.load(source, weights_only=True)
    edit(checkpoint["hyper_parameters"], folder / CANARY)
    path = folder / f"{name}.ckpt"
    torch.save(checkpoint, path)
    return path


ATTACKS = {
    # every one of these loads with weights_only=True: they are plain dicts and strings
    "open": lambda hp, canary: hp["model"]["net"].update(init={"_target_": "builtins.open", "file": str(canary) + "_open", "mode": "w"}),
    "write_text": lambda hp, canary: hp["model"].update(
        scheduler={
            "_target_": "pathlib.Path.write_text",
            "self": {"_target_": "pathlib.Path", "_args_": [str(canary) + "_wt"]},
            "data": "import os",
        }
    ),
    "subprocess": lambda hp, canary: hp["data"].update(_target_="subprocess.run", args=["touch", str(canary) + "_sp"]),
    # the scheduler's arguments are built by Hydra: a _target_ inside a list ran on a resume before read_checkpoint walked lists
    "in_a_list": lambda hp, canary: hp["model"]["scheduler"].update(
        cycle_momentum=[{"_target_": "builtins.open", "_args_": [str(canary) + "_list", "w"]}]
    ),
    "net_target": lambda hp, canary: hp["model"]["net"].update(_target_="subprocess.run", args=["touch", str(canary) + "_net"]),
}


# each command's config and task as its script runs them (in-process: the real commands' refusal of a
# crafted file is test_malicious_pickle_is_refused_as_unsafe's and test_security.py's subprocesses)
COMMANDS = {
    "eval.py": ("eval", "lit_dnn.evaluate:evaluate", None),
    "predict.py": ("predict", "lit_dnn.predict:predict", None),
    "export.py": ("export", "lit_dnn.export:export", None),
    "train.py": ("train", "lit_dnn.train:train", "check_train_config"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_crafted_checkpoint_writes_and_runs_nothing(
    attack: str, fashion_run: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from lit_dnn import config_checks
    from lit_dnn.entry_points import run_task

    path = crafted(fashion_run / "checkpoints" / "last.ckpt", tmp_path, attack, ATTACKS[attack])
    commands = [
        ("eval.py", [f"ckpt_path={path}", f"data.data_dir={tiny_data}"]),
        ("predict.py", [f"ckpt_path={path}", f"input={tmp_path}/input.png"]),
        ("export.py", [f"ckpt_path={path}"]),
        ("train.py", [*tiny_overrides(tiny_data), f"ckpt_path={path}", "trainer.max_epochs=3"]),
    ]
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "input.png")
    for script, args in commands:
        name, task, check = COMMANDS[script]
        cfg = compose_cfg(args, tmp_path / f"out_{script}", name)
        with pytest.raises(SystemExit) as exit_info:
            run_task(task, cfg, check=getattr(config_checks, check) if check else None)
        err = capsys.readouterr().err
        assert not list(tmp_path.glob(f"{CANARY}*")) and not list(ROOT.glob(f"{CANARY}*")), (script, err[-1500:])
        assert "Traceback" not in err, (script, err[-1500:])
        # every command reads the file through read_checkpoint: a class named where lit-dnn builds none is refused by all
        assert exit_info.value.code == 2, (script, err[-1500:])
        assert err.strip().splitlines()[-1].startswith(f"Error: {path}"), (script, err[-500:])


class Evil:
    def __reduce__(self):  # noqa: ANN204
        return (os.system, (f"touch {CANARY}_pickle",))


def test_malicious_pickle_is_refused_as_unsafe(tmp_path: Path) -> None:
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"model": {}}, "payload": Evil()}, path)
    result = run_script("predict.py", [f"ckpt_path={path}", f"input={tmp_path}", f"hydra.run.dir={tmp_path}/out"])
    assert result.returncode == 2 and not list(ROOT.glob(f"{CANARY}*"))
    assert result.stderr.strip() == (
        f"Error: {path} holds pickled objects other than tensors and plain values, refused for "
        f"safety (loading them could run code); pass a .ckpt written by train.py."
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: ((d / "zero.ckpt").write_bytes(b""), d / "zero.ckpt")[1], "{} is empty (0 bytes)"),
        (lambda d: ((d / "folder").mkdir(), d / "folder")[1], "ckpt_path={} is a folder; pass a .ckpt file in it"),
        (lambda d: (torch.save({"a": 1}, d / "p.ckpt"), d / "p.ckpt")[1], "{} is a torch file but not a Lightning checkpoint"),
        (lambda d: 21, "ckpt_path=21 does not exist"),
    ],
)
def test_odd_checkpoint_files_are_one_sentence(make, message: str, tmp_path: Path) -> None:  # noqa: ANN001
    path = make(tmp_path)
    for script in ("eval.py", "train.py"):
        result = run_script(script, [f"ckpt_path={path}", f"hydra.run.dir={tmp_path}/out"])
        assert result.returncode == 2, result.stderr[-1500:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("Error: ") and message.format(path) in last, last
        assert not (tmp_path / "out").exists()  # no stray run folder


def test_last_checkpoint_is_the_last_epoch_not_the_best(tiny_data: Path, tmp_path: Path) -> None:
    """Lightning 2.6's save_last rewrites last.ckpt only with a new best; ours is every epoch's end."""
    train(
        compose_cfg(
            [
                *tiny_overrides(tiny_data),
                "trainer.max_epochs=4",
                "callbacks.model_checkpoint.monitor=val/loss",
                "callbacks.model_checkpoint.mode=max",
            ],
            tmp_path,
        )
    )
    folder = tmp_path / "run" / "checkpoints"
    last = torch.load(folder / "last.ckpt", weights_only=True)
    (best,) = folder.glob("epoch_*.ckpt")  # the worst val/loss: the first epoch, named as the screen counts it
    assert best.name == "epoch_001.ckpt"
    assert last["epoch"] == 3 and last["global_step"] == 4 * 4  # 4 epochs of 4 batches
    assert set(last["fit_metrics"]) >= {"train/loss", "train/acc", "val/loss", "val/acc", "val/acc_best"}


def test_resume_continues_the_checkpoints_run_and_refuses_other_settings(tiny_data: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    base = [o for o in tiny_overrides(tiny_data) if not o.startswith("trainer.max_epochs")] + [f"paths.log_dir={logs}"]
    first = run_script("train.py", [*base, "data=fashion_mnist", "trainer.max_epochs=3", "model.net.dropout=0.1"])
    assert first.returncode == 0, first.stderr[-2000:]
    (run,) = (logs / "train" / "runs").iterdir()
    finished = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").unlink()  # as if killed while testing: an unfinished run
    last = (run / "checkpoints" / "last.ckpt").read_bytes()

    refused = run_script("train.py", [*base, "ckpt_path=last", "data=mnist", "model.net.hidden_dims=[64]"])
    assert refused.returncode == 2
    assert re.search(
        r"resumes a run trained with other settings than this command sets \(data.dataset='mnist' "
        r"\(checkpoint: 'fashion_mnist'\); .*model.net.hidden_dims=\[64\] \(checkpoint: \[128\]\)",
        refused.stderr,
    ), refused.stderr[-1500:]
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == last and not (run / "metrics.json").exists()

    resumed = run_script("train.py", [*base, "ckpt_path=last"])  # this command's defaults: MNIST, 8 epochs, dropout 0.2
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"Resuming the unfinished run {run}" in resumed.stderr + resumed.stdout
    again = json.loads((run / "metrics.json").read_text())
    volatile = ("wall_time_s", "command_time_s", "best_model_path")
    assert {k: v for k, v in again.items() if k not in volatile} == {k: v for k, v in finished.items() if k not in volatile}
    assert again["epochs_run"] == 3 and "test/acc_per_class/Ankle boot" in again
    assert list((logs / "train" / "runs").iterdir()) == [run]  # the resume command's folder moved into the run
    (record,) = (run / "resumes").iterdir()
    assert "Resuming the unfinished run" in (record / "train.log").read_text() and (record / ".hydra" / "config.yaml").exists()


def test_exported_fashion_model_runs_the_readme_snippet(fashion_run: Path, tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "export"
    result = run_script("export.py", [f"ckpt_path={fashion_run}/checkpoints/last.ckpt", f"hydra.run.dir={out}"])
    assert result.returncode == 0, result.stderr[-2000:]
    meta = json.loads((out / "model.json").read_text())
    assert "garment" in meta["normalization"]["doc"] and np.asarray(meta["normalization"]["mean"]).shape == (28, 28)
    Image.fromarray(np.full((28, 28), 200, np.uint8)).save(out / "digit.png")
    snippet = re.search(r"```python\n(import json, numpy.*?)```", (ROOT / "docs" / "predict-export.md").read_text(), re.S).group(1)
    ran = subprocess.run([sys.executable, "-c", snippet], cwd=out, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr[-2000:]
    name, probability = ran.stdout.rsplit(" ", 1)
    assert name in meta["class_names"] and 0 < float(probability) <= 1


def test_resume_keeps_the_runs_length_in_batches(tiny_data: Path, tmp_path: Path) -> None:
    """A one-cycle schedule is planned for epochs x batches an epoch: a resume adopts the run's
    trainer.limit_train_batches, and refuses another (it stepped the schedule past its end: a traceback)."""
    logs = tmp_path / "logs"
    base = [o for o in tiny_overrides(tiny_data) if not o.startswith("trainer.max_epochs")] + [f"paths.log_dir={logs}"]
    first = run_script("train.py", [*base, "trainer.max_epochs=2", "+trainer.limit_train_batches=2"])
    assert first.returncode == 0, first.stderr[-2000:]
    (run,) = (logs / "train" / "runs").iterdir()
    (run / "metrics.json").unlink()  # as if killed while testing: an unfinished run
    last = (run / "checkpoints" / "last.ckpt").read_bytes()

    refused = run_script("train.py", [*base, "ckpt_path=last", "+trainer.limit_train_batches=3"])
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert refused.stderr.strip() == (
        f"Error: {run / 'checkpoints' / 'last.ckpt'} resumes a one-cycle learning-rate schedule planned for "
        f"trainer.limit_train_batches=2; keep trainer.limit_train_batches=2, or train a new run with model.scheduler=null "
        f"to extend training freely."
    )
    assert (run / "checkpoints" / "last.ckpt").read_bytes() == last and not (run / "metrics.json").exists()

    resumed = run_script("train.py", [*base, "ckpt_path=last"])  # the run's 2 epochs of 2 batches
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads((run / "metrics.json").read_text())["epochs_run"] == 2
    assert torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == 4


def test_a_checkpoint_from_the_manual_step_resumes_with_its_clipping(
    fashion_run: Path, tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before Lightning's automatic optimisation a checkpoint named data.batches_per_step and
    model.gradient_clip_val: the first is dropped (the updates were the same), the second becomes
    the trainer's clipping for the resumed run."""
    from lit_dnn.checkpoint import read_checkpoint
    from lit_dnn.resume import adopt_checkpoint_config
    from lit_dnn.train import build

    def old_style(hp: dict, canary: Path) -> None:
        hp["data"]["batches_per_step"] = 32
        hp["model"]["gradient_clip_val"] = 0.5

    path = crafted(fashion_run / "checkpoints" / "last.ckpt", tmp_path, "old", old_style)
    record = read_checkpoint(path).record
    assert "batches_per_step" not in record.data and "gradient_clip_val" not in record.model and record.gradient_clip_val == 0.5
    cfg = compose_cfg(tiny_overrides(tiny_data), tmp_path)
    monkeypatch.setattr("lit_dnn.resume.command_line_keys", lambda: [])  # `python train.py ckpt_path=old.ckpt`
    adopt_checkpoint_config(cfg, record, path)
    _, model, trainer = build(cfg)
    assert trainer.gradient_clip_val == 0.5 and cfg.data.dataset == "fashion_mnist"


def test_a_checkpoint_is_read_into_one_typed_record(fashion_run: Path, tmp_path: Path) -> None:
    """train.py saves ``RunRecord.hparams()``; ``read_checkpoint`` gives the same record back, typed,
    and is the only reader of a file's hyper_parameters in the package."""
    from lit_dnn.checkpoint import read_checkpoint
    from lit_dnn.errors import CheckpointError

    path = fashion_run / "checkpoints" / "last.ckpt"
    record = read_checkpoint(path).record
    assert record.hparams() == torch.load(path, weights_only=True)["hyper_parameters"]
    assert record.class_names[:2] == ["T-shirt/top", "Trouser"] and record.input_shape == (28, 28) and record.table is None
    assert record.planned_length() == {"max_epochs": 2, "limit_train_batches": None, "max_steps": -1, "accumulate_grad_batches": 1}
    bad = crafted(path, tmp_path, "typed", lambda hp, canary: hp.update(max_epochs="3"))
    with pytest.raises(CheckpointError, match=r"typed.ckpt has max_epochs='3', not an integer; pass a .ckpt written by train.py.$"):
        read_checkpoint(bad)
    src = ROOT / "src" / "lit_dnn"
    readers = sorted(p.relative_to(src).as_posix() for p in src.rglob("*.py") if '"hyper_parameters"' in p.read_text())
    assert readers == ["checkpoint.py"]
