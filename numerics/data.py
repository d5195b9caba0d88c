"""Data loading: scikit-learn's digits (shipped, offline) and MNIST / CIFAR-10 from a local
folder the user names.  Nothing is downloaded; nothing is unpickled (CIFAR-10 is read from
its *binary* distribution).  Missing files raise :class:`DatasetNotFound`, which tests turn
into a clean skip.
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from numerics.validation import DEFAULT_DTYPE, resolve_device

__all__ = [
    "Dataset",
    "DatasetNotFound",
    "load_digits_dataset",
    "load_mnist",
    "load_cifar10",
    "one_hot",
    "split",
    "DATA_DIR_ENV",
    "cifar10_available",
]

#: environment variable naming the folder that holds MNIST / CIFAR-10 files
DATA_DIR_ENV = "POISONCURV_DATA"


class DatasetNotFound(FileNotFoundError):
    """The dataset's files are not in the folder given (nothing is ever downloaded)."""


@dataclass(frozen=True)
class Dataset:
    """Inputs ``X`` (float64, ``(n, d)``, scaled to [0, 1]), integer labels ``y`` and the
    image shape ``(channels, height, width)`` so triggers can be placed on pixels."""

    X: torch.Tensor
    y: torch.Tensor
    image_shape: tuple[int, int, int]
    name: str

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1


def load_digits_dataset(*, device: str | torch.device | None = None,
                        dtype: torch.dtype = DEFAULT_DTYPE) -> Dataset:
    """scikit-learn's 1,797 real 8x8 handwritten digits, pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    raw = load_digits()
    X = torch.as_tensor(raw.data / 16.0, dtype=dtype, device=resolve_device(device))
    y = torch.as_tensor(raw.target, dtype=torch.long, device=X.device)
    return Dataset(X, y, (1, 8, 8), "digits")


def one_hot(y: torch.Tensor, n_classes: int | None = None, *, dtype: torch.dtype = DEFAULT_DTYPE
            ) -> torch.Tensor:
    """One-hot targets ``(n, classes)`` from integer labels."""
    y = torch.as_tensor(y)
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(y.shape)}")
    if y.numel() and int(y.min()) < 0:
        raise ValueError("labels must be non-negative integers")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if y.numel() and int(y.max()) >= k:
        raise ValueError(f"label {int(y.max())} out of range for {k} classes")
    return torch.nn.functional.one_hot(y.long(), k).to(dtype)


def split(ds: Dataset, test_fraction: float = 0.3, *, seed: int = 0
          ) -> tuple[Dataset, Dataset]:
    """A fixed, seeded, stratified-by-permutation train/test split."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction!r}")
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(ds.X.shape[0], generator=g).to(ds.X.device)
    n_test = int(round(test_fraction * ds.X.shape[0]))
    te, tr = perm[:n_test], perm[n_test:]
    return (Dataset(ds.X[tr], ds.y[tr], ds.image_shape, ds.name),
            Dataset(ds.X[te], ds.y[te], ds.image_shape, ds.name))


def _data_dir(folder: str | os.PathLike | None) -> Path:
    folder = folder if folder is not None else os.environ.get(DATA_DIR_ENV)
    if folder is None:
        raise DatasetNotFound(f"no data folder given (pass folder=... or set {DATA_DIR_ENV})")
    p = Path(folder)
    if not p.is_dir():
        raise DatasetNotFound(f"data folder {str(p)!r} does not exist")
    return p


def _open_maybe_gz(path: Path):
    if path.exists():
        return open(path, "rb")
    gz = path.with_name(path.name + ".gz")
    if gz.exists():
        return gzip.open(gz, "rb")
    raise DatasetNotFound(f"missing file {path.name} (or {path.name}.gz) in {str(path.parent)!r}")


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format): magic, dims, big-endian unsigned bytes."""
    with _open_maybe_gz(path) as fh:
        header = fh.read(4)
        if len(header) != 4 or header[0] != 0 or header[1] != 0 or header[2] != 0x08:
            raise ValueError(f"{path.name}: not an unsigned-byte IDX file")
        ndim = header[3]
        dims = struct.unpack(">" + "I" * ndim, fh.read(4 * ndim))
        data = np.frombuffer(fh.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path.name}: expected {int(np.prod(dims))} values, found {data.size}")
    return data.reshape(dims)


def load_mnist(folder: str | os.PathLike | None = None, *, train: bool = True,
               device: str | torch.device | None = None) -> Dataset:
    """MNIST from the standard IDX files (optionally ``.gz``) in ``folder``."""
    p = _data_dir(folder)
    prefix = "train" if train else "t10k"
    images = _read_idx(p / f"{prefix}-images-idx3-ubyte")
    labels = _read_idx(p / f"{prefix}-labels-idx1-ubyte")
    if images.shape[0] != labels.shape[0]:
        raise ValueError("MNIST images and labels disagree in count")
    X = torch.as_tensor(images.reshape(images.shape[0], -1) / 255.0, dtype=DEFAULT_DTYPE,
                        device=resolve_device(device))
    return Dataset(X, torch.as_tensor(labels.astype(np.int64), device=X.device), (1, 28, 28),
                   "mnist")


def load_cifar10(folder: str | os.PathLike | None = None, *, train: bool = True,
                 device: str | torch.device | None = None) -> Dataset:
    """CIFAR-10 from its binary distribution (``data_batch_1.bin`` ... ``test_batch.bin``,
    each record: 1 label byte + 3072 pixel bytes), in ``folder`` or its
    ``cifar-10-batches-bin`` sub-folder.  Never unpickles."""
    p = _data_dir(folder)
    if (p / "cifar-10-batches-bin").is_dir():
        p = p / "cifar-10-batches-bin"
    names = [f"data_batch_{i}.bin" for i in range(1, 6)] if train else ["test_batch.bin"]
    records = []
    for name in names:
        f = p / name
        if not f.exists():
            raise DatasetNotFound(f"missing CIFAR-10 binary file {name} in {str(p)!r}")
        raw = np.fromfile(f, dtype=np.uint8)
        if raw.size % 3073:
            raise ValueError(f"{name}: size {raw.size} is not a multiple of 3073-byte records")
        records.append(raw.reshape(-1, 3073))
    data = np.concatenate(records)
    X = torch.as_tensor(data[:, 1:] / 255.0, dtype=DEFAULT_DTYPE, device=resolve_device(device))
    y = torch.as_tensor(data[:, 0].astype(np.int64), device=X.device)
    if int(y.max()) > 9:
        raise ValueError("CIFAR-10 labels must be 0..9; is this the CIFAR-100 format?")
    return Dataset(X, y, (3, 32, 32), "cifar10")


def cifar10_available(folder: str | os.PathLike | None = None) -> tuple[bool, str]:
    """Whether the CIFAR-10 test batch can be read from ``folder`` (default
    ``$POISONCURV_DATA``); the message says what is missing."""
    try:
        ds = load_cifar10(folder, train=False)
    except DatasetNotFound as exc:
        return False, f"CIFAR-10 not available: {exc}"
    return True, f"CIFAR-10 test batch found ({ds.X.shape[0]} images)"
