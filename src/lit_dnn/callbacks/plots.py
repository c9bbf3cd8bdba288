"""Matplotlib figures for people, drawn headless (Agg) through the object API: no pyplot,
so no global figure registry to close and nothing that needs a display."""

import matplotlib
import numpy as np
from matplotlib import font_manager
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from PIL import Image, ImageDraw, ImageFont


class ConfusionFigure:
    """One matrix: each cell's count written on it (zeros left blank, so the mistakes stand
    out), its colour the share of its true class (row-normalised: the diagonal is each class's
    recall), as scikit-learn's display draws it.

    Built once and redrawn with each epoch's counts. One panel: a second (normalised) one
    doubled the drawing time. The parts that never change (title, axes, class names, colour
    bar) are rendered once and kept as pixels; each epoch draws only the cells over them
    (matplotlib's blitting API: ``copy_from_bbox``, ``restore_region``, ``draw_artist``) and
    writes the counts with Pillow, in matplotlib's own font, at the cells' pixel centres: 100
    matplotlib text artists were most of each draw.
    Sized for TensorBoard, which shows an image at its card's width (about 500 pixels): a small
    figure with large type, so the counts stay readable there.
    """

    MAX_LABELLED = 60  # over this many classes, the cells are too small for names and counts: colour only

    def __init__(self, class_names: list[str], title: str) -> None:
        n = len(class_names)
        self.labelled = n <= self.MAX_LABELLED
        size = max(3.5, 0.3 * min(n, self.MAX_LABELLED) + 2.0)  # at most 20 inches: 2,000 pixels a side
        self.fig = Figure(figsize=(size + 1.2, size), dpi=100)
        self.fig.subplots_adjust(left=0.2, right=0.9, bottom=0.2, top=0.92)  # room for long class names
        ax = self.fig.subplots()
        self.image = ax.imshow(np.zeros((n, n)), cmap="Blues", vmin=0, vmax=1)
        ax.set(xlabel="predicted", ylabel="true", title=title if self.labelled else f"{title} ({n} classes, counts in the .json)")
        if self.labelled:
            ax.set(xticks=range(n), yticks=range(n))
            ax.set_xticklabels(class_names, rotation=45 if max(map(len, class_names)) > 2 else 0, ha="right")
            ax.set_yticklabels(class_names)
        self.fig.colorbar(self.image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
        self.ax = ax
        self.canvas = FigureCanvasAgg(self.fig)
        self.image.set_visible(False)  # the static background: everything but the cells and counts
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.fig.bbox)
        self.image.set_visible(True)
        # each cell's centre in the image's pixels (matplotlib counts y upwards, images downwards)
        height = self.canvas.get_width_height()[1]
        self.centres = [(x, height - y) for x, y in ax.transData.transform([(j, i) for i in range(n) for j in range(n)])]
        points = 13 if n <= 10 else max(5, 130 // n)
        font = font_manager.findfont(font_manager.FontProperties())  # matplotlib's default font (DejaVu Sans)
        # in pixels at the figure's dpi; 4-digit counts (a test set's 1,135) get 3/4 of it to fit their cell
        self.fonts = [ImageFont.truetype(font, round(points * k * self.fig.dpi / 72)) for k in (1, 0.75)]

    def draw(self, counts: np.ndarray) -> np.ndarray:
        """The figure with these counts, as (height, width, 3) pixels."""
        rows = counts.sum(axis=1, keepdims=True)
        share = np.divide(counts, rows, out=np.zeros_like(counts, dtype=float), where=rows > 0)
        self.image.set_data(share)
        self.canvas.restore_region(self.background)
        for artist in [self.image, *self.ax.spines.values()]:
            self.ax.draw_artist(artist)  # the cells, then the frame over their edges
        pixels = Image.fromarray(np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3]))
        pen = ImageDraw.Draw(pixels)
        font = self.fonts[0] if counts.max(initial=0) < 1000 else self.fonts[1]
        for centre, count, part in zip(self.centres, counts.flat, share.flat):
            if count and self.labelled:  # zeros left blank, so the mistakes stand out
                pen.text(centre, str(count), fill="white" if part > 0.5 else "black", font=font, anchor="mm")
        return np.array(pixels)


def examples_figure(
    images: np.ndarray, true: list[str], predicted: list[str], title: str, value_range: tuple[float, float] | None = None
) -> Figure:
    """A grid of images, each titled with its true and predicted class, in ``value_range`` (the
    original pixels, 0-255) or, without one, each scaled to its own range.

    One mosaic in one axes: an axes per image is many times slower to build and draw
    (docs/benchmarks.md).
    """
    cols = min(8, len(images))
    rows = -(-len(images) // cols)
    h, w = images.shape[1:3]
    gap_x, gap_y = w // 4, int(h * 0.8)  # between tiles, and above each for its two-line title
    mosaic = np.full((rows * (h + gap_y) + 2, cols * (w + gap_x)), np.nan)  # nan: the white background
    height = 1.6 * (h + gap_y) / (w + gap_x) * rows + 0.45  # the tiles' own aspect: no empty bands
    fig = Figure(figsize=(1.6 * cols, height), dpi=100)
    ax = fig.add_axes((0.005, 0.005, 0.99, 1 - 0.35 / height))
    ax.axis("off")
    low, high = value_range or (0.0, 1.0)
    for k, (image, t, p) in enumerate(zip(images, true, predicted)):
        y = (k // cols) * (h + gap_y) + gap_y
        x = (k % cols) * (w + gap_x) + gap_x // 2
        if value_range is None:
            image = (image - image.min()) / max(float(np.ptp(image)), 1e-12)
        mosaic[y : y + h, x : x + w] = image
        ax.text(x + w / 2 - 0.5, y - 1.5 - h * 0.3, f"true {t}", ha="center", va="bottom", fontsize=9, color="black")
        ax.text(x + w / 2 - 0.5, y - 1.5, f"predicted {p}", ha="center", va="bottom", fontsize=9, color="firebrick")
    ax.imshow(mosaic, cmap=matplotlib.colormaps["gray"].with_extremes(bad="white"), vmin=low, vmax=high, interpolation="nearest")
    fig.suptitle(title)
    return fig


def curves_figure(epochs: list[int], train: list[float], val: list[float], metric: str) -> Figure:
    """Train against validation per epoch, as the Keras tutorials plot ``history``."""
    fig = Figure(figsize=(6, 4), dpi=100)
    fig.subplots_adjust(left=0.13, right=0.97, bottom=0.12, top=0.92)  # fixed margins: a layout engine took 0.05 s a figure
    ax = fig.subplots()
    ax.plot(epochs, train, "o-", label=f"train {metric}")
    ax.plot(epochs, val, "o-", label=f"validation {metric}")
    ax.set(xlabel="epoch", ylabel=metric, title=f"{metric} per epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


def to_rgb(fig: Figure) -> np.ndarray:
    """The figure's pixels, (height, width, 3) uint8: drawn once for TensorBoard and a PNG alike."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


class RegressionFigure:
    """Predicted against true values (the diagonal is a perfect fit) and the residuals' histogram:
    the regression counterpart of the confusion matrix.

    Built once and redrawn with each epoch's values, with fixed margins: a new figure with
    matplotlib's constrained layout each epoch took 0.47 s, three times the Boston tutorial's
    training epoch (docs/benchmarks.md).
    """

    BINS = 30

    def __init__(self, unit: str, title: str) -> None:
        self.fig = Figure(figsize=(10, 4.5), dpi=100)
        self.fig.subplots_adjust(left=0.07, right=0.98, bottom=0.12, top=0.84, wspace=0.22)
        self.scatter, self.hist = self.fig.subplots(1, 2)
        (self.diagonal,) = self.scatter.plot([0, 1], [0, 1], color="gray", lw=1, ls="--", label="predicted = true")
        self.points = self.scatter.scatter([], [], s=12, alpha=0.6)
        self.scatter.set(xlabel=f"true {unit}", ylabel=f"predicted {unit}", title="predicted vs true")
        self.scatter.legend(loc="upper left")
        self.bars = self.hist.stairs(np.zeros(self.BINS), np.linspace(0, 1, self.BINS + 1), fill=True, color="tab:orange")
        self.hist.axvline(0, color="gray", lw=1, ls="--")
        self.hist.set(xlabel=f"predicted - true {unit}", ylabel="samples")
        self.fig.suptitle(title)
        self.canvas = FigureCanvasAgg(self.fig)

    def draw(self, predicted: np.ndarray, true: np.ndarray) -> np.ndarray:
        """The figure with these values, as (height, width, 3) pixels."""
        low, high = float(min(true.min(), predicted.min())), float(max(true.max(), predicted.max()))
        pad = 0.05 * (high - low) or 1.0
        self.diagonal.set_data([low, high], [low, high])
        self.points.set_offsets(np.column_stack([true, predicted]))
        self.scatter.set(xlim=(low - pad, high + pad), ylim=(low - pad, high + pad))
        residuals = predicted - true
        counts, edges = np.histogram(residuals, bins=self.BINS)
        self.bars.set_data(counts, edges)
        width = max(abs(edges[0]), abs(edges[-1]))  # zero, the perfect residual, always in view
        self.hist.set(xlim=(min(edges[0], 0) - 0.05 * width, max(edges[-1], 0) + 0.05 * width), ylim=(0, 1.05 * counts.max()))
        self.hist.set_title(f"residuals (mean {residuals.mean():.3g}, MAE {np.abs(residuals).mean():.3g})")
        self.canvas.draw()
        return np.ascontiguousarray(np.asarray(self.canvas.buffer_rgba())[..., :3])
