"""Turning a user's files (images, .npy arrays) into model inputs, as training did."""

from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}


def image_mode(shape: tuple[int, ...]) -> str | None:
    """``L`` for (height, width), ``RGB`` / ``RGBA`` for (height, width, 3 / 4); None for other inputs."""
    if len(shape) == 2:
        return "L"
    return {3: "RGB", 4: "RGBA"}.get(shape[2]) if len(shape) == 3 else None


PREDICT_FIX = "pass PNG or JPEG files, or a .npy array"


def read_image(path: Path, shape: tuple[int, ...], invert: bool = False, fix: str = PREDICT_FIX) -> np.ndarray:
    """Any image → a uint8 array of the model's sample ``shape`` (grayscale or colour), resized
    bilinearly as Keras' ``image_dataset_from_directory`` does; ``fix`` ends the sentence of a bad file.

    ``invert`` turns dark-on-light photos and scans (black ink on white paper) around, for models
    trained on light strokes on dark as in MNIST.
    """
    try:
        with Image.open(path) as image:
            picture = image.convert(image_mode(shape)).resize((shape[1], shape[0]), Image.Resampling.BILINEAR)
    except Image.DecompressionBombError as err:
        raise DataError(f"{path} has more pixels than Pillow reads safely (its decompression-bomb guard); shrink it first.") from err
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise DataError(f"cannot read {path} as an image ({type(err).__name__}); {fix}.") from err
    array = np.asarray(picture, dtype=np.uint8)
    return 255 - array if invert else array


def check_values(array: np.ndarray, path: Path) -> None:
    """Real numbers, at least one sample, none of them NaN or infinite."""
    if array.dtype.kind not in "biuf":
        raise DataError(f"{path} holds {array.dtype} values; save real numbers (pixels 0..255 or raw features) with numpy.save.")
    if array.size == 0:
        raise DataError(f"{path} holds no samples (shape {tuple(array.shape)}); save at least one.")
    bad = int(np.count_nonzero(~np.isfinite(array))) if array.dtype.kind == "f" else 0
    if bad:
        raise DataError(f"{path} has {bad} NaN or infinite values; fill or drop them before predicting.")


def load_inputs(source: str | Path, input_shape: tuple[int, ...], invert: bool = False) -> tuple[list[str], np.ndarray]:
    """Names and raw values (N, *input_shape) of a folder of images, one image, or a .npy array."""
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"input={source} does not exist; pass a folder of images, one image, or a .npy array.")
    if path.suffix == ".npy":
        with open(path, "rb") as f:
            is_npy = f.read(6) == b"\x93NUMPY"  # np.load would try anything else as a pickle
        try:
            if not is_npy:
                raise ValueError("no .npy header")
            array = np.load(path, allow_pickle=False)
        except ValueError as err:
            raise DataError(f"cannot read {path} as a .npy array ({err}); save it with numpy.save.") from err
        check_values(array, path)
        if array.ndim < 2 or tuple(array.shape[1:]) != tuple(input_shape):
            expected = ", ".join(["N", *map(str, input_shape)])
            raise DataError(f"{path} has shape {tuple(array.shape)} but the model expects ({expected}); reshape the array.")
        return [f"{path.name}[{i}]" for i in range(len(array))], array
    if image_mode(tuple(input_shape)) is None:
        raise DataError(
            f"this model takes {input_shape[0]} features per sample, not images; pass a .npy array of shape (N, {input_shape[0]})."
        )
    files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))}); pass a folder of images or one image.")
    names = [str(f.relative_to(path) if path.is_dir() else f.name) for f in files]
    return names, np.stack([read_image(f, input_shape, invert) for f in files])


def normalize(raw: np.ndarray, normalization: dict[str, Any]) -> torch.Tensor:
    """Raw values → model inputs with the checkpoint's own normalisation (as training batches were)."""
    return Normalization.from_dict(normalization, raw.shape[1:])(torch.as_tensor(raw))


def load_table_inputs(source: str | Path, schema: dict[str, Any]) -> tuple[list[str], np.ndarray]:
    """Row names and raw model inputs of a table with the training table's feature columns (its target
    columns may be there too, and are ignored), encoded as training encoded them."""
    from lit_dnn.data.table import read_table

    path = str(Path(str(source)).expanduser())
    frame = read_table(path) if Path(path).is_file() else None
    if frame is None:
        raise DataError(f"input={source} is not a file; pass a CSV with the columns {', '.join(schema['features'])}.")
    return table_inputs(frame, schema, path)


def table_inputs(frame: Any, schema: dict[str, Any], path: str) -> tuple[list[str], np.ndarray]:
    """Row names and raw model inputs of a pandas table (``path`` names it in errors): the training
    table's feature columns, encoded as training encoded them."""
    from lit_dnn.data.table import encode_features

    features = schema["features"]
    missing = [c for c in features if c not in frame.columns]
    extra = [str(c) for c in frame.columns if c not in features and c not in schema["targets"]]
    if missing or extra:
        said = "; ".join(
            part for part in (f"missing {', '.join(missing)}" if missing else "", f"extra {', '.join(extra)}" if extra else "") if part
        )
        raise DataError(
            f"{path} does not have the columns the model was trained on ({said}); give it exactly "
            f"{', '.join(features)} (the target column may stay)."
        )
    empty = frame[features].isna().sum()
    empty = empty[empty > 0]
    if len(empty):
        raise DataError(f"{path} has empty cells in {', '.join(f'{c} ({n})' for c, n in empty.items())}; fill them first.")
    if len(frame) == 0:
        raise DataError(f"{path} has no rows; add the rows to predict.")
    return [f"row {i + 2}" for i in range(len(frame))], encode_features(frame, features, schema["categories"], path)
