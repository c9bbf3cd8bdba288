"""Your own images, one subfolder per class (``data=images``): Keras' ``image_dataset_from_directory``.

    photos/
      cat/  a.jpg b.png ...
      dog/  c.jpg ...

Labels are inferred from the subfolders in alphanumeric order (or ``class_names`` fixes which and
in what order), every image is resized to ``image_size`` and read as ``color_mode`` (grayscale,
rgb, rgba), as Keras does. Keras' ``validation_split`` is ``val_split`` here, and a test split
Keras lacks (``test_split``) is held out first, both seeded by ``split_seed``. The images are read
once into one uint8 tensor, like MNIST's files, so batches are cut in memory.
"""

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from lit_dnn.data.in_memory import InMemoryDataModule
from lit_dnn.data.normalization import Normalization
from lit_dnn.data.splits import split_size
from lit_dnn.errors import DataError
from lit_dnn.inputs import read_image
from lit_dnn.limits import MAX_CLASSES, MAX_INPUT_VALUES, MAX_NAME_CHARS

log = logging.getLogger(__name__)

# the files image_dataset_from_directory reads
IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
# color_mode -> channels (None: (H, W) images); inputs.image_mode reads each shape in its Pillow mode
COLOR_MODES = {"grayscale": None, "rgb": 3, "rgba": 4}


def image_shape(image_size: tuple[int, int], color_mode: str) -> tuple[int, ...]:
    """One sample's shape: (height, width), or (height, width, channels) as Keras holds colour."""
    channels = COLOR_MODES[color_mode]
    return (*image_size, channels) if channels else tuple(image_size)


def class_folders(root: Path, class_names: list[str] | None) -> list[tuple[str, list[Path]]]:
    """Each class's name and image files, in the order of ``class_names`` or alphanumeric order."""
    if not root.is_dir():
        what = "is a file" if root.exists() else "does not exist"
        raise DataError(f"data.path={root} {what}; pass a folder with one subfolder of images per class (photos/cat, photos/dog).")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    names = list(class_names) if class_names is not None else found
    missing = [n for n in names if n not in found]
    if missing:
        raise DataError(
            f"data.class_names names {', '.join(missing)}, not a subfolder of {root} (it has {', '.join(found) or 'none'}); "
            f"fix the names or drop data.class_names."
        )
    if len(names) < 2:
        loose = sum(1 for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        where = f" ({loose} images lie in {root} itself)" if loose else ""
        raise DataError(
            f"{root} has {len(names)} class subfolder{'s' * (len(names) != 1)}{where}; a classifier needs two or more, "
            f"one subfolder of images per class (photos/cat, photos/dog)."
        )
    if len(names) > MAX_CLASSES:
        raise DataError(f"{root} has {len(names):,} class subfolders, over lit-dnn's limit of {MAX_CLASSES:,}; group them.")
    long = next((n for n in names if len(n) > MAX_NAME_CHARS), None)
    if long is not None:
        raise DataError(f"{root} has a class folder name of {len(long)} characters, over lit-dnn's limit of {MAX_NAME_CHARS}; rename it.")
    classes = []
    for name in names:
        files = sorted(p for p in (root / name).rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        if not files:
            raise DataError(
                f"{root / name} holds no images ({', '.join(IMAGE_SUFFIXES)}); add some, remove the folder, or leave it "
                f"out with data.class_names."
            )
        classes.append((name, files))
    return classes


class ImageFolderDataModule(InMemoryDataModule):
    """Images in class subfolders; test and validation splits carved from them, seeded."""

    def __init__(
        self,
        path: str,
        image_size: tuple[int, int] | list[int] = (28, 28),
        color_mode: str = "grayscale",
        class_names: list[str] | None = None,
        batch_size: int | str = 32,
        eval_batch_size: int = 1000,
        val_split: float = 0.2,
        test_split: float = 0.2,
        seed: int = 0,
        split_seed: int | None = None,
        val_from: str = "random",
    ) -> None:
        super().__init__(batch_size, eval_batch_size, val_split, seed, val_from, split_seed)
        size = list(image_size) if isinstance(image_size, Sequence) and not isinstance(image_size, str) else []
        if len(size) != 2 or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in size):
            raise ValueError(f"data.image_size={image_size!r} must be [height, width] in pixels, e.g. [28, 28]")
        if color_mode not in COLOR_MODES:
            raise ValueError(f"data.color_mode={color_mode!r} is not one of {', '.join(COLOR_MODES)} (Keras' color_mode)")
        if math.prod(image_shape(tuple(size), color_mode)) > MAX_INPUT_VALUES:
            raise ValueError(f"data.image_size={size} in {color_mode} is over lit-dnn's limit of {MAX_INPUT_VALUES:,} values an image")
        listed = isinstance(class_names, Sequence) and not isinstance(class_names, str)
        if class_names is not None and (not listed or len(set(map(str, class_names))) != len(class_names)):
            raise ValueError(f"data.class_names={class_names!r} must be a list of distinct subfolder names, or null (all, in order)")
        self.path = path
        self.image_size = tuple(size)
        self.color_mode = color_mode
        self.test_split = test_split
        self.class_names = [str(c) for c in class_names] if class_names is not None else []
        self.fixed_classes = class_names is not None
        self.input_shape = image_shape(self.image_size, color_mode)
        self.normalization = self._pixels(0.0, 1.0)  # the training images' statistics, set by load

    def _pixels(self, mean: float, std: float) -> Normalization:
        shape = "x".join(map(str, self.image_size))
        return Normalization(1 / 255, mean, std, doc=f"{shape} {self.color_mode} pixels 0..255 times scale, minus mean, over std")

    def load(self) -> None:
        root = Path(self.path).expanduser()
        start = time.perf_counter()
        classes = class_folders(root, self.class_names if self.fixed_classes else None)
        self.class_names = [name for name, _ in classes]
        files = [(f, label) for label, (_, paths) in enumerate(classes) for f in paths]
        fix = "remove it or replace it with a PNG or JPEG"
        images = torch.from_numpy(np.stack([read_image(f, self.input_shape, fix=fix) for f, _ in files]))
        labels = torch.tensor([label for _, label in files])
        n_test = split_size(self.test_split, len(files), "data.test_split")
        order = torch.randperm(len(files), generator=torch.Generator().manual_seed(self.split_seed + 1))  # not the val split's order
        test_idx, pool_idx = order[:n_test], order[n_test:]
        self.set_splits(images[pool_idx], labels[pool_idx], images[test_idx], labels[test_idx])
        pixels = self.splits["train"][0].float().div_(255.0)
        self.normalization = self._pixels(float(pixels.mean()), max(float(pixels.std()), 1e-3))
        log.info(
            "Read %d images of %d classes from %s in %.1f s: %d training, %d validation, %d test.",
            *(len(files), len(classes), root, time.perf_counter() - start),
            *(len(self.splits[s][1]) for s in ("train", "val", "test")),
        )
