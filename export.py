"""python export.py ckpt_path=<checkpoint.ckpt> format=onnx|torchscript  (see README)"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    from lit_dnn.cli import run_task
    from lit_dnn.export import export

    run_task(export, cfg)


if __name__ == "__main__":
    main()
