"""python serve.py ckpt_path=<checkpoint.ckpt | model.onnx> [port=8000]: a web page and an HTTP API (docs/predict-export.md)"""

import os
from pathlib import Path

import hydra
from omegaconf import DictConfig

os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))


@hydra.main(version_base="1.3", config_path="conf", config_name="serve")
def main(cfg: DictConfig) -> None:
    from lit_dnn.config_checks import check_serve
    from lit_dnn.entry_points import run_task

    run_task("lit_dnn.serve:serve", cfg, check=check_serve)  # imports torch or onnxruntime after Hydra has checked the command


if __name__ == "__main__":
    from lit_dnn.command_line import check_command_line

    check_command_line(Path(__file__).resolve().parent / "conf", "serve")  # a typo: one sentence, not Hydra's error
    main()
