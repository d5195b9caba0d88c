"""C5's poison counts at an exact crossing (issue 15: seeded faults that survived).

The refit checks of ``proofs_check/test_detectability_lag.py`` keep every threshold away
from the sampled shifts and spikes (so that rounding cannot flip a crossing), which leaves
the boundary untested: success is ``|Delta f(m)| >= tau`` and detection ``Lambda_GN(m) >=
delta`` (non-strict, :mod:`derivations.detectability_lag`), so when the crossing falls on a
whole number ``m*`` the count is ``m*`` itself.  A count written as ``floor(m) + 1`` (the
first ``m`` strictly past the crossing) agrees with ``ceil(m)`` everywhere except there, and
passed every check.

Here the crossing is exact in float64: ``k_zeta`` a power of two, ``c = 2^j - m* k_zeta``
and ``tau = K m* / 2^j`` (dyadic), so ``c tau / (K - k_zeta tau) = m*`` without rounding;
``R_k = 1/4`` and ``delta = R_k tau^2`` put the detection crossing at the same ``m*``.  The
expected counts come from the definition (the smallest whole ``m`` whose shift / spike
reaches the threshold), in exact rational arithmetic, not from the crossing formula.
"""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from derivations.detectability_lag import lag_numbers
from numerics.api import lag_numbers as api_lag_numbers

_R = 0.25


def _first_m(K: float, kz: float, c: float, R: float, thr: float, spike: bool) -> int:
    """The smallest whole m >= 1 with shift(m) >= thr (``spike``: R shift(m)^2 >= thr),
    ``shift(m) = K m / (c + m k_zeta)``, in exact rationals (the inputs are floats)."""
    K_, kz_, c_, R_, t_ = (Fraction(v) for v in (K, kz, c, R, thr))
    for m in range(1, 10_000):
        s = K_ * m / (c_ + m * kz_)
        if (R_ * s * s if spike else s) >= t_:
            return m
    raise AssertionError("no crossing below 10000 (the instance saturates below thr)")


@st.composite
def exact_crossings(draw):
    """``(K, k_zeta, c, m*, tau)`` with the success crossing exactly at the whole m*."""
    j = draw(st.integers(1, 7))
    kz = float(draw(st.sampled_from([1, 2, 4])))
    m_star = draw(st.integers(1, max(1, (2**j - 1) // int(kz))))
    c = 2**j - m_star * kz
    if c <= 0:
        j += int(kz).bit_length()
        c = 2**j - m_star * kz
    K = float(draw(st.integers(1, 60)))
    tau = K * m_star / 2**j
    return K, kz, float(c), m_star, tau


@given(case=exact_crossings(), sign=st.sampled_from([1.0, -1.0]))
def test_counts_at_an_exact_crossing(case, sign):
    """At a crossing on the whole number m*, both counts are m* (the threshold is reached
    there, ``>=``), as the definition says; the real crossing is m* exactly."""
    K, kz, c, m_star, tau = case
    delta = _R * tau * tau
    assert _first_m(K, kz, c, _R, tau, spike=False) == m_star  # the instance is exact
    assert _first_m(K, kz, c, _R, delta, spike=True) == m_star
    for fn in (lag_numbers, api_lag_numbers):
        # k0 y_t = sign K (the count depends on |k0 y_t|)
        out = fn(sign * K, kz, sign, _R, c, tau, delta)
        assert out["m_succ"] == m_star, (fn.__module__, out)
        assert out["m_succ_int"] == m_star, (fn.__module__, out)
        assert out["m_det"] == m_star, (fn.__module__, out)
        assert out["m_det_int"] == m_star, (fn.__module__, out)
        assert out["lag"] == 0


@given(case=exact_crossings())
def test_counts_just_past_an_exact_crossing(case):
    """A threshold slightly above the exact crossing (relative 1e-9, far above the
    formula's rounding) needs one more poison when it is still reachable: the counts are
    ceilings of the real crossing."""
    K, kz, c, m_star, tau = case
    tau_up = tau * (1 + 1e-9)
    if not Fraction(K) / Fraction(kz) > Fraction(tau_up):
        return  # saturates below the threshold: never successful
    expected = _first_m(K, kz, c, _R, tau_up, spike=False)
    assert expected == m_star + 1
    out = lag_numbers(K, kz, 1.0, _R, c, tau_up, _R * tau * tau)
    assert out["m_succ_int"] == expected, out
    assert out["m_det_int"] == m_star, out
