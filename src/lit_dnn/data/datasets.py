"""What lit-dnn knows about MNIST and Fashion-MNIST before reading a file (no torch import:
config checks use it and answer in the time of ``import torch``)."""

from dataclasses import dataclass

from lit_dnn.errors import ConfigError

# global: one mean and std for all pixels (the dataset's published figures);
# pixel: a mean and std per pixel, from the training split (as sklearn's StandardScaler);
# none: pixels / 255 only, as the Keras tutorials do
STANDARDIZE = ("global", "pixel", "none")


def standardize_mode(standardize: str | bool) -> str:
    mode = {True: "global", False: "none"}[standardize] if isinstance(standardize, bool) else standardize
    if mode not in STANDARDIZE:
        raise ConfigError(f"data.standardize={standardize!r} is not one of {', '.join(STANDARDIZE)} (true and false mean global and none).")
    return mode


@dataclass(frozen=True)
class ImageDatasetSpec:
    folder: str  # torchvision's folder name under data_dir, and its class in torchvision.datasets
    mean: float  # pixel statistics of the training images, in [0, 1] units
    std: float
    class_names: tuple[str, ...]
    looks: str  # what a raw input looks like, for model.json
    train_size: int = 60_000  # images in the training file (MNIST's and Fashion-MNIST's)

    @property
    def torchvision_class(self) -> type:
        """torchvision's dataset class (downloads), imported when a download needs it."""
        import torchvision.datasets

        return getattr(torchvision.datasets, self.folder)


DATASETS: dict[str, ImageDatasetSpec] = {
    "mnist": ImageDatasetSpec("MNIST", 0.1307, 0.3081, tuple(str(d) for d in range(10)), "a white digit on black, as in MNIST"),
    "fashion_mnist": ImageDatasetSpec(
        "FashionMNIST",
        0.2860,
        0.3530,
        ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
        "a light garment on black, as in Fashion-MNIST",
    ),
}
