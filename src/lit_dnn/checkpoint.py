"""Reading checkpoints safely (``weights_only=True``) and rebuilding the model they hold."""

import pickle
import zipfile
from pathlib import Path
from typing import Any

import hydra
import torch
from omegaconf import OmegaConf

from lit_dnn.errors import CheckpointError
from lit_dnn.models.classifier import Classifier


def build_model(model_cfg: Any, input_shape: tuple[int, ...], class_names: list[str]) -> Classifier:
    """Instantiate ``model`` from config, with the shapes that the data dictates.

    The model's plain config and the data's shapes are saved as hyperparameters, so a
    checkpoint can rebuild its model without pickled objects.
    """
    plain = OmegaConf.to_container(OmegaConf.create(model_cfg), resolve=True)
    model = hydra.utils.instantiate(
        plain,
        net={"input_shape": list(input_shape), "num_classes": len(class_names)},
        class_names=list(class_names),
        _convert_="all",
    )
    model.save_hyperparameters({"model": plain, "input_shape": list(input_shape), "class_names": list(class_names)})
    return model


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load a checkpoint with ``weights_only=True``, turning every failure into one sentence."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist; pass ckpt_path=<a .ckpt file written by train.py>.")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as err:
        raise CheckpointError(
            f"{path} is not a readable checkpoint (truncated or not a torch file: {str(err).splitlines()[0][:120]}); "
            f"pass another .ckpt, e.g. checkpoints/last.ckpt of the run."
        ) from err
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{path} is a torch file but not a Lightning checkpoint (no state_dict); pass a .ckpt written by train.py.")
    if "model" not in checkpoint.get("hyper_parameters", {}):
        raise CheckpointError(f"{path} was not written by lit-dnn (no model config in its hyperparameters); pass a .ckpt written by train.py.")
    return checkpoint


def check_shapes(checkpoint: dict[str, Any], model: torch.nn.Module, path: str | Path) -> None:
    """Raise naming every layer whose shape differs between a checkpoint and a model."""
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in checkpoint["state_dict"].items()}
    problems = [f"{k}: checkpoint {found[k]} vs model {expected[k]}" for k in expected if k in found and found[k] != expected[k]]
    problems += [f"{k}: missing in checkpoint" for k in expected if k not in found]
    problems += [f"{k}: not in model" for k in found if k not in expected]
    if problems:
        shown = "; ".join(problems[:6]) + ("; ..." if len(problems) > 6 else "")
        raise CheckpointError(
            f"{path} holds a different architecture ({shown}); use the model settings it was trained with."
        )


def load_classifier(path: str | Path) -> tuple[Classifier, dict[str, Any]]:
    """The trained model of a checkpoint, in eval mode, and its hyperparameters."""
    checkpoint = read_checkpoint(path)
    hp = checkpoint["hyper_parameters"]
    model = build_model(hp["model"], tuple(hp["input_shape"]), hp["class_names"])
    check_shapes(checkpoint, model, path)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), hp
