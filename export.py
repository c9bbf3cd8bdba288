"""python export.py ckpt_path=<checkpoint.ckpt> format=onnx|torchscript  (docs/predict-export.md)"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    from lit_dnn.entry_points import run_task

    run_task("lit_dnn.export:export", cfg)  # imports torch and Lightning after Hydra has checked the command


if __name__ == "__main__":
    from lit_dnn.command_line import check_command_line

    check_command_line(Path(__file__).resolve().parent / "conf", "export")  # a typo: one sentence, not Hydra's error
    main()
