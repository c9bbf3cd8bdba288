"""python train.py [model=mlp] [data=mnist|fashion_mnist|binary] [key=value ...]  (docs/training.md)"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from lit_dnn.config_checks import check_train_config
    from lit_dnn.entry_points import run_task

    # the config is checked before lit_dnn.train imports Lightning: a mistake answers in about the time of import torch
    metrics = run_task("lit_dnn.train:train", cfg, check=check_train_config)  # None when a job of a multirun failed
    return None if metrics is None else metrics.get(cfg.optimized_metric)


if __name__ == "__main__":
    from lit_dnn.command_line import check_command_line

    check_command_line(Path(__file__).resolve().parent / "conf", "train")  # a typo: one sentence, not Hydra's error
    main()
