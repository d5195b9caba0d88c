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

import math
import numbers

import sympy as sp

__all__ = ["c", "n", "lam", "m", "y_t", "k_zeta", "kappa", "ridge_from_lambda", "CONVENTIONS"]

c = sp.Symbol("c", positive=True)  #: ridge in alpha = (K + c I)^{-1} y
n = sp.Symbol("n", positive=True, integer=True)  #: training points, poisons included
lam = sp.Symbol("lambda", positive=True)  #: the paper's per-sample ridge, c = n lambda
m = sp.Symbol("m", nonnegative=True)  #: number of poisons (treated as real for calculus)
y_t = sp.Symbol("y_t", real=True)  #: attacker's label
k_zeta = sp.Symbol("k_zeta", positive=True)  #: k(zeta, zeta)
kappa = sp.Symbol("kappa", nonnegative=True)  #: input-gradient penalty strength


def _real_number(value: object, name: str) -> float:
    """``value`` as a finite float: a real number (``bool``, complex, strings, arrays and
    ``None`` raise :class:`TypeError`; NaN, infinities and ints beyond float64 raise
    :class:`ValueError`), naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} = {value!r} is beyond the float64 range") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _real_array(value: object, name: str):
    """``value`` as a finite float64 NumPy array (booleans, complex, strings, objects and
    ``None`` raise :class:`TypeError`; NaN/inf entries :class:`ValueError`)."""
    import numpy as np

    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:  # ragged nested lists
        raise TypeError(f"{name} must be an array of real numbers: {err}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    return arr


def _count(value: object, name: str) -> int:
    """``value`` as a positive int (``bool`` and non-integers raise :class:`TypeError`)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if not value > 0:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def ridge_from_lambda(lam_value: float, n_points: int) -> float:
    """The paper's convention ``c = n * lambda`` (``n`` counts the poisons too)."""
    try:
        lam = _real_number(lam_value, "lambda")
    except ValueError:
        lam = math.nan
    if not lam > 0:
        raise ValueError(f"lambda must be positive and finite, got {lam_value!r}")
    n = _count(n_points, "n (number of points)")
    c = float(n) * lam
    if not math.isfinite(c):
        raise ValueError(f"c = n lambda = {n} * {lam:g} overflows float64")
    return c


#: Human-readable statement used by the book.
CONVENTIONS = {
    "ridge": r"\alpha = (K + cI)^{-1}y,\qquad c = n\lambda\ (n\ \text{includes the poisons})",
    "loss": r"L(x,y)=\tfrac12\,(f(x)-y)^2",
    "loss_hessian": r"\nabla_x^2L=\nabla_xf\,\nabla_xf^\top+(f(x)-y)\,\nabla_x^2f",
}
