"""A typo on the command line (``data=mnst``, ``model.net.hiden_dims=[64]``, Keras' ``epochs=5``)
in one sentence with the closest valid names, before Hydra answers with its own multi-line error.

The entry scripts call ``check_command_line`` first: it composes the command's config with
Hydra's compose API, and only where that fails does it say why; a sweep (``-m``) and Hydra's own
flags (``--cfg``, ``--help``) are left to Hydra.
"""

import difflib
import inspect
import re
import sys
from pathlib import Path
from typing import Any

from hydra.utils import get_class
from omegaconf import OmegaConf

# what a Keras user types, and the key that means it here
KERAS_WORDS = {
    "epochs": "trainer.max_epochs",
    "batch_size": "data.batch_size",
    "validation_split": "data.val_split",
    "lr": "model.optimizer.lr",
    "learning_rate": "model.optimizer.lr",
    "dropout": "model.net.dropout",
}


def takes(node: Any, name: str) -> bool:
    """Whether the class ``node`` builds takes an argument ``name`` (then ``+`` adds it)."""
    target = node.get("_target_") if OmegaConf.is_dict(node) else None
    if not isinstance(target, str):
        return False
    try:
        return name in inspect.signature(get_class(target)).parameters
    except Exception:  # noqa: BLE001 - not a class this message can look into
        return False


def closest(word: str, options: list[str]) -> str:
    found = difflib.get_close_matches(word.lower(), [o.lower() for o in options], n=1, cutoff=0.5)
    return next((o for o in options if o.lower() == found[0]), "") if found else ""


def problem(conf: Path, config_name: str, args: list[str]) -> str | None:
    """The sentence for the first override Hydra cannot apply, or None when the config composes."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import ConfigCompositionException, MissingConfigException, OverrideParseException

    def composed(overrides: list[str], with_hydra: bool = False) -> Any:
        with initialize_config_dir(str(conf), version_base="1.3"):
            return compose(config_name, overrides=overrides, return_hydra_config=with_hydra)

    try:
        composed(args)
        return None
    except MissingConfigException as err:
        group, _, choice = str(err.missing_cfg_file or "").rpartition("/")
        options = list(err.options or [])
        if not group or not options:
            return None
        near = closest(choice, options)
        hint = f" (did you mean {group}={near}?)" if near else ""
        return f"{group}={choice} is not an option{hint}; choose one of {', '.join(options)}."
    except OverrideParseException as err:
        reason = str(err).splitlines()[0]
        return f"cannot read the command line ({reason}); quote lists and text with spaces, e.g. 'model.net.hidden_dims=[64,32]'."
    except ConfigCompositionException as err:
        match = re.match(r"Could not override '([^']+)'", str(err))
        if match is None:
            return None
        key = match.group(1)
        written = next((a for a in args if a.split("=", 1)[0] == key), None)
        if written is None:  # not one of the command's own overrides: Hydra's message says it
            return None
        if key in KERAS_WORDS:
            return f"{key}= is Keras' name; here it is {KERAS_WORDS[key]}={written.split('=', 1)[1]}."
        try:
            rest = composed([a for a in args if a is not written])
        except Exception:  # noqa: BLE001 - another mistake: Hydra's own message says it
            return None
        parts = key.split(".")
        depth = next(i for i in range(len(parts), 0, -1) if i == 1 or OmegaConf.select(rest, ".".join(parts[: i - 1])) is not None)
        if depth < len(parts):  # the setting's parent is missing: say which level is wrong, not the leaf
            missing, parent, group = ".".join(parts[:depth]), ".".join(parts[: depth - 1]), parts[0]
            present = [str(k) for k in (OmegaConf.select(rest, parent) if parent else rest) or {} if not str(k).startswith("_")]
            # a group that composes several options (callbacks, logger) can take one more: callbacks=[default,early_stopping]
            addable = sorted(p.stem for p in (conf / group).glob("*.yaml")) if depth == 2 and (conf / group).is_dir() else []
            near = closest(parts[depth - 1], [*present, *addable])
            if near in addable and near not in present:
                typed = next((a.split("=", 1)[1] for a in args if a.split("=", 1)[0] == group), None)  # callbacks=[a,b] already
                others = [a for a in args if a is not written]
                choice = typed.strip("[]") if typed else composed(others, with_hydra=True).hydra.runtime.choices.get(group)
                setting = f"{group}.{near}.{'.'.join(parts[depth:])}={written.split('=', 1)[1]}"
                add = f"{group}=[{choice},{near}]"
                return f"{group}.{near} is not in this run's {group}={typed or choice}; add it with {add}, then {setting} sets it."
            hint = f" (did you mean {parent}.{near}?)" if near and parent else ""
            return f"{missing} is not a setting{hint}; the keys of {parent or 'the config'} are {', '.join(present)}."
        parent, _, leaf = key.rpartition(".")
        node = OmegaConf.select(rest, parent) if parent else rest
        keys = [str(k) for k in node if not str(k).startswith("_")] if OmegaConf.is_dict(node) else []
        near = closest(leaf, keys)
        if near and not takes(node, leaf):
            where = f"{parent}." if parent else ""
            return f"{key} is not a setting (did you mean {where}{near}?); the keys of {parent or 'the config'} are {', '.join(keys)}."
        if not parent:
            return f"{key} is not a setting; check the spelling (the top-level keys are {', '.join(keys)})."
        return f"{key} is not in this config; if it is an argument of what {parent} builds, add it with +{written}, or check the spelling."


def check_command_line(conf: Path, config_name: str, args: list[str] | None = None) -> None:
    """Exit 2 with one sentence when the command's overrides cannot compose (see the module's doc)."""
    args = sys.argv[1:] if args is None else args
    if any(a.startswith("-") for a in args):  # -m sweeps and Hydra's flags: Hydra composes and reports
        return
    sentence = problem(conf, config_name, args)
    if sentence is not None:
        print(f"Error: {sentence}", file=sys.stderr)
        sys.exit(2)
