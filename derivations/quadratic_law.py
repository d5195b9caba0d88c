"""C4 -- the quadratic efficacy law ``Lambda_GN = R Delta f^2`` (log-log slope 2).

Stated (dominance): ``Delta f(m) = k(x0, zeta) y_t S(m; c)`` and
``Lambda_GN(m) = R_k Delta f(m)^2`` with ``R_k`` a function of the geometry only.

Exact, at a fixed ridge ``c`` (:func:`law_proof`, derived from C2's block elimination and
C3's general spike, not assumed): ``Delta f(m) = k~(x0, zeta) b(m)`` with
``b(m) = (y_t - f_C(zeta)) m / (c + m k~(zeta, zeta))`` and
``Lambda_GN(m) = b(m)^2 |grad k~(x0, zeta)|^2``.  ``k~`` is built from the clean data and
``c`` only, so at fixed ``c`` both carry the *same* ``m``-dependent factor ``b(m)`` and
``Lambda_GN / Delta f^2 = |grad k~|^2 / k~^2 = R_k~`` does not depend on ``m``:
``d log Lambda / d log Delta f = 2`` exactly.  The law fails only where it is undefined:
``k~(x0, zeta) = 0`` or ``y_t = f_C(zeta)`` (then ``Delta f = 0`` for every ``m``).

The paper's ridge convention ``c = n lambda`` (``n`` counts the poisons, so
``c = (n0 + m) lambda`` grows with ``m``) is a different matter: ``k~`` and ``grad k~``
depend on ``c`` through ``(K_CC + cI)^{-1}`` whenever there are clean data, so the ratio
``R_k~(c(m))`` moves with ``m`` and the slope is not 2 in general
(:func:`slope_exact_paper_ridge` keeps that dependence; under dominance ``k~ = k`` does not
depend on ``c`` and the slope is 2, :func:`slope_paper_ridge_dominance`).

:func:`slope_dominance`, :func:`slope_exact` and :func:`ratio_exact` compute the slope of
expressions *modelled* with ``m``-free ``k~`` and ``|grad k~|`` symbols: they are true by
construction of that model (sanity checks of the algebra), not a proof.

For a spread cluster the poisons do not share one gradient direction and the ratio
``Lambda / Delta f^2`` may drift with ``m``; that case is measured, not derived.
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, k_zeta, lam, m, y_t
from derivations.prediction_shift import exact_shift, f_Cz, k0, kt0, ktz
from derivations.rank_one_spike import Gk, general_spike_proof
from derivations.scalar_gain import gain_in

CLAIM = claim_by_slug("quadratic_law")

__all__ = [
    "CLAIM",
    "R_sym",
    "R_of_c",
    "n0",
    "loglog_slope",
    "slope_dominance",
    "slope_exact",
    "slope_exact_paper_ridge",
    "slope_paper_ridge_dominance",
    "ratio_exact",
    "ratio_is_m_free",
    "law_proof",
]

R_sym = sp.Symbol("R_k", positive=True)
n0 = sp.Symbol("n_0", positive=True)  #: clean points, for c = (n0 + m) lambda
#: R_k~ as an (unknown) function of the ridge c (clean data present)
R_of_c = sp.Function(r"R_{\tilde k}")


def loglog_slope(Lam: sp.Expr, shift: sp.Expr, var: sp.Symbol = m) -> sp.Expr:
    """``d log Lambda / d log Delta f`` along ``var``:
    ``(Lambda' / Lambda) / (Delta f' / Delta f)``, simplified."""
    return sp.simplify((sp.diff(Lam, var) / Lam) / (sp.diff(shift, var) / shift))


def slope_dominance() -> sp.Expr:
    """Slope of the stated law: ``Lambda = R_k (k0 y_t S)^2`` against ``k0 y_t S``."""
    shift = k0 * y_t * gain_in(m, c, k_zeta)
    return loglog_slope(R_sym * shift**2, shift)


def _exact_pair(cc: sp.Expr = c) -> tuple[sp.Expr, sp.Expr]:
    """``(Lambda(m), Delta f(m))`` of the exact clone model, built from the gradient
    ``|grad k~| b(m)`` and the value ``k~0 b(m)`` separately (no ``R`` assumed)."""
    shift = exact_shift().subs(c, cc)
    b_m = (y_t - f_Cz) * gain_in(m, cc, ktz)
    Lam = (Gk * b_m) ** 2
    return Lam, shift


def slope_exact() -> sp.Expr:
    """Slope of the exact (conditional-kernel) law in ``m``, fixed ``c``."""
    Lam, shift = _exact_pair()
    return loglog_slope(Lam, shift)


def slope_exact_paper_ridge() -> sp.Expr:
    """Slope of the exact law with the paper's ``c = (n0 + m) lambda`` (``c`` grows with
    ``m``).  At each ``m`` C3 gives ``Lambda = R_k~(c) Delta f^2`` with the conditional
    kernel *at that ridge*, and ``R_k~`` depends on ``c`` through ``(K_CC + cI)^{-1}`` when
    there are clean data; here ``R_k~(c)`` and ``Delta f(m)`` are arbitrary functions.
    The result is ``2 + lambda R_k~'(c) Delta f / (R_k~(c) Delta f')``: 2 only when
    ``R_k~`` does not depend on ``c``."""
    cs = sp.Symbol("c", positive=True)
    R_c = R_of_c(cs)
    F = sp.Function(r"\Delta f")(m)
    Lam = (R_c * F**2).subs(cs, (n0 + m) * lam)
    return sp.simplify(loglog_slope(Lam, F).doit())


def slope_paper_ridge_dominance() -> sp.Expr:
    """Slope with ``c = (n0 + m) lambda`` under dominance (clean data that do not couple to
    the trigger, ``k_C(x0) = k_C(zeta) = 0``): then ``k~ = k`` and ``f_C(zeta) = 0`` do not
    depend on ``c``, and the slope is 2.  (With no clean data at all, ``n0 = 0``, the shift
    ``k0 y_t / (lambda + k_zeta)`` does not move with ``m`` and the slope is undefined.)"""
    Lam, shift = _exact_pair((n0 + m) * lam)
    dom = {f_Cz: 0, kt0: k0, ktz: k_zeta}
    return loglog_slope(Lam.subs(dom), shift.subs(dom))


def ratio_exact() -> sp.Expr:
    """``Lambda / Delta f^2`` for the exact model; ``m``-free (``= |grad k~|^2 / k~0^2``)."""
    Lam, shift = _exact_pair()
    return sp.simplify(Lam / shift**2)


def ratio_is_m_free() -> bool:
    """Whether :func:`ratio_exact` is independent of ``m`` (derivative simplifies to 0)."""
    return sp.simplify(sp.diff(ratio_exact(), m)) == 0



def law_proof() -> dict:
    """The law at a fixed ridge ``c`` in general (symbolic ``n``, ``m``, ``d``), from the
    derivations rather than a model.

    :func:`derivations.rank_one_spike.general_spike_proof` derives (C2's block
    elimination with ``MatrixSymbol`` s) ``Delta f = k~(x0, zeta) b_m`` with ``b_m`` free of
    ``x`` and ``Lambda_GN = b_m^2 |grad k~|^2``.  The clean-data quantities ``k~``,
    ``|grad k~|``, ``q``, ``f_C(zeta)`` come from ``A = K_CC + cI``, ``k_C`` and ``y_C``,
    which contain no ``m`` at fixed ``c``; so ``m`` enters only through ``b_m``.

    Keys: ``m_enters`` (the free symbols of the shift that carry ``m``: must be ``{m}``,
    i.e. the explicit poison count, and only in ``b_m``: ``m_outside_b`` False),
    ``ratio`` (``Lambda / Delta f^2``; ``ratio_has_m`` must be False), ``db_dm`` (non-zero:
    the shift moves with ``m``, so the slope is defined), ``slope`` (must be 2).
    """
    p = general_spike_proof()
    shift, b_m = p["shift"], p["b_m"]
    Lam = b_m**2 * Gk**2
    ratio = sp.simplify(Lam / shift**2)
    return {
        "m_enters": {sym for sym in shift.free_symbols if sym == m},
        "m_outside_b": bool(m in sp.simplify(shift / b_m).free_symbols),
        "ratio": ratio,
        "ratio_has_m": m in ratio.free_symbols,
        "db_dm": sp.factor(sp.diff(b_m, m)),
        "slope": loglog_slope(Lam, shift),
        "kt0": kt0,
    }
