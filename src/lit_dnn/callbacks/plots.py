"""Matplotlib figures for people (headless: the Agg backend, no display needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402


def confusion_figure(counts: np.ndarray, class_names: list[str], title: str) -> Figure:
    """One matrix: each cell's count written on it, its colour the share of its true class
    (row-normalised: the diagonal is each class's recall), as scikit-learn's display draws it.

    One panel, object API, no pyplot: a second (normalised) panel doubled the drawing time,
    ~0.4 s per validation epoch on two cores, longer than an epoch of the tutorial net.
    """
    n = len(class_names)
    size = max(4.0, 0.45 * n + 2.5)
    fig = Figure(figsize=(size + 1.5, size), dpi=100)
    fig.subplots_adjust(left=0.15, right=0.9, bottom=0.17, top=0.93)  # room for long class names
    ax = fig.subplots()
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true", title=title)
    ax.set_xticklabels(class_names, rotation=45 if max(map(len, class_names)) > 2 else 0, ha="right")
    ax.set_yticklabels(class_names)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(counts[i, j]), ha="center", va="center", fontsize=7 if n > 5 else 9,
                    color="white" if share[i, j] > 0.5 else "black")
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
