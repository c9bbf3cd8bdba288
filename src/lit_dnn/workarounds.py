"""Every place lit-dnn works around a library's behaviour, each with why it pays, in one module.

``prepare_process`` applies the process-wide ones (``run_task`` calls it once the task's modules
are imported); ``prepare_trainer`` the one that concerns a trainer's callbacks and module
(``build`` calls it); ``PlainHookName`` is a base class of ``DenseModule``. Each has a guard
test (``tests/test_workarounds.py``; those of the trainer and the module in ``tests/test_train.py``,
where a fit is built) that fails when a library release changes the behaviour it relies on: then
drop or adapt the workaround. What each one saves is measured in docs/benchmarks.md, not here.
"""

import atexit
import gc
import logging
import os
import warnings
from typing import Any

# the per-step hooks Lightning calls on every callback and on the module around each optimiser step
STEP_HOOKS = ("on_before_backward", "on_after_backward", "on_before_optimizer_step", "on_before_zero_grad")


def one_copy_of_lightning_logs() -> None:
    """``import lightning`` gives its logger a console handler of its own and still propagates to the
    root logger, so under Hydra's logging every Lightning message was printed twice. Hydra's
    handlers (console and the run's log file) are kept."""
    if logging.getLogger().handlers:
        lightning_log = logging.getLogger("lightning")
        for handler in list(lightning_log.handlers):
            if type(handler) is logging.StreamHandler:
                lightning_log.removeHandler(handler)


def no_nvml_cuda_check_without_gpu() -> None:
    """``import lightning`` sets PYTORCH_NVML_BASED_CUDA_CHECK=1 (a CUDA check that keeps fork()
    safe). With a CUDA build of torch on a machine without NVIDIA's driver, torch then tries to
    load the driver's library again at every optimiser step (torch.optim's graph-capture check).
    Without a GPU the check has nothing to protect."""
    import torch

    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == "1" and not torch.cuda.is_available():
        del os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"]


def quiet_leafspec_warning() -> None:
    """Lightning 2.6 still builds torch's ``LeafSpec``, which this torch deprecates: a FutureWarning
    printed twice a run that no user can act on."""
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated", category=FutureWarning)


def no_worker_advice_for_in_memory_data() -> None:
    """Lightning advises more DataLoader workers for every loader with ``num_workers=0``; ours
    index tensors already in memory (on the training device), where workers would only copy
    them between processes. The filter is the one Lightning's documentation gives."""
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def skip_final_collection() -> None:
    """At exit the interpreter's last garbage collection walks every torch and Lightning object
    (seconds after the results are written and closed); freezing the heap skips it."""
    atexit.register(gc.freeze)


class NoTips(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("💡 Tip")


def no_advertising_tips() -> None:
    """Lightning 2.6 logs "💡 Tip: ... try installing litlogger / litmodels" on every fit, advertising
    its cloud products: two lines of every run's terminal and train.log that no user here can act on
    (docs/training.md names the trackers this template supports). A filter on the logger that emits them."""
    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, NoTips) for f in logger.filters):
        logger.addFilter(NoTips())


def prepare_process() -> None:
    one_copy_of_lightning_logs()
    no_nvml_cuda_check_without_gpu()
    quiet_leafspec_warning()
    no_worker_advice_for_in_memory_data()
    no_advertising_tips()
    skip_final_collection()


def skip_inherited_step_hooks(callbacks: list[Any], module: Any) -> None:
    """Around every optimiser step Lightning calls each callback's and the LightningModule's
    per-step hooks, each inside a profiler context, also where they only inherit a no-op. Lightning
    skips a hook that is not callable, so an inherited no-op is set to None on the instance; a
    callback or module that implements a hook, in its class or on the instance (``LambdaCallback``),
    is called as before."""
    from lightning import Callback, LightningModule

    for instance, base in [*((c, Callback) for c in callbacks), (module, LightningModule)]:
        for hook in STEP_HOOKS:
            if hook not in vars(instance) and getattr(type(instance), hook) is getattr(base, hook):
                setattr(instance, hook, None)


class PlainHookName:
    """A LightningModule's base before ``LightningModule``. Lightning sets and restores the module's
    ``_current_fx_name`` (the name of the hook it is calling, a str) around every callback hook
    dispatch, six times a training batch here. ``nn.Module.__setattr__`` first checks each value
    against parameters, submodules and buffers (two of these checks run in Python); a str is none
    of them, so it is stored as ``nn.Module`` would store it in the end, directly."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "_current_fx_name" and (value is None or type(value) is str):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


def prepare_trainer(trainer: Any, module: Any) -> None:
    skip_inherited_step_hooks(trainer.callbacks, module)  # with the callbacks Lightning adds (progress bar, model summary)
