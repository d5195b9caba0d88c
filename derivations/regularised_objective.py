"""C8: the input-gradient-regularised objective and the penalised KRR estimators.

``J(w) = E[L] + kappa/2 E|grad_x L|^2`` with ``L = (f - y)^2 / 2``.  For KRR in the dual
parametrisation ``f = sum_i alpha_i k(., x_i)`` we derive (SymPy, on explicit symbolic
matrices, so that the identities are checked, not asserted):

* the penalty identity ``sum_p |grad f(z_p)|^2 = alpha^T G alpha``, ``G = sum_p J_p^T J_p``,
  ``(J_p)_{:, i} = grad_x k(z_p, x_i)`` (:func:`penalty_identity`);
* the two quadratic objectives and their normal equations (:func:`normal_equations`):

  - ``dual``  ``E_B = 1/2 a^T (K + cI) a - y^T a + kappa/2 a^T G a``
    ``=> (K + cI + kappa G) a = y``  (the paper's ``df = tr[K (K + n lambda I + kappa G)^{-1}]``);
  - ``rkhs``  ``E_A = 1/2 |y - K a|^2 + c/2 a^T K a + kappa/2 a^T G a``
    ``=> (K^2 + cK + kappa G) a = K y``, i.e. ``(K + cI + kappa K^{-1} G) a = y`` when ``K``
    is invertible: it coincides with ``dual`` only when ``kappa G = 0`` (or ``G`` is replaced
    by ``K G``);

* the loss-gradient version (not quadratic): its stationarity condition is the fixed point
  ``(K W K + cK + kappa G_r) a = K W y`` with ``W = diag(1 + kappa |grad f(x_i)|^2)`` and the
  *residual-weighted* penalty Gram ``G_r = sum_i (f(x_i) - y_i)^2 J_i^T J_i``
  (:func:`loss_gradient_stationarity`).  So the loss-gradient penalty (a) reweights the data
  term by ``1 + kappa |grad f|^2`` and (b) penalises the gradient only where the fit is poor;
  at an interpolating fit it vanishes.

Normalisation: the paper's per-sample form ``(1/n) sum L + (lambda/2)|f|^2 + (kappa/2)(1/n)
sum |grad L|^2`` times ``n`` is the summed form used everywhere here with ``c = n lambda``
(:func:`derivations.conventions.ridge_from_lambda`) and the same ``kappa``;
:func:`kappa_sum_from_mean` converts a penalty averaged over ``P`` points.
"""

from __future__ import annotations

import math
from functools import cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import _count, _real_number, c, kappa, ridge_from_lambda

CLAIM = claim_by_slug("regularised_objective")

__all__ = [
    "CLAIM",
    "kappa_sum_from_mean",
    "ridge_from_lambda",
    "symbolic_system",
    "penalty_identity",
    "normal_equations",
    "normal_equations_general",
    "smoother_dfs",
    "loss_gradient_stationarity",
    "objective_latex",
]


def kappa_sum_from_mean(kappa_mean: float, n_points: int, n_penalty: int) -> float:
    """The paper normalises the data term and the penalty by ``1/n``; the summed objective
    used here has data weight 1, ridge ``c = n lambda`` and penalty weight
    ``kappa n / P`` for a penalty averaged over ``P`` points (``= kappa`` when ``P = n``)."""
    kap = _real_number(kappa_mean, "kappa")
    if kap < 0:
        raise ValueError(f"kappa must be non-negative, got {kappa_mean!r}")
    n = _count(n_points, "n (number of points)")
    p = _count(n_penalty, "the number of penalty points")
    out = kap * n / p
    if not math.isfinite(out):
        raise ValueError(f"kappa n / P = {kap:g} * {n} / {p} overflows float64")
    return out


@cache
def symbolic_system(n: int = 2) -> dict:
    """Generic symbolic ``K`` (symmetric), ``G`` (symmetric), ``alpha``, ``y`` of size ``n``."""
    K = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"K_{min(i, j) + 1}{max(i, j) + 1}", real=True))
    G = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"G_{min(i, j) + 1}{max(i, j) + 1}", real=True))
    al = sp.Matrix(sp.symbols(f"alpha_1:{n + 1}", real=True))
    y = sp.Matrix(sp.symbols(f"y_1:{n + 1}", real=True))
    return {"K": K, "G": G, "alpha": al, "y": y, "I": sp.eye(n)}


def _objectives(n: int = 2) -> dict:
    s = symbolic_system(n)
    K, G, al, y, eye = s["K"], s["G"], s["alpha"], s["y"], s["I"]
    quad = (al.T * G * al)[0]
    E_B = (al.T * (K + c * eye) * al)[0] / 2 - (y.T * al)[0] + kappa * quad / 2
    res = y - K * al
    E_A = (res.T * res)[0] / 2 + c * (al.T * K * al)[0] / 2 + kappa * quad / 2
    return {"dual": E_B, "rkhs": E_A}


@cache
def normal_equations(n: int = 2) -> dict:
    """For each variant: the objective, its gradient (SymPy ``diff``), the claimed normal
    equations ``lhs alpha - rhs`` and their difference from the gradient (must be 0)."""
    s = symbolic_system(n)
    K, G, al, y, eye = s["K"], s["G"], s["alpha"], s["y"], s["I"]
    out = {}
    claimed = {
        "dual": ((K + c * eye + kappa * G), y),
        "rkhs": ((K * K + c * K + kappa * G), K * y),
    }
    for name, E in _objectives(n).items():
        grad = sp.Matrix([sp.diff(E, a_) for a_ in al])
        lhs, rhs = claimed[name]
        diff = sp.simplify(sp.expand(grad - (lhs * al - rhs)))
        out[name] = {"objective": E, "gradient": grad, "matrix": lhs, "rhs": rhs,
                     "residual": diff, "hessian": sp.hessian(E, list(al))}
    return out


@cache
def normal_equations_general() -> dict:
    """The normal equations of both quadratic objectives for every ``n``: ``K``, ``G``
    (``n x n``), ``alpha``, ``y`` (``n x 1``) are ``MatrixSymbol``\\ s of symbolic size ``n``.

    SymPy's matrix calculus gives ``dE/dalpha`` and the Hessian; with ``K^T = K`` and
    ``G^T = G`` substituted afterwards (the derivative is taken without assuming symmetry),
    ``residual`` (gradient minus the claimed normal equations) must be the ``ZeroMatrix`` and
    ``hessian_residual`` (Hessian minus the claimed system matrix) too: the Hessian *is* the
    system matrix, positive definite for ``c > 0`` and PSD ``K``, ``G`` (``dual``) -- so the
    stationary point is the unique minimiser."""
    N = sp.Symbol("n", integer=True, positive=True)
    K = sp.MatrixSymbol("K", N, N)
    G = sp.MatrixSymbol("G", N, N)
    al = sp.MatrixSymbol("alpha", N, 1)
    y = sp.MatrixSymbol("y", N, 1)
    eye = sp.Identity(N)
    sym = {K.T: K, G.T: G}
    objectives = {
        "dual": (al.T * (K + c * eye) * al / 2 - y.T * al + kappa / 2 * al.T * G * al,
                 K + c * eye + kappa * G, y),
        "rkhs": ((y - K * al).T * (y - K * al) / 2 + c / 2 * al.T * K * al
                 + kappa / 2 * al.T * G * al, K * K + c * K + kappa * G, K * y),
    }
    out = {}
    for name, (E, lhs, rhs) in objectives.items():
        grad = E.diff(al).subs(sym)
        hess = grad.diff(al).subs(sym)
        out[name] = {
            "objective": E, "gradient": grad, "matrix": lhs, "rhs": rhs, "hessian": hess,
            "residual": (grad - (lhs * al - rhs)).expand().doit(),
            "hessian_residual": (hess - lhs).expand().doit(),
        }
    return out


@cache
def penalty_identity(d: int = 2, n: int = 2, P: int = 2) -> dict:
    """``sum_p |grad_x f(z_p)|^2 - alpha^T G alpha`` for a *generic* smooth kernel
    (an undefined function ``k(x, x')`` of coordinates), must expand to 0."""
    kf = sp.Function("k")
    zs = [sp.symbols(f"z{p + 1}_1:{d + 1}", real=True) for p in range(P)]
    xs = [sp.symbols(f"x{i + 1}_1:{d + 1}", real=True) for i in range(n)]
    al = sp.symbols(f"alpha_1:{n + 1}", real=True)
    t = sp.symbols(f"t_1:{d + 1}", real=True)

    def f(pt):
        return sum(al[i] * kf(*pt, *xs[i]) for i in range(n))

    pen = 0
    G = sp.zeros(n, n)
    for p in range(P):
        subs = dict(zip(t, zs[p], strict=True))
        grad = [sp.diff(f(t), tj).subs(subs) for tj in t]
        pen += sum(gj**2 for gj in grad)
        J = sp.Matrix(d, n, lambda j, i, s=subs: sp.diff(kf(*t, *xs[i]), t[j]).subs(s))
        G += J.T * J
    alv = sp.Matrix(al)
    diff = sp.expand(pen - (alv.T * G * alv)[0])
    return {"penalty": pen, "G": G, "difference": diff}


@cache
def smoother_dfs(n: int = 2) -> dict:
    """``df`` of both variants as SymPy expressions and their difference at ``kappa = 0``."""
    s = symbolic_system(n)
    K, G, eye = s["K"], s["G"], s["I"]
    df_dual = (K * (K + c * eye + kappa * G).inv()).trace()
    df_rkhs = (K * (K * K + c * K + kappa * G).inv() * K).trace()
    at0 = sp.simplify(df_dual.subs(kappa, 0) - df_rkhs.subs(kappa, 0))
    return {"dual": df_dual, "rkhs": df_rkhs, "difference_at_0": at0}


@cache
def loss_gradient_stationarity(n: int = 2, d: int = 1) -> dict:
    """The gradient of ``E_L = 1/2|y - K a|^2 + c/2 a^T K a + kappa/2 sum_i r_i^2 |J_i a|^2``
    (``r = K a - y``, ``grad f(x_i) = J_i a`` with generic symbolic ``J_i``) against the
    fixed-point form ``K W (K a - y) + c K a + kappa G_r a`` (difference must be 0)."""
    s = symbolic_system(n)
    K, al, y = s["K"], s["alpha"], s["y"]
    Js = [sp.Matrix(d, n, lambda j, i, p=p: sp.Symbol(f"J{p + 1}_{j + 1}{i + 1}", real=True))
          for p in range(n)]
    r = K * al - y
    grads = [J * al for J in Js]
    E = ((r.T * r)[0] / 2 + c * (al.T * K * al)[0] / 2
         + kappa / 2 * sum(r[i] ** 2 * (grads[i].T * grads[i])[0] for i in range(n)))
    grad = sp.Matrix([sp.diff(E, a_) for a_ in al])
    W = sp.diag(*[1 + kappa * (grads[i].T * grads[i])[0] for i in range(n)])
    G_r = sum((r[i] ** 2 * Js[i].T * Js[i] for i in range(n)), sp.zeros(n, n))
    fixed_point = K * W * r + c * K * al + kappa * G_r * al
    return {"objective": E, "gradient": grad, "W": W, "G_r": G_r,
            "difference": sp.expand(grad - fixed_point)}


def objective_latex() -> dict[str, str]:
    """LaTeX of the general (matrix-symbol) objectives and solutions, built by SymPy."""
    N = sp.Symbol("n", positive=True, integer=True)
    K = sp.MatrixSymbol("K", N, N)
    G = sp.MatrixSymbol("G", N, N)
    al = sp.MatrixSymbol(r"\alpha", N, 1)
    y = sp.MatrixSymbol("y", N, 1)
    eye = sp.Identity(N)
    E_B = (sp.Rational(1, 2) * al.T * (K + c * eye) * al - y.T * al
           + kappa / 2 * al.T * G * al)
    E_A = (sp.Rational(1, 2) * (y - K * al).T * (y - K * al) + c / 2 * al.T * K * al
           + kappa / 2 * al.T * G * al)
    return {
        "dual_objective": sp.latex(E_B),
        "dual_solution": sp.latex(sp.Eq(al, (K + c * eye + kappa * G) ** -1 * y,
                                        evaluate=False)),
        "dual_df": r"\mathrm{df}(\kappa)=" + sp.latex(sp.Trace(K * (K + c * eye + kappa * G)
                                                              ** -1)),
        "rkhs_objective": sp.latex(E_A),
        "rkhs_solution": sp.latex(sp.Eq((K * K + c * K + kappa * G) * al, K * y,
                                        evaluate=False)),
        "rkhs_df": r"\mathrm{df}_A(\kappa)=" + sp.latex(
            sp.Trace(K * (K * K + c * K + kappa * G) ** -1 * K)),
    }
