"""python predict.py ckpt_path=<checkpoint.ckpt> input=<folder|image|array.npy> [invert=true]  (see README)"""

import atexit
import gc
import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    from lit_dnn.cli import run_task

    run_task("lit_dnn.predict:predict", cfg)  # imports torch and Lightning after Hydra has checked the command


if __name__ == "__main__":
    atexit.register(gc.freeze)  # runs after the results are written: skips the final collection (1.3 s; README, Speed)
    main()
