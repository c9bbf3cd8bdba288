"""Bad config values: one sentence naming key, value and what is allowed; exit code 2; no traceback."""

import sys
from pathlib import Path

import pytest
import torch

from conftest import ROOT, compose_cfg, run_script, tiny_overrides
from lit_dnn.config_checks import check_model, check_train_config
from lit_dnn.entry_points import run_task
from lit_dnn.errors import ConfigError
from lit_dnn.train import train

ES = "callbacks=[default,early_stopping]"  # early stopping is not a default callback: the cases add it

BAD = [
    (["model.net.dropout=1.5"], "model.net.dropout=1.5 is outside [0, 1)"),
    (["model.net.dropout=-0.1"], "model.net.dropout=-0.1 is outside [0, 1)"),
    (["model.net.dropout=[0.1,0.2]"], "has 2 rates for the 1 layers"),
    (["model.net.hidden_dims=[128,0]"], "model.net.hidden_dims=[128, 0] must be a list of positive integers"),
    (["model.net.hidden_dims=[128,null]"], "model.net.hidden_dims=[128, None] must be a list of positive integers"),
    (["model.net.hidden_dims=[-5]"], "model.net.hidden_dims=[-5] must be a list of positive integers"),
    (["data.batch_size=0"], "data.batch_size=0 must be a positive integer"),
    (["data.batch_size=-3"], "data.batch_size=-3 must be a positive integer"),
    (["+trainer.limit_train_batches=0"], "trainer.limit_train_batches=0 must be a positive integer (the batches of each epoch) or"),
    (["+trainer.limit_train_batches=2.5"], "trainer.limit_train_batches=2.5 must be a positive integer"),
    (["+trainer.limit_train_batches=abc"], "trainer.limit_train_batches='abc' must be a positive integer"),
    (["+trainer.val_check_interval=0"], "trainer.val_check_interval=0 must be a positive integer (the batches between validations)"),
    (["+trainer.limit_val_batches=0"], "trainer.limit_val_batches=0 must be a positive integer (validation batches; validation feeds"),
    (["+trainer.limit_test_batches=0"], "trainer.limit_test_batches=0 must be a positive integer (test batches; test=false skips testing)"),
    (["+trainer.max_steps=0"], "trainer.max_steps=0 must be a positive number of optimiser steps, or -1 for no limit."),
    (["+trainer.max_steps=-5"], "trainer.max_steps=-5 must be a positive number"),
    (["trainer.gradient_clip_val=0"], "trainer.gradient_clip_val=0 must be a positive gradient norm, or null for no clipping."),
    (["trainer.gradient_clip_val=-1.0"], "trainer.gradient_clip_val=-1.0 must be a positive gradient norm"),
    (["trainer.accumulate_grad_batches=0"], "trainer.accumulate_grad_batches=0 must be a positive number of batches per optimiser step"),
    (["trainer.accumulate_grad_batches=1.5"], "trainer.accumulate_grad_batches=1.5 must be a positive number of batches"),
    (["model.optimizer.lr=0"], "model.optimizer.lr=0 must be a positive number"),
    (["model.optimizer.lr=-0.01"], "model.optimizer.lr=-0.01 must be a positive number"),
    (["model.net.activation=swish"], "model.net.activation='swish' is unknown; use one of relu, sigmoid, tanh"),
    (["model.optimizer._target_=torch.optim.Nope"], "model.optimizer._target_='torch.optim.Nope' is not a torch optimizer"),
    (
        ["model.optimizer._target_=torch.optim.RMSprop"],
        "model.optimizer.fused is not an argument of torch.optim.RMSprop; drop it with ~model.optimizer.fused (it takes lr, alpha,",
    ),
    (["trainer.max_epochs=0"], "trainer.max_epochs=0 must be an integer of at least 1"),
    (["data.val_split=1.5"], "data.val_split=1.5 leaves no training or no validation samples out of 60000"),
    (["data.val_split=60000"], "data.val_split=60000 leaves no training or no validation samples out of 60000"),
    (["data.val_split=0"], "data.val_split=0 leaves no training or no validation samples"),
    (["data.standardize=zscore"], "data.standardize='zscore' is not one of global, pixel, none"),
    (["data.val_from=first"], "data.val_from='first' is not one of random, last"),
    (["data=binary", "data.test_split=1000"], "data.test_split=1000 leaves no training or no test samples out of 1000"),
    (["data=binary", "data.n_informative=30"], "data.n_informative + data.n_redundant = 30 + 5 must be at most data.n_features=20"),
    (["data.dataset=cifar10"], "data.dataset='cifar10' is unknown; use one of mnist, fashion_mnist"),
    (["seed=abc"], "seed='abc' must be an integer"),
    (["ckpt_path=/no/such/file.ckpt"], "ckpt_path=/no/such/file.ckpt does not exist"),
    (["model.optimizer=sgd"], "model.optimizer='sgd' is not an optimizer config; choose one by its Keras name with optimizer=sgd"),
    (["model.optimizer.weight_decay=-1"], "model.optimizer (torch.optim.AdamW) refuses its arguments: Invalid weight_decay value: -1"),
    (["model.optimizer.lr=nan"], "model.optimizer.lr=nan must be a positive number"),
    (["+model.net.num_classes=1"], "model.net.num_classes comes from the data and cannot be set; drop it (one sigmoid output"),
    (["model.binary_output=tanh"], "model.binary_output='tanh' is not one of softmax, sigmoid."),
    (["model.optimizer.lr=inf"], "model.optimizer.lr=inf must be a positive number"),
    (["seed=-1"], "seed=-1 must be an integer from 0 to 2**32 - 1"),
    (["seed=4294967296"], "seed=4294967296 must be an integer from 0 to 2**32 - 1"),
    (["data=binary", "data.n_features=1", "data.n_informative=1", "data.n_redundant=0"], "data.n_informative=1 must be at least 2"),
    (
        ["callbacks.model_checkpoint.monitor=val/nope"],
        "callbacks.model_checkpoint.monitor='val/nope' is not a metric this run logs; use one of train/loss, train/acc, val/acc_best",
    ),
    ([ES, "callbacks.early_stopping.monitor=val/f1"], "callbacks.early_stopping.monitor='val/f1' is not a metric this run logs"),
    (["optimized_metric=val/accuracy"], "optimized_metric='val/accuracy' is not a metric this run logs"),
    (
        ["callbacks.training_curves.metric=f1"],
        "callbacks.training_curves.metric='f1' is not a metric this run logs for both training and validation; use one of loss, acc.",
    ),
    (["trainer.check_val_every_n_epoch=0"], "trainer.check_val_every_n_epoch=0 must be a positive integer"),
    (["trainer.precision=8"], "trainer.precision=8 is not one of 32, 32-true"),
    (
        ["trainer.precision=16", "trainer.accelerator=cpu"],
        "trainer.precision=16 needs a GPU (on the CPU Lightning would silently use bf16)",
    ),
    (["trainer.devices=0"], "trainer.devices=0 must be a positive count, -1 (all) or auto"),
    (["model.scheduler.peak_factor=0"], "model.scheduler.peak_factor=0 must be a positive number"),
    (["model.scheduler.peak_factor=-1"], "model.scheduler.peak_factor=-1 must be a positive number"),
    (["model.scheduler_interval=weekly"], "model.scheduler_interval='weekly' is not one of epoch, step"),
    # a constructor's own refusal, named by the config key that built it (config_checks.instantiate)
    (
        ["data=binary", "callbacks.model_checkpoint.save_top_k=-5"],
        "callbacks.model_checkpoint.save_top_k=-5 must be -1 (every checkpoint), 0 (none) or a positive count",
    ),
    (
        ["data=binary", ES, "callbacks.early_stopping.mode=up"],
        "callbacks.early_stopping cannot be built with these settings (`mode` can be min, max, got up); fix the",
    ),
    (["data=binary", "+trainer.foo=1"], "trainer cannot be built with these settings (Trainer.__init__() got an unexpected keyword"),
    (["data=binary", ES, "callbacks.early_stopping.min_delta=-1"], "callbacks.early_stopping.min_delta=-1 must be a number of at least 0"),
    (["data=binary", ES, "callbacks.early_stopping.patience=abc"], "callbacks.early_stopping.patience='abc' must be a whole number"),
    (["data=binary", "data.n_samples=5"], "the val split holds 1 sample for 2 classes, too few to measure accuracy"),
    (
        ["data=binary", "trainer.min_epochs=100", "trainer.max_epochs=1"],
        "trainer.min_epochs=100 must be a whole number from 0 to trainer.max_epochs=1",
    ),
]
if not torch.cuda.is_available():  # what a machine without a GPU says to trainer=gpu
    BAD.append((["data=binary", "trainer=gpu"], "trainer.accelerator=gpu but this machine has no GPU that torch can use"))


@pytest.mark.parametrize(("overrides", "message"), BAD, ids=[" ".join(o) for o, _ in BAD])
def test_bad_value_is_one_sentence_and_exit_code_2(
    overrides: list[str], message: str, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = [] if "data=binary" in overrides else tiny_overrides(tiny_data)
    cfg = compose_cfg([*base, *overrides], tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("Error: ") and message in err and "\n" not in err, err
    assert not (tmp_path / "run").exists()  # nothing was started


def test_data_dir_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    cfg = compose_cfg([f"data.data_dir={a_file}"], tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    assert f"data.data_dir='{a_file}' is a file, not a folder" in capsys.readouterr().err


def test_real_command_prints_no_traceback(tmp_path: Path) -> None:
    result = run_script("train.py", ["model.net.dropout=1.5", f"hydra.run.dir={tmp_path}/run"], fresh=True)  # before Lightning is imported
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: model.net.dropout=1.5 is outside [0, 1); use e.g. 0.2 (0 disables dropout), or one rate per hidden layer."
    ]
    assert "Traceback" not in result.stdout
    full = run_script("train.py", ["model.net.dropout=1.5", f"hydra.run.dir={tmp_path}/run2"], {"HYDRA_FULL_ERROR": "1"})
    assert full.returncode != 0 and "Traceback" in full.stderr


class KwargsAdam(torch.optim.Adam):
    """An optimiser whose arguments hide behind ``**kwargs``, as some third-party ones do."""

    def __init__(self, params, **kwargs) -> None:  # noqa: ANN001, ANN003
        super().__init__(params, **kwargs)


def test_optimizer_taking_kwargs_keeps_every_argument(tmp_path: Path) -> None:
    cfg = compose_cfg([f"model.optimizer._target_={__name__}.KwargsAdam"], tmp_path)
    check_model(cfg.model)  # fused and lr reach **kwargs: no error
    assert cfg.model.optimizer.fused is True


@pytest.mark.parametrize("optimizer", ["torch.optim.Adagrad", "torch.optim.SGD"])  # neither has momentum to cycle
def test_optimizers_without_momentum_train_with_the_default_schedule(optimizer: str, tmp_path: Path) -> None:
    metrics = train(
        compose_cfg(
            [
                "data=binary",
                "trainer.max_epochs=2",
                "callbacks.progress_bar=null",
                "+trainer.enable_progress_bar=false",
                f"model.optimizer._target_={optimizer}",
                "~model.optimizer.fused",
                "model.optimizer.lr=0.01",
            ],
            tmp_path,
        )
    )
    assert metrics["test/acc"] > 0.6 and metrics["epochs_run"] == 2


def test_log_folder_that_cannot_be_written_is_one_sentence(tmp_path: Path) -> None:
    """Hydra makes the run folder before lit-dnn runs; a Hydra callback checks first."""
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for mode in ([], ["-m", "data=binary"]):
        result = run_script("train.py", [*mode, f"paths.log_dir={a_file}/logs"])
        assert result.returncode == 2
        folder = "multiruns" if mode else "runs"
        assert result.stderr.strip().splitlines() == [
            f"Error: cannot write run folders in {a_file}/logs/train/{folder} (Not a directory); "
            f"set paths.log_dir to a folder you can write."
        ]


KERAS_OPTIMIZERS = {  # name: (class, Keras' default learning rate, extra arguments)
    "adam": ("Adam", 0.001, {}),
    "adamw": ("AdamW", 0.001, {"weight_decay": 0.004}),
    "sgd": ("SGD", 0.01, {}),
    "momentum": ("SGD", 0.01, {"momentum": 0.9}),
    "nesterov": ("SGD", 0.01, {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", 0.001, {"alpha": 0.9}),
    "adagrad": ("Adagrad", 0.001, {"initial_accumulator_value": 0.1}),
}


@pytest.mark.parametrize("name", sorted(KERAS_OPTIMIZERS))
@pytest.mark.parametrize("schedule", [[], ["model.scheduler=null"], ["model.scheduler.cycle_momentum=false"]])
def test_every_keras_optimizer_works_with_every_schedule(name: str, schedule: list[str], tmp_path: Path) -> None:
    import hydra
    import torch

    cfg = compose_cfg([f"optimizer={name}", *schedule], tmp_path)
    check_train_config(cfg)
    cls, lr, extra = KERAS_OPTIMIZERS[name]
    params = [torch.nn.Parameter(torch.ones(3))]
    optimizer = hydra.utils.instantiate(cfg.model.optimizer)(params=params)
    assert type(optimizer).__name__ == cls and optimizer.defaults["lr"] == lr
    assert all(optimizer.defaults[k] == v for k, v in extra.items())
    scheduler = hydra.utils.instantiate(cfg.model.scheduler)(optimizer=optimizer, total_steps=10) if cfg.model.scheduler else None
    for _ in range(5):
        params[0].grad = torch.ones(3)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
    assert params[0].detach().lt(1).all()  # it stepped


def test_cycling_momentum_an_optimizer_without_one_is_one_sentence(tmp_path: Path) -> None:
    result = run_script(
        "train.py", ["data=binary", "optimizer=adagrad", "model.scheduler.cycle_momentum=true", f"hydra.run.dir={tmp_path}/run"]
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: model.scheduler.cycle_momentum=true, but Adagrad has no momentum to cycle; set it to null or false."
    )


@pytest.mark.parametrize(("logger", "package"), [("wandb", "wandb"), ("many", "mlflow")])
def test_logger_without_its_package_is_one_sentence(
    logger: str, package: str, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, package, None)  # Python's way to make a package not importable, as if not installed
    cfg = compose_cfg([*tiny_overrides(tiny_data), f"logger={logger}"], tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_task(train, cfg)
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (  # logger=many's entry is named after its package too
        f'Error: logger.{package} needs the {package} package, which is not installed; pip install -e ".[trackers]" '
        f"(or pip install {package}), or choose another logger (logger=tensorboard)."
    )
    assert not (tmp_path / "run").exists()


def test_a_run_whose_test_and_validation_disagree_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """30 samples (5 validation, 5 test) and one epoch: val/acc_best 0.8, test/acc 0.0 at seed 42."""
    metrics = train(compose_cfg(["data=binary", "data.n_samples=30", "trainer.max_epochs=1", "logger=csv"], tmp_path))
    assert metrics["val/acc_best"] - metrics["test/acc"] >= 0.5, metrics
    (warning,) = [r.getMessage() for r in caplog.records if "differ by" in r.getMessage()]
    assert warning.endswith("use more data, or larger data.val_split and data.test_split.")


def test_eval_predict_export_refuse_a_model_or_data_choice(tmp_path: Path) -> None:
    """The checkpoint decides the network and the dataset: a choice on the command line is named, not ignored."""
    result = run_script("eval.py", [f"ckpt_path={tmp_path}/any.ckpt", "data=mnist", f"hydra.run.dir={tmp_path}/eval"])
    assert result.returncode == 2, result.stderr[-1500:]
    assert result.stderr.strip() == (
        "Error: data=mnist cannot be chosen for eval.py: the checkpoint decides its network and dataset; drop it "
        "(data.data_dir=<folder> says where this machine keeps the data files)."
    )
    assert not (tmp_path / "eval").exists()
    from lit_dnn.export import export
    from lit_dnn.predict import predict

    for task, name in ((predict, "predict"), (export, "export")):
        extra = ["input=x.npy"] if name == "predict" else []
        cfg = compose_cfg([f"ckpt_path={tmp_path}/any.ckpt", *extra, "model=mlp", "data=mnist"], tmp_path, name)
        with pytest.raises(ConfigError, match=rf"^model=\.\.\. and data=\.\.\. cannot be chosen for {name}\.py: "):
            task(cfg)


TYPOS = [
    (["data=mnst"], "data=mnst is not an option (did you mean data=mnist?); choose one of binary, boston,"),
    (["optimizer=Adam"], "optimizer=Adam is not an option (did you mean optimizer=adam?)"),
    (["data=fashion-mnist"], "data=fashion-mnist is not an option (did you mean data=fashion_mnist?)"),
    (["model.net.hiden_dims=[64]"], "model.net.hiden_dims is not a setting (did you mean model.net.hidden_dims?)"),
    (["model.nett.dropout=0.1"], "model.nett is not a setting (did you mean model.net?); the keys of model are net, loss,"),
    (
        ["callbacks.early_stoping.patience=5"],
        "callbacks.early_stopping is not in this run's callbacks=default; add it with callbacks=[default,early_stopping], "
        "then callbacks.early_stopping.patience=5 sets it.",
    ),
    (
        ["logger.mlflow.tracking_uri=x"],
        "logger.mlflow is not in this run's logger=tensorboard; add it with logger=[tensorboard,mlflow], then",
    ),
    (["epochs=5"], "epochs= is Keras' name; here it is trainer.max_epochs=5."),
    (["batch_size=64"], "batch_size= is Keras' name; here it is data.batch_size=64."),
    (["validation_split=0.1"], "validation_split= is Keras' name; here it is data.val_split=0.1."),
    (["trainer.limit_train_batches=2"], "add it with +trainer.limit_train_batches=2, or check the spelling."),
    (["model.net.hidden_dims=[64"], "cannot read the command line (no viable alternative at input '[64')"),
]


@pytest.mark.parametrize(("args", "message"), TYPOS, ids=[" ".join(a) for a, _ in TYPOS])
def test_a_typo_is_one_sentence_with_the_closest_name(args: list[str], message: str) -> None:
    from lit_dnn.command_line import problem

    assert message in problem(ROOT / "conf", "train", args)


def test_a_typo_on_the_real_command_line_and_what_now_composes(tmp_path: Path) -> None:
    from lit_dnn.command_line import problem

    result = run_script("train.py", ["data=mnst", f"hydra.run.dir={tmp_path}/run"])
    assert result.returncode == 2 and not (tmp_path / "run").exists()
    assert result.stderr.strip().splitlines() == [
        "Error: data=mnst is not an option (did you mean data=mnist?); choose one of binary, boston, breast_cancer, csv, "
        "diabetes, fashion_mnist, images, iris, mnist, wine."
    ]
    assert problem(ROOT / "conf", "train", ["optimizer=sgd", "model.optimizer.momentum=0.9"]) is None  # Keras' SGD(momentum=0.9)
    assert problem(ROOT / "conf", "train", ["+trainer.limit_train_batches=2", "data=binary"]) is None
