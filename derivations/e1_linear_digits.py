"""E1 -- the closed-form predictions that the digits experiment tests (kept small).

Linear model ``f(x) = W^T x`` (KRR with the linear kernel: ``W = X^T alpha``), one-hot
targets, loss ``L = |f(x) - y|^2 / 2``:

1. :func:`linear_loss_hessian` -- the input Hessian of the loss is ``W W^T`` at *every*
   input (the residual part vanishes because ``hess_x f = 0``): the "spike" of a linear
   model is a property of the weights, the same at clean and triggered inputs.
2. :func:`margin_bound` -- an additive trigger ``p`` moves every input by ``W^T p``.  If
   the triggered input ``x + p`` is classified as the target ``t`` while the clean input
   has margin ``mu = f_s(x) - f_t(x) > 0`` for its source class ``s``, then
   ``(W^T p)_t - (W^T p)_s >= mu`` and, by Cauchy-Schwarz with ``e_t - e_s``,
   ``p^T H p / |p|^2 = |W^T p|^2 / |p|^2 >= mu^2 / (2 |p|^2)``: success forces curvature
   along the trigger.  It does not force the *top* eigenvector onto ``p``:
3. :func:`overlap_bound` -- for a symmetric ``H`` with top eigenvalues ``l1 > l2`` and a
   unit ``p`` with Rayleigh quotient ``q = p^T H p``, the top eigenvector ``v`` obeys
   ``(v . p)^2 >= (q - l2) / (l1 - l2)``; the overlap is forced up only once ``q`` exceeds
   the clean second eigenvalue.  Between "success" (item 2) and "overlap" (item 3) lies
   the lag that E1 measures.
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug

CLAIM = claim_by_slug("e1_linear_digits")

__all__ = ["CLAIM", "linear_loss_hessian", "margin_bound", "overlap_bound"]


def linear_loss_hessian(d: int = 3, o: int = 2) -> dict[str, sp.Matrix]:
    """``hess_x |W^T x - y|^2 / 2`` for explicit ``d x o`` weights; ``difference`` is
    that Hessian minus ``W W^T`` (the zero matrix)."""
    W = sp.Matrix(d, o, lambda i, j: sp.Symbol(f"w_{i}{j}", real=True))
    x = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"x_{i}", real=True))
    y = sp.Matrix(o, 1, lambda i, _: sp.Symbol(f"y_{i}", real=True))
    res = W.T * x - y
    L = (res.T * res)[0, 0] / 2
    H = sp.hessian(L, list(x))
    return {"hessian": H, "WWT": W * W.T, "difference": sp.simplify(H - W * W.T)}


def margin_bound() -> dict[str, sp.Expr]:
    """``2 (z_t^2 + z_s^2) - (z_t - z_s)^2 = (z_t + z_s)^2 >= 0``: hence
    ``|z|^2 >= z_t^2 + z_s^2 >= (z_t - z_s)^2 / 2 >= mu^2 / 2`` for ``z = W^T p`` whenever
    ``z_t - z_s >= mu > 0``."""
    zt, zs, mu, pn = sp.symbols("z_t z_s mu |p|", real=True)
    gap = sp.factor(2 * (zt**2 + zs**2) - (zt - zs) ** 2)
    return {"gap": gap, "square": (zt + zs) ** 2,
            "bound": mu**2 / (2 * pn**2), "z_t": zt, "z_s": zs, "mu": mu, "p_norm": pn}


def overlap_bound() -> dict[str, sp.Expr]:
    """With ``q = sum_i l_i c_i^2`` (``c_i`` the coordinates of the unit ``p`` in the
    eigenbasis) and ``l_i <= l2`` for ``i >= 2``: ``q <= l1 c1^2 + l2 (1 - c1^2)``, i.e.
    ``c1^2 >= (q - l2) / (l1 - l2)``.  Returned: the bound and the slack identity
    ``l1 c1^2 + l2 (1 - c1^2) - q`` for ``q`` at its extreme (zero)."""
    l1, l2, c1, q = sp.symbols("lambda_1 lambda_2 c_1 q", real=True)
    bound = (q - l2) / (l1 - l2)
    c1_sq = sp.solve(sp.Eq(l1 * c1**2 + l2 * (1 - c1**2), q), c1**2)
    return {"bound": bound, "solved": c1_sq[0] if c1_sq else None,
            "lambda_1": l1, "lambda_2": l2, "q": q}
