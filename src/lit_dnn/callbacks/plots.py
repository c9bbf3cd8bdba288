"""Matplotlib figures for people (headless: the Agg backend, no display needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def confusion_figure(counts: np.ndarray, class_names: list[str], title: str) -> Figure:
    """Counts (annotated) and the row-normalised view (recall per true class) side by side.

    Uses the object API without pyplot and one set of annotations: drawing ~200 text labels
    costs more than a training epoch of the tutorial net on a small dataset.
    """
    n = len(class_names)
    size = max(4.0, 0.45 * n + 2.5)
    fig = Figure(figsize=(2 * size + 1.2, size), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.97, bottom=0.15, top=0.92, wspace=0.25)
    axes = fig.subplots(1, 2)
    rows = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    for ax, values, name in ((axes[0], counts, "counts"), (axes[1], normalised, "row-normalised")):
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=None if ax is axes[0] else 1)
        ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=f"{title} ({name})")
        ax.set_xticklabels(class_names, rotation=45, ha="right")
        ax.set_yticklabels(class_names)
    fig.colorbar(image, ax=axes[1], fraction=0.046, pad=0.04)
    threshold = counts.max() / 2 if counts.max() > 0 else 1
    for i in range(n):
        for j in range(n):
            axes[0].text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7 if n > 5 else 9,
                         color="white" if counts[i, j] > threshold else "black")
    return fig


def examples_figure(images: np.ndarray, true: list[str], predicted: list[str], title: str) -> Figure:
    """A grid of images, each titled ``true → predicted``."""
    cols = min(8, len(images))
    rows = -(-len(images) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.6 * cols, 1.9 * rows + 0.4), squeeze=False, constrained_layout=True)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, t, p in zip(axes.flat, images, true, predicted):
        ax.imshow(image, cmap="gray")
        ax.set_title(f"{t} → {p}", fontsize=8, color="firebrick")
    fig.suptitle(title)
    return fig


def curves_figure(epochs: list[int], train: list[float], val: list[float], metric: str) -> Figure:
    """Train against validation per epoch, as the Keras tutorials plot ``history``."""
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    ax.plot(epochs, train, "o-", label=f"train {metric}")
    ax.plot(epochs, val, "o-", label=f"validation {metric}")
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def save(fig: Figure, path: str) -> None:
    fig.savefig(path, dpi=100)
    plt.close(fig)
