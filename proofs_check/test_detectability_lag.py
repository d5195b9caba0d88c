"""C5 -- the detectability lag: closed forms (derivations/detectability_lag.py) against
sweeps over the number of clones with refits."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import assume, example, given, reject, settings
from hypothesis import strategies as st

from derivations.claims import Refuted
from derivations.conventions import c, k_zeta, m
from derivations.detectability_lag import (
    _K,
    R,
    T,
    _check_exact_substitution,
    crossing_count,
    delta,
    lag,
    lag_numbers,
    m_det,
    m_succ,
    max_shift,
    max_spike,
    shift_of_m,
    spike_of_m,
    tau,
)
from numerics.kernels import TorchKernel
from numerics.poisons import (
    autograd_gn_term,
    clone_cluster,
    conditional_kernel,
    conditional_kernel_gradient,
    fit_clean_and_poisoned,
    measured_shift,
    top_eigenpairs,
    triggered_point,
)
from numerics.strategies import kernels_for_param
from numerics.validation import SingularSystemError
from proofs_check.evidence import asserted_for, refute_unless

# ---------------------------------------------------------------------------
# symbolic
# ---------------------------------------------------------------------------


@pytest.mark.claim("C5", "symbolic", scope="general")
def test_crossings_solve_the_threshold_equations():
    """General form (symbolic K_0, k_zeta, c, R_k, tau, delta, m; the clone model's shift
    and spike from C2, C3), step by step: shift and spike are strictly increasing in m,
    m_succ and m_det solve the threshold equations (so they are *the* crossings), and the
    suprema are K_0 / k_zeta and R_k K_0^2 / k_zeta^2 (so never-successful /
    never-detectable are the stated inequalities)."""
    d_shift = sp.simplify(sp.diff(shift_of_m(), m))
    assert sp.simplify(d_shift - _K * c / (c + k_zeta * m) ** 2) == 0
    assert d_shift.is_positive
    d_spike = sp.simplify(sp.diff(spike_of_m(), m))
    assert sp.simplify(d_spike - 2 * R * _K**2 * c * m / (c + k_zeta * m) ** 3) == 0
    assert d_spike.is_nonnegative  # > 0 for m > 0
    assert sp.simplify(shift_of_m().subs(m, m_succ()) - tau) == 0
    assert sp.simplify((R * shift_of_m() ** 2).subs(m, m_det()) - delta) == 0
    assert sp.simplify(max_shift() - _K / k_zeta) == 0
    assert sp.simplify(max_spike() - R * _K**2 / k_zeta**2) == 0


@pytest.mark.claim("C5", "symbolic", scope="general")
def test_lag_factorises_with_the_sign_of_delta_minus_R_tau2():
    """General form: the lag against a hand-derived factorisation (symbolic parameters)."""
    # lag = c K (sqrt(delta/R) - tau) / ((K - k tau)(K - k sqrt(delta/R)))
    Td = sp.sqrt(delta / R)
    expected = c * _K * (Td - tau) / ((_K - k_zeta * tau) * (_K - k_zeta * Td))
    assert sp.simplify(lag() - expected) == 0
    assert sp.simplify(crossing_count(T) - c * T / (_K - k_zeta * T)) == 0


@pytest.mark.claim("C5", "sanity")
def test_exact_version_is_the_same_form():
    """The substitution map turns C2's dominance formula into C2's exact one.  Both are the
    same gain written with other symbols, so this checks the map, not the claim (the exact
    shift itself is derived in C2)."""
    assert _check_exact_substitution() == 0


@pytest.mark.claim("C5", "numeric")
@given(K=st.floats(0.01, 5), kz=st.floats(0.1, 3), cc=st.floats(1e-3, 1e2),
       Rv=st.floats(1e-4, 1e2), tau_f=st.floats(0.01, 1.5), del_f=st.floats(0.01, 1.5))
def test_lag_numbers_agree_with_bisection(K, kz, cc, Rv, tau_f, del_f):
    """The evaluated closed forms vs a bisection on the shift / spike of m (no formula)."""
    tau_v = tau_f * K / kz
    delta_v = del_f * Rv * K**2 / kz**2
    out = lag_numbers(K, kz, 1.0, Rv, cc, tau_v, delta_v)

    def first_m(fn, thr):
        if not fn(1e12) > thr * (1 + 1e-9):
            return math.inf
        lo, hi = 0.0, 1e12
        for _ in range(400):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if fn(mid) < thr else (lo, mid)
        return hi

    def shift(mm):
        return K * mm / (cc + mm * kz)

    ms = first_m(shift, tau_v)
    md = first_m(lambda mm: Rv * shift(mm) ** 2, delta_v)
    assert out["never_successful"] == (tau_f >= 1)
    assert out["never_detectable"] == (del_f >= 1)
    for got, ref in ((out["m_succ"], ms), (out["m_det"], md)):
        if math.isinf(ref) or math.isinf(got):
            assert math.isinf(got) == math.isinf(ref) or abs(min(tau_f, del_f) - 1) < 1e-6
        else:
            assert got == pytest.approx(ref, rel=1e-7, abs=1e-9)
    if math.isfinite(out["lag"]):
        assert (out["lag"] > 0) == (delta_v > Rv * tau_v**2) or abs(
            delta_v - Rv * tau_v**2) < 1e-9 * delta_v


@pytest.mark.claim("C5", "sanity")
def test_lag_numbers_refuse_bad_input():
    """Input validation of the evaluator (not evidence for the claim)."""
    with pytest.raises(ValueError, match="ridge c"):
        lag_numbers(1.0, 1.0, 1.0, 1.0, 0.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="tau"):
        lag_numbers(1.0, 1.0, 1.0, 1.0, 1.0, -0.1, 0.1)
    with pytest.raises(ValueError, match="cannot move"):
        lag_numbers(0.0, 1.0, 1.0, 1.0, 1.0, 0.1, 0.1)
    with pytest.raises(ValueError, match="R_k"):
        lag_numbers(1.0, 1.0, 1.0, float("nan"), 1.0, 0.1, 0.1)


# ---------------------------------------------------------------------------
# sweeps over m with refits
# ---------------------------------------------------------------------------

M_MAX = 24


def _sweep(kern, cval, X, y, zeta, yt, x0, m_max=M_MAX):
    """Refit for m = 1..m_max clones: measured |Delta f| and top eigenvalue of the
    poison-induced GN term (autograd route) at x0."""
    shifts, spikes = [], []
    for mm in range(1, m_max + 1):
        Xp, yp = clone_cluster(zeta, mm, yt)
        fit = fit_clean_and_poisoned(kern, cval, X, y, Xp, yp)
        shifts.append(abs(float(measured_shift(*fit, x0)[0])))
        spikes.append(float(top_eigenpairs(autograd_gn_term(*fit, x0))[0][0, 0]))
    return np.array(shifts), np.array(spikes)


def _first(seq, thr) -> float:
    idx = np.flatnonzero(seq >= thr)
    return float(idx[0] + 1) if idx.size else math.inf


def _instance(kern, d, seed, spread, n_clean=6):
    rng = np.random.default_rng(seed)
    zeta = torch.as_tensor(rng.standard_normal(d))
    X = zeta + torch.as_tensor(rng.standard_normal((n_clean, d)) * spread)
    y = torch.as_tensor(rng.standard_normal(n_clean))
    x0 = triggered_point(zeta, float(rng.uniform(0.2, 1.0)), seed=seed)
    return zeta, X, y, x0


def _exact_params(kern, cval, X, y, zeta, x0):
    """C2's exact quantities from the clean fit alone: k~(x0, zeta), k~(zeta, zeta),
    f_C(zeta), R~ = |grad k~|^2 / k~^2."""
    from numerics.krr import KRR

    clean = KRR(kern, cval).fit(X, y)
    kt0 = float(conditional_kernel(clean, x0, zeta)[0, 0])
    ktz = float(conditional_kernel(clean, zeta, zeta)[0, 0])
    fcz = float(clean.predict(zeta)[0])
    g = conditional_kernel_gradient(clean, x0, zeta)[0]
    return kt0, ktz, fcz, float(g @ g) / kt0**2


def _thresholds(seq_shift, seq_spike, a_frac, b_frac):
    """Thresholds at fractions of the largest value reached in the sweep, kept away from
    the sampled values so that rounding cannot flip a crossing."""
    tau_v = a_frac * seq_shift.max()
    delta_v = b_frac * seq_spike.max()
    for seq, thr in ((seq_shift, tau_v), (seq_spike, delta_v)):
        assume(np.min(np.abs(seq - thr)) > 1e-6 * thr)
    return tau_v, delta_v


@pytest.mark.claim("C5", "corrected")
@settings(max_examples=4)
@given(cval=st.floats(-1, 1).map(lambda e: 10.0**e), yt=st.floats(0.5, 3.0),
       seed=st.integers(0, 2**31), spread=st.floats(0.3, 5.0), a_frac=st.floats(0.05, 1.2),
       b_frac=st.floats(0.05, 1.2))
def test_counts_match_refits_exact_version(kernel_name, cval, yt, seed, spread, a_frac,
                                           b_frac):
    """Any clean data: m_succ, m_det (ceilings) from the closed forms with C2's exact
    substitution equal the first m at which refitted shift / spike cross the thresholds;
    never-successful / never-detectable agree with the sweep's saturation."""
    for name in kernels_for_param(kernel_name):
        kern = TorchKernel(name)
        zeta, X, y, x0 = _instance(kern, 3, seed, spread)
        try:
            sh, sp_ = _sweep(kern, cval, X, y, zeta, yt, x0)
            kt0, ktz, fcz, Rt = _exact_params(kern, cval, X, y, zeta, x0)
        except SingularSystemError:
            # refused with a clear error: no float64 refit to compare with (found with a
            # user kernel exp(u/s^2), s = 1: Gram entries ~exp(|x|^2) at spread 3, condition
            # number 1.3e22 at c = 1)
            reject()
        tau_v, delta_v = _thresholds(sh, sp_, a_frac, b_frac)
        out = lag_numbers(kt0, ktz, yt - fcz, Rt, cval, tau_v, delta_v)
        for key, seq, thr in (("m_succ_int", sh, tau_v), ("m_det_int", sp_, delta_v)):
            got = out[key]
            ref = _first(seq, thr)
            if math.isinf(ref):  # not reached within M_MAX: closed form says later or never
                assert got > M_MAX, (name, key, got)
            else:
                assert got == ref, (name, key, got, ref)
        asserted_for(name)


#: the pinned counterexample of the stated threshold (Gaussian, clean points near the trigger)
PINNED = dict(cval=0.1, yt=1.0, seed=3, spread=0.5, b_frac=0.5)
#: its numbers, from a run (float64 refits and autograd: deterministic to ~1e-12)
R_K_PINNED = 0.6701413366245274
R_K_EXACT_PINNED = 20.633038156987954


def _count(v: float) -> int | str:
    """A crossing count for the record: the whole m, or 'none' past the sweep."""
    return int(v) if math.isfinite(v) else f"none for m <= {M_MAX}"


def _check_stated_visibility(cval: float, yt: float, seed: int, spread: float,
                             b_frac: float) -> None:
    """Remark 3.5 as stated, Gaussian kernel, clean data anywhere: the spike reaches delta
    exactly once Delta f^2 >= delta / R_k, R_k = |grad log k(x0, zeta)|^2 of the kernel
    itself.  Raises :class:`Refuted` with the crossing counts and both R's otherwise."""
    kern = TorchKernel("gaussian")
    zeta, X, y, x0 = _instance(kern, 3, seed, spread)
    sh, sp_ = _sweep(kern, cval, X, y, zeta, yt, x0)
    delta_v = b_frac * sp_.max()  # < the largest spike: the measured crossing is finite
    zq = zeta[None]
    Rk = float((kern.grad(x0[None], zq)[0, 0] ** 2).sum() / kern.gram(x0[None], zq)[0, 0] ** 2)
    *_, Rt = _exact_params(kern, cval, X, y, zeta, x0)
    stated = _first(sh**2, delta_v / Rk)
    measured = _first(sp_, delta_v)
    refute_unless("C5", stated == measured,
                  "the stated rule Delta f^2 >= Lambda_clean / R_k (the kernel's own R_k) "
                  "mispredicts the first m at which the refitted spike reaches the threshold",
                  kernel="gaussian", m_det_measured=_count(measured),
                  m_det_stated=_count(stated), R_k=Rk, R_k_exact=Rt,
                  m_det_exact_rule=_count(_first(sh**2, delta_v / Rt)), c=cval, y_t=yt,
                  seed=seed, spread=spread, b_frac=b_frac)


@pytest.mark.claim("C5", "as_stated")
@pytest.mark.xfail(strict=True, raises=Refuted,
                   reason="the stated threshold with the plain kernel's R_k mispredicts the "
                   "poison count at which the measured spike becomes visible when clean points "
                   "lie near the trigger (the spike is R_k~ Delta f^2, with C2's conditional "
                   "kernel)")
@settings(max_examples=10)
@example(**PINNED)
@given(cval=st.floats(-1, 1).map(lambda e: 10.0**e), yt=st.floats(0.5, 3.0),
       seed=st.integers(0, 2**31), spread=st.floats(0.3, 5.0), b_frac=st.floats(0.05, 0.95))
def test_stated_visibility_threshold(cval, yt, seed, spread, b_frac):
    _check_stated_visibility(cval, yt, seed, spread, b_frac)


@pytest.mark.claim("C5", "counterexample")
def test_stated_visibility_threshold_counterexample():
    """The pinned instance of the as-stated check: the stated rule says the spike never
    becomes visible within the sweep, the refitted spike crosses at m = 4; the exact R_k~
    (C2's conditional kernel) is more than 10 times the kernel's R_k, and the rule with
    R_k~ gives the measured count."""
    with pytest.raises(Refuted) as info:
        _check_stated_visibility(**PINNED)
    got = info.value.numbers
    assert info.value.kernel == "gaussian"
    assert got["m_det_measured"] == 4
    assert got["m_det_stated"] == f"none for m <= {M_MAX}"
    assert got["R_k"] == pytest.approx(R_K_PINNED, rel=1e-6)
    assert got["R_k_exact"] == pytest.approx(R_K_EXACT_PINNED, rel=1e-6)
    assert got["R_k_exact"] > 10 * got["R_k"]
    assert got["m_det_exact_rule"] == got["m_det_measured"]
    asserted_for("gaussian")


@pytest.mark.claim("C5", "numeric")
@settings(max_examples=5)
@given(cval=st.floats(-1, 1).map(lambda e: 10.0**e), yt=st.floats(0.5, 3.0),
       seed=st.integers(0, 2**31), a_frac=st.floats(0.05, 1.2), b_frac=st.floats(0.05, 1.2))
def test_counts_match_refits_under_dominance(cval, yt, seed, a_frac, b_frac):
    """The paper's model (Gaussian, clean data >= 14 ell away): the dominance closed forms
    with the plain kernel predict the crossings of the refitted sweeps."""
    kern = TorchKernel("gaussian", ell=1.0)
    rng = np.random.default_rng(seed)
    zeta = torch.as_tensor(rng.standard_normal(3))
    V = rng.standard_normal((6, 3))
    X = zeta + torch.as_tensor(14.0 * V / np.linalg.norm(V, axis=1, keepdims=True))
    y = torch.as_tensor(rng.standard_normal(6))
    x0 = triggered_point(zeta, float(rng.uniform(0.2, 1.5)), seed=seed)
    sh, sp_ = _sweep(kern, cval, X, y, zeta, yt, x0)
    tau_v, delta_v = _thresholds(sh, sp_, a_frac, b_frac)
    zq = zeta[None]
    k0v = float(kern.gram(x0[None], zq)[0, 0])
    Rk = float((kern.grad(x0[None], zq)[0, 0] ** 2).sum()) / k0v**2
    out = lag_numbers(k0v, 1.0, yt, Rk, cval, tau_v, delta_v)
    for key, seq, thr in (("m_succ_int", sh, tau_v), ("m_det_int", sp_, delta_v)):
        ref = _first(seq, thr)
        if math.isinf(ref):
            assert out[key] > M_MAX
        else:
            assert out[key] == ref, (key, out[key], ref)
    if out["never_detectable"]:
        assert sp_.max() < delta_v
    asserted_for("gaussian")
