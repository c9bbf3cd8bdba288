"""The datamodules a config or a checkpoint may name (``data._target_``).

Adding a datamodule is its module, its YAML (``conf/data/<name>.yaml``) and one line in
``DATAMODULES``: its ``_target_`` and, where some settings should be refused before Lightning is
imported and any data read, a ``"module:function"`` that checks them (None: its constructor's
refusals are the sentences, through ``config_checks.instantiate``). A checkpoint's ``_target_`` is
compared with these, never imported from the file.
"""

from importlib import import_module
from typing import Any

from lit_dnn.errors import ConfigError

DATAMODULES: dict[str, str | None] = {
    "lit_dnn.data.image.ImageDataModule": "lit_dnn.config_checks:check_image_data",
    "lit_dnn.data.binary.BinaryDataModule": "lit_dnn.config_checks:check_binary_data",
    "lit_dnn.data.table.TableDataModule": None,
    "lit_dnn.data.folder.ImageFolderDataModule": None,
}


def check_datamodule_settings(data: Any) -> None:
    """``data``: a registered datamodule, and its own early check where it has one."""
    target = data.get("_target_")
    if target not in DATAMODULES:
        raise ConfigError(
            f"data._target_={target!r} is not one of lit-dnn's datamodules ({', '.join(DATAMODULES)}); "
            f"register yours in lit_dnn/data/registry.py."
        )
    if DATAMODULES[target] is not None:
        module, function = DATAMODULES[target].split(":")
        getattr(import_module(module), function)(data)
