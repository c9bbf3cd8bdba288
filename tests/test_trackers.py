"""logger=mlflow and logger=many: what a run sends to MLflow, read back with MLflow's own client."""

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
