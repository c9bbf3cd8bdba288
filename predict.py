"""python predict.py ckpt_path=<checkpoint.ckpt> input=<folder|image|array.npy> [invert=true]  (see README)"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    from lit_dnn.cli import run_task
    from lit_dnn.predict import predict

    run_task(predict, cfg)


if __name__ == "__main__":
    main()
