"""C1 -- the scalar gain of a clone cluster.

``m`` exact copies of the trigger ``zeta`` have the Gram block ``K_PP = k_zeta 1 1^T``
(rank one).  Everything about ``(c I_m + k_zeta 1 1^T)^{-1}`` follows from the algebra
spanned by ``I`` and ``J = 1 1^T`` with ``J^2 = m J``, which holds for *every* ``m``: we
compute in that algebra with ``m`` a symbol, so the identity is proved for symbolic
``m``.  :func:`matrix_symbol_proof` makes the same argument with SymPy matrix expressions
of symbolic size ``m`` (``1`` a ``MatrixSymbol`` of shape ``m x 1``), the only rule used
being ``1^T 1 = m``; :func:`explicit_inverse_check` confirms it with explicit ``m x m``
matrices for a few fixed ``m``.

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
    "matrix_symbol_proof",
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


def _reduce_ones(expr: sp.MatrixExpr, one: sp.MatrixSymbol,
                 mm: sp.Expr) -> dict[tuple, sp.Expr]:
    """Expand a matrix expression in ``I`` and ``1`` (a ``MatrixSymbol``) and reduce every
    product ``1^T 1`` to the scalar ``mm``: returns ``{matrix factors: coefficient}`` with the
    keys ``()`` (the identity), ``(1,)``, ``(1, 1^T)``, ... and the coefficients simplified."""
    expr = sp.expand(expr)
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    out: dict[tuple, sp.Expr] = {}
    for t in terms:
        scal, facs = _split_product(t)
        changed = True
        while changed:  # the one rule: 1^T 1 = m
            changed = False
            for i in range(len(facs) - 1):
                if facs[i] == one.T and facs[i + 1] == one:
                    facs = facs[:i] + facs[i + 2:]
                    scal *= mm
                    changed = True
                    break
        key = tuple(facs)
        out[key] = out.get(key, sp.Integer(0)) + scal
    return {k: sp.simplify(v) for k, v in out.items()}


def _split_product(t: sp.Basic) -> tuple[sp.Expr, list[sp.MatrixExpr]]:
    """A product term as (scalar factor, ordered matrix factors without identities)."""
    if isinstance(t, sp.MatMul) or (isinstance(t, sp.Mul) and not isinstance(t, sp.MatrixExpr)):
        scal, facs = sp.Integer(1), []
        for f in t.args:
            s_, f_ = _split_product(f)
            scal *= s_
            facs += f_
        return scal, facs
    if isinstance(t, sp.Identity):
        return sp.Integer(1), []
    if isinstance(t, sp.MatrixExpr):
        return sp.Integer(1), [t]
    return t, []


def matrix_symbol_proof() -> dict[str, dict[tuple, sp.Expr]]:
    """The identity for symbolic ``m`` with SymPy matrix expressions: ``M = c I_m + k 1 1^T``
    with ``1`` a ``MatrixSymbol`` of shape ``m x 1``, reduced with ``1^T 1 = m`` only.

    Returns, as ``{factors: coefficient}`` (:func:`_reduce_ones`), ``M v - 1`` for
    ``v = 1 / (c + m k) 1`` (every coefficient must be 0: ``v`` solves ``M v = 1``) and
    ``M W``, ``W M`` for the Sherman-Morrison ``W = I / c - k / (c (c + m k)) 1 1^T``
    (must be the identity: ``M`` is invertible for ``c > 0``, so ``v`` is ``M^{-1} 1``)."""
    mm = sp.Symbol("m", integer=True, positive=True)
    one = sp.MatrixSymbol("1", mm, 1)
    I_m = sp.Identity(mm)
    M = c * I_m + k_zeta * one * one.T
    a_, b_ = sherman_morrison_inverse(mm)
    W = a_ * I_m + b_ * one * one.T
    v = one / (c + mm * k_zeta)
    return {"Mv_minus_1": _reduce_ones(M * v - one, one, mm),
            "MW": _reduce_ones(M * W, one, mm),
            "WM": _reduce_ones(W * M, one, mm)}


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
