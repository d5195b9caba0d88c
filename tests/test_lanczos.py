"""numerics.lanczos against dense eigh: random symmetric matrices (separated, clustered,
repeated and negative spectra, k = 1..5) and a network's input loss Hessian via HVPs."""

from __future__ import annotations

import pytest
import torch

from numerics.hessian_eig import dense_input_hessian, hvp, loss_fn
from numerics.lanczos import (
    LanczosConvergenceError,
    LanczosInputError,
    lanczos,
)
from numerics.networks import FCNet

TOL = 1e-8


def _matrix(eigs: torch.Tensor, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=torch.float64))
    return (Q * eigs) @ Q.T


def _spectrum(kind: str, d: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.sort(torch.randn(d, generator=g, dtype=torch.float64), descending=True).values
    if kind == "separated":
        return base
    if kind == "clustered":  # top five within 1e-3 of each other
        base[:5] = 4.0 + 1e-3 * torch.arange(5, dtype=torch.float64)
        return base
    if kind == "repeated":  # top eigenvalue three times, next twice
        base[:3] = 5.0
        base[3:5] = 4.0
        return base
    if kind == "negative":  # all eigenvalues negative
        return -base.abs() - 0.5
    raise AssertionError(kind)


def _check(res, A: torch.Tensor, k: int, which: str = "LA") -> None:
    w = torch.linalg.eigvalsh(A)
    ref = {"LA": w.flip(0), "SA": w, "LM": w[torch.argsort(w.abs(), descending=True)]}[which][:k]
    scale = float(w.abs().max())
    assert res.converged
    assert torch.allclose(res.values, ref, rtol=0, atol=1e-9 * scale), (res.values, ref)
    V = res.vectors
    assert torch.allclose(V.T @ V, torch.eye(k, dtype=V.dtype), atol=1e-10)
    r = torch.linalg.vector_norm(A @ V - V * res.values, dim=0)
    assert torch.all(r <= TOL * torch.clamp(res.values.abs(), min=1e-6 * scale) * (1 + 1e-6))
    assert torch.allclose(r, res.residuals, rtol=1e-6, atol=1e-14 * scale)


@pytest.mark.parametrize("kind", ["separated", "clustered", "negative"])
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_random_symmetric(kind: str, k: int) -> None:
    d = 80
    A = _matrix(_spectrum(kind, d, k), seed=10 + k)
    count = [0]

    def mv(v):
        count[0] += 1
        return A @ v

    res = lanczos(mv, torch.ones(d, dtype=torch.float64), k, tol=TOL)
    _check(res, A, k)
    assert res.matvecs == count[0] <= d


@pytest.mark.parametrize("k", [1, 3, 5])
def test_repeated_eigenvalues_with_a_block(k: int) -> None:
    d = 60
    A = _matrix(_spectrum("repeated", d, 0), seed=3)
    res = lanczos(lambda v: A @ v, torch.randn(d, dtype=torch.float64), k, tol=TOL,
                  block_size=3)
    _check(res, A, k)


@pytest.mark.parametrize("which", ["SA", "LM"])
def test_other_ends(which: str) -> None:
    d = 50
    A = _matrix(_spectrum("separated", d, 4), seed=5)
    res = lanczos(lambda v: A @ v, torch.randn(d, dtype=torch.float64), 3, which=which)
    _check(res, A, 3, which)


def test_full_space_is_exact_for_tiny_d() -> None:
    A = _matrix(torch.tensor([3.0, -1.0, 2.0], dtype=torch.float64), seed=1)
    res = lanczos(lambda v: A @ v, torch.ones(3, dtype=torch.float64), 3)
    _check(res, A, 3)
    assert res.matvecs == 3


def test_network_input_hessian() -> None:
    d = 40
    net = FCNet(d, 32, depth=2, activation="tanh", seed=2, centred=False)
    fn = loss_fn(net, 1.0)
    x = torch.randn(d, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    H = dense_input_hessian(fn, x[None])[0]
    H = 0.5 * (H + H.T)
    res = lanczos(lambda v: hvp(fn, x, v), torch.randn(d, dtype=torch.float64), 5, tol=TOL)
    _check(res, H, 5)
    assert res.matvecs < d


def test_budget_exhausted_is_named() -> None:
    d = 60
    A = _matrix(_spectrum("clustered", d, 1), seed=2)
    with pytest.raises(LanczosConvergenceError, match="matvecs"):
        lanczos(lambda v: A @ v, torch.ones(d, dtype=torch.float64), 5, max_matvecs=6)
    res = lanczos(lambda v: A @ v, torch.ones(d, dtype=torch.float64), 5, max_matvecs=6,
                  raise_on_fail=False)
    assert not res.converged and res.matvecs == 6


@pytest.mark.parametrize(
    "kwargs, match",
    [({"k": 0}, "k must"), ({"k": 9}, "exceeds"), ({"which": "XX"}, "which"),
     ({"tol": 0.0}, "tol"), ({"tol": 2.0}, "tol"), ({"block_size": 0}, "block_size"),
     ({"max_matvecs": 0}, "max_matvecs"), ({"k": True}, "k must")],
)
def test_bad_arguments(kwargs, match) -> None:
    A = torch.eye(8, dtype=torch.float64)
    with pytest.raises(LanczosInputError, match=match):
        lanczos(lambda v: A @ v, torch.ones(8, dtype=torch.float64), **{"k": 1, **kwargs})


def test_bad_vectors_and_matvecs() -> None:
    with pytest.raises(LanczosInputError, match="v0"):
        lanczos(lambda v: v, torch.ones(2, 2, 2), 1)
    with pytest.raises(LanczosInputError, match="floating"):
        lanczos(lambda v: v, torch.ones(4, dtype=torch.int64), 1)
    with pytest.raises(LanczosInputError, match="non-finite"):
        lanczos(lambda v: v, torch.tensor([1.0, float("nan")]), 1)
    with pytest.raises(LanczosInputError, match="shape"):
        lanczos(lambda v: v[:2], torch.ones(4, dtype=torch.float64), 1)
    with pytest.raises(LanczosInputError, match="non-finite"):
        lanczos(lambda v: v * float("inf"), torch.ones(4, dtype=torch.float64), 1)
    with pytest.raises(LanczosInputError, match="callable"):
        lanczos(None, torch.ones(4, dtype=torch.float64), 1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_device_follows_start_vector() -> None:
    d = 50
    A = _matrix(_spectrum("separated", d, 2), seed=7).cuda()
    res = lanczos(lambda v: A @ v, torch.ones(d, dtype=torch.float64, device="cuda"), 3)
    assert res.values.device.type == "cuda"
    _check(res, A, 3)
