"""The networks a config or a checkpoint may name (``model.net._target_``).

Adding a network is its module, its YAML (``conf/model/net/<name>.yaml``, and
``conf/model/<name>.yaml`` for ``model=<name>``) and one line in ``NETS``. A network is an
``nn.Module`` built as ``Net(input_shape=..., num_classes=..., **settings)`` that returns logits and
says how many (``num_outputs``); its module's ``check_arguments(**settings)`` names a bad setting by
its config key before any data is read. A checkpoint's ``_target_`` is compared with ``NETS``,
never imported from the file.
"""

from collections.abc import Mapping
from importlib import import_module
from typing import Any

from lit_dnn.errors import ConfigError

NETS = {
    "lit_dnn.models.mlp.MLP": "the Keras tutorials' dense network (model=mlp)",
    "lit_dnn.models.cnn.CNN": "keras.io's simple MNIST convnet (model=cnn)",
}


def net_class(target: str) -> type:
    """The class of a registered network."""
    module, _, name = target.rpartition(".")
    return getattr(import_module(module), name)


def check_net_config(net: Mapping[str, Any]) -> None:
    """``model.net``: a registered network, with settings its module accepts."""
    target = net.get("_target_")
    if target not in NETS:
        raise ConfigError(
            f"model.net._target_={target!r} is not one of lit-dnn's networks ({', '.join(NETS)}); "
            f"register yours in lit_dnn/models/registry.py."
        )
    import_module(target.rpartition(".")[0]).check_arguments(**{k: v for k, v in net.items() if k != "_target_"})
