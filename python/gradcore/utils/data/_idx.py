"""The IDX reader (the MNIST / Fashion-MNIST file format) and the Fashion-MNIST loader,
exported by ``gradcore.utils.data`` (``gradcore.data``)."""
from __future__ import annotations

import gzip
import math
import os
import zlib
from typing import Any, Tuple, Union

import numpy as np

__all__ = ["FASHION_MNIST_DIR", "load_fashion_mnist", "read_idx"]

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_READ_CHUNK = 1 << 20  # bytes read (inflated) per call: memory grows only with data actually there
_INT64_MAX = 2**63 - 1


def _idx_nbytes(path: str, shape: Tuple[int, ...], itemsize: int) -> int:
    """Bytes of data the header promises, checked like NumPy checks a shape: the product of the
    non-zero dims times the item size must fit in int64 (so a zero dim does not make a shape
    of absurd other dims legal)."""
    if itemsize * math.prod(max(d, 1) for d in shape) > _INT64_MAX:
        raise ValueError(f"{path}: IDX shape {shape} is too large (its size overflows int64)")
    return itemsize * math.prod(shape)


def _read_upto(f: Any, n: int) -> bytearray:
    """At most n bytes from f, in chunks of at most _READ_CHUNK (fewer only at the end of the stream)."""
    out = bytearray()
    while len(out) < n:
        chunk = f.read(min(n - len(out), _READ_CHUNK))
        if not chunk:
            break
        out += chunk
    return out


def read_idx(path: Union[str, "os.PathLike[str]"]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed or raw.

    Header: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
    0x0D float32, 0x0E float64), the number of dims, then each dim as a big-endian uint32.
    Raises ``ValueError`` for a malformed or truncated file, a shape whose size overflows
    int64, or data after the promised payload.

    The header is read and checked first, then at most the payload it promises (plus one
    byte, to detect trailing data) is read or inflated, in bounded chunks: a small gzip
    file that inflates to gigabytes (a "gzip bomb") is rejected without ever holding more
    than the promised array.
    """
    path = os.fspath(path)
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = _read_upto(f, 4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0:
                raise ValueError(f"{path}: not an IDX file (bad magic)")
            code, ndim = head[2], head[3]
            if code not in _IDX_TYPES:
                raise ValueError(f"{path}: unknown IDX element type 0x{code:02x}")
            dims = _read_upto(f, 4 * ndim)
            if len(dims) < 4 * ndim:
                raise ValueError(f"{path}: truncated IDX header")
            shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
            dt = np.dtype(_IDX_TYPES[code])
            nbytes = _idx_nbytes(path, shape, dt.itemsize)
            data = _read_upto(f, nbytes)
            if len(data) < nbytes:
                raise ValueError(f"{path}: expected {nbytes} bytes of data for shape {shape}, found {len(data)}")
            if f.read(1):
                raise ValueError(f"{path}: expected {nbytes} bytes of data for shape {shape}, found more "
                                 f"(trailing data)")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{path}: corrupted gzip data ({e})") from e
    # The bytearray is writable: swap to native byte order in place (no second copy of the data).
    arr = np.frombuffer(data, dtype=dt).reshape(shape)
    return arr if dt.isnative else arr.byteswap(inplace=True).view(dt.newbyteorder("="))


def _find(root: str, stem: str) -> str:
    for name in (stem, stem + ".gz"):
        p = os.path.join(root, name)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(
        f"Fashion-MNIST file {stem}[.gz] not found in {root}. Install the Debian package "
        f"'dataset-fashion-mnist' (apt-get install dataset-fashion-mnist), or download the four IDX files "
        f"(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte) "
        f"into a folder and pass it as root."
    )


def load_fashion_mnist(root: str = FASHION_MNIST_DIR) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels); images are float32 in [0, 1],
    flattened to 784 features; labels are int64."""
    xs = []
    for split in ("train", "t10k"):
        imgs = read_idx(_find(root, f"{split}-images-idx3-ubyte"))
        labels = read_idx(_find(root, f"{split}-labels-idx1-ubyte"))
        xs += [imgs.reshape(len(imgs), -1).astype(np.float32) / 255.0, labels.astype(np.int64)]
    return xs[0], xs[1], xs[2], xs[3]
