"""lit-dnn: dense neural networks with PyTorch Lightning and Hydra."""

import os

from omegaconf import OmegaConf

__version__ = "0.1.0"


def rank_suffix() -> str:
    """``_rank<N>`` for a process that torchrun or SLURM started as global rank N > 0, else empty: each
    process of a multi-node run writes its own log in the shared run folder (conf/hydra/default.yaml)."""
    rank = os.environ.get("RANK") or os.environ.get("SLURM_PROCID") or "0"
    return "" if rank == "0" else f"_rank{rank}"


OmegaConf.register_new_resolver("lit_dnn_rank_suffix", rank_suffix, replace=True)
