"""What the networks built as one ``nn.Sequential`` share (the MLP, the CNN)."""

import torch
from torch import nn


class SequentialNet(nn.Module):
    """``layers``, an ``nn.Sequential`` ending in a ``Linear``, returning logits; ``num_outputs`` is
    what the registry asks of a network."""

    layers: nn.Sequential

    @property
    def num_outputs(self) -> int:
        """Logits per sample: the classes (one for a sigmoid unit) or the regression targets."""
        return self.layers[-1].out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)

    def glorot_(self) -> None:
        """Keras' default initialisation (``model.net.init=glorot``): Glorot-uniform weights and zero
        biases for every Linear and Conv2d layer, as Keras' Dense and Conv2D."""
        for layer in self.layers:
            if isinstance(layer, (nn.Linear, nn.Conv2d)):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)
