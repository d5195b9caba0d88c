"""C8: the penalised KRR estimators -- SymPy identities and closed form vs numerical optimiser."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from derivations.capacity import diagonal_gradient
from derivations.kernels import REGISTRY, get_spec
from derivations.regularised_objective import (
    loss_gradient_stationarity,
    normal_equations,
    normal_equations_general,
    penalty_identity,
    smoother_dfs,
)
from numerics.kernels import get_kernel
from numerics.regularised import (
    RegularisedKRR,
    fit_loss_gradient_penalty,
    penalty_gram,
    solve_function_gradient,
)
from numerics.strategies import kernels_for_param, seeds
from numerics.tolerances import assert_close
from numerics.validation import NonDifferentiableError
from proofs_check.evidence import asserted_for, not_applicable, note_not_applicable

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _kernel_not_applicable(name: str, names: list[str], reason: str) -> None:
    """A kernel the check cannot handle: skip the test (one kernel) or record it and go on
    with the others (the loop over several user-registered kernels)."""
    if len(names) == 1:
        not_applicable(name, reason)
    note_not_applicable(name, reason)


@pytest.mark.claim("C8", "symbolic", scope="general")
def test_normal_equations_general():
    """Both quadratic estimators for every n (MatrixSymbol K, G, alpha, y): SymPy's gradient
    minus the stated normal equations is the zero matrix, and the Hessian is the system
    matrix (so the stationary point is the minimiser)."""
    for name, v in normal_equations_general().items():
        assert v["residual"].is_ZeroMatrix, (name, v["residual"])
        assert v["hessian_residual"].is_ZeroMatrix, (name, v["hessian_residual"])


@pytest.mark.claim("C8", "symbolic", scope="n = 2, P = 2, d = 2 (generic smooth kernel)")
def test_penalty_identity():
    """sum_p |grad f(z_p)|^2 = alpha^T G alpha for an undefined smooth kernel function."""
    assert penalty_identity(2, 2, 2)["difference"] == 0


@pytest.mark.claim("C8", "symbolic", scope="n = 2, d = 1")
def test_loss_gradient_stationarity():
    """The loss-gradient objective's gradient equals the fixed-point form (generic J_i)."""
    assert all(e == 0 for e in loss_gradient_stationarity(2, 1)["difference"])


@pytest.mark.claim("C8", "sanity")
def test_normal_equations_explicit_entries():
    """The general normal equations again with explicit symbolic 2 x 2 entries (a cross-check
    of SymPy's matrix calculus), and both df agree at kappa = 0."""
    for name, v in normal_equations(2).items():
        assert v["residual"] == v["residual"] * 0, name
    assert smoother_dfs(2)["difference_at_0"] == 0


def _objective(kernel, X, Z, y, c, kappa, variant):
    """The objective written directly as code: f at training points from the Gram matrix,
    grad f at the penalty points from the kernel's input derivatives (no G, no normal
    equations)."""
    K = kernel.gram(X)

    def E(alpha):
        grad_f = kernel.derivatives(Z, X, alpha, order=1)[1]
        pen = (grad_f**2).sum()
        if variant == "dual":
            quad = 0.5 * alpha @ (K @ alpha) + 0.5 * c * alpha @ alpha
            return quad - y @ alpha + 0.5 * kappa * pen
        res = y - K @ alpha
        return 0.5 * res @ res + 0.5 * c * alpha @ (K @ alpha) + 0.5 * kappa * pen

    return E


def _newton_minimise(E, n):
    """Minimise a quadratic by Newton steps with the autograd gradient and Hessian."""
    a = torch.zeros(n, dtype=torch.float64)
    for _ in range(3):
        g = torch.func.grad(E)(a)
        H = torch.func.hessian(E)(a)
        a = a - torch.linalg.lstsq(H, g[:, None], driver="gelsd").solution[:, 0]
    return a


def _instance(kernel_name, seed, n=6, d=2, P=4):
    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.standard_normal((n, d)))
    Z = torch.as_tensor(rng.standard_normal((P, d)))
    y = torch.as_tensor(rng.standard_normal(n))
    return X, Z, y


#: the Newton path resolves the minimiser to ~eps * cond(Hessian of E); where that
#: exceeds 1e-10 it cannot confirm agreement at the "refit" tolerance (1e-8)
_MAX_EPS_COND = 1e-10


@pytest.mark.claim("C8", "numeric")
@settings(max_examples=8)
# found by the dev profile: polynomial kernel, rkhs variant, cond(Hessian of E) = 3.7e8
# (K^2 squares cond K = 1e8): the paths differ by 1.7e-8 there, as eps * cond predicts;
# that variant is excluded by the precondition, the dual one (cond 231) is still checked
@example(seed=3491337, c=1.0, kappa=1.0)  # (every kernel; the failure was polynomial)
@given(seed=seeds, c=st.floats(-1.0, 0.5).map(lambda e: 10.0**e),
       kappa=st.floats(-2.0, 1.0).map(lambda e: 10.0**e))
def test_closed_form_vs_optimiser(kernel_name, seed, c, kappa):
    """Closed-form alpha = Newton minimiser of the objective written directly as code.
    Precision precondition: eps * cond(Hessian of the objective) <= 1e-10."""
    for name in kernels_for_param(kernel_name):
        k = get_kernel(name)
        X, Z, y = _instance(name, seed)
        K, G = k.gram(X), penalty_gram(k, Z, X)
        checked = 0
        for variant in ("dual", "rkhs"):
            E = _objective(k, X, Z, y, c, kappa, variant)
            cond = float(torch.linalg.cond(torch.func.hessian(E)(torch.zeros_like(y))))
            if np.finfo(np.float64).eps * cond > _MAX_EPS_COND:
                continue  # this draw is outside the precision precondition for this variant
            a_closed = solve_function_gradient(K, G, y, c, kappa, variant)
            a_num = _newton_minimise(E, X.shape[0])
            # compare fitted values (alpha is unique here, but f is what matters)
            assert_close(K @ a_num, K @ a_closed, "refit", f"{name} {variant} fitted values")
            checked += 1
        if checked:
            asserted_for(name)


@pytest.mark.claim("C8", "numeric")
def test_default_penalty_points_smooth_kernels(kernel_name):
    """Penalty at the training points (the default): closed form vs Newton minimiser, for
    every kernel differentiable on the diagonal."""
    rng = np.random.default_rng(3)
    X = torch.as_tensor(rng.standard_normal((7, 3)))
    y = torch.as_tensor(rng.standard_normal(7))
    names = kernels_for_param(kernel_name)
    for name in names:
        if diagonal_gradient(get_spec(name)) is None:
            _kernel_not_applicable(name, names, "the input gradient is undefined on the "
                                   "diagonal, so the default penalty (at the training "
                                   "points) is undefined")
            continue
        k = get_kernel(name)
        model = RegularisedKRR(k, 0.3, 1.0).fit(X, y)
        a_num = _newton_minimise(_objective(k, X, X, y, 0.3, 1.0, "dual"), 7)
        assert_close(model.K @ a_num, model.K @ model.alpha, "refit", name)
        asserted_for(name)


@pytest.mark.claim("C8", "sanity")
def test_default_penalty_refused_where_undefined():
    """Input validation: kernels without an input gradient on the diagonal refuse the
    default penalty points with a clear error."""
    rng = np.random.default_rng(3)
    X = torch.as_tensor(rng.standard_normal((7, 3)))
    y = torch.as_tensor(rng.standard_normal(7))
    undefined = [n for n, spec in REGISTRY.items() if diagonal_gradient(spec) is None]
    assert undefined  # the registry has such kernels (Laplace, ReLU NTKs)
    for name in undefined:
        with pytest.raises(NonDifferentiableError):
            RegularisedKRR(get_kernel(name), 0.3, 1.0).fit(X, y)


@pytest.mark.claim("C8", "numeric")
def test_loss_gradient_penalty_fixed_point():
    """The numerically minimised loss-gradient objective satisfies the derived fixed point
    (K W K + cK + kappa G_r) alpha = K W y."""
    rng = np.random.default_rng(0)
    k = get_kernel("gaussian", ell=1.0)
    X = torch.as_tensor(rng.standard_normal((8, 2)))
    y = torch.as_tensor(rng.standard_normal(8))
    c, kappa = 0.1, 2.0
    fit = fit_loss_gradient_penalty(k, X, y, c, kappa)
    a = fit.alpha
    K = k.gram(X)
    r = K @ a - y
    J = k.grad(X, X)  # (n, n, d): J[i, j] = grad_x k(x_i, x_j)
    grad_f = torch.einsum("ijd,j->id", J, a)
    W = torch.diag(1 + kappa * (grad_f**2).sum(-1))
    G_r = torch.einsum("i,ijd,ikd->jk", r**2, J, J)
    lhs = (K @ W @ K + c * K + kappa * G_r) @ a
    assert_close(lhs, K @ W @ y, "refit", "loss-gradient fixed point")
    # and the loss-gradient fit differs from the function-gradient one (not the same estimator)
    a_fg = solve_function_gradient(K, penalty_gram(k, X, X), y, c, kappa, "rkhs")
    assert float((K @ (a - a_fg)).abs().max()) > 1e-3
    asserted_for("gaussian")
