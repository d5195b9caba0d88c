"""C10: the penalised shift and spike of the clone model -- closed forms vs refits."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import example, given, reject
from hypothesis import strategies as st

from derivations.capacity import diagonal_gradient
from derivations.claims import Refuted
from derivations.conventions import c, k_zeta, kappa, m, y_t
from derivations.kernels import REGISTRY, get_spec, r
from derivations.poison_suppression import (
    SHIFT_GROWS,
    best_penalty_radius,
    dominance_general,
    dominance_shift,
    exact_shift_identity,
    g_zeta,
    gain_identity,
    gaussian_trigger_penalty,
    k0,
    suppression_ratio,
)
from numerics.claim_cases import EXACT
from numerics.kernels import TorchKernel, get_kernel
from numerics.poisons import clone_cluster, triggered_point, with_poisons
from numerics.regularised import RegularisedKRR, penalty_jacobians
from numerics.strategies import kernels_for_param, param_values, seeds
from numerics.tolerances import assert_close
from numerics.validation import NonDifferentiableError, SingularSystemError
from proofs_check.evidence import (
    asserted_for,
    not_applicable,
    note_not_applicable,
    refute_unless,
)


def _kernel_not_applicable(name: str, names: list[str], reason: str) -> None:
    """A kernel the check cannot handle: skip the test (one kernel) or record it and go on
    with the others (the loop over several user-registered kernels)."""
    if len(names) == 1:
        not_applicable(name, reason)
    note_not_applicable(name, reason)


@pytest.mark.claim("C10", "symbolic",
                   scope="every m and d under tight-cluster dominance (no clean data; the "
                         "clones' penalty block modelled as g_zeta 11^T)")
def test_dominance_closed_forms_general():
    """Tight-cluster dominance (no clean data), every m and d: alpha = y_t/(c + m s) 1 solves
    the penalised clone system (s = k_zeta + kappa g_zeta), which is invertible; the shift is
    k_0 y_t S_kappa and the spike |grad k_0|^2 (y_t S_kappa)^2.  The same comparison with the
    unpenalised shift does not vanish."""
    dg = dominance_general()
    assert dg["solve"] == {} and dg["inverse"] == {}
    assert dg["shift"] == 0
    assert dg["spike"] == {} and len(dg["spike_terms"]) == 1
    assert dg["control"] != 0


@pytest.mark.claim("C10", "symbolic", scope="one clean point, m = 2, one penalty point, d = 1")
def test_exact_shift_identity():
    """Exact penalised shift with clean data (block elimination) against solving the full
    (1 + m) x (1 + m) system, generic kernel values and penalty-Gram entries."""
    assert exact_shift_identity(2)["difference"] == 0


@pytest.mark.claim("C10", "sanity")
def test_gain_identity_explicit_m3():
    """The penalised gain with an explicit 3 x 3 clone block (cross-check of the general
    matrix-expression proof)."""
    assert all(e == 0 for e in gain_identity(3))


@pytest.mark.claim("C10", "corrected")
def test_suppression_only_through_g_zeta():
    """Corrected statement, symbolically: under dominance |Delta f| is non-increasing in kappa
    (d ratio/d kappa <= 0 for every c, m, k_zeta > 0, g_zeta >= 0); a penalty point at the
    poisons contributes nothing for isotropic kernels smooth on the diagonal; a penalty at a
    near-clone trigger (Gaussian) suppresses nothing as r -> 0."""
    der = sp.factor(sp.diff(suppression_ratio, kappa))
    assert der.is_nonpositive
    for name, spec in REGISTRY.items():
        info = best_penalty_radius(spec)
        if info is not None and info["diagonal_gradient"] == 0:
            assert info["at_zero"] == 0, name
            asserted_for(name)
    assert sp.simplify(gaussian_trigger_penalty()["ratio_series"].subs(r, 0) - 1) == 0
    asserted_for("gaussian")


def _fits(k, X, y, Xp, yp, c_, kap, Z):
    Xa, ya = with_poisons(X, y, Xp, yp)
    pois = RegularisedKRR(k, c_, kap, penalty_points=Z).fit(Xa, ya)
    clean = RegularisedKRR(k, c_, kap, penalty_points=Z).fit(X, y)
    return clean, pois


def _exact_closed_form(k, X, y, zeta, m_, yt, c_, kap, Z, x0):
    """The exact penalised shift of derivations.poison_suppression, evaluated from clean
    quantities only (no refit with the poisons)."""
    JC = penalty_jacobians(k, Z, X)  # (P, n, d)
    jz = penalty_jacobians(k, Z, zeta[None])[:, 0, :]  # (P, d)
    A = k.gram(X) + c_ * torch.eye(X.shape[0], dtype=X.dtype) + kap * torch.einsum(
        "pid,pjd->ij", JC, JC)
    b = k.gram(X, zeta[None])[:, 0] + kap * torch.einsum("pid,pd->i", JC, jz)
    s = float(k.gram(zeta[None])[0, 0]) + kap * float((jz**2).sum()) - float(
        b @ torch.linalg.solve(A, b))
    cross = float(k.gram(x0[None], zeta[None])[0, 0]) - float(
        k.gram(x0[None], X)[0] @ torch.linalg.solve(A, b))
    # C2's exact shift with the penalised (conditional) quantities
    return EXACT(cross, s, float(b @ torch.linalg.solve(A, y)), yt, m_, c_)


@st.composite
def clone_cases(draw):
    name = draw(st.sampled_from(sorted(REGISTRY)))
    return {"kernel": name, "params": draw(param_values(get_spec(name))),
            "nc": draw(st.integers(1, 6)), "d": draw(st.integers(1, 3)),
            "m": draw(st.integers(1, 6)), "seed": draw(seeds),
            "r": draw(st.floats(0.05, 2.0)), "c": draw(st.floats(-2, 0).map(lambda e: 10**e)),
            "P": draw(st.integers(1, 4))}


def _case_data(case):
    rng = np.random.default_rng(case["seed"])
    d = case["d"]
    X = torch.as_tensor(rng.standard_normal((case["nc"], d)))
    y = torch.as_tensor(rng.standard_normal(case["nc"]))
    zeta = torch.as_tensor(rng.standard_normal(d))
    x0 = triggered_point(zeta, case["r"], seed=case["seed"])
    Z = torch.as_tensor(rng.standard_normal((case["P"], d)))
    return X, y, zeta, x0, Z


@pytest.mark.claim("C10", "numeric")
@given(case=clone_cases(), kap=st.floats(-2, 2).map(lambda e: 10**e))
def test_exact_penalised_shift_vs_refit(case, kap):
    k = TorchKernel(get_spec(case["kernel"]), **case["params"])
    X, y, zeta, x0, Z = _case_data(case)
    Xp, yp = clone_cluster(zeta, case["m"], 1.0)
    try:
        clean, pois = _fits(k, X, y, Xp, yp, case["c"], kap, Z)
        closed = _exact_closed_form(k, X, y, zeta, case["m"], 1.0, case["c"], kap, Z, x0)
    except NonDifferentiableError:
        reject()  # penalty undefined where the kernel has no input gradient
    except SingularSystemError:
        # refused with a clear error: no float64 answer to check (found by the thorough
        # profile: polynomial gamma=10, p=4, d=3, c=1, kappa=1: condition number 2e12)
        reject()
    measured = float(pois.predict(x0[None])[0] - clean.predict(x0[None])[0])
    assert_close(np.array(measured), np.array(closed), "refit", f"{case['kernel']} shift")
    asserted_for(case["kernel"])


@pytest.mark.claim("C10", "numeric")
def test_dominance_gain_and_spike(kernel_name):
    """No clean data: Delta f = k(x0, zeta) y_t S_kappa and grad Delta f = grad k y_t S_kappa
    (so Lambda = R_k Delta f^2), with g_zeta from the penalty points."""
    names = kernels_for_param(kernel_name)
    for name in names:
        k = get_kernel(name)
        zeta = torch.tensor([0.3, -0.4], dtype=torch.float64)
        x0 = triggered_point(zeta, 0.7, seed=1)
        Z = torch.stack([x0, zeta + 1.0])
        Xp, yp = clone_cluster(zeta, 4, 1.5)
        try:
            jz = penalty_jacobians(k, Z, zeta[None])[:, 0, :]
        except NonDifferentiableError as err:
            _kernel_not_applicable(name, names, f"no input gradient at the penalty points "
                                   f"of this check ({err})")
            continue
        for kap in (0.0, 0.3, 5.0):
            model = RegularisedKRR(k, 0.2, kap, penalty_points=Z).fit(Xp, yp)
            subs = {m: 4, c: sp.Float(0.2), k_zeta: float(k.gram(zeta[None])[0, 0]),
                    kappa: kap, g_zeta: float((jz**2).sum()), y_t: 1.5,
                    k0: float(k.gram(x0[None], zeta[None])[0, 0])}
            assert_close(model.predict(x0[None])[0], np.array(float(dominance_shift.subs(subs))),
                         "refit", f"{name} shift")
            S = float((dominance_shift / k0).subs(subs))
            assert_close(model.input_gradient(x0[None])[0], k.grad(x0[None], zeta[None])[0, 0] * S,
                         "refit", f"{name} grad shift")
        asserted_for(name)


@pytest.mark.claim("C10", "numeric")
def test_penalty_at_the_poisons(kernel_name):
    """Penalty points at the clones: no effect at all for kernels whose gradient vanishes on
    the diagonal; a real suppression for dot-product kernels."""
    names = kernels_for_param(kernel_name)
    for name in names:
        dg = diagonal_gradient(get_spec(name))
        if dg is None:
            _kernel_not_applicable(name, names, "the input gradient is undefined on the "
                                   "diagonal, so a penalty at the poisons is undefined")
            continue
        k = get_kernel(name)
        zeta = torch.tensor([0.5, 0.2], dtype=torch.float64)
        Xp, yp = clone_cluster(zeta, 3, 1.0)
        x0 = triggered_point(zeta, 0.4, seed=2)
        f = [float(RegularisedKRR(k, 0.1, kap, penalty_points=Xp).fit(Xp, yp).predict(x0[None])[0])
             for kap in (0.0, 10.0)]
        if dg == 0:
            assert f[1] == pytest.approx(f[0], rel=1e-12, abs=1e-14), name
        else:
            assert abs(f[1]) < abs(f[0]), name
        asserted_for(name)


#: the kappa grid of the as-stated check
AS_STATED_KAPPAS = SHIFT_GROWS["kappas"]


def _shift_curve(k, X, y, zeta, x0, c_, m_, yt=1.0):
    """|Delta f(x0; kappa)| on the as-stated kappa grid, penalty at every training point
    (clean and poisoned) of the poisoned set."""
    Xp, yp = clone_cluster(zeta, m_, yt)
    Xa, _ = with_poisons(X, y, Xp, yp)
    out = []
    for kap in AS_STATED_KAPPAS:
        clean, pois = _fits(k, X, y, Xp, yp, c_, kap, Xa)
        out.append(abs(float(pois.predict(x0[None])[0] - clean.predict(x0[None])[0])))
    return np.array(out)


def _pinned_instance():
    g = SHIFT_GROWS
    k = TorchKernel(get_spec(g["kernel"]), **g["params"])

    def t(v):
        return torch.tensor(v, dtype=torch.float64)

    return k, t(g["X"]), t(g["y"]), t(g["zeta"]), t(g["x0"]), g["c"], g["m"], g["y_t"]


@pytest.mark.claim("C10", "as_stated")
@pytest.mark.xfail(strict=True, raises=Refuted, reason=(
    "the penalty need not suppress the shift: with clean data near the poisons and the "
    "penalty at the training points, |Delta f(x0)| can grow with kappa (pinned: Gaussian "
    "kernel, one clean point, two clones)"))
@example(case={"pinned": True})
@given(case=clone_cases())
def test_penalty_suppresses_shift_as_stated(case):
    """|Delta f(x0; kappa)| non-increasing in kappa, penalty at the training points."""
    if case.get("pinned"):
        k, X, y, zeta, x0, c_, m_, yt = _pinned_instance()
        name = SHIFT_GROWS["kernel"]
    else:
        name = case["kernel"]
        k = TorchKernel(get_spec(name), **case["params"])
        X, y, zeta, x0, _ = _case_data(case)
        c_, m_, yt = case["c"], case["m"], 1.0
    try:
        shifts = _shift_curve(k, X, y, zeta, x0, c_, m_, yt)
    except NonDifferentiableError:
        reject()
    i = int(np.argmax(np.diff(shifts)))
    refute_unless("C10", bool(np.all(np.diff(shifts) <= 1e-12 * shifts.max())),
                  "|Delta f(x0)| grows with kappa: the penalty does not suppress the shift",
                  kernel=name, kappa_lo=AS_STATED_KAPPAS[i], kappa_hi=AS_STATED_KAPPAS[i + 1],
                  shift_lo=shifts[i], shift_hi=shifts[i + 1], shift_kappa_0=shifts[0],
                  shift_kappa_max=shifts[-1])
    asserted_for(name)


#: |Delta f(x0)| of the pinned instance on the kappa grid (0, 0.1, 1, 10), from a run
SHIFT_GROWS_PINNED = (0.04638398562499413, 0.06285035603910516, 0.16370219937649366,
                      0.20452450285713972)


@pytest.mark.claim("C10", "counterexample")
def test_shift_grows_counterexample():
    """The pinned counterexample recomputed: |Delta f(x0)| on the kappa grid, and it grows
    (every step, and by more than a factor 4 from kappa = 0 to the largest kappa)."""
    shifts = _shift_curve(*_pinned_instance())
    np.testing.assert_allclose(shifts, SHIFT_GROWS_PINNED, rtol=1e-6)
    assert np.all(np.diff(shifts) > 0)
    assert shifts[-1] > 4 * shifts[0]
    asserted_for(SHIFT_GROWS["kernel"])


@pytest.mark.claim("C10", "corrected")
@given(case=clone_cases())
def test_dominance_suppression_corrected(case):
    """Corrected statement: without clean data (tight-cluster dominance) the shift is
    S_kappa-suppressed, monotone in kappa, strictly iff g_zeta > 0."""
    k = TorchKernel(get_spec(case["kernel"]), **case["params"])
    _, _, zeta, x0, Z = _case_data(case)
    Xp, yp = clone_cluster(zeta, case["m"], 1.0)
    try:
        gz = float((penalty_jacobians(k, Z, zeta[None]) ** 2).sum())
        f = [float(RegularisedKRR(k, case["c"], kap, penalty_points=Z).fit(Xp, yp)
                   .predict(x0[None])[0]) for kap in (0.0, 0.1, 1.0, 10.0)]
    except NonDifferentiableError:
        reject()
    except SingularSystemError:  # refused with a clear error (polynomial, gamma=10, p=4)
        reject()
    a = np.abs(f)
    assert np.all(np.diff(a) <= 1e-12 * (a.max() + 1e-300)), a
    # strictly: S_10 / S_0 = 1 - 10 m g / (c + m (k_zeta + 10 g)); float64 resolves that
    # only if 10 m g / (c + m k_zeta) is well above eps (found by the dev profile: Gaussian
    # ell = 0.1, penalty point 1.6 from zeta, g_zeta = 3.4e-112, a[-1] == a[0])
    k_zeta = float(k.gram(zeta[None])[0, 0])
    resolvable = 10 * case["m"] * gz > 1e-10 * (case["c"] + case["m"] * k_zeta)
    if gz > 0 and a[0] > 1e-12 and resolvable:
        assert a[-1] < a[0]
    asserted_for(case["kernel"])
