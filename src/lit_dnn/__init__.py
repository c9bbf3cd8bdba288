"""lit-dnn: dense neural networks with PyTorch Lightning and Hydra."""

__version__ = "0.1.0"
