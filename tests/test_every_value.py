"""Every leaf key of the composed train config, given text where it wants something else and -7
where it wants a count (issue "Every value checked"): each ends in one sentence before training,
or is a key where any text is a valid value (a name, a folder)."""

import contextlib
import copy
import io
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from conftest import compose_cfg
from lit_dnn.config_checks import check_train_config
from lit_dnn.errors import UserError
from lit_dnn.train import build

# any text names a folder, a file or a run; ckpt_path is read (and refused if absent) by train(), after build()
FREE_TEXT = ("task_name", "ckpt_path", "task.metric", "trainer.default_root_dir", "logger.csv.save_dir", "logger.csv.name")
FREE_TEXT_ENDS = (".dirpath", ".filename", ".output_dir", ".version", "training_curves.metric")


def leaf_keys(node, prefix: str = "") -> list[str]:  # noqa: ANN001
    if not OmegaConf.is_dict(node):
        return [prefix]
    keys = [k for k in node if not (str(k).startswith("_") and str(k).endswith("_"))]
    return [leaf for k in keys for leaf in leaf_keys(node._get_node(k), f"{prefix}.{k}" if prefix else str(k))]


def test_every_leaf_key_refuses_nonsense_in_one_sentence(tmp_path: Path) -> None:
    base = compose_cfg(["data=binary", "logger=csv"], tmp_path)
    keys = [k for k in leaf_keys(base) if not k.startswith("paths.")]
    outcomes: dict[tuple[str, object], str] = {}
    for key in keys:
        for bad in ("nonsense?", -7):
            cfg = copy.deepcopy(base)
            with open_dict(cfg):
                OmegaConf.update(cfg, key, bad, force_add=True)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    check_train_config(cfg)
                    build(cfg)
                outcomes[key, bad] = "accepted"
            except UserError as err:
                assert "\n" not in str(err), (key, bad, str(err))
                outcomes[key, bad] = "refused"
            except Exception as err:  # noqa: BLE001 - what this test looks for
                outcomes[key, bad] = f"traceback: {type(err).__name__}: {err}"
    tracebacks = {k: v for k, v in outcomes.items() if v.startswith("traceback")}
    assert not tracebacks, tracebacks
    accepted = sorted({key for (key, _), v in outcomes.items() if v == "accepted"})
    assert [k for k in accepted if k not in FREE_TEXT and not k.endswith(FREE_TEXT_ENDS)] == []
    refused = sum(v == "refused" for v in outcomes.values())
    print(f"{len(keys)} leaf keys, {len(outcomes)} values tried: {refused} refused in one sentence, {len(outcomes) - refused} free text")
    assert len(keys) >= 80 and refused >= 140
