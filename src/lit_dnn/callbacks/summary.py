"""Keras' ``model.summary()``: the network's layers, output shapes and parameter counts."""

import logging

import lightning as L
import torch
from torch import nn

log = logging.getLogger(__name__)


def summary_rows(net: nn.Module, input_shape: tuple[int, ...]) -> list[tuple[str, str, int]]:
    """(layer, output shape, parameters) for each layer the network runs, in the order it runs them:
    forward hooks on its leaf modules record one dummy sample's pass (any network, not only a Sequential)."""
    rows: list[tuple[str, str, int]] = []

    def record(layer: nn.Module, _inputs: object, output: object) -> None:
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ()
        kind, params = type(layer).__name__, sum(p.numel() for p in layer.parameters())
        rows.append((f"{kind.lower()}_{len(rows)} ({kind})", str(("None", *shape)).replace("'", ""), params))

    leaves = [m for m in net.modules() if not list(m.children())]
    handles = [m.register_forward_hook(record) for m in leaves]
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            net(torch.zeros(1, *input_shape, device=next(net.parameters()).device))
    finally:
        for handle in handles:
            handle.remove()
        net.train(was_training)
    return rows


def summary_text(net: nn.Module, input_shape: tuple[int, ...]) -> str:
    """The table Keras prints, in plain text (it goes to train.log too)."""
    rows = summary_rows(net, input_shape)
    width = max(len(r[0]) for r in rows) + 2, max(len(r[1]) for r in rows) + 2
    rule = "─" * (width[0] + width[1] + 12)
    lines = [rule, f"{'Layer (type)':<{width[0]}}{'Output Shape':<{width[1]}}{'Param #':>12}", rule]
    lines += [f"{name:<{width[0]}}{shape:<{width[1]}}{params:>12,}" for name, shape, params in rows]
    total = sum(p.numel() for p in net.parameters())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    lines += [rule, f"Total params: {total:,}", f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}", rule]
    return "\n".join(lines)


class KerasSummary(L.Callback):
    """Logs the network's summary when training starts (the LightningModule's metric modules left out)."""

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.is_global_zero:
            shape = tuple(pl_module.hparams.get("input_shape", ()))
            log.info("Model: %s on inputs %s\n%s", type(pl_module).__name__, shape, summary_text(pl_module.net, shape))
