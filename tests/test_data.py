"""Data loaders: digits offline; MNIST/CIFAR from local files (tiny synthetic files in the
standard formats are written here, so the real parsing code is exercised); clean skips and
clear errors when files are absent."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest
import torch

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
