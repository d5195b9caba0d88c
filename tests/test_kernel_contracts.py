"""Contract tests run over every kernel of the ``kernel_name`` parametrisation (the
built-ins and the user kernels loaded before collection, each under its own name, see
``conftest.py``): symmetry, PSD Gram matrices, SymPy value = torch value,
closed-form input gradient/Hessian = ``torch.func`` autograd = central finite
differences = symbolic differentiation in coordinates, stable overrides = generated
forms, and KRR predictions = scikit-learn's ``KernelRidge`` on the same Gram."""

from __future__ import annotations

from functools import cache

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.kernel_ridge import KernelRidge

from derivations.kernels import KernelSpec, get_spec
from numerics.kernels import TorchKernel, check_gram_psd
from numerics.krr import KRR
from numerics.strategies import kernel_for, kernels_for_param, point_clouds, ridges, seeds
from numerics.tolerances import TOL, assert_close
from numerics.validation import NonDifferentiableError
from proofs_check.evidence import note_not_applicable


def _separated(X: torch.Tensor, Y: torch.Tensor, min_dist: float = 1e-3) -> bool:
    return bool(torch.cdist(X, Y).min() > min_dist)


def _size(X: torch.Tensor, Y: torch.Tensor) -> float:
    return max(1.0, float(X.norm(dim=1).max()), float(Y.norm(dim=1).max()))


def _away_from_singular_set(k, X: torch.Tensor, Y: torch.Tensor, margin: float) -> bool:
    """Every pair has the kernel's declared ``singular`` expression (for arc-cosine
    kernels ``sin^2`` of the angle between the augmented inputs) at least ``margin^2``,
    evaluated from coordinates; kernels without a singular set always pass."""
    if k.spec.singular is None:
        return True
    a = (X * X).sum(1)[:, None].expand(X.shape[0], Y.shape[0])
    b = (Y * Y).sum(1)[None, :].expand(X.shape[0], Y.shape[0])
    sing = k.generated["singular"](a, b, X @ Y.T)
    return bool((sing >= margin**2).all())


@given(data=st.data())
def test_symmetric(kernel_name, data):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds())
        Y = data.draw(point_clouds(d=st.just(X.shape[1])))
        K, KT = k.gram(X, Y), k.gram(Y, X).T
        # at a declared singular set (parallel augmented inputs of arc-cosine kernels) the
        # value passes through acos at its branch point: x.y from two different GEMMs
        # (X Y^T, Y X^T) may differ in the last bit, which acos turns into ~sqrt(eps)
        # (found by the dev profile: ntk_relu_d2, beta = 0, parallel inputs, 4.5e-9)
        bp = _branch_point_pairs(k, X, Y)
        assert_close(K[~bp], KT[~bp], "exact", f"{k}: K(X,Y) = K(Y,X)^T")
        assert_close(K[bp], KT[bp], "branch_point", f"{k}: K(X,Y) = K(Y,X)^T at branch points")


@given(data=st.data())
def test_gram_psd(kernel_name, data):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds(n=st.integers(2, 40)))
        bp = _branch_point_pairs(k, X, X)
        bp.fill_diagonal_(False)
        # distinct (anti)parallel inputs of an arc-cosine kernel: their entries carry the
        # branch point's ~sqrt(eps) error, and such Grams are (near) rank-deficient
        # (beta = 0, d = 1: rank one), so the smallest eigenvalue is ~-sqrt(eps) |K|
        # (found by the thorough profile: ntk_relu_d2, X = (1.27, 0.98), -2.9e-9 of 1.93)
        rtol = TOL["branch_point"].rtol if bool(bp.any()) else 1e-9
        check_gram_psd(k.gram(X), name=str(k), rtol=rtol)


#: working precision (decimal digits) of the high-precision evaluation of SymPy expressions
_DPS = 60


@cache
def _coordinate_functions(spec: KernelSpec, d: int, derivatives: bool):
    """The kernel's coordinate expression in R^d (:meth:`KernelSpec.coordinate_expr`) and,
    with ``derivatives``, its gradient and Hessian in x by ``sympy.diff`` in coordinates,
    compiled once per kernel and dimension by ``lambdify(..., "mpmath", cse=True)``; the
    parameters stay symbolic (arguments after the coordinates).

    The expressions are exactly SymPy's; only the evaluation differs from ``evalf``:
    mpmath at :data:`_DPS` digits with shared subexpressions computed once.  (``evalf`` with
    substituted 30-digit parameters re-evaluates every shared subtree and took minutes per
    example for the two-layer NTKs; differentiating with numeric Float parameters was ~10x
    slower than with symbolic ones.)
    """
    xs, ys, expr = spec.coordinate_expr(d)
    exprs = [expr]
    if derivatives:
        grad = [sp.diff(expr, xi) for xi in xs]
        exprs += grad + [gi.diff(xj) for gi in grad for xj in xs]
    return sp.lambdify([*xs, *ys, *spec.param_symbols], exprs, modules="mpmath", cse=True)


def _sympy_values(k: TorchKernel, x: torch.Tensor, y: torch.Tensor, *,
                  derivatives: bool = False) -> list[float]:
    """SymPy's expressions (see :func:`_coordinate_functions`) at ``(x, y)`` and the
    kernel's parameters, each rounded to float64; at a branch point a ~1e-60 negative
    radicand can leave a tiny imaginary part, which is dropped (the real part is kept)."""
    fn = _coordinate_functions(k.spec, x.shape[0], derivatives)
    with mpmath.workdps(_DPS):
        args = [mpmath.mpf(float(v)) for v in [*x.tolist(), *y.tolist()]]
        args += [mpmath.mpf(k.params[p.name]) for p in k.spec.params]
        return [float(mpmath.re(v)) for v in fn(*args)]


def _branch_point_pairs(k: TorchKernel, X: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:
    """Pairs at a kernel's declared singular set (arc-cosine kernels: (anti)parallel
    augmented inputs), where its values pass through acos/sqrt at a branch point."""
    if k.spec.singular is None:
        return torch.zeros(X.shape[0], Y.shape[0], dtype=torch.bool)
    return k.generated["singular"](*k._invariants(X, Y)) < 1e-6


@settings(max_examples=5)
@given(data=st.data())
def test_sympy_value_equals_torch(kernel_name, data):
    """The coordinate expression evaluated at 60 digits equals the torch Gram
    ("exact"; "branch_point" tolerance at a kernel's declared singular set)."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        d = data.draw(st.integers(1, 3))
        X = data.draw(point_clouds(n=st.just(3), d=st.just(d)))
        Y = data.draw(point_clouds(n=st.just(3), d=st.just(d)))
        ref = np.array([[_sympy_values(k, X[i], Y[j])[0] for j in range(3)] for i in range(3)])
        K = k.gram(X, Y).numpy()
        bp = _branch_point_pairs(k, X, Y).numpy()
        assert_close(K[~bp], ref[~bp], "exact", f"{k}: SymPy value vs torch Gram")
        assert_close(K[bp], ref[bp], "branch_point", f"{k}: SymPy vs torch at branch points")


def _autograd_derivatives(k: TorchKernel, Xq, Y, w):
    def f(x):
        return (k.pair(x[None, :].expand(Y.shape[0], -1), Y) * w).sum()

    g = torch.stack([torch.func.grad(f)(x) for x in Xq])
    h = torch.stack([torch.func.hessian(f)(x) for x in Xq])
    return g, h


def _central_differences(k: TorchKernel, Xq, Y, w, scale: float, rel_step: float = 6e-6):
    """Central differences of the Gram-based value (gradient) and of the closed-form
    gradient (Hessian), step h = rel_step * scale."""
    h = rel_step * max(scale, 1e-3)
    d = Xq.shape[1]
    eye = torch.eye(d, dtype=Xq.dtype)
    val = lambda Z: k.gram(Z, Y) @ w  # noqa: E731
    grad = lambda Z: k.derivatives(Z, Y, w, order=1)[1]  # noqa: E731
    g = torch.stack([(val(Xq + h * e) - val(Xq - h * e)) / (2 * h) for e in eye], dim=-1)
    H = torch.stack([(grad(Xq + h * e) - grad(Xq - h * e)) / (2 * h) for e in eye], dim=-1)
    return g, H


@given(data=st.data())
def test_derivatives_closed_form_vs_autograd_vs_fd(kernel_name, data):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        Y = data.draw(point_clouds(n=st.integers(1, 12)))
        Xq = data.draw(point_clouds(n=st.integers(1, 6), d=st.just(Y.shape[1])))
        # autograd through |x - y| is NaN at x = y; the diagonal has its own test
        assume(_separated(Xq, Y))
        # kernels with a kink at x = x' have derivatives that blow up near it, and every
        # float64 route loses digits in proportion (ill-conditioned function, not code):
        # compare them at relative separation >= 5%
        assume(k.spec.smooth_on_diagonal or _separated(Xq, Y, 0.05 * _size(Xq, Y)))
        # likewise away from a declared singular set (arc-cosine kernels with beta = 0 have
        # their kink at parallel inputs, at any distance): an angle of at least ~0.05 rad
        assume(_away_from_singular_set(k, Xq, Y, 0.05))
        rng = np.random.default_rng(data.draw(seeds))
        w = torch.as_tensor(rng.standard_normal(Y.shape[0]))
        try:
            value, grad, hess = k.derivatives(Xq, Y, w)
        except NonDifferentiableError:
            # only kernels that are not smooth everywhere may refuse (arc-cosine kernels
            # with beta = 0 at parallel inputs); autograd must then fail to be finite too
            assert not k.spec.smooth_on_diagonal
            g_ad, _ = _autograd_derivatives(k, Xq, Y, w)
            assert not bool(torch.isfinite(g_ad).all()), f"{k}: refused a finite gradient"
            continue
        assert_close(value, k.gram(Xq, Y) @ w, "exact", f"{k}: weighted value")
        g_ad, h_ad = _autograd_derivatives(k, Xq, Y, w)
        # Entries are compared relative to the size of the derivatives, not one by one: a
        # Hessian entry can be a cancellation of O(|grad|) terms (arc-cosine kernels near
        # parallel inputs), which no float64 evaluation resolves below eps * |grad|.
        gs = max(float(grad.abs().max()), float(value.abs().max()), 1e-300)
        hs = max(float(hess.abs().max()), float(grad.abs().max()), 1e-300)
        assert_close(grad / gs, g_ad / gs, "autograd", f"{k}: gradient vs torch.func")
        assert_close(hess / hs, h_ad / hs, "autograd", f"{k}: Hessian vs torch.func")
        scale = float(torch.cdist(Xq, Y).min()) if not k.spec.smooth_on_diagonal else 1.0
        g_fd, h_fd = _central_differences(k, Xq, Y, w, min(1.0, scale))
        # (same normalisation: the rounding error of a central difference of g is ~eps|g|/h)
        assert_close(g_fd / gs, grad / gs, "finite_difference", f"{k}: gradient vs FD")
        assert_close(h_fd / hs, hess / hs, "finite_difference", f"{k}: Hessian vs FD")


@settings(max_examples=3)
@given(data=st.data())
def test_coordinate_free_formula_vs_sympy_diff(kernel_name, data):
    """The coordinate-free gradient/Hessian coefficients equal sympy.diff in d = 2."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds(n=st.just(1), d=st.just(2)))
        Y = data.draw(point_clouds(n=st.just(1), d=st.just(2)))
        # |x - y| is not differentiable at 0 in coordinates (the diagonal has its own test)
        assume(_separated(X, Y))
        try:
            _, g, h = k.derivatives(X, Y)
        except NonDifferentiableError:
            assert not k.spec.smooth_on_diagonal
            continue  # e.g. arc-cosine kernels at parallel inputs: no derivative to compare
        vals = _sympy_values(k, X[0], Y[0], derivatives=True)
        g_ref = np.array(vals[1:3])
        h_ref = np.array(vals[3:7]).reshape(2, 2)
        assert_close(g[0], g_ref, "autograd", f"{k}: gradient vs sympy.diff")
        assert_close(h[0], h_ref, "autograd", f"{k}: Hessian vs sympy.diff")


def _kernels_with_overrides(kernel_name: str) -> list[str]:
    """The kernels of ``kernel_name`` that have a stable override; the test is skipped,
    with the reason, when none has (a user kernel without one in a slot with others that
    have one is recorded as not applicable)."""
    names = kernels_for_param(kernel_name)
    out = [n for n in names if get_spec(n).overrides]
    if not out:
        pytest.skip(f"{', '.join(names)}: no stable override (spec.overrides is empty), "
                    "nothing to compare with the generated form")
    for n in names:
        if n not in out:
            note_not_applicable(n, "no stable override to compare with the generated form")
    return out


@given(data=st.data())
def test_overrides_match_generated(kernel_name, data):
    """A stable override equals the generated form wherever the generated form is itself
    well conditioned: for invariant kernels, pairs with |x|^2|y|^2 - (x.y)^2 > 1e-6 |x|^2|y|^2
    (near-parallel pairs are exactly where the generated arc-cosine forms lose digits or
    return NaN, which is why the override exists), at the "exact" tolerance above 1e-3."""
    for name in _kernels_with_overrides(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds())
        Y = data.draw(point_clouds(d=st.just(X.shape[1])))
        inv = k._invariants(X, Y)
        if k.family == "isotropic":
            mask = inv[0] > 1e-3
            band = torch.zeros_like(mask)
        else:
            # the generated forms lose digits like eps / sin^2(theta) (a b - u^2 cancels):
            # "exact" where sin^2 > 1e-3, the branch-point tolerance in 1e-6 < sin^2 <= 1e-3
            # (found by the thorough profile: ntk_relu_d2, beta = 0, 1.9e-12 there)
            aa, bb, uu = inv
            sin2 = (aa * bb - uu**2) / (aa * bb)
            mask, band = sin2 > 1e-3, (sin2 > 1e-6) & (sin2 <= 1e-3)
        for key in k.spec.overrides:
            ov, gen = k.fn(key)(*inv), k.generated[key](*inv)
            assert_close(ov[mask], gen[mask], "exact", f"{k}: stable override {key!r} vs generated")
            assert_close(ov[band], gen[band], "branch_point",
                         f"{k}: stable override {key!r} vs generated, near-parallel band")


@given(data=st.data(), c=ridges)
def test_krr_matches_sklearn(kernel_name, data, c):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds(n=st.integers(2, 30)))
        Xq = data.draw(point_clouds(d=st.just(X.shape[1])))
        rng = np.random.default_rng(data.draw(seeds))
        y = rng.standard_normal((X.shape[0], data.draw(st.sampled_from([1, 3]))))
        K = k.gram(X).numpy()
        # precision precondition: two backward-stable solvers agree to ~eps cond(K + cI),
        # so 1e-8 is decidable only where that is <= 1e-10 (found by the dev profile:
        # polynomial gamma=10, p=3 in d=1, c=0.1: cond 5e7, the solvers differ by 3.9e-8)
        assume(np.finfo(float).eps * np.linalg.cond(K + c * np.eye(len(K))) <= 1e-10)
        ours = KRR(k, c).fit(X, y).predict(Xq).numpy()
        ref = KernelRidge(alpha=c, kernel="precomputed").fit(K, y).predict(k.gram(Xq, X).numpy())
        # KernelRidge solves with scipy's dense solver; compare relative to the output scale
        scale = max(1.0, float(np.abs(ref).max()))
        assert_close(ours / scale, ref / scale, "sklearn", f"{k}: KRR vs sklearn KernelRidge")


@given(data=st.data())
def test_derivatives_on_the_diagonal(kernel_name, data):
    """At x = x' a smooth kernel's Hessian is the SymPy limit (isotropic: A(0) I, the
    gradient 0) and equals central differences of the gradient; a non-smooth kernel
    raises NonDifferentiableError there."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        Y = data.draw(point_clouds(n=st.integers(1, 5)))
        if not k.spec.smooth_on_diagonal:
            with pytest.raises(NonDifferentiableError, match=name):
                k.derivatives(Y, Y)
            continue
        _, g, h = k.derivatives(Y[:1], Y[:1])
        if k.family == "isotropic":
            A0 = float(k.spec.subs_params(k.spec.coefficients.diagonal["A"], **k.params))
            assert_close(g, torch.zeros_like(g), "exact", f"{k}: gradient at x = x'")
            eye = torch.eye(Y.shape[1], dtype=torch.float64)[None]
            assert_close(h, A0 * eye, "exact", f"{k}: Hessian at x = x'")
        # For isotropic kernels the gradient at x = x' is O(h), so a tiny step has rounding
        # error ~eps; it is also needed: Matern kernels' Hessians have a |r| kink there, so
        # the difference quotient's truncation error is O(h), not O(h^2).
        step = 1e-9 if k.family == "isotropic" else 6e-6
        _, g_fd = _central_differences(k, Y[:1], Y[:1], torch.ones(1, dtype=torch.float64),
                                       1.0, rel_step=step)
        hs = max(float(h.abs().max()), float(g.abs().max()), 1e-300)
        assert_close(g_fd / hs, h / hs, "finite_difference", f"{k}: Hessian at x = x' vs FD")


@pytest.mark.parametrize("name", ["laplace", "ntk_relu"])
def test_nondifferentiable_on_diagonal_is_an_error(name):
    k = TorchKernel(name)
    X = torch.randn(4, 3, dtype=torch.float64)
    assert not k.spec.smooth_on_diagonal
    with pytest.raises(NonDifferentiableError, match=name):
        k.derivatives(X, X)


@given(data=st.data())
def test_identical_inputs_give_identical_entries(kernel_name, data):
    """Identical inputs (the Gram diagonal, clone poisons in another matrix) give equal
    entries, equal to SymPy's k(x, x) ("exact"): arc-cosine kernels
    evaluated from a GEMM's x.x != |x|^2 were off by ~sqrt(eps) there (found through the
    C10 refit check: ReLU NTK, beta = 0, shift off by 3e-7)."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds(n=st.integers(1, 6)))
        Xd = torch.cat((X, X.clone(), X[:1]))
        n = X.shape[0]
        K, Kx = k.gram(Xd), k.gram(X, Xd)
        diag = K.diagonal()[:n]
        # ("exact", not bitwise: torch's vectorised and scalar pow may differ by an ulp)
        assert_close(K[:n, n : 2 * n].diagonal(), diag, "exact", f"{k}: clones")
        assert_close(Kx[:, :n].diagonal(), diag, "exact", f"{k}: K(X, Xd) vs K(Xd, Xd)")
        assert_close(K[0, 2 * n], diag[0], "exact", f"{k}: clone of x_0")
        if X.shape[1] <= 3:  # (the SymPy coordinate form is compiled per dimension)
            ref = [_sympy_values(k, x, x)[0] for x in X]
            assert_close(diag, torch.tensor(ref, dtype=diag.dtype), "exact", f"{k}: k(x, x)")
