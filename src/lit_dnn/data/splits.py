"""How a training pool is split into training and validation (no torch import: config checks use it)."""

from lit_dnn.errors import ConfigError

VAL_FROM = ("random", "last")


def split_size(val_split: float, pool: int, key: str = "data.val_split") -> int:
    """Validation size from a count (int ≥ 1) or a fraction of the training pool (0 < f < 1)."""
    if isinstance(val_split, bool) or not isinstance(val_split, (int, float)):
        raise ConfigError(f"{key}={val_split!r} is not a number; use a count (e.g. 5000) or a fraction in (0, 1) (e.g. 0.2).")
    size = round(pool * val_split) if 0 < val_split < 1 else int(val_split)
    if val_split != size and val_split >= 1 or not 1 <= size < pool:
        raise ConfigError(
            f"{key}={val_split} leaves no training or no {'test' if 'test' in key else 'validation'} samples out of {pool}; "
            f"use a count between 1 and {pool - 1} or a fraction in (0, 1)."
        )
    return size


def check_val_from(val_from: str) -> None:
    if val_from not in VAL_FROM:
        raise ConfigError(
            f"data.val_from={val_from!r} is not one of {', '.join(VAL_FROM)}; use random "
            f"(a seeded random subset) or last (the last samples, as Keras' validation_split)."
        )
