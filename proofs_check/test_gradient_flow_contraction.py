"""C12: gradient-flow contraction of input-Fisher energy in a linearised model (scipy ODE)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from derivations.conventions import kappa
from derivations.gradient_flow_contraction import (
    eigenmode_solution,
    non_eigen_counterexample,
    scalar_model,
    subspace_gronwall,
)
from derivations.gradient_flow_contraction import t as t_sym
from numerics.strategies import seeds
from numerics.tolerances import assert_close

TIMES = np.linspace(0.0, 5.0, 26)


def _model(seed, n, d, p, data, scale=1.0):
    """Linearised model: f_i = a_i^T w, g_i = g0_i + B_i w (B_i: d x p), labels y_i."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, p)) if data else np.zeros((n, p))
    B = scale * rng.standard_normal((n, d, p))
    g0 = rng.standard_normal((n, d))
    y = rng.standard_normal(n) if data else np.zeros(n)
    w0 = rng.standard_normal(p)
    return a, B, g0, y, w0


def _flow(a, B, g0, y, kap):
    """J = mean (a^T w - y)^2/2 + kap/2 mean |g0 + B w|^2: w' = -grad J (affine)."""
    n = a.shape[0]
    H = (a.T @ a + kap * np.einsum("idp,idq->pq", B, B)) / n
    rhs = (a.T @ y - kap * np.einsum("idp,id->p", B, g0)) / n
    return H, rhs


#: integrator tolerances (DOP853); scipy's floor for rtol is 100 eps = 2.2e-14
_RTOL, _ATOL = 1e-13, 1e-16


def _integrate(a, B, g0, y, w0, kap):
    """w(t) on the grid TIMES, one solve per grid interval: every reported state is a step
    end point (solve_ivp's ``t_eval`` interpolates inside steps, with errors ~1e-8 in a fast
    decaying component, found by the thorough profile: seed 108, kappa 2, n 2)."""
    H, rhs = _flow(a, B, g0, y, kap)
    W = [np.asarray(w0, dtype=float)]
    for t0, t1 in zip(TIMES[:-1], TIMES[1:], strict=True):
        sol = solve_ivp(lambda _t, w: -H @ w + rhs, (t0, t1), W[-1], method="DOP853",
                        rtol=_RTOL, atol=_ATOL)
        assert sol.success
        W.append(sol.y[:, -1])
    return np.stack(W)  # (T, p)


def _energy(B, g0, W, v):
    """E_v(t) = mean_i (v^T g_i(t))^2 along the trajectory W (T, p)."""
    G = g0[None] + np.einsum("idp,tp->tid", B, W)
    return ((G @ v) ** 2).mean(1)


@pytest.mark.claim("C12", "symbolic")
def test_symbolic_flow():
    assert eigenmode_solution()["ratio_to_bound"] == 1
    assert subspace_gronwall()["gap_at_mu_eq_alpha"] == 0
    ne = non_eigen_counterexample()
    assert ne["dE_dt_example"] == kappa / 5  # > 0 for kappa > 0: the energy grows
    sm = scalar_model()
    assert sm["initial_check"] == 0
    a_, b_, y_, w0 = sm["symbols"]
    vals = {a_: 1, b_: 1, y_: 1, w0: 1, kappa: 1}
    # E(oo) = 1/4 > 0 while the bound -> 0: violated for large t
    assert sm["E_inf"].subs(vals) == sp.Rational(1, 4)
    assert sp.limit(sm["bound"].subs(vals), t_sym, sp.oo) == 0


@pytest.mark.claim("C12", "numeric")
@given(seed=seeds, kap=st.floats(0.1, 3.0), data=st.booleans())
def test_ode_vs_closed_form(seed, kap, data):
    """solve_ivp trajectory vs the exact solution w* + expm(-H t)(w0 - w*), data term on/off."""
    a, B, g0, y, w0 = _model(seed, 4, 2, 5, data)
    H, rhs = _flow(a, B, g0, y, kap)
    w_star = np.linalg.lstsq(H, rhs, rcond=None)[0]
    W = _integrate(a, B, g0, y, w0, kap)
    exact = np.stack([w_star + expm(-H * tt) @ (w0 - w_star) for tt in TIMES])
    assert_close(W, exact, "ode", "linearised gradient flow")


@pytest.mark.claim("C12", "numeric")
@given(seed=seeds, kap=st.floats(0.1, 3.0))
def test_single_input_eigenmode_exact(seed, kap):
    """One input, no data term, g0 = 0: v an eigenvector of B B^T with eigenvalue mu has
    E_v(t) = E_v(0) exp(-2 kappa mu t) (the bound with equality)."""
    a, B, g0, y, w0 = _model(seed, 1, 3, 5, data=False)
    g0[:] = 0.0
    mus, V = np.linalg.eigh(B[0] @ B[0].T)
    W = _integrate(a, B, g0, y, w0, kap)
    for mu_, v in zip(mus, V.T, strict=True):
        E = _energy(B, g0, W, v)
        assert_close(E, E[0] * np.exp(-2 * kap * mu_ * TIMES), "ode", "eigenmode energy")


#: global error of the integration relative to the state w (1e4 x _RTOL: margin for
#: accumulation over the steps), carried to g by |B|: the energy of a mode is compared
#: with ~eps_g^2 + 2 sqrt(E) eps_g
_ODE_REL = 1e-9


@pytest.mark.claim("C12", "corrected")
# found by the dev / thorough profiles: the top mode decays exactly at the bound and
# carries the integrator's error (mu = 7.13: E = 7.7e-8 off by 2e-14 at t = 3.6 with
# rtol 1e-12; mu = 11.5, kappa = 2: E = 8.5e-22 at t = 4.8 where the bound is 1e-61)
@example(seed=4_294_967_295, kap=0.375, n=2)
@example(seed=2, kap=2.0, n=1)
@example(seed=108, kap=2.0, n=2)
@given(seed=seeds, kap=st.floats(0.1, 3.0), n=st.integers(1, 4))
def test_subspace_bound_without_data(seed, kap, n):
    """No data term (g affine in w, target g = 0): the energy of g in the spectral subspace
    {mu >= alpha} of the stacked operator Theta = B B^T / n obeys the bound (the top
    subspace with equality), up to the integrator's error (``_ODE_REL`` of the state)."""
    d, p = 2, 6
    a, B, g0, y, w0 = _model(seed, n, d, p, data=False)
    g0[:] = 0.0
    Bs = B.reshape(n * d, p)
    mus, V = np.linalg.eigh(Bs @ Bs.T / n)
    W = _integrate(a, B, g0, y, w0, kap)
    Gs = np.einsum("ip,tp->ti", Bs, W)  # stacked g(t)
    for j in range(len(mus)):
        if mus[j] <= 1e-9:
            continue
        P = V[:, j:]
        E = ((Gs @ P) ** 2).sum(1)
        bound = E[0] * np.exp(-2 * kap * mus[j] * TIMES)
        # error of g(t) from the integration
        err = _ODE_REL * np.linalg.norm(Bs, 2) * np.linalg.norm(W, axis=1)
        assert np.all(E <= bound * (1 + 1e-8) + 2 * np.sqrt(bound) * err + err**2)


#: scalar model with the data term: a = b = y = w0 = 1, kappa = 1: E(t) -> 1/4, bound -> 0
SCALAR = {"seed": -1, "kap": 1.0}


@pytest.mark.claim("C12", "as_stated")
@pytest.mark.xfail(strict=True, raises=AssertionError, reason=(
    "with the data term the energy does not decay to 0: scalar model f = a w, g = b w with "
    "a = b = y = w0 = kappa = 1 (alpha = b^2 = 1): E(t) = (1 + e^{-2t})^2/4 > e^{-2t} = "
    "E(0) exp(-2 kappa alpha t) for every t > 0, and E -> 1/4 while the bound -> 0 (without "
    "the data term it fails too for several inputs: v is then no eigenvector of the stacked "
    "operator B B^T)"))
@example(data=True, **SCALAR)
@given(seed=seeds, kap=st.floats(0.1, 3.0), data=st.booleans())
def test_bound_as_stated(seed, kap, data):
    """Gradient flow on J (data term on or off); v the top eigenvector of E[d_w g d_w g^T],
    alpha = v^T E[...] v: E_v(t) <= E_v(0) exp(-2 kappa alpha t) on the time grid."""
    if seed < 0:
        a, B, g0 = np.ones((1, 1)), np.ones((1, 1, 1)), np.zeros((1, 1))
        y, w0 = np.ones(1), np.ones(1)
    else:
        a, B, g0, y, w0 = _model(seed, 3, 2, 4, data=data)
    C = np.einsum("idp,iep->de", B, B) / B.shape[0]
    mus, V = np.linalg.eigh(C)
    v, alpha = V[:, -1], mus[-1]
    W = _integrate(a, B, g0, y, w0, kap)
    E = _energy(B, g0, W, v)
    assert np.all(E <= E[0] * np.exp(-2 * kap * alpha * TIMES) * (1 + 1e-8) + 1e-14), E
