"""Conventions shared by every claim, stated once.

Ridge
    KRR is written with an explicit ridge ``c``: ``alpha = (K + c I)^{-1} y``.  The
    paper writes ``c = n lambda`` with ``n`` the number of training points *poisons
    included*; :func:`ridge_from_lambda` is the one place that converts.  All closed
    forms in :mod:`derivations` are stated in ``c``.
Loss
    ``L(x, y) = (f(x) - y)^2 / 2``; input Hessian ``grad f grad f^T + (f - y) hess f``
    (Gauss-Newton part plus residual part).
Poisons
    ``m`` points at the trigger ``zeta`` with the attacker's label ``y_t``; a triggered
    input ``x_0`` at distance ``r = |x_0 - zeta|``; efficacy ``Delta f(x_0)``.
"""

from __future__ import annotations

import sympy as sp

__all__ = ["c", "n", "lam", "m", "y_t", "k_zeta", "kappa", "ridge_from_lambda", "CONVENTIONS"]

c = sp.Symbol("c", positive=True)  #: ridge in alpha = (K + c I)^{-1} y
n = sp.Symbol("n", positive=True, integer=True)  #: training points, poisons included
lam = sp.Symbol("lambda", positive=True)  #: the paper's per-sample ridge, c = n lambda
m = sp.Symbol("m", nonnegative=True)  #: number of poisons (treated as real for calculus)
y_t = sp.Symbol("y_t", real=True)  #: attacker's label
k_zeta = sp.Symbol("k_zeta", positive=True)  #: k(zeta, zeta)
kappa = sp.Symbol("kappa", nonnegative=True)  #: input-gradient penalty strength


def ridge_from_lambda(lam_value: float, n_points: int) -> float:
    """The paper's convention ``c = n * lambda`` (``n`` counts the poisons too)."""
    if not lam_value > 0:  # also refuses NaN
        raise ValueError(f"lambda must be positive, got {lam_value!r}")
    if not n_points > 0:
        raise ValueError(f"n must be a positive number of points, got {n_points!r}")
    return float(n_points) * float(lam_value)


#: Human-readable statement used by the book.
CONVENTIONS = {
    "ridge": r"\alpha = (K + cI)^{-1}y,\qquad c = n\lambda\ (n\ \text{includes the poisons})",
    "loss": r"L(x,y)=\tfrac12\,(f(x)-y)^2",
    "loss_hessian": r"\nabla_x^2L=\nabla_xf\,\nabla_xf^\top+(f(x)-y)\,\nabla_x^2f",
}
