"""Input-Hessian HVPs and Lanczos eigenpairs against dense autograd Hessians and eigh."""

from __future__ import annotations

import pytest
import torch

from numerics.hessian_eig import dense_input_hessian, hvp, loss_fn, top_eigenpairs
from numerics.networks import FCNet
from numerics.tolerances import assert_close


@pytest.fixture(scope="module")
def net():
    return FCNet(12, 64, 2, "erf", seed=0, centred=False)


def test_hvp_matches_dense_hessian(net):
    X = torch.randn(3, 12, dtype=torch.float64)
    fn = loss_fn(net, 0.7)
    H = dense_input_hessian(fn, X)
    assert H.shape == (3, 12, 12)
    v = torch.randn(12, dtype=torch.float64)
    for i in range(3):
        assert_close(hvp(fn, X[i], v), H[i] @ v, "autograd", "HVP vs dense Hessian")


def test_eigsh_matches_eigh(net):
    X = torch.randn(2, 12, dtype=torch.float64)
    fn = loss_fn(net, -0.3)
    vals, vecs = top_eigenpairs(fn, X, k=3)
    assert vals.shape == (2, 3) and vecs.shape == (2, 12, 3)
    H = dense_input_hessian(fn, X)
    w, V = torch.linalg.eigh(H)
    for i in range(2):
        assert_close(vals[i], w[i].flip(0)[:3], "iterative_eig", "top eigenvalues")
        for j in range(3):
            ov = float((vecs[i, :, j] @ V[i, :, -1 - j]).abs())
            assert_close(ov, 1.0, "iterative_eig", "eigenvector overlap")


def test_small_dimension_fallback(net):
    small = FCNet(2, 16, 1, "tanh", seed=1, centred=False)
    X = torch.randn(2, 2, dtype=torch.float64)
    fn = loss_fn(small, 0.1)
    vals, _ = top_eigenpairs(fn, X, k=2, which="LM")
    w = torch.linalg.eigvalsh(dense_input_hessian(fn, X))
    ref = torch.stack([wi[torch.argsort(-wi.abs())] for wi in w])
    assert_close(vals, ref, "iterative_eig", "fallback")


def test_bad_input(net):
    fn = loss_fn(net, 0.0)
    with pytest.raises(ValueError, match="k must be"):
        top_eigenpairs(fn, torch.zeros(1, 12, dtype=torch.float64), k=0)
    with pytest.raises(ValueError, match="which"):
        top_eigenpairs(fn, torch.zeros(1, 12, dtype=torch.float64), which="SA")
    with pytest.raises(ValueError, match="NaN"):
        top_eigenpairs(fn, torch.full((1, 12), float("nan"), dtype=torch.float64))


@pytest.mark.gpu
def test_eigsh_on_cuda():
    net = FCNet(12, 64, 2, "erf", seed=0, device="cuda", centred=False)
    X = torch.randn(2, 12, dtype=torch.float64, device="cuda")
    fn = loss_fn(net, 0.5)
    vals, _ = top_eigenpairs(fn, X, k=2)
    w = torch.linalg.eigvalsh(dense_input_hessian(fn, X))
    assert_close(vals.cpu(), w.flip(-1)[:, :2].cpu(), "iterative_eig", "cuda eigsh")
