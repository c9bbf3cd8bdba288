"""The MNIST path end to end on tiny IDX files written by the tests."""

import json
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping, LambdaCallback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.profilers import PassThroughProfiler

from conftest import ACCELERATOR, compose_cfg, run_script, tiny_overrides
from lit_dnn.errors import ConfigError
from lit_dnn.evaluate import evaluate
from lit_dnn.train import build, train
from lit_dnn.workarounds import STEP_HOOKS


def test_overrides_take_effect(tiny_data: Path, tmp_path: Path) -> None:
    cfg = compose_cfg(
        [
            *tiny_overrides(tiny_data),
            "model.net.hidden_dims=[256,128]",
            "model.net.dropout=0.3",
            "model.net.activation=sigmoid",
            "model.optimizer.lr=0.003",
            "data.batch_size=256",
            f"data.data_dir={tiny_data}",
            "data.download=false",
            "trainer.max_epochs=5",
            "seed=7",
            "trainer=cpu",
            "logger=csv",
        ],
        tmp_path,
    )
    datamodule, model, trainer = build(cfg)
    linears = [m for m in model.net.layers if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [256, 128, 10]
    assert {m.p for m in model.net.layers if isinstance(m, torch.nn.Dropout)} == {0.3}
    assert isinstance(model.net.layers[2], torch.nn.Sigmoid)
    assert model.optimizer_factory(params=model.parameters()).defaults["lr"] == 0.003
    assert datamodule.batch_size == 256 and datamodule.data_dir == str(tiny_data) and datamodule.download is False
    assert datamodule.seed == 7
    assert trainer.max_epochs == 5
    assert type(trainer.accelerator).__name__ == {"cpu": "CPUAccelerator", "gpu": "CUDAAccelerator"}[ACCELERATOR]
    assert isinstance(trainer.logger, CSVLogger)


def test_debug_fdr_runs_one_batch(tiny_data: Path, tmp_path: Path) -> None:
    cfg = compose_cfg([*tiny_overrides(tiny_data), "debug=fdr"], tmp_path)
    assert cfg.trainer.fast_dev_run is True
    metrics = train(cfg)
    assert metrics["epochs_run"] == 1 and "test/acc" in metrics


def test_train_writes_metrics_and_tests_best_checkpoint(tiny_data: Path, tmp_path: Path) -> None:
    cfg = compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=3"], tmp_path)
    metrics = train(cfg)
    written = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert written == pytest.approx(metrics)
    for key in (
        "train/loss",
        "train/acc",
        "val/loss",
        "val/acc",
        "val/acc_best",
        "test/loss",
        "test/acc",
        "best_model_path",
        "epochs_run",
        "wall_time_s",
    ):
        assert key in written, key
    assert written["epochs_run"] == 3 and written["wall_time_s"] > 0
    assert written["command_time_s"] is None  # train() in a process started before it (the command: test_reliability.py)
    assert written["test/acc"] > 0.9  # the tiny digits are easy
    best = Path(written["best_model_path"])
    assert best.parent == tmp_path / "run" / "checkpoints" and (best.parent / "last.ckpt").exists()
    # the tested checkpoint is the best one: its own record of val/acc is the run's best
    ckpt = torch.load(best, weights_only=True)
    callback_state = next(v for k, v in ckpt["callbacks"].items() if k.startswith("EpochCheckpoint"))  # the best-epoch callback
    assert callback_state["best_model_score"].item() == pytest.approx(written["val/acc_best"])
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    # eval.py on that checkpoint reproduces the test accuracy
    eval_cfg = compose_cfg([f"ckpt_path={best}", "trainer.accelerator=cpu", f"data.data_dir={tiny_data}"], tmp_path / "eval", "eval")
    assert evaluate(eval_cfg)["test/acc"] == pytest.approx(written["test/acc"], abs=1e-6)


def test_early_stopping_stops_a_stalled_run(tiny_data: Path, tmp_path: Path) -> None:
    # a learning rate of ~0 leaves the validation loss where it started: patience 3 ends it after 4 epochs
    overrides = ["trainer.max_epochs=20", "model.optimizer.lr=1e-12", "model.scheduler=null", "callbacks=[default,early_stopping]"]
    cfg = compose_cfg([*tiny_overrides(tiny_data), *overrides], tmp_path)
    metrics = train(cfg)
    assert metrics["epochs_run"] == 4
    assert cfg.callbacks.early_stopping.patience == 3


def test_resume_from_checkpoint_continues(tiny_data: Path, tmp_path: Path) -> None:
    constant_lr = [*tiny_overrides(tiny_data), "model.scheduler=null"]
    train(compose_cfg([*constant_lr, "trainer.max_epochs=1"], tmp_path))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = compose_cfg([*constant_lr, "trainer.max_epochs=2", f"ckpt_path={last}"], tmp_path / "second")
    assert train(cfg)["epochs_run"] == 2


def test_resume_refuses_to_stretch_a_one_cycle_schedule(tiny_data: Path, tmp_path: Path) -> None:
    train(compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=1"], tmp_path))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    cfg = compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=2", f"ckpt_path={last}"], tmp_path / "second")
    with pytest.raises(ConfigError, match="keep trainer.max_epochs=1"):
        train(cfg)


def test_train_script_prints_each_lightning_message_once(tiny_data: Path, tmp_path: Path) -> None:
    result = run_script(
        "train.py",
        [*tiny_overrides(tiny_data), "trainer.max_epochs=1", f"hydra.run.dir={tmp_path}/run"],
        env={"PYTHONWARNINGS": "default"},
    )  # warnings shown, as a user sees them
    assert result.returncode == 0, result.stderr[-2000:]
    assert (result.stdout + result.stderr).count("GPU available:") == 1
    # no advice the user cannot act on: a step holds many batches; Lightning's own deprecated call
    assert "log_every_n_steps" not in result.stderr and "LeafSpec" not in result.stderr
    assert "GPU available:" in (tmp_path / "run" / "train.log").read_text()
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["epochs_run"] == 1


def test_missing_data_is_one_sentence(tmp_path: Path) -> None:
    empty = tmp_path / "nothing-here"
    empty.mkdir()
    result = run_script("train.py", [f"data.data_dir={empty}", "data.download=false", f"hydra.run.dir={tmp_path}/run"])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(empty / "MNIST" / "raw") in lines[0] and "data.download=true" in lines[0] and "DATA_DIR" in lines[0]
    assert "Traceback" not in result.stderr + result.stdout


class CountsBackward(L.Callback):
    def __init__(self) -> None:
        self.calls = 0

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.calls += 1


class RecordsActions(PassThroughProfiler):
    """What Lightning profiles: one action per hook it calls."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    def start(self, action_name: str) -> None:
        self.actions.append(action_name)


def test_per_step_hooks_reach_only_callbacks_that_implement_them(tiny_data: Path, tmp_path: Path) -> None:
    counter, lambda_calls = CountsBackward(), []
    on_instance = LambdaCallback(on_before_optimizer_step=lambda *args: lambda_calls.append(1))  # a hook set on the instance
    cfg = compose_cfg(tiny_overrides(tiny_data), tmp_path)
    datamodule, model, trainer = build(cfg, extra_callbacks=[counter, on_instance])
    trainer.profiler = profiler = RecordsActions()
    trainer.fit(model, datamodule=datamodule)
    assert counter.calls == len(lambda_calls) == trainer.global_step == 8  # every optimiser step: 4 batches x 2 epochs
    step_hooks = {a for a in profiler.actions if a.rsplit(".", 1)[-1] in STEP_HOOKS}
    # the module's inherited no-op hooks are skipped too: no [LightningModule]Classifier.on_after_backward
    assert step_hooks == {"[Callback]CountsBackward.on_after_backward", "[Callback]LambdaCallback.on_before_optimizer_step"}
    assert any(a.startswith("[Callback]") and "ModelCheckpoint" in a for a in profiler.actions)  # other hooks still run
    assert any(a.startswith("[LightningModule]") for a in profiler.actions)


def test_a_module_that_implements_a_step_hook_keeps_it(tiny_data: Path, tmp_path: Path) -> None:
    """skip_inherited_step_hooks leaves a hook that the module's class implements: Lightning calls it
    at every optimiser step (as for CountsBackward above)."""
    from lit_dnn.models.classifier import Classifier
    from lit_dnn.workarounds import skip_inherited_step_hooks

    class NormsAfterBackward(Classifier):  # what a user adds to watch gradients
        def on_after_backward(self) -> None:
            self.norms.append(float(self.net.layers[-1].weight.grad.norm()))

    cfg = compose_cfg(tiny_overrides(tiny_data), tmp_path)
    datamodule, built, trainer = build(cfg)
    model = NormsAfterBackward(built.net, built.optimizer_factory, built.scheduler_factory, "step")
    model.save_hyperparameters(dict(built.hparams))  # the shapes and classes, as build() saves them
    model.norms = []
    skip_inherited_step_hooks(trainer.callbacks, model)
    assert model.on_before_backward is None and model.on_after_backward is not None
    trainer.fit(model, datamodule=datamodule)
    assert len(model.norms) == trainer.global_step == 8 and all(n > 0 for n in model.norms)


def test_tensorboard_logger_is_the_default(tiny_data: Path, tmp_path: Path) -> None:
    _, _, trainer = build(compose_cfg(tiny_overrides(tiny_data), tmp_path))
    assert isinstance(trainer.logger, TensorBoardLogger)
    # no early stopping by default: the one-cycle schedule plans the run (docs/training.md); one option adds it
    assert not any(isinstance(c, EarlyStopping) for c in trainer.callbacks)
    _, _, trainer = build(compose_cfg([*tiny_overrides(tiny_data), "callbacks=[default,early_stopping]"], tmp_path / "es"))
    assert any(isinstance(c, EarlyStopping) and c.monitor == "val/loss" and c.patience == 3 for c in trainer.callbacks)


def test_csv_logger_run_ends_with_metrics_and_hparams(tiny_data: Path, tmp_path: Path) -> None:
    # CSVLogger.log_hyperparams takes no metrics: passing them ended every logger=csv run in a TypeError
    cfg = compose_cfg([*tiny_overrides(tiny_data), "logger=csv"], tmp_path)
    metrics = train(cfg)
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["test/acc"] == pytest.approx(metrics["test/acc"])
    hparams = next((tmp_path / "run").rglob("hparams.yaml")).read_text()
    assert f"optimizer/lr: {cfg.model.optimizer.lr}" in hparams and "test/acc" not in hparams


@pytest.mark.parametrize("schedule", [[], ["model.scheduler_interval=epoch"]], ids=["one-cycle per step", "per epoch"])
def test_lightning_steps_the_optimiser_once_per_batch(schedule: list[str], tiny_data: Path, tmp_path: Path) -> None:
    # 500 training images at batch 128: 4 batches an epoch, 2 epochs
    cfg = compose_cfg([*tiny_overrides(tiny_data), *schedule], tmp_path)
    datamodule, model, trainer = build(cfg)
    trainer.fit(model, datamodule=datamodule)
    assert model.automatic_optimization and trainer.num_training_batches == 4
    assert trainer.global_step == 8
    scheduler = trainer.lr_scheduler_configs[0].scheduler
    assert scheduler.total_steps == 8 and scheduler.last_epoch == (8 if not schedule else 2)  # stepped per batch, or per epoch


@pytest.mark.parametrize("data", ["mnist", "diabetes"], ids=["classification", "regression"])
def test_train_metrics_are_exact_means_over_every_training_sample(data: str, tiny_data: Path, tmp_path: Path) -> None:
    # the running sums are added once per batch: with a learning rate of 0 and no dropout the weights
    # never move, so the epoch's train/* must equal one pass over the whole training split
    data_args = [*tiny_overrides(tiny_data), "data.batch_size=64"] if data == "mnist" else [
        "data=diabetes", "data.batch_size=64", "trainer.max_epochs=2", "callbacks.progress_bar=null",
        "+trainer.enable_progress_bar=false", f"trainer.accelerator={ACCELERATOR}",
    ]  # fmt: skip
    cfg = compose_cfg([*data_args, "optimizer=sgd", "model.optimizer.lr=0", "model.scheduler=null", "model.net.dropout=0"], tmp_path)
    datamodule, model, trainer = build(cfg)
    trainer.fit(model, datamodule=datamodule)
    x, y = datamodule.split_dataset("train")[torch.arange(len(datamodule.split_dataset("train")))]
    with torch.no_grad():
        out = model.net(x.to(model.device))
    y = y.to(model.device)
    assert trainer.callback_metrics["train/loss"].item() == pytest.approx(model.criterion(out, y).item(), rel=1e-5)
    if data == "mnist":
        accuracy = out.argmax(1).eq(y).double().mean().item()
        assert trainer.callback_metrics["train/acc"].item() == pytest.approx(accuracy, rel=1e-6)
    else:
        mae = (model.unscale(out) - y).abs().mean().item()
        assert trainer.callback_metrics["train/mae"].item() == pytest.approx(mae, rel=1e-5)


def test_max_steps_ends_training_inside_an_epoch(tiny_data: Path, tmp_path: Path) -> None:
    # 4 batches an epoch: the fifth optimiser step is the second epoch's first batch
    cfg = compose_cfg([*tiny_overrides(tiny_data), "+trainer.max_steps=5"], tmp_path)
    datamodule, model, trainer = build(cfg)
    trainer.fit(model, datamodule=datamodule)
    assert trainer.global_step == 5
    assert trainer.lr_scheduler_configs[0].scheduler.total_steps == 5  # the one-cycle plan ends there


@pytest.mark.parametrize(("limit", "per_epoch"), [(5, 5), (0.5, 4)], ids=["a count of batches", "a share of the batches"])
def test_limit_train_batches_cuts_each_epoch(
    limit: float, per_epoch: int, tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # 500 training images at batch 64: 8 batches an epoch
    overrides = ["data.batch_size=64", f"+trainer.limit_train_batches={limit}"]
    datamodule, model, trainer = build(compose_cfg([*tiny_overrides(tiny_data), *overrides], tmp_path))
    with caplog.at_level("INFO", logger="lit_dnn.models.dense"):
        trainer.fit(model, datamodule=datamodule)
    assert f"Training starts: {per_epoch} batches per epoch." in caplog.messages
    assert trainer.num_training_batches == per_epoch  # what the progress bar counts to
    assert trainer.global_step == 2 * per_epoch  # 2 epochs of optimiser steps
    assert trainer.lr_scheduler_configs[0].scheduler.total_steps == 2 * per_epoch  # the one-cycle plan ends there


class CountsValidations(L.Callback):
    def __init__(self) -> None:
        self.at_batches: list[int] = []

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.at_batches.append(trainer.global_step)


def test_val_check_interval_validates_every_n_batches(tiny_data: Path, tmp_path: Path) -> None:
    # 8 batches an epoch at batch 64: validation after batches 3 and 6 of each epoch
    counter = CountsValidations()
    cfg = compose_cfg([*tiny_overrides(tiny_data), "data.batch_size=64", "+trainer.val_check_interval=3"], tmp_path)
    datamodule, model, trainer = build(cfg, extra_callbacks=[counter])
    trainer.fit(model, datamodule=datamodule)
    assert counter.at_batches == [3, 6, 11, 14]


def test_gradient_clipping_bounds_every_update(tiny_data: Path, tmp_path: Path) -> None:
    # plain SGD at lr 0.1 with gradients clipped to norm 1e-6: 8 steps move no weight by more than 8 x 0.1 x 1e-6
    cfg = compose_cfg(
        [
            *tiny_overrides(tiny_data),
            "trainer.gradient_clip_val=1e-6",
            "optimizer=sgd",
            "~model.optimizer.fused",
            "model.optimizer.lr=0.1",
            "model.scheduler=null",
        ],
        tmp_path,
    )
    datamodule, model, trainer = build(cfg)
    before = [p.detach().clone() for p in model.net.parameters()]
    trainer.fit(model, datamodule=datamodule)
    moved = max((p.detach() - b).norm().item() for p, b in zip(model.net.parameters(), before))
    assert trainer.global_step == 8 and 0 < moved <= 8 * 0.1 * 1e-6 * 1.001


def test_accumulating_two_batches_trains_as_one_batch_twice_the_size(tiny_data: Path, tmp_path: Path) -> None:
    # an epoch's order does not depend on the batch size: batches of 128 are pairs of batches of 64,
    # and Lightning averages the pair's gradients (the three full pairs; the last batch of 64 is partial)
    plain = ["optimizer=sgd", "~model.optimizer.fused", "model.optimizer.lr=0.5", "model.scheduler=null", "model.net.dropout=0"]
    runs = {}
    for name, overrides in {
        "accumulated": ["data.batch_size=64", "trainer.accumulate_grad_batches=2", "+trainer.limit_train_batches=6"],
        "large": ["data.batch_size=128", "+trainer.limit_train_batches=3"],
    }.items():
        L.seed_everything(0)
        datamodule, model, trainer = build(compose_cfg([*tiny_overrides(tiny_data), *plain, *overrides], tmp_path / name))
        initial = model.net.layers[-1].weight.detach().clone()
        trainer.fit(model, datamodule=datamodule)
        runs[name] = trainer.global_step, model.net.state_dict()
        assert (model.net.layers[-1].weight - initial).abs().max() > 1e-3  # trained
    assert runs["accumulated"][0] == runs["large"][0] == 6  # optimiser steps, 3 an epoch
    for (name, a), b in zip(runs["accumulated"][1].items(), runs["large"][1].values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_lightning_still_names_each_hook_on_the_module_and_plain_hook_name_stores_it(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Guard of workarounds.PlainHookName: Lightning sets the module's ``_current_fx_name`` to the hook it
    is calling (if it stops, the mixin saves nothing: drop it), and the mixin stores that str without
    ``nn.Module.__setattr__``, every other attribute with it."""
    seen = []
    watch = LambdaCallback(on_before_backward=lambda trainer, module, loss: seen.append(module._current_fx_name))
    cfg = compose_cfg([*tiny_overrides(tiny_data), "trainer.max_epochs=1"], tmp_path)
    datamodule, model, trainer = build(cfg, extra_callbacks=[watch])
    trainer.fit(model, datamodule=datamodule)
    assert len(seen) == trainer.global_step > 0 and set(seen) == {"on_before_backward"}

    layer, calls = torch.nn.Linear(1, 1), []
    module_setattr = torch.nn.Module.__setattr__
    monkeypatch.setattr(torch.nn.Module, "__setattr__", lambda self, name, value: calls.append(name) or module_setattr(self, name, value))
    model._current_fx_name = "on_after_backward"
    model.seen = 1
    model.extra = layer
    assert calls == ["seen", "extra"] and vars(model)["_current_fx_name"] == "on_after_backward"
    assert "extra" in dict(model.named_children()) and "_current_fx_name" not in dict(model.named_buffers())


def test_early_stopping_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    overrides = ["data=binary", "trainer.max_epochs=30", "callbacks=[default,early_stopping]", "callbacks.early_stopping.patience=1"]
    overrides += ["model.scheduler=null", "logger=csv"]
    caplog.set_level("INFO", logger="lit_dnn")
    metrics = train(compose_cfg(overrides, tmp_path))
    assert metrics["epochs_run"] < 30
    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("Early stopping")]
    assert line.startswith(f"Early stopping after epoch {metrics['epochs_run']} of 30: val/loss did not improve for 1 validations (best ")
