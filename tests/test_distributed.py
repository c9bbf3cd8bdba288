"""trainer=ddp_sim for real: two gloo processes on the CPU."""

import json
import os
from pathlib import Path

import pytest
import torch

from conftest import ROOT, compose_cfg, run_script
from lit_dnn.evaluate import evaluate

PROBE = ["+callbacks.index_recorder._target_=ddp_probe.IndexRecorder"]


def run_ddp(tmp_path: Path, data_args: list[str]) -> tuple[Path, dict]:
    logs = tmp_path / "logs"
    result = run_script(
        "train.py",
        [
            "trainer=ddp_sim",
            *data_args,
            "trainer.max_epochs=2",
            f"paths.log_dir={logs}",
            *PROBE,
            f"+callbacks.index_recorder.output_dir={tmp_path}/indices",
            "callbacks.progress_bar=null",
            "+trainer.enable_progress_bar=false",
        ],
        env={"PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")])},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    runs = list((logs / "train" / "runs").iterdir())
    assert len(runs) == 1, runs  # one run folder for both processes
    assert result.stdout.count("Run finished") + result.stderr.count("Run finished") == 1  # printed by rank 0 only
    return runs[0], json.loads((runs[0] / "metrics.json").read_text())


def check_epochs_cover_training_set(indices: Path, n_train: int) -> None:
    orders = []
    for epoch in (0, 1):
        ranks = [json.loads((indices / f"indices_rank{r}_epoch{epoch}.json").read_text()) for r in (0, 1)]
        assert len(ranks[0]) == len(ranks[1]) == n_train // 2
        assert not set(ranks[0]) & set(ranks[1])  # disjoint shards
        assert sorted(ranks[0] + ranks[1]) == list(range(n_train))  # every sample once (n_train is even)
        orders.append(ranks[0])
    assert orders[0] != orders[1]  # reshuffled every epoch


def single_process_test_acc(run: Path, metrics: dict, tmp_path: Path, extra: list[str]) -> float:
    cfg = compose_cfg([f"ckpt_path={metrics['best_model_path']}", "trainer.accelerator=cpu", *extra], tmp_path / "eval", "eval")
    return evaluate(cfg)["test/acc"]


@pytest.mark.parametrize("dataset", ["binary", "mnist"])
def test_ddp_sim_two_processes(dataset: str, tiny_data: Path, tmp_path: Path) -> None:
    if dataset == "binary":
        data_args, n_train, n_test, extra = ["data=binary"], 700, 150, []
    else:
        data_args = [f"data.data_dir={tiny_data}", "data.val_split=100", "data.download=false"]
        n_train, n_test, extra = 500, 200, [f"data.data_dir={tiny_data}"]
    run, metrics = run_ddp(tmp_path, data_args)
    counts = torch.tensor(json.loads((run / "confusion_matrix.json").read_text())["counts"])
    assert counts.sum() == n_test  # every test sample exactly once: no padding duplicates
    assert counts.trace().item() / n_test == pytest.approx(metrics["test/acc"], abs=1e-6)
    report = json.loads((run / "classification_report.json").read_text())
    assert report[-1]["support"] == n_test
    check_epochs_cover_training_set(tmp_path / "indices", n_train)
    assert single_process_test_acc(run, metrics, tmp_path, extra) == pytest.approx(metrics["test/acc"], abs=1e-6)
    assert list(run.glob("train_ddp_process_1.log")) and (run / "train.log").exists()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_nodes_with_torchrun(tiny_data: Path, tmp_path: Path) -> None:
    """The multi-node command of docs/distributed.md, two "machines" on this one: torchrun node 0 and
    node 1 (one process each, gloo on the CPU) train one run in one shared folder."""
    import subprocess
    import sys

    run = tmp_path / "run"
    args = [
        "trainer=ddp",
        "trainer.accelerator=cpu",
        "trainer.devices=1",
        "trainer.num_nodes=2",
        f"data.data_dir={tiny_data}",
        "data.val_split=100",
        "data.download=false",
        "trainer.max_epochs=2",
        f"hydra.run.dir={run}",  # the folder both nodes share (a network file system on a cluster)
        *PROBE,
        f"+callbacks.index_recorder.output_dir={tmp_path}/indices",
        "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false",
    ]
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1", "--master-addr=127.0.0.1"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]), "PYTHONWARNINGS": "ignore"}
    port = free_port()
    nodes = [
        subprocess.Popen(
            [*torchrun, f"--node-rank={rank}", f"--master-port={port}", "train.py", *args],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [node.communicate(timeout=300) for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0], outputs[0][1][-3000:] + outputs[1][1][-3000:]
    printed = "".join(out + err for out, err in outputs)
    assert printed.count("Run finished") == 1 and "GLOBAL_RANK: 1, MEMBER: 2/2" in (run / "train_rank1.log").read_text()
    metrics = json.loads((run / "metrics.json").read_text())
    assert "GLOBAL_RANK: 0" in (run / "train.log").read_text() and "GLOBAL_RANK: 1" not in (run / "train.log").read_text()
    counts = torch.tensor(json.loads((run / "confusion_matrix.json").read_text())["counts"])
    assert counts.sum() == 200 and counts.trace().item() / 200 == pytest.approx(metrics["test/acc"], abs=1e-6)
    check_epochs_cover_training_set(tmp_path / "indices", 500)
    assert single_process_test_acc(run, metrics, tmp_path, [f"data.data_dir={tiny_data}"]) == pytest.approx(metrics["test/acc"], abs=1e-6)
