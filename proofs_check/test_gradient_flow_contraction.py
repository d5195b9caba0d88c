"""C12: gradient-flow contraction of input-Fisher energy in a linearised model (scipy ODE).

Roles: ``symbolic`` -- the bound in the cases where it holds (one eigenmode; a spectral
subspace of the stacked operator), no data term, each with its scope; ``numeric`` -- the
integrated eigenmode energies against the derivation's closed form, and the scalar model's
energy against its closed form and its bound at finite t (attained at a = 0: this pins the
bound's rate, which the refuted t -> oo behaviour does not); ``corrected`` -- the
subspace bound on random multi-input models; ``as_stated`` -- the bound exactly as stated
(data term on or off, ``v`` the top eigenvector or a random unit), refuted by
:class:`~derivations.claims.Refuted`; ``counterexample`` -- the two pinned instances,
exact (SymPy) and integrated (numbers pinned); ``sanity`` -- the integrator against
``expm`` (a check of the harness, not of the claim).  Every bound is
:func:`derivations.gradient_flow_contraction.stated_bound`, never re-typed.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given, settings
from hypothesis import strategies as st
from scipy.integrate import solve_ivp
from scipy.linalg import expm

from derivations.claims import Refuted
from derivations.conventions import kappa
from derivations.gradient_flow_contraction import (
    E0,
    NON_EIGEN_INSTANCE,
    SCALAR_INSTANCE,
    alpha_s,
    eigenmode_solution,
    non_eigen_counterexample,
    scalar_excess_set,
    scalar_model,
    stated_bound,
    stated_bound_numeric,
    subspace_gronwall,
)
from derivations.gradient_flow_contraction import t as t_sym
from numerics.strategies import seeds
from numerics.tolerances import assert_close
from proofs_check.evidence import refute_unless

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



# ----------------------------------------------------------------------------- symbolic
@pytest.mark.claim("C12", "symbolic", scope="one eigenmode of Theta, no data term")
def test_eigenmode_meets_bound_symbolic():
    """dsolve of e' = -kappa mu e (symbolic e_0, mu, kappa): E_v(t) equals the stated bound
    with alpha = mu exactly."""
    em = eigenmode_solution()
    assert em["ratio_to_bound"] == 1
    e0, mu_ = em["symbols"]
    assert em["bound"] == stated_bound().subs({E0: e0**2, alpha_s: mu_})


@pytest.mark.claim("C12", "symbolic",
                   scope="spectral subspace of Theta spanned by k = 3 eigenmodes, no data term")
def test_subspace_gronwall_symbolic():
    """F(t) = E_P(t) exp(2 kappa alpha t) has F(0) = E_P(0) and F' <= 0 (sign decided by
    SymPy from delta_i >= 0, kappa >= 0): E_P(t) <= E_P(0) exp(-2 kappa alpha t); equality
    when every mode has mu_i = alpha."""
    g = subspace_gronwall(3)
    assert g["dF_dt_nonpositive"] is True, g["dF_dt"]
    assert g["F0_minus_E0"] == 0
    assert g["gap_at_delta_0"] == 0


# ----------------------------------------------------------------------------- sanity
@pytest.mark.claim("C12", "sanity")
@given(seed=seeds, kap=st.floats(0.1, 3.0), data=st.booleans())
def test_ode_vs_closed_form(seed, kap, data):
    """The harness: solve_ivp trajectory vs the exact solution w* + expm(-H t)(w0 - w*),
    data term on/off (checks the integrator, not the claim)."""
    a, B, g0, y, w0 = _model(seed, 4, 2, 5, data)
    H, rhs = _flow(a, B, g0, y, kap)
    w_star = np.linalg.lstsq(H, rhs, rcond=None)[0]
    W = _integrate(a, B, g0, y, w0, kap)
    exact = np.stack([w_star + expm(-H * tt) @ (w0 - w_star) for tt in TIMES])
    assert_close(W, exact, "ode", "linearised gradient flow")


# ----------------------------------------------------------------------------- numeric
_EIGEN_E = sp.lambdify((*eigenmode_solution()["symbols"], kappa, t_sym),
                       eigenmode_solution()["E"], "numpy")


@pytest.mark.claim("C12", "numeric")
@given(seed=seeds, kap=st.floats(0.1, 3.0))
def test_single_input_eigenmode_exact(seed, kap):
    """One input, no data term, g0 = 0: for v an eigenvector of B B^T with eigenvalue mu the
    integrated E_v(t) equals the derivation's eigenmode energy (the bound with equality)."""
    a, B, g0, y, w0 = _model(seed, 1, 3, 5, data=False)
    g0[:] = 0.0
    mus, V = np.linalg.eigh(B[0] @ B[0].T)
    W = _integrate(a, B, g0, y, w0, kap)
    for mu_, v in zip(mus, V.T, strict=True):
        E = _energy(B, g0, W, v)
        e0 = float(v @ (B[0] @ w0))
        assert_close(E, _EIGEN_E(e0, mu_, kap, TIMES), "ode", "eigenmode energy")
        assert_close(E, stated_bound_numeric(E[0], kap, mu_, TIMES), "ode",
                     "eigenmode energy vs the stated bound at alpha = mu")


# ------------------------------------------------------- numeric: the scalar model's bound
#: the scalar model's energy and bound (:func:`scalar_model`, SymPy), as NumPy functions of
#: ``(a, b, y, w_0, kappa, t)``: the derivation's expressions, not re-typed
_SCALAR_FNS = {key: sp.lambdify((*scalar_model()["symbols"], kappa, t_sym), scalar_model()[key],
                                "numpy")
               for key in ("E", "bound")}
_nonzero = st.floats(0.25, 2.0) | st.floats(-2.0, -0.25)


def _scalar_energy(a: float, b: float, y: float, w0: float, kap: float) -> np.ndarray:
    """E(t) = (b w(t))^2 of the scalar model on TIMES, integrated (solve_ivp) through the
    same linearised-model harness as every other check: one input, f = a w, g = b w."""
    A, B = np.full((1, 1), a), np.full((1, 1, 1), b)
    g0 = np.zeros((1, 1))
    W = _integrate(A, B, g0, np.full(1, y), np.full(1, w0), kap)
    return _energy(B, g0, W, np.ones(1))


@pytest.mark.claim("C12", "numeric")
@example(a=0.0, b=1.0, y=1.0, w0=1.0, kap=1.0)  # the pinned instance without its data term
@example(a=1.0, b=1.0, y=0.0, w0=1.0, kap=1.0)  # ... with it, target 0
@given(a=st.just(0.0) | _nonzero, b=_nonzero, y=st.just(0.0) | _nonzero, w0=_nonzero,
       kap=st.floats(0.1, 3.0))
def test_scalar_model_bound_vs_integrated_energy(a, b, y, w0, kap):
    """The rate of the derivation's bound at finite t, against an independent computation.

    The scalar model's energy integrated numerically (solve_ivp, not SymPy's dsolve) equals
    the derivation's closed form ``E(t)`` for every ``a, y``.  Where the bound is *attained*
    -- ``a = 0``: the data term vanishes and ``w' = -kappa b^2 w``, so ``E(t) = E(0) exp(-2
    kappa b^2 t)`` -- the integrated energy equals the derivation's bound (``alpha = b^2``) at
    every grid time, so a bound with another rate (``exp(-kappa alpha t)``, or ``alpha = b``)
    fails at the first grid time t = 0.2 (the exponent moves by at least 1e-3 there, E >= 1e-4).
    With ``y = 0`` (no target) and ``a != 0`` the energy decays faster than the bound and
    stays below it.  (The t -> oo limit of the refuted as-stated case is the same for every
    rate; this check is what pins the rate.)"""
    E = _scalar_energy(a, b, y, w0, kap)
    closed = _SCALAR_FNS["E"](a, b, y, w0, kap, TIMES)
    bound = _SCALAR_FNS["bound"](a, b, y, w0, kap, TIMES) * np.ones_like(TIMES)
    assert_close(E, closed, "ode", f"scalar model a={a}, b={b}, y={y}, w0={w0}: integrated vs "
                 "closed-form E(t)")
    if a == 0.0:
        assert_close(E, bound, "ode", f"a = 0 (b={b}, w0={w0}, kappa={kap}): the bound is "
                     "attained, integrated energy vs the derivation's bound")
    # the derivation's scalar bound is the stated bound at E_0 = (b w0)^2, alpha = b^2
    assert_close(bound, stated_bound_numeric(E[0], kap, b * b, TIMES), "exact",
                 "scalar model's bound vs stated_bound at alpha = b^2")
    if a != 0.0 and y == 0.0:
        assert np.all(E <= bound * (1 + _SLACK_REL) + _SLACK_ABS), (E, bound)
        # a != 0 adds decay: strictly below the bound where it is above the integrator's
        # absolute resolution (the ODE's atol)
        resolved = (TIMES > 0) & (bound > 1e-10)
        assert np.all(E[resolved] < bound[resolved]), (E, bound)


# ----------------------------------------------------------------------------- corrected
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
    """No data term (g affine in w, target g = 0): the energy of g in every spectral
    subspace {mu >= alpha} of the stacked operator Theta = B B^T / n obeys the bound (the
    top subspace with equality), up to the integrator's error (``_ODE_REL`` of the state).
    With n d > p the bottom of the spectrum is the null space of Theta: there alpha is
    clipped at 0 (rounding can make it -1e-16) and the bound says E does not grow."""
    d, p = 2, 6
    a, B, g0, y, w0 = _model(seed, n, d, p, data=False)
    g0[:] = 0.0
    Bs = B.reshape(n * d, p)
    mus, V = np.linalg.eigh(Bs @ Bs.T / n)
    W = _integrate(a, B, g0, y, w0, kap)
    Gs = np.einsum("ip,tp->ti", Bs, W)  # stacked g(t)
    # error of g(t) from the integration
    err = _ODE_REL * np.linalg.norm(Bs, 2) * np.linalg.norm(W, axis=1)
    for j in range(len(mus)):
        P = V[:, j:]
        E = ((Gs @ P) ** 2).sum(1)
        bound = stated_bound_numeric(E[0], kap, max(mus[j], 0.0), TIMES)
        assert np.all(E <= bound * (1 + 1e-8) + 2 * np.sqrt(bound) * err + err**2), j


# ----------------------------------------------------------------------------- as stated
#: slack of the as-stated comparison for the integrator's error (relative, absolute)
_SLACK_REL, _SLACK_ABS = 1e-8, 1e-14


def _pinned_instance(name: str):
    """The two pinned counterexamples as linearised models ``(a, B, g0, y, w0, v)``.

    ``scalar``: f = a w, g = b w, data term on, a = b = y = w0 = 1 (:data:`SCALAR_INSTANCE`,
    v = 1, alpha = b^2).  ``non_eigen``: one input, no data term, B = diag(1, sqrt eps) so
    that B B^T = diag(1, eps), w0 with g(0) = B w0 = (-a, 1) and v = (1, 1)/sqrt 2
    (:data:`NON_EIGEN_INSTANCE`, not an eigenvector)."""
    if name == "scalar":
        s = SCALAR_INSTANCE
        a = np.full((1, 1), float(s["a"]))
        B = np.full((1, 1, 1), float(s["b"]))
        return a, B, np.zeros((1, 1)), np.full(1, float(s["y"])), np.full(1, float(s["w_0"])), \
            np.ones(1)
    if name == "non_eigen":
        eps, a_ = float(NON_EIGEN_INSTANCE["eps"]), float(NON_EIGEN_INSTANCE["a"])
        B = np.diag([1.0, np.sqrt(eps)])[None]
        w0 = np.array([-a_, 1.0 / np.sqrt(eps)])
        return np.zeros((1, 2)), B, np.zeros((1, 2)), np.zeros(1), w0, \
            np.array([1.0, 1.0]) / np.sqrt(2.0)
    raise KeyError(name)


def _as_stated(a, B, g0, y, w0, v, kap) -> dict:
    """Integrate the flow on J and compare E_v(t) with the stated bound, alpha = v^T E[d_w g
    d_w g^T] v (the largest alpha the hypothesis allows for this v).  Returned: whether the
    bound holds on the grid and the numbers at the time of the largest ratio E / bound."""
    C = np.einsum("idp,iep->de", B, B) / B.shape[0]
    alpha = float(v @ C @ v)
    W = _integrate(a, B, g0, y, w0, kap)
    E = _energy(B, g0, W, v)
    bound = stated_bound_numeric(E[0], kap, alpha, TIMES)
    holds = bool(np.all(E <= bound * (1 + _SLACK_REL) + _SLACK_ABS))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bound > 0, E / bound, np.where(E > _SLACK_ABS, np.inf, 1.0))
    i = int(np.argmax(ratio))
    return {"holds": holds, "t": float(TIMES[i]), "E": float(E[i]), "bound": float(bound[i]),
            "rel_error": float(ratio[i] - 1.0), "alpha": alpha, "E_0": float(E[0]),
            "kappa": float(kap)}


#: ``@example`` arguments of the pinned counterexamples (seed < 0 selects them)
COUNTER = {"scalar": {"seed": -1, "kap": float(SCALAR_INSTANCE["kappa"]), "data": True,
                      "n": 1, "direction": "top"},
           "non_eigen": {"seed": -2, "kap": 1.0, "data": False, "n": 1, "direction": "top"}}
_PINNED_BY_SEED = {-1: "scalar", -2: "non_eigen"}


@pytest.mark.claim("C12", "as_stated")
@pytest.mark.xfail(strict=True, raises=Refuted, reason=(
    "refuted: with the data term the energy of the top Fisher mode tends to a positive limit "
    "while the stated bound tends to 0 (pinned: the scalar model, where it fails at every "
    "t > 0); without the data term it fails for a unit v that is not an eigenvector (pinned: "
    "a single input with Theta diagonal, where the energy grows at t = 0)"))
@settings(report_multiple_bugs=False)
@example(**COUNTER["scalar"])
@example(**COUNTER["non_eigen"])
@given(seed=seeds, kap=st.floats(0.1, 3.0), data=st.booleans(), n=st.integers(1, 4),
       direction=st.sampled_from(["top", "random"]))
def test_bound_as_stated(seed, kap, data, n, direction):
    """Gradient flow on J (data term on or off); v the top eigenvector of E[d_w g d_w g^T] or
    a random unit vector, alpha = v^T E[...] v: E_v(t) <= E_v(0) exp(-2 kappa alpha t) on
    the time grid, or :class:`Refuted` with the numbers at the worst time."""
    if seed < 0:
        name = _PINNED_BY_SEED[seed]
        a, B, g0, y, w0, v = _pinned_instance(name)
    else:
        name = f"seed {seed}"
        a, B, g0, y, w0 = _model(seed, n, 2, 4, data=data)
        C = np.einsum("idp,iep->de", B, B) / n
        if direction == "top":
            v = np.linalg.eigh(C)[1][:, -1]
        else:
            v = np.random.default_rng(seed + 1).standard_normal(2)
            v /= np.linalg.norm(v)
    r = _as_stated(a, B, g0, y, w0, v, kap)
    refute_unless("C12", r["holds"], f"E_v(t) exceeds E_v(0) exp(-2 kappa alpha t) ({name}, "
                  f"data term {'on' if data else 'off'}, v {direction})",
                  measured=r["E"], stated=r["bound"], rel_error=r["rel_error"], t=r["t"],
                  alpha=r["alpha"], E_0=r["E_0"], kappa=r["kappa"])


# ----------------------------------------------------------------------------- counterexamples
#: numbers of the pinned instances from a run (float64, deterministic): the time of the
#: largest ratio, E_v there, the stated bound there and their relative error
PINNED = {
    "scalar": {"t": 5.0, "E": 0.25002270048017056, "bound": 4.5399929762484854e-05,
               "rel_error": 5506.116460051681},
    "non_eigen": {"t": 5.0, "E": 0.1819020098577092, "bound": 0.0005108464298080088,
                  "rel_error": 355.0796341986248},
}


@pytest.mark.claim("C12", "counterexample")
@pytest.mark.parametrize("name", sorted(COUNTER))
def test_pinned_counterexample_numbers(name):
    """The pinned instance of the as-stated check, recomputed through the same integrator:
    its numbers as pinned, the bound violated by more than 10%, and the integrated energy
    equal to the derivation's exact E_v(t) at that time."""
    r = _as_stated(*_pinned_instance(name), COUNTER[name]["kap"])
    pinned = PINNED[name]
    assert r["t"] == pinned["t"]
    for key in ("E", "bound", "rel_error"):
        assert r[key] == pytest.approx(pinned[key], rel=1e-6), key
    assert not r["holds"] and r["E"] > r["bound"] and r["rel_error"] > 0.1
    if name == "scalar":
        sm = scalar_model()
        a_, b_, y_, w0 = sm["symbols"]
        s = SCALAR_INSTANCE
        at = {a_: s["a"], b_: s["b"], y_: s["y"], w0: s["w_0"], kappa: s["kappa"],
              t_sym: r["t"]}
        exact = sm["E"].subs(at)
        # the harness's bound (alpha = v^T E[B B^T] v) is the derivation's scalar-model bound
        assert_close(r["bound"], float(sm["bound"].subs(at)), "exact",
                     "as-stated bound vs scalar_model()['bound']")
    else:
        ne = non_eigen_counterexample()
        exact = ne["E_v"].subs({**ne["example"], kappa: COUNTER[name]["kap"], t_sym: r["t"]})
    assert_close(r["E"], float(exact), "ode", f"{name}: integrated vs exact E_v(t)")


@pytest.mark.claim("C12", "counterexample")
def test_scalar_model_fails_at_every_finite_t():
    """Scalar model with the data term, exact (SymPy): at the pinned instance E(0) equals the
    stated bound and {t > 0 : E(t) <= bound(t)} is empty (solveset at finite t, with the
    derivation's bound: a rate exp(-kappa alpha t) would leave a non-empty interval near 0);
    in general E(t) -> (a b y / (a^2 + kappa b^2))^2 > 0 when a b y != 0, while the bound
    -> 0."""
    sm = scalar_model()
    assert sm["initial_check"] == 0
    assert scalar_excess_set() == sp.EmptySet
    a_, b_, y_, w0 = sm["symbols"]
    s = SCALAR_INSTANCE
    vals = {a_: s["a"], b_: s["b"], y_: s["y"], w0: s["w_0"], kappa: s["kappa"]}
    assert sm["E_inf"].subs(vals) == sp.Rational(1, 4)
    assert sp.limit(sm["bound"].subs(vals), t_sym, sp.oo) == 0
    nz = {sym: sp.Symbol(sym.name, positive=True) for sym in (a_, b_, y_)}
    assert sm["E_inf"].subs(nz).is_positive is True


@pytest.mark.claim("C12", "counterexample")
def test_non_eigen_energy_grows():
    """Theta = diag(1, eps), v = (1, 1)/sqrt 2 (not an eigenvector), g(0) = (-a, 1), no data
    term, exact: at the pinned eps = 1/10, a = 1/2, alpha = v^T Theta v = 11/20,
    E_v(0) = 1/8 equals the bound at t = 0, and dE_v/dt(0) = kappa/5 > 0 while the bound's
    derivative there is -2 kappa alpha E_v(0) < 0: the bound fails for small t > 0 (any
    kappa > 0)."""
    ne = non_eigen_counterexample()
    assert ne["alpha_example"] == sp.Rational(11, 20)
    assert ne["E_v0_example"] == sp.Rational(1, 8)
    assert ne["dE_dt_example"] == kappa / 5
    bound = stated_bound().subs({E0: ne["E_v0_example"], alpha_s: ne["alpha_example"]})
    d_bound0 = sp.diff(bound, t_sym).subs(t_sym, 0)
    assert sp.simplify(d_bound0 + 2 * kappa * ne["alpha_example"] * ne["E_v0_example"]) == 0
    kp = sp.Symbol("kappa_p", positive=True)
    assert (ne["dE_dt_example"] - d_bound0).subs(kappa, kp).is_positive is True
