"""logger=mlflow, logger=many and logger=wandb: what a run sends to each, read back from the tracker's own files."""

from pathlib import Path

from conftest import compose_cfg
from lit_dnn.train import train


def test_mlflow_gets_metrics_settings_and_figures(tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    cfg = compose_cfg(
        ["data=binary", "trainer.max_epochs=2", "logger=many", "callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"],
        tmp_path,
    )
    metrics = train(cfg)
    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path}/logs/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("lit-dnn").experiment_id])
    assert run.data.metrics["test/acc"] == metrics["test/acc"] and run.data.metrics["val/acc_best"] == metrics["val/acc_best"]
    steps = [m.step for m in client.get_metric_history(run.info.run_id, "val/acc")]
    assert len(steps) == 2 and steps[0] < steps[1]  # one value per epoch
    assert run.data.params["optimizer"] == "AdamW" and run.data.params["git_commit"] == str(metrics["git_commit"])[:12]
    files = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"metrics.json", "provenance.json", "loss.png", "classification_report.md"} <= files
    images = {a.path for a in client.list_artifacts(run.info.run_id, "val/confusion_matrix")}
    assert images == {"val/confusion_matrix/step_000.png", "val/confusion_matrix/step_001.png"}
    # the other loggers of logger=many wrote theirs beside it
    assert (tmp_path / "run" / "csv" / "metrics.csv").exists() and any((tmp_path / "run" / "tensorboard").iterdir())


def wandb_records(path: Path) -> list:
    """The records of an offline W&B run file (``run-<id>.wandb``): a 7-byte header, then LevelDB's
    log format (32 KiB blocks of chunks: CRC, length, type) around W&B's protobuf ``Record``s."""
    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    records, pending, pos, block = [], b"", 7, 32768
    while pos + 7 <= len(data):
        if block - pos % block < 7:  # a block's tail too short for a chunk header is padding
            pos += block - pos % block
            continue
        length, kind = int.from_bytes(data[pos + 4 : pos + 6], "little"), data[pos + 6]
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        pending = chunk if kind in (1, 2) else pending + chunk  # FULL/FIRST start a record, MIDDLE/LAST continue it
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            records.append(record)
    return records


def test_wandb_offline_run_holds_metrics_settings_and_figures(tmp_path: Path) -> None:
    import json

    from conftest import run_script

    run = tmp_path / "run"
    fast = ["callbacks.progress_bar=null", "+trainer.enable_progress_bar=false"]
    args = ["data=binary", "trainer.max_epochs=2", "logger=wandb", *fast, f"hydra.run.dir={run}"]
    result = run_script("train.py", args, fresh=True)  # wandb writes its run's last records at the interpreter's exit
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run / "metrics.json").read_text())
    (offline,) = (run / "wandb").glob("offline-run-*")  # offline by default: nothing left the machine
    records = wandb_records(next(offline.glob("run-*.wandb")))
    history = [
        {i.key or "/".join(i.nested_key): json.loads(i.value_json) for i in r.history.item} for r in records if r.HasField("history")
    ]
    val_acc = [row["val/acc"] for row in history if "val/acc" in row]
    assert len(val_acc) == 2 and val_acc[-1] == metrics["val/acc"]  # one value per epoch
    assert [row["test/acc"] for row in history if "test/acc" in row] == [metrics["test/acc"]]
    config = {i.key: json.loads(i.value_json) for r in records if r.HasField("config") for i in r.config.update}
    assert config["optimizer"] == "AdamW" and config["git_commit"] == str(metrics["git_commit"])[:12]
    images = sorted(p.relative_to(offline / "files" / "media" / "images").parts[0] for p in offline.rglob("*.png"))
    assert images == ["test", "val", "val"]  # the confusion matrices: two validation epochs and the test
