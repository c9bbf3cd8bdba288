"""MNIST and Fashion-MNIST: one datamodule, whole splits in memory as uint8 tensors."""

from pathlib import Path

import torch

from lit_dnn.data.datasets import DATASETS, standardize_mode
from lit_dnn.data.idx import read_idx
from lit_dnn.data.in_memory import InMemoryDataModule
from lit_dnn.data.normalization import Normalization
from lit_dnn.errors import DataError

PIXEL_STD_FLOOR = 0.05  # pixels that barely vary (MNIST's borders) are not blown up into noise
_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"), "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def raw_folder(data_dir: str | Path, dataset: str) -> Path:
    return Path(data_dir).expanduser() / DATASETS[dataset].folder / "raw"


def download_failure(err: Exception) -> str:
    """The reason in torchvision's download error, which lists each mirror tried and what it got."""
    lines = [line.strip(" <>") for line in str(err).splitlines()]
    reasons = [line for line in lines if line and not line.startswith(("Tried ", "Error downloading"))]
    return reasons[-1] if reasons else (lines[0] if lines and lines[0] else type(err).__name__)


def split_files(data_dir: str | Path, dataset: str, split: str, download: bool = False) -> list[Path]:
    """The images and labels files of a split in torchvision's layout
    ``<data_dir>/<MNIST|FashionMNIST>/raw``; with ``download`` and files missing,
    torchvision fetches them first."""
    spec = DATASETS[dataset]
    folder = raw_folder(data_dir, dataset)
    paths = [folder / name for name in _FILES[split]]
    try:
        present = all(p.exists() for p in paths)
    except PermissionError as err:
        raise DataError(
            f"cannot look into {folder} ({err.strerror}); make it readable (chmod) or set data.data_dir "
            f"(or DATA_DIR) to a folder you can read."
        ) from err
    if not present:
        if download:
            root = Path(data_dir).expanduser()
            made = [p for p in (root, root / spec.folder, folder) if not p.exists()]
            try:
                spec.torchvision_class(str(root), train=split == "train", download=True)
            except Exception as err:  # network errors come in many types
                for empty in reversed(made):  # leave no empty folders behind
                    if empty.is_dir() and not any(empty.iterdir()):
                        empty.rmdir()
                raise DataError(
                    f"could not download {spec.folder} into {folder} ({download_failure(err)}); "
                    f"check the network, or put the files there yourself and set data.data_dir (or DATA_DIR)."
                ) from err
        else:
            missing = ", ".join(p.name for p in paths if not p.exists())
            raise DataError(
                f"{spec.folder} files missing in {folder} ({missing}); set data.data_dir (or the DATA_DIR "
                f"environment variable) to the folder that holds {spec.folder}/raw, or pass data.download=true."
            )
    return paths


def load_split(data_dir: str | Path, dataset: str, split: str, download: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 of the train or test split."""
    spec = DATASETS[dataset]
    paths = split_files(data_dir, dataset, split, download)
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or labels.ndim != 1:
        raise DataError(
            f"{paths[0]} must hold images (N, H, W) and {paths[1]} labels (N,); got shapes {tuple(images.shape)} and {tuple(labels.shape)}."
        )
    if tuple(images.shape[1:]) != (28, 28):
        raise DataError(
            f"{paths[0]} holds images of {tuple(images.shape[1:])} pixels, but {dataset} images are 28x28; "
            f"replace it with the dataset's own file."
        )
    if len(images) == 0:
        raise DataError(f"{paths[0]} holds no images; replace it with the dataset's own file.")
    if len(images) != len(labels):
        raise DataError(
            f"{paths[0]} holds {len(images)} images but {paths[1]} holds {len(labels)} labels; "
            f"the two files must come from the same dataset release."
        )
    if int(labels.max()) >= len(spec.class_names):
        raise DataError(f"{paths[1]} has label {int(labels.max())} but {dataset} has {len(spec.class_names)} classes.")
    return images, labels.long()


class ImageDataModule(InMemoryDataModule):
    """MNIST or Fashion-MNIST; validation is carved from the training images, seeded."""

    def __init__(
        self,
        dataset: str = "mnist",
        data_dir: str = "data",
        batch_size: int = 128,
        eval_batch_size: int = 1000,
        val_split: float = 5000,
        download: bool = False,
        seed: int = 0,
        split_seed: int | None = None,
        standardize: str | bool = "global",
        val_from: str = "random",
    ) -> None:
        """``standardize``: global, pixel or none (see ``STANDARDIZE``)."""
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {sorted(DATASETS)}, got {dataset!r}")
        super().__init__(
            batch_size=batch_size,
            eval_batch_size=eval_batch_size,
            val_split=val_split,
            seed=seed,
            split_seed=split_seed,
            val_from=val_from,
        )
        self.dataset = dataset
        self.data_dir = data_dir
        self.download = download
        spec = DATASETS[dataset]
        self.class_names = list(spec.class_names)
        self.input_shape = (28, 28)
        self.standardize = standardize_mode(standardize)
        # pixel: per-pixel statistics of the training split, set by load
        self.normalization = self._pixels(*((spec.mean, spec.std) if self.standardize == "global" else (0.0, 1.0)))

    def _pixels(self, mean: float | torch.Tensor, std: float | torch.Tensor) -> Normalization:
        return Normalization(
            1 / 255, mean, std, doc=f"28x28 pixels 0..255 ({DATASETS[self.dataset].looks}) times scale, minus mean, over std"
        )

    def prepare_data(self) -> None:
        """Downloads missing files (once per machine in DDP); reading them is ``setup``'s work."""
        if self.download:
            for split in ("train", "test"):
                split_files(self.data_dir, self.dataset, split, download=True)

    def load(self) -> None:
        train_x, train_y = load_split(self.data_dir, self.dataset, "train", self.download)
        self.set_splits(train_x, train_y, *load_split(self.data_dir, self.dataset, "test", self.download))
        if self.standardize == "pixel":  # statistics of the training split only
            pixels = self.splits["train"][0].float().div_(255.0)
            self.normalization = self._pixels(pixels.mean(0), pixels.std(0).clamp_min(PIXEL_STD_FLOOR))
