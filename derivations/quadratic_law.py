"""C4 -- the quadratic efficacy law ``Lambda_GN = R Delta f^2`` (log-log slope 2).

Stated (dominance): ``Delta f(m) = k(x0, zeta) y_t S(m; c)`` and
``Lambda_GN(m) = R_k Delta f(m)^2`` with ``R_k`` a function of the geometry only.

Exact (conditional kernel, derived here rather than assumed): with
``b(m) = (y_t - f_C(zeta)) m / (c + m k~(zeta, zeta))``,
``Delta f(m) = k~(x0, zeta) b(m)`` and ``grad Delta f(m) = grad_x k~(x0, zeta) b(m)``.
``k~`` is built from the clean data and ``c`` only, so both the value and the gradient
carry the *same* ``m``-dependent factor ``b(m)`` and
``Lambda_GN / Delta f^2 = |grad k~|^2 / k~^2 = R_k~`` does not depend on ``m``:
``d log Lambda / d log Delta f = 2`` exactly, whatever ``b(m)`` is -- including the
paper's convention ``c = n lambda`` in which ``c`` itself grows with ``m``
(:func:`slope_exact` with ``c = c(m)``).  The law fails only where it is undefined:
``k~(x0, zeta) = 0`` or ``y_t = f_C(zeta)`` (then ``Delta f = 0`` for every ``m``).

For a spread cluster the poisons do not share one gradient direction and the ratio
``Lambda / Delta f^2`` may drift with ``m``; that case is measured, not derived.
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, k_zeta, lam, m, y_t
from derivations.prediction_shift import exact_shift, f_Cz, k0, ktz
from derivations.rank_one_spike import Gk
from derivations.scalar_gain import gain_in

CLAIM = claim_by_slug("quadratic_law")

__all__ = [
    "CLAIM",
    "R_sym",
    "n0",
    "loglog_slope",
    "slope_dominance",
    "slope_exact",
    "slope_exact_paper_ridge",
    "ratio_exact",
    "ratio_is_m_free",
]

R_sym = sp.Symbol("R_k", positive=True)
n0 = sp.Symbol("n_0", positive=True)  #: clean points, for c = (n0 + m) lambda


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
    """Slope of the exact law with the paper's ``c = (n0 + m) lambda`` (``c`` grows
    with ``m``)."""
    Lam, shift = _exact_pair((n0 + m) * lam)
    return loglog_slope(Lam, shift)


def ratio_exact() -> sp.Expr:
    """``Lambda / Delta f^2`` for the exact model; ``m``-free (``= |grad k~|^2 / k~0^2``)."""
    Lam, shift = _exact_pair()
    return sp.simplify(Lam / shift**2)


def ratio_is_m_free() -> bool:
    """Whether :func:`ratio_exact` is independent of ``m`` (derivative simplifies to 0)."""
    return sp.simplify(sp.diff(ratio_exact(), m)) == 0

