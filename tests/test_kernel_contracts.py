"""Contract tests run over every registered kernel (built-ins, and user kernels through
the ``user-registered`` slot): symmetry, PSD Gram matrices, SymPy value = torch value,
closed-form input gradient/Hessian = ``torch.func`` autograd = central finite
differences = symbolic differentiation in coordinates, stable overrides = generated
forms, and KRR predictions = scikit-learn's ``KernelRidge`` on the same Gram."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.kernel_ridge import KernelRidge

from derivations.kernels import get_spec
from numerics.kernels import TorchKernel, check_gram_psd
from numerics.krr import KRR
from numerics.strategies import kernel_for, kernels_for_param, point_clouds, ridges, seeds
from numerics.tolerances import assert_close


def _separated(X: torch.Tensor, Y: torch.Tensor, min_dist: float = 1e-3) -> bool:
    return bool(torch.cdist(X, Y).min() > min_dist)


@given(data=st.data())
def test_symmetric(kernel_name, data):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds())
        Y = data.draw(point_clouds(d=st.just(X.shape[1])))
        assert_close(k.gram(X, Y), k.gram(Y, X).T, "exact", f"{k}: K(X,Y) = K(Y,X)^T")


@given(data=st.data())
def test_gram_psd(kernel_name, data):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds(n=st.integers(2, 40)))
        check_gram_psd(k.gram(X), name=str(k))


@settings(max_examples=5)
@given(data=st.data())
def test_sympy_value_equals_torch(kernel_name, data):
    """The coordinate expression evaluated by SymPy at 30 digits equals the torch Gram."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        d = data.draw(st.integers(1, 3))
        X = data.draw(point_clouds(n=st.just(3), d=st.just(d)))
        Y = data.draw(point_clouds(n=st.just(3), d=st.just(d)))
        xs, ys, expr = k.spec.coordinate_expr(d)
        expr = k.spec.subs_params(expr, **k.params)
        fn = sp.lambdify([*xs, *ys], expr, modules="mpmath")
        ref = np.array([[float(fn(*X[i].tolist(), *Y[j].tolist())) for j in range(3)]
                        for i in range(3)])
        assert_close(k.gram(X, Y), ref, "exact", f"{k}: SymPy value vs torch Gram")


def _autograd_derivatives(k: TorchKernel, Xq, Y, w):
    def f(x):
        return (k.pair(x[None, :].expand(Y.shape[0], -1), Y) * w).sum()

    g = torch.stack([torch.func.grad(f)(x) for x in Xq])
    h = torch.stack([torch.func.hessian(f)(x) for x in Xq])
    return g, h


def _central_differences(k: TorchKernel, Xq, Y, w, scale: float):
    """Central differences of the Gram-based value (gradient) and of the closed-form
    gradient (Hessian), step h = 6e-6 * scale."""
    h = 6e-6 * max(scale, 1e-3)
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
        if not _separated(Xq, Y):
            # autograd through |x - y| is NaN at x = y; the diagonal has its own test
            continue
        rng = np.random.default_rng(data.draw(seeds))
        w = torch.as_tensor(rng.standard_normal(Y.shape[0]))
        value, grad, hess = k.derivatives(Xq, Y, w)
        assert_close(value, k.gram(Xq, Y) @ w, "exact", f"{k}: weighted value")
        g_ad, h_ad = _autograd_derivatives(k, Xq, Y, w)
        assert_close(grad, g_ad, "autograd", f"{k}: gradient vs torch.func")
        assert_close(hess, h_ad, "autograd", f"{k}: Hessian vs torch.func")
        scale = float(torch.cdist(Xq, Y).min()) if not k.spec.smooth_on_diagonal else 1.0
        g_fd, h_fd = _central_differences(k, Xq, Y, w, min(1.0, scale))
        # FD error is relative to the size of the derivative, not entrywise
        gs = float(grad.abs().max()) + 1e-12
        hs = float(hess.abs().max()) + 1e-12
        assert_close(g_fd / gs, grad / gs, "finite_difference", f"{k}: gradient vs FD")
        assert_close(h_fd / hs, hess / hs, "finite_difference", f"{k}: Hessian vs FD")


@settings(max_examples=3)
@given(data=st.data())
def test_coordinate_free_formula_vs_sympy_diff(kernel_name, data):
    """The coordinate-free gradient/Hessian coefficients equal sympy.diff in d = 2."""
    for name in kernels_for_param(kernel_name):
        spec = get_spec(name)
        k = data.draw(kernel_for(name))
        xs, ys, expr = spec.coordinate_expr(2)
        expr = spec.subs_params(expr, **k.params)
        grad_sym = [sp.diff(expr, xi) for xi in xs]
        hess_sym = [[sp.diff(expr, xi, xj) for xj in xs] for xi in xs]
        X = data.draw(point_clouds(n=st.just(1), d=st.just(2)))
        Y = data.draw(point_clouds(n=st.just(1), d=st.just(2)))
        pt = dict(zip([*xs, *ys], [sp.Float(v, 30) for v in [*X[0].tolist(), *Y[0].tolist()]],
                      strict=True))
        g_ref = np.array([float(e.evalf(30, subs=pt)) for e in grad_sym])
        h_ref = np.array([[float(e.evalf(30, subs=pt)) for e in row] for row in hess_sym])
        _, g, h = k.derivatives(X, Y)
        assert_close(g[0], g_ref, "autograd", f"{k}: gradient vs sympy.diff")
        assert_close(h[0], h_ref, "autograd", f"{k}: Hessian vs sympy.diff")


@given(data=st.data())
def test_overrides_match_generated(kernel_name, data):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        if not k.spec.overrides:
            continue
        X = data.draw(point_clouds())
        Y = data.draw(point_clouds(d=st.just(X.shape[1])))
        inv = k._invariants(X, Y)
        for key in k.spec.overrides:
            assert_close(k.fn(key)(*inv), k.generated[key](*inv), "exact",
                         f"{k}: stable override {key!r} vs generated")


@given(data=st.data(), c=ridges)
def test_krr_matches_sklearn(kernel_name, data, c):
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        X = data.draw(point_clouds(n=st.integers(2, 30)))
        Xq = data.draw(point_clouds(d=st.just(X.shape[1])))
        rng = np.random.default_rng(data.draw(seeds))
        y = rng.standard_normal((X.shape[0], data.draw(st.sampled_from([1, 3]))))
        K = k.gram(X).numpy()
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
    from numerics.validation import NonDifferentiableError

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
        _, g_fd = _central_differences(k, Y[:1], Y[:1], torch.ones(1, dtype=torch.float64), 1.0)
        hs = float(h.abs().max()) + 1e-12
        assert_close(g_fd / hs, h / hs, "finite_difference", f"{k}: Hessian at x = x' vs FD")


@pytest.mark.parametrize("name", ["laplace", "ntk_relu"])
def test_nondifferentiable_on_diagonal_is_an_error(name):
    from numerics.validation import NonDifferentiableError

    k = TorchKernel(name)
    X = torch.randn(4, 3, dtype=torch.float64)
    assert not k.spec.smooth_on_diagonal
    with pytest.raises(NonDifferentiableError, match=name):
        k.derivatives(X, X)
