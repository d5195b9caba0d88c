"""C1 -- the scalar gain of a clone cluster.

``m`` exact copies of the trigger ``zeta`` have the Gram block ``K_PP = k_zeta 1 1^T``
(rank one).  Everything about ``(c I_m + k_zeta 1 1^T)^{-1}`` follows from the algebra
spanned by ``I`` and ``J = 1 1^T`` with ``J^2 = m J``, which holds for *every* ``m``: we
compute in that algebra with ``m`` a symbol, so the identity is proved for symbolic
``m`` (and :func:`explicit_inverse_check` confirms it with explicit ``m x m`` matrices).

The gain ``S(m; c) = m / (c + m k_zeta)`` and its properties (monotone and concave in
``m``, ``S ~ m / c`` for ``m k_zeta << c``, ``S -> 1 / k_zeta``, decreasing in ``c``)
are derived as SymPy expressions whose signs SymPy decides from the assumptions
``c > 0``, ``k_zeta > 0``, ``m >= 0`` (``m > 0`` for the strict statements).
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, k_zeta, m

CLAIM = claim_by_slug("scalar_gain")

__all__ = [
    "CLAIM",
    "m_pos",
    "gain",
    "gain_in",
    "ij_product",
    "sherman_morrison_inverse",
    "inverse_identity",
    "inverse_times_ones",
    "explicit_inverse_check",
    "gain_properties",
]

#: strictly positive poison count, for the strict statements
m_pos = sp.Symbol("m", positive=True)


def gain_in(mm: sp.Expr = m, cc: sp.Expr = c, kz: sp.Expr = k_zeta) -> sp.Expr:
    """``S(m; c) = m / (c + m k)`` in the given symbols (``kz`` may be ``k~(zeta, zeta)``)."""
    return mm / (cc + mm * kz)


def gain() -> sp.Expr:
    """``S(m; c) = m / (c + m k_zeta)``."""
    return gain_in()


def ij_product(p: tuple[sp.Expr, sp.Expr], q: tuple[sp.Expr, sp.Expr],
               mm: sp.Expr = m) -> tuple[sp.Expr, sp.Expr]:
    """Product in the algebra ``{a I + b J}`` with ``J = 1 1^T`` (``m x m``), ``J^2 = m J``:
    ``(a1 I + b1 J)(a2 I + b2 J) = a1 a2 I + (a1 b2 + b1 a2 + m b1 b2) J``."""
    (a1, b1), (a2, b2) = p, q
    return sp.expand(a1 * a2), sp.expand(a1 * b2 + b1 * a2 + mm * b1 * b2)


def sherman_morrison_inverse(mm: sp.Expr = m, cc: sp.Expr = c,
                             kz: sp.Expr = k_zeta) -> tuple[sp.Expr, sp.Expr]:
    """``(c I + k J)^{-1} = I / c - k / (c (c + m k)) J`` as its ``(I, J)`` coefficients
    (Sherman-Morrison with ``u = v = sqrt(k) 1``, ``1^T 1 = m``)."""
    return 1 / cc, -kz / (cc * (cc + mm * kz))


def inverse_identity() -> dict[str, sp.Expr]:
    """Proof objects: ``(c I + k J) M`` and ``M (c I + k J)`` for the Sherman-Morrison ``M``,
    reduced to ``(I, J)`` coefficients; both must simplify to ``(1, 0)``."""
    M = sherman_morrison_inverse()
    left = ij_product((c, k_zeta), M)
    right = ij_product(M, (c, k_zeta))
    return {
        "left_I": sp.simplify(left[0]), "left_J": sp.simplify(left[1]),
        "right_I": sp.simplify(right[0]), "right_J": sp.simplify(right[1]),
    }


def inverse_times_ones() -> sp.Expr:
    """``(c I + k J)^{-1} 1`` as a multiple of ``1``: ``a + b m`` with ``(a, b)`` the
    inverse's coefficients (``J 1 = m 1``); simplifies to ``1 / (c + m k_zeta)``."""
    a_, b_ = sherman_morrison_inverse()
    return sp.simplify(a_ + b_ * m)


def explicit_inverse_check(mm: int) -> dict[str, sp.Expr]:
    """Explicit ``mm x mm`` check: ``M v - 1`` for ``M = c I + k 1 1^T`` and
    ``v = 1 / (c + m k) 1`` (must be the zero vector) and ``det M`` factored (must be
    ``c^(m-1) (c + m k)``, non-zero, so ``v`` is *the* solution ``M^{-1} 1``)."""
    if int(mm) < 1:
        raise ValueError(f"m must be a positive integer, got {mm!r}")
    ones = sp.ones(mm, 1)
    M = c * sp.eye(mm) + k_zeta * ones * ones.T
    v = ones / (c + mm * k_zeta)
    return {"residual": sp.simplify(M * v - ones), "det": sp.factor(M.det(method="berkowitz"))}


def gain_properties() -> dict[str, sp.Expr]:
    """Derivatives, limits and the few-poison approximation of ``S``.

    Keys: ``dS_dm``, ``d2S_dm2``, ``dS_dc`` (at ``m > 0``), ``limit_m_inf``, ``value_m0``,
    ``series_m0`` (to ``O(m^3)``), ``rel_error_m_over_c`` (``1 - S / (m / c)``, the
    relative error of ``S ~ m / c``), ``dS_dk``.
    """
    S = gain()
    Sp = gain_in(m_pos)
    return {
        "dS_dm": sp.factor(sp.diff(S, m)),
        "d2S_dm2": sp.factor(sp.diff(S, m, 2)),
        "dS_dc": sp.factor(sp.diff(Sp, c)),
        "dS_dk": sp.factor(sp.diff(Sp, k_zeta)),
        "limit_m_inf": sp.limit(S, m, sp.oo),
        "value_m0": S.subs(m, 0),
        "series_m0": sp.series(S, m, 0, 3),
        "rel_error_m_over_c": sp.factor(sp.simplify(1 - Sp / (m_pos / c))),
    }
