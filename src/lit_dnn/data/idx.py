"""Reading and writing IDX files (the MNIST format), with errors that name the file."""

from pathlib import Path

import numpy as np
import torch

from lit_dnn.errors import DataError

_UBYTE = 0x08  # IDX type code for unsigned bytes, the only one MNIST uses


def read_idx(path: Path) -> torch.Tensor:
    """Read an unsigned-byte IDX file into a uint8 tensor, checking header and size."""
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"cannot read {path} ({err.strerror}); check that the file and its folder are readable.") from err
    fix = "delete it so it can be downloaded again (data.download=true) or copy a good copy there"
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != _UBYTE or not 1 <= raw[3] <= 4:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (wrong magic number {raw[:4].hex()}); {fix}.")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{path} is truncated inside its header; {fix}.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{path} holds {len(raw)} bytes but its header {shape} needs {expected} (truncated or corrupted); {fix}.")
    array = np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)
    return torch.from_numpy(array.copy())


def write_idx(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as an IDX file (used by tests and tools to make small datasets)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = bytes([0, 0, _UBYTE, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.tobytes())
