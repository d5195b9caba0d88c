"""The batched closed-form derivatives take different code paths depending on sizes:
queries in chunks, outputs in blocks, the folded outer products ``w_j y_j y_j^T`` or a
batched matmul when those would not fit, and exact differences for *near pairs* where the
GEMM expansion would cancel.  Every path must give the same numbers (run over every
registered kernel), and the near-pair path must keep its accuracy far from the data mean.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import numerics.kernels as nk
from derivations.kernels import kernel_names
from numerics.strategies import kernel_for, kernels_for_param, point_clouds, seeds
from numerics.tolerances import assert_close
from numerics.validation import NonDifferentiableError


def _run(k, Xq, Y, W):
    try:
        return k.derivatives(Xq, Y, W)
    except NonDifferentiableError as err:
        return err


def _chunk_limits(m: int, d: int, o: int) -> dict[str, int]:
    """``CHUNK_ELEMENTS`` values that force each path (see ``TorchKernel.derivatives``)."""
    return {
        # one output per block, one or a few queries per chunk, folded outer products
        "small chunks": m * d * d,
        # outer products too large to fold: batched matmul, one output per block
        "no folding": max(1, m * d * d - 1),
        # several outputs per block but not all of them
        "output blocks": m * d * d * max(1, o - 1),
    }


@settings(max_examples=10)
@given(data=st.data())
def test_chunked_paths_agree(kernel_name, data):
    """Chunked / blocked / unfolded evaluation = the single-chunk one ("exact")."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        Y = data.draw(point_clouds(n=st.integers(2, 12)))
        Xq = data.draw(point_clouds(n=st.integers(1, 7), d=st.just(Y.shape[1])))
        o = data.draw(st.integers(1, 4))
        rng = np.random.default_rng(data.draw(seeds))
        W = torch.as_tensor(rng.standard_normal((Y.shape[0], o)))
        ref = _run(k, Xq, Y, W)
        for path, limit in _chunk_limits(Y.shape[0], Y.shape[1], o).items():
            with mock.patch.object(nk, "CHUNK_ELEMENTS", limit):
                got = _run(k, Xq, Y, W)
            if isinstance(ref, Exception):
                assert isinstance(got, NonDifferentiableError), f"{k}, {path}: did not refuse"
                continue
            assert not isinstance(got, Exception), f"{k}, {path}: refused ({got})"
            scales = _summand_scales(k, Xq, Y, W)
            for r_, g_, s_, what in zip(ref, got, scales, ("value", "grad", "hess"), strict=True):
                assert g_.shape == r_.shape
                assert_close(g_ / s_, r_ / s_, "exact", f"{k}, {path}: {what} / summand size")


def _summand_scales(k, Xq, Y, W):
    """Per query and output, ``sum_j |w_j| * (size of pair j's terms)`` for the value,
    gradient and Hessian.  The paths add the same terms in different orders, so they
    differ by ~eps times this, which can exceed eps times the result when terms cancel
    (arc-cosine Hessians near parallel inputs: ``2 phi_a I + 4 phi_aa x x^T + ...`` with
    terms ~1/theta^3 summing to O(1)).  Term sizes come from the generated coefficients:
    isotropic ``|A| (|x| + |y|)`` and ``|A| + |C/r^2| (|x| + |y|)^2`` (centred at the
    training mean, as evaluated); invariant ``2|phi_a||x| + |phi_u||y|`` and
    ``2|phi_a| + 4|phi_aa||x|^2 + 4|phi_au||x||y| + |phi_uu||y|^2``."""
    Wa = W.abs()  # (m, o)
    g = k.generated
    if k.family == "isotropic":
        mu = Y.mean(0)
        nx, ny = (Xq - mu).norm(dim=1)[:, None], (Y - mu).norm(dim=1)[None, :]
        rr = torch.cdist(Xq, Y)
        A = torch.nan_to_num(g["A"](rr), nan=0.0, posinf=0.0, neginf=0.0).abs()
        B = torch.nan_to_num(g["C"](rr) / rr**2, nan=0.0, posinf=0.0, neginf=0.0).abs()
        tg = A * (nx + ny)
        th = A + B * (nx + ny) ** 2
    else:
        inv = k._invariants(Xq, Y)
        nx, ny = inv[0].sqrt(), inv[1].sqrt()
        c = {key: g[key](*inv).abs() for key in ("phi_a", "phi_u", "phi_aa", "phi_au", "phi_uu")}
        tg = 2 * c["phi_a"] * nx + c["phi_u"] * ny
        th = 2 * c["phi_a"] + 4 * c["phi_aa"] * nx**2 + 4 * c["phi_au"] * nx * ny \
            + c["phi_uu"] * ny**2
    tv = k.gram(Xq, Y).abs()
    return [torch.clamp(t @ Wa, min=1e-300)[..., *extra]
            for t, extra in ((tv, ()), (tg, (None,)), (th, (None, None)))]


def _far_cluster(d: int, offset: float, seed: int):
    """Training points in two clusters +-offset apart (the mean sits between them) and
    queries 1e-4 from training points of the +offset cluster: |x - mu| / r ~ offset / 1e-4."""
    g = torch.Generator().manual_seed(seed)
    Y = torch.randn(10, d, generator=g, dtype=torch.float64)
    Y[:5, 0] += offset
    Y[5:, 0] -= offset
    Xq = Y[:3] + 1e-4 * torch.randn(3, d, generator=g, dtype=torch.float64)
    w = torch.randn(10, generator=g, dtype=torch.float64)
    return Xq, Y, w


@pytest.mark.parametrize("offset", [1e3, 1e6])
def test_near_pairs_exact_far_from_the_mean(kernel_name, offset):
    """Queries 1e-4 from a training point, 1e6 from the data mean: the GEMM expansion of
    |x - y|^2 and (x - y)(x - y)^T would lose all digits there (~eps * 1e12 against
    1e-8); the near-pair path must match autograd of the directly differenced kernel."""
    for name in kernels_for_param(kernel_name):
        k = nk.get_kernel(name)
        if k.family != "isotropic":
            pytest.skip(f"{name}: invariant kernels are evaluated uncentred, no near pairs")
        Xq, Y, w = _far_cluster(3, offset, seed=0)

        def f(x, k=k, Y=Y, w=w):
            return (k.pair(x[None, :].expand(Y.shape[0], -1), Y) * w).sum()

        g_ad = torch.stack([torch.func.grad(f)(x) for x in Xq])
        h_ad = torch.stack([torch.func.hessian(f)(x) for x in Xq])
        _, g, h = k.derivatives(Xq, Y, w)
        assert_close(g, g_ad, "autograd", f"{k}: gradient near a training point, far from mu")
        assert_close(h, h_ad, "autograd", f"{k}: Hessian near a training point, far from mu")


def test_near_pair_path_is_needed():
    """The test above has power: without the near-pair path (threshold ~0) the Gaussian
    Hessian 1e-4 from a training point 1e6 from the mean is wrong."""
    k = nk.get_kernel("gaussian")
    Xq, Y, w = _far_cluster(3, 1e6, seed=0)
    _, _, h = k.derivatives(Xq, Y, w)
    with mock.patch.object(nk, "_NEAR", 1e-30):
        _, _, h_bad = k.derivatives(Xq, Y, w)
    err = float((h_bad - h).abs().max() / h.abs().max())
    assert err > 1e-6, err


def test_query_on_training_point_uses_the_limits():
    """At x = y_j (r = 0 exactly) smooth isotropic kernels use their r -> 0 limits
    (Gaussian: hess k = -I / ell^2); Laplace refuses, naming the pair."""
    Y = torch.tensor([[0.5, -1.0], [2.0, 3.0]], dtype=torch.float64)
    k = nk.get_kernel("gaussian", ell=0.7)
    v, g, h = k.derivatives(Y[:1], Y[:1])
    assert_close(v, torch.ones(1, dtype=torch.float64), "exact")
    assert_close(g, torch.zeros(1, 2, dtype=torch.float64), "exact")
    assert_close(h, -torch.eye(2, dtype=torch.float64)[None] / 0.7**2, "exact")
    with pytest.raises(NonDifferentiableError, match=r"query point 1 and training point 0"):
        nk.get_kernel("laplace").derivatives(torch.stack((Y[1] + 1.0, Y[0])), Y)


@pytest.mark.parametrize("name", kernel_names("isotropic"))
def test_autograd_pair_on_a_training_point(name):
    """``TorchKernel.pair`` (the autograd cross-check) at r = 0 exactly: it used to give a
    NaN gradient (sqrt of a zero squared distance) even for the Gaussian.  Where the
    closed form has a gradient (and Hessian) there, autograd of ``pair`` must equal it;
    where it refuses (Laplace), autograd of ``pair`` must refuse too."""
    k = nk.get_kernel(name)
    g = torch.Generator().manual_seed(3)
    Y = torch.randn(4, 3, generator=g, dtype=torch.float64)
    w = torch.randn(4, generator=g, dtype=torch.float64)
    x = Y[1].clone()

    def f(x):
        return (k.pair(x[None, :].expand(Y.shape[0], -1), Y) * w).sum()

    assert_close(f(x), k.gram(x[None], Y)[0] @ w, "exact")
    closed = _run_order(k, x, Y, w, 1)
    if isinstance(closed, NonDifferentiableError):
        with pytest.raises(NonDifferentiableError, match=name):
            torch.func.grad(f)(x)
        return
    assert_close(torch.func.grad(f)(x), closed[1][0], "autograd", f"{k}: gradient at r = 0")
    closed = _run_order(k, x, Y, w, 2)
    if not isinstance(closed, NonDifferentiableError):
        assert_close(torch.func.hessian(f)(x), closed[2][0], "autograd", f"{k}: Hessian at r = 0")


def _run_order(k, x, Y, w, order):
    try:
        return k.derivatives(x[None], Y, w, order=order)
    except NonDifferentiableError as err:
        return err
