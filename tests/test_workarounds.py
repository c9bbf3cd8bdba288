"""Guards for lit_dnn/workarounds.py: each workaround, and the library behaviour it relies on.

When a guard of a library's behaviour fails after an upgrade, the workaround it names no
longer does what it says: drop or adapt it (and docs/benchmarks.md's row that measured it)."""

import json
import logging
import os
import subprocess
import sys
import warnings

import pytest
import torch

from lit_dnn import workarounds


@pytest.fixture(scope="module")
def fresh_lightning() -> dict:
    """What ``import lightning`` does in a new interpreter (this one imported it long ago): the
    NVML variable it sets and the handlers it adds to its logger, from one start-up."""
    code = (
        "import json, logging, os; os.environ.pop('PYTORCH_NVML_BASED_CUDA_CHECK', None); import lightning; "
        "print(json.dumps({'nvml': os.environ.get('PYTORCH_NVML_BASED_CUDA_CHECK'), "
        "'handlers': [type(h).__name__ for h in logging.getLogger('lightning').handlers]}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_lightning_still_sets_the_nvml_cuda_check_at_import(fresh_lightning: dict) -> None:
    """Guard of no_nvml_cuda_check_without_gpu: the variable it removes is Lightning's doing."""
    assert fresh_lightning["nvml"] == "1"


def test_the_nvml_check_is_dropped_only_without_a_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTORCH_NVML_BASED_CUDA_CHECK", "1")
    gpu = torch.cuda.is_available()
    workarounds.no_nvml_cuda_check_without_gpu()
    assert os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") == ("1" if gpu else None)


def test_lightning_still_adds_its_own_console_handler(fresh_lightning: dict) -> None:
    """Guard of one_copy_of_lightning_logs: without Lightning's handler it has nothing to remove."""
    assert fresh_lightning["handlers"] == ["StreamHandler"]


def test_one_copy_of_lightning_logs_keeps_the_root_handlers() -> None:
    root, lightning_log = logging.getLogger(), logging.getLogger("lightning")
    kept, extra = logging.StreamHandler(), logging.StreamHandler()
    root.addHandler(kept)
    lightning_log.addHandler(extra)
    try:
        workarounds.one_copy_of_lightning_logs()
        assert extra not in lightning_log.handlers and kept in root.handlers
    finally:
        root.removeHandler(kept)
        lightning_log.removeHandler(extra)


def test_lightning_still_warns_about_leafspec_and_the_filter_hides_it() -> None:
    """Guard of quiet_leafspec_warning: Lightning's _pytree helper still trips torch's deprecation."""
    from lightning.pytorch.utilities import _pytree  # the module named in the warning's location

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _pytree._tree_flatten([torch.zeros(1)])
    assert any("LeafSpec" in str(w.message) for w in caught), "Lightning no longer warns: drop quiet_leafspec_warning"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        workarounds.quiet_leafspec_warning()
        _pytree._tree_flatten([torch.zeros(1)])
    assert not any("LeafSpec" in str(w.message) for w in caught)


def test_lightning_still_advertises_and_the_filter_drops_only_its_tips(caplog: pytest.LogCaptureFixture) -> None:
    """Guard of no_advertising_tips: a Trainer built without the filter logs Lightning's tip; with it, not."""
    import lightning as L

    logger = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    saved = logger.filters[:]
    for f in saved:
        logger.removeFilter(f)
    try:
        with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
            L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
        assert any(str(r.msg).startswith("💡 Tip") for r in caplog.records)
        caplog.clear()
        workarounds.no_advertising_tips()
        with caplog.at_level(logging.INFO, logger="lightning.pytorch.utilities.rank_zero"):
            L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
        messages = [str(r.msg) for r in caplog.records]
        assert messages and not any(m.startswith("💡 Tip") for m in messages)  # the other lines stay (GPU available: ...)
    finally:
        for f in logger.filters[:]:
            logger.removeFilter(f)
        for f in saved:
            logger.addFilter(f)
