"""C5 -- the detectability lag: how many poisons make the attack succeed, and how many make
its spike visible.

Clone model, dominance (C2, C3): with ``K0 = k(x0, zeta)``, ``k_zeta = k(zeta, zeta)``
and the gain ``S(m; c) = m / (c + m k_zeta)`` (C1)::

    |Delta f(m)| = |K0 y_t| S(m; c),          Lambda_GN(m) = R_k Delta f(m)^2.

Both increase in ``m`` and saturate: ``|Delta f| -> |K0 y_t| / k_zeta``.  Thresholds:

* success: ``|Delta f| >= tau`` (a decision threshold on the shift, e.g. the clean margin
  of the triggered input);
* detection: ``Lambda_GN >= delta`` with ``delta = rho Lambda_clean`` (the spike exceeds
  ``rho`` times the clean curvature at ``x0``), i.e. ``|Delta f| >= sqrt(delta / R_k)``.

Solving ``|K0 y_t| m / (c + m k_zeta) = T`` for ``m`` gives one formula for both
(:func:`crossing_count`)::

    m*(T) = c T / (|K0 y_t| - k_zeta T)        if T < |K0 y_t| / k_zeta,  else never,

so ``m_succ = m*(tau)``, ``m_det = m*(sqrt(delta / R_k))`` and the lag is their
difference (positive iff ``delta > R_k tau^2``: the spike at the moment of success is
below the detection threshold).  Never detectable iff the saturated spike
``R_k K0^2 y_t^2 / k_zeta^2 <= delta``; never successful iff ``|K0 y_t| / k_zeta <= tau``.
Counts of whole poisons are the ceilings of these real numbers.

Exact clones without dominance: C2's exact shift has the same form with ``K0 -> k~(x0,
zeta)``, ``k_zeta -> k~(zeta, zeta)`` and ``y_t -> y_t - f_C(zeta)`` (and ``R_k`` is then
``|grad_x k~|^2 / k~^2``), so every formula here applies with those substitutions
(:func:`exact_substitution`).
"""

from __future__ import annotations

import math
from functools import lru_cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import _real_number, c, k_zeta, m, y_t
from derivations.prediction_shift import dominance_shift, exact_shift, f_Cz, k0, kt0, ktz

CLAIM = claim_by_slug("detectability_lag")

__all__ = [
    "CLAIM",
    "tau",
    "delta",
    "R",
    "T",
    "shift_of_m",
    "spike_of_m",
    "crossing_count",
    "m_succ",
    "m_det",
    "lag",
    "max_shift",
    "max_spike",
    "never_successful",
    "never_detectable",
    "lag_sign_condition",
    "exact_substitution",
    "LagNumbers",
    "lag_numbers",
]

tau = sp.Symbol("tau", positive=True)  #: success threshold on |Delta f|
delta = sp.Symbol("delta", positive=True)  #: detection threshold on Lambda_GN (rho Lambda_clean)
R = sp.Symbol("R_k", positive=True)  #: |grad_x log k(x0, zeta)|^2
T = sp.Symbol("T", positive=True)  #: a generic threshold on |Delta f|
_K = sp.Symbol("K_0", positive=True)  #: |k(x0, zeta) y_t| (positive by convention here)


def shift_of_m() -> sp.Expr:
    """``|Delta f(m)| = K_0 S(m; c)`` with ``K_0 = |k(x0, zeta) y_t|`` (from C2's formula)."""
    return sp.simplify(dominance_shift().subs(k0, _K / y_t))


def spike_of_m() -> sp.Expr:
    """``Lambda_GN(m) = R_k Delta f(m)^2`` (C3)."""
    return R * shift_of_m() ** 2


def crossing_count(threshold: sp.Expr = T) -> sp.Expr:
    """The real ``m`` at which ``|Delta f(m)| = threshold``, solved by SymPy."""
    sols = sp.solve(sp.Eq(shift_of_m(), threshold), m)
    if len(sols) != 1:
        raise RuntimeError(f"expected one crossing, SymPy found {sols}")
    return sp.simplify(sols[0])


def m_succ() -> sp.Expr:
    return crossing_count(tau)


def m_det() -> sp.Expr:
    return crossing_count(sp.sqrt(delta / R))


def lag() -> sp.Expr:
    return sp.simplify(m_det() - m_succ())


def max_shift() -> sp.Expr:
    """``lim_{m -> oo} |Delta f| = K_0 / k_zeta``."""
    return sp.limit(shift_of_m(), m, sp.oo)


def max_spike() -> sp.Expr:
    """``lim_{m -> oo} Lambda_GN = R_k K_0^2 / k_zeta^2``."""
    return sp.limit(spike_of_m(), m, sp.oo)


def never_successful() -> sp.Expr:
    """The condition (a SymPy relation) under which no number of clones succeeds."""
    return sp.Le(max_shift(), tau)


def never_detectable() -> sp.Expr:
    """The condition under which no number of clones makes the spike visible."""
    return sp.Le(max_spike(), delta)


def lag_sign_condition() -> sp.Expr:
    """The lag factorised: ``c K_0 (sqrt(delta/R_k) - tau) / ((K_0 - k_zeta sqrt(delta/R_k))
    (K_0 - k_zeta tau))``; with both counts finite the denominator is positive, so
    ``m_det > m_succ`` iff ``delta > R_k tau^2``."""
    return sp.factor(lag())


def exact_substitution() -> dict[sp.Symbol, sp.Expr]:
    """Map from the dominance quantities to C2's exact (conditional-kernel) ones:
    ``exact_shift`` equals ``dominance_shift`` under it (checked by the tests)."""
    return {k0: kt0, k_zeta: ktz, y_t: y_t - f_Cz}


def _check_exact_substitution() -> sp.Expr:
    return sp.simplify(dominance_shift().subs(exact_substitution(), simultaneous=True)
                       - exact_shift())


# ---------------------------------------------------------------------------
# numbers (float evaluation of the closed forms above, for tests, pages, E1)
# ---------------------------------------------------------------------------


class LagNumbers(dict):
    """``m_succ``, ``m_det`` (real; ``inf`` when never reached), their ceilings, ``lag``,
    ``never_successful``, ``never_detectable``, ``max_shift``, ``max_spike``."""


@lru_cache(maxsize=1)
def _crossing_fn():
    return sp.lambdify((_K, k_zeta, c, T), crossing_count(T))


def _crossing_value(K: float, kz: float, cc: float, thr: float) -> float:
    if not K / kz > thr:
        return math.inf
    return float(_crossing_fn()(K, kz, cc, thr))


def lag_numbers(k0_value: float, k_zeta_value: float, y_t_value: float, R_value: float,
                c_value: float, tau_value: float, delta_value: float) -> LagNumbers:
    """Evaluate the closed forms (validated inputs; clear errors on bad ones)."""
    k0_value, k_zeta_value, y_t_value, R_value, c_value, tau_value, delta_value = (
        _real_number(v, name) for v, name in (
            (k0_value, "k(x0, zeta)"), (k_zeta_value, "k_zeta"), (y_t_value, "y_t"),
            (R_value, "R_k"), (c_value, "ridge c"), (tau_value, "tau"),
            (delta_value, "delta")))
    overflow = ValueError("the lag numbers overflow float64 at these inputs (extreme "
                          "magnitudes)")
    try:
        out = _lag_numbers(k0_value, k_zeta_value, y_t_value, R_value, c_value, tau_value,
                           delta_value)
    except (OverflowError, ZeroDivisionError):  # e.g. k_zeta ~ 1e-300 squared
        raise overflow from None
    # m_succ, m_det (and the lag) are inf when never reached; anything else non-finite is
    # an overflow of the evaluation, not a value
    if any(isinstance(v, float) and math.isnan(v) for v in out.values()) or not (
            math.isfinite(out["max_shift"]) and math.isfinite(out["max_spike"])):
        raise overflow
    return out


def _lag_numbers(k0_value: float, k_zeta_value: float, y_t_value: float, R_value: float,
                 c_value: float, tau_value: float, delta_value: float) -> LagNumbers:
    for name, v, positive in (("k_zeta", k_zeta_value, True), ("R_k", R_value, False),
                              ("ridge c", c_value, True), ("tau", tau_value, True),
                              ("delta", delta_value, True)):
        if not math.isfinite(v) or (v <= 0 if positive else v < 0):
            raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'} "
                             f"and finite, got {v!r}")
    if not (math.isfinite(k0_value) and math.isfinite(y_t_value)):
        raise ValueError("k(x0, zeta) and y_t must be finite")
    K = abs(k0_value * y_t_value)
    if K == 0:
        raise ValueError("k(x0, zeta) y_t = 0: the clones cannot move f(x0) at all")
    ms = _crossing_value(K, k_zeta_value, c_value, tau_value)
    det_thr = math.sqrt(delta_value / R_value) if R_value > 0 else math.inf
    md = _crossing_value(K, k_zeta_value, c_value, det_thr) if math.isfinite(det_thr) \
        else math.inf
    out = LagNumbers(
        m_succ=ms, m_det=md,
        m_succ_int=math.ceil(ms) if math.isfinite(ms) else math.inf,
        m_det_int=math.ceil(md) if math.isfinite(md) else math.inf,
        max_shift=K / k_zeta_value, max_spike=R_value * K**2 / k_zeta_value**2,
    )
    out["never_successful"] = not out["max_shift"] > tau_value
    out["never_detectable"] = not out["max_spike"] > delta_value
    out["lag"] = md - ms if math.isfinite(md) and math.isfinite(ms) else math.inf
    return out
