"""Large-n KRR: the blocked in-place dense path of :class:`numerics.krr.KRR` and the
matrix-free CG path of :mod:`numerics.large_krr` (fast; the n = 20,000 check is slow)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from numerics import closed_forms as cf
from numerics.krr import KRR, factor_in_place, gram_into
from numerics.validation import SingularSystemError

CG_REASON = "the matrix-free path needs the optional extra 'matrixfree' (linear_operator)"


def _data(n: int, d: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.sin(X.sum(1)) + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
    Xq = torch.randn(7, d, generator=g, dtype=torch.float64)
    return X, y, Xq


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("kernel,params", [("gaussian", {"ell": 1.5}), ("ntk_relu", {})])
def test_blocked_in_place_fit_matches_dense(kernel, params):
    X, y, Xq = _data(123, 5)  # 123 rows: not a multiple of the 8-row Gram blocks
    dense = KRR(kernel, 0.3, **params).fit(X, y)
    blocked = KRR(kernel, 0.3, keep_gram=False, block_elements=1000, **params).fit(X, y)
    assert dense._L is None and blocked._L is not None
    assert _rel(blocked.alpha, dense.alpha) < 1e-12
    assert _rel(blocked.predict(Xq), dense.predict(Xq)) < 1e-12
    assert _rel(blocked.input_gradient(Xq), dense.input_gradient(Xq)) < 1e-12
    assert _rel(blocked.input_hessian(Xq), dense.input_hessian(Xq)) < 1e-12
    assert _rel(blocked.K, dense.K) < 1e-15  # recomputed on access, in blocks
    B = torch.randn(123, 2, dtype=torch.float64)
    assert _rel(blocked.solve(B), dense.solve(B)) < 1e-12


def test_default_keeps_small_fits_dense():
    X, y, _ = _data(40, 3)
    model = KRR("gaussian", 0.1, ell=1.0).fit(X, y)
    assert model._K is not None and model._L is None


def test_factor_in_place_makes_no_copy():
    X, _, _ = _data(300, 4)
    from numerics.kernels import get_kernel

    A = get_kernel("gaussian", ell=1.0).gram(X)
    A.diagonal().add_(0.1)
    ref = torch.linalg.cholesky(A)
    ptr = A.data_ptr()
    L = factor_in_place(A)
    assert L.data_ptr() == ptr and A.data_ptr() == ptr  # the factor lives in A's storage
    assert float((L - ref).abs().max()) < 1e-13
    assert float(L.triu(1).abs().max()) == 0.0


def test_factor_in_place_names_breakdown_and_bad_input():
    A = -torch.eye(4, dtype=torch.float64)
    with pytest.raises(SingularSystemError, match="leading minor 1 of 4"):
        factor_in_place(A)
    with pytest.raises(ValueError, match="contiguous square"):
        factor_in_place(torch.ones(3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        from numerics.kernels import get_kernel

        gram_into(get_kernel("gaussian", ell=1.0), torch.ones(3, 2, dtype=torch.float64),
                  torch.empty(2, 2, dtype=torch.float64))


def test_in_place_fit_refuses_ill_conditioned_system():
    X, y, _ = _data(30, 2)
    X = torch.cat((X, X))  # duplicated points: K singular, c tiny -> condition ~ 1e15
    y = torch.cat((y, y))
    with pytest.raises(SingularSystemError, match="increase the ridge"):
        KRR("gaussian", 1e-15, ell=1.0, keep_gram=False, block_elements=64).fit(X, y)


@pytest.mark.parametrize("block_elements", [1, 300, 1000])
def test_chunking_edge_cases(block_elements):
    """Training-point blocks of the derivatives and query blocks of predict, where n and q
    are not multiples of the block (101 = 4 x 25 + 1 training points at 300 entries)."""
    X, y, Xq = _data(101, 3, seed=1)
    ref = KRR("gaussian", 0.2, ell=1.2).fit(X, y)
    small = KRR("gaussian", 0.2, ell=1.2, keep_gram=False,
                block_elements=block_elements).fit(X, y)
    f, g, h = small.derivatives(Xq)
    f0, g0, h0 = ref.derivatives(Xq)
    assert _rel(f, f0) < 1e-12 and _rel(g, g0) < 1e-12 and _rel(h, h0) < 1e-12
    assert _rel(small.predict(Xq), ref.predict(Xq)) < 1e-12
    # multi-output targets through the same blocks
    Y = torch.stack((y, -2 * y), 1)
    h2 = KRR("gaussian", 0.2, ell=1.2, keep_gram=False,
             block_elements=block_elements).fit(X, Y).input_hessian(Xq)
    assert _rel(h2, KRR("gaussian", 0.2, ell=1.2).fit(X, Y).input_hessian(Xq)) < 1e-12


def test_block_elements_validated():
    with pytest.raises(ValueError, match="block_elements"):
        KRR("gaussian", 0.1, ell=1.0, block_elements=0)
    with pytest.raises(TypeError, match="keep_gram"):
        KRR("gaussian", 0.1, ell=1.0, keep_gram="yes")


def test_missing_extra_is_named(monkeypatch):
    from numerics import large_krr

    monkeypatch.setitem(sys.modules, "linear_operator", None)
    with pytest.raises(large_krr.MissingExtraError, match="matrixfree"):
        large_krr.require_linear_operator()


def test_cg_matches_dense_at_n500():
    pytest.importorskip("linear_operator", reason=CG_REASON)
    from numerics.large_krr import CGKRR, clean_quantities_from_fit

    X, y, Xq = _data(500, 4, seed=2)
    dense = KRR("gaussian", 0.1, ell=1.5).fit(X, y)
    cg = CGKRR("gaussian", 0.1, ell=1.5, tol=1e-10, precond_rank=100).fit(X, y)
    rep = cg.report
    assert rep.residual <= 1e-10 and rep.iterations > 0 and rep.preconditioner_rank == 100
    assert cg.K is None  # never formed
    assert _rel(cg.alpha, dense.alpha) < 1e-7
    assert _rel(cg.predict(Xq), dense.predict(Xq)) < 1e-8
    assert _rel(cg.input_hessian(Xq), dense.input_hessian(Xq)) < 1e-8
    zeta, x0 = Xq[0].numpy(), (Xq[0] + 0.05).numpy()
    qd, qc = clean_quantities_from_fit(dense, zeta, x0), clean_quantities_from_fit(cg, zeta, x0)
    assert cf.exact_shift(qc, 5, 2.0) == pytest.approx(cf.exact_shift(qd, 5, 2.0), rel=1e-8)
    assert cf.spike(qc, 5, 2.0)[0] == pytest.approx(cf.spike(qd, 5, 2.0)[0], rel=1e-8)
    # the closed-form pipeline of the public API agrees with the fitted-model route
    ref = cf.clean_quantities("gaussian", X.numpy(), y.numpy(), zeta, x0, 0.1, ell=1.5)
    assert cf.exact_shift(qd, 5, 2.0) == pytest.approx(cf.exact_shift(ref, 5, 2.0), rel=1e-12)


def test_cg_not_converged_says_so():
    pytest.importorskip("linear_operator", reason=CG_REASON)
    from numerics.large_krr import CGKRR, CGNotConvergedError

    X, y, _ = _data(200, 3, seed=3)
    with pytest.raises(CGNotConvergedError, match=r"relative residual .* after \d+ iterations"
                       ) as err:
        CGKRR("gaussian", 1e-3, ell=1.0, tol=1e-12, max_iter=3, precond_rank=0).fit(X, y)
    assert err.value.residual > 1e-12 and err.value.iterations <= 3


def test_cg_arguments_validated():
    pytest.importorskip("linear_operator", reason=CG_REASON)
    from numerics.large_krr import CGKRR

    with pytest.raises(ValueError, match="tol"):
        CGKRR("gaussian", 0.1, ell=1.0, tol=2.0)
    with pytest.raises(ValueError, match="max_iter"):
        CGKRR("gaussian", 0.1, ell=1.0, max_iter=0)


def _hwm_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1]) / 2**20
    raise RuntimeError("no VmHWM")


@pytest.mark.slow
def test_n20000_in_place_fit_memory():
    """n = 20,000 (d = 16): one n x n buffer (2.98 GiB) and no second copy."""
    n = 20000
    X, y, Xq = _data(n, 16, seed=4)
    Path("/proc/self/clear_refs").write_text("5")
    before = _hwm_gib()
    model = KRR("gaussian", 1.0, ell=4.0).fit(X, y)
    extra = _hwm_gib() - before
    buf = n * n * 8 / 2**30
    assert model._L is not None
    # the buffer plus the Gram-block temporaries (a few arrays of at most CHUNK_ELEMENTS
    # entries, 256 MiB each; measured 3.76 GiB in all) stays below two buffers, which a
    # second n x n copy would reach
    from numerics.kernels import CHUNK_ELEMENTS

    bound = buf + 4 * CHUNK_ELEMENTS * 8 / 2**30
    assert bound < 2 * buf
    assert extra < bound, f"peak RSS grew {extra:.2f} GiB for a {buf:.2f} GiB buffer"
    rows = model.kernel.gram(X[:200], X) @ model.alpha + 1.0 * model.alpha[:200]
    assert _rel(rows, y[:200]) < 1e-10  # (K + cI) alpha = y on the first rows
    h = model.input_hessian(Xq[:3])
    assert torch.isfinite(h).all()
