"""C10: how the function-gradient penalty changes the clone model's shift (C2) and spike (C3).

Setting (the ``dual`` estimator of C8, ``alpha = (K + cI + kappa G)^{-1} y``): clean data
``(X_C, y_C)`` plus ``m`` exact clones of the trigger ``zeta`` labelled ``y_t``; penalty points
``z_1..z_P``; ``j(x) = (grad_1 k(z_p, x))_p`` stacked in ``R^{Pd}`` so that
``G_{ij} = <j(x_i), j(x_j)>``.  The penalised system is ordinary KRR with the *training-side*
kernel ``k_kappa(x, x') = k(x, x') + kappa <j(x), j(x')>``, while predictions still use ``k``.

Exact result (block elimination; SymPy-checked in :func:`exact_shift_identity`)::

    A_k = K_CC + cI + kappa G_CC,   b_k = k(X_C, zeta) + kappa J_C^T j(zeta),
    s~_k = k_zeta + kappa |j(zeta)|^2 - b_k^T A_k^{-1} b_k,
    Delta f(x0) = [k(x0, zeta) - k(x0, X_C)^T A_k^{-1} b_k] (y_t - b_k^T A_k^{-1} y_C)
                  * m / (c + m s~_k)

(``kappa = 0``: the exact C2 formula).  Tight-cluster dominance (no clean coupling):
``Delta f = k(x0, zeta) y_t S_kappa``, ``S_kappa = m / (c + m (k_zeta + kappa g_zeta))`` with
``g_zeta = |j(zeta)|^2 = sum_p |grad_1 k(z_p, zeta)|^2``; the spike keeps its geometry,
``Lambda = R_k Delta f^2`` (the penalty rescales ``grad Delta f`` by the same factor).

Which penalty points matter: only through ``g_zeta``.  For every kernel whose input gradient
vanishes on the diagonal (all smooth isotropic kernels) a penalty point *at* the poisons
contributes nothing (``grad_1 k(zeta, zeta) = 0``); a penalty point at distance ``rho`` from
``zeta`` contributes ``g'(rho)^2``, largest at the inflection radius ``rho*`` of the profile
(Gaussian: ``rho* = ell``, contribution ``1/(e ell^2)``).  In particular a penalty at a
near-clone trigger ``x0`` (``r << ell``) contributes ``~ r^2/ell^4`` and suppresses almost
nothing.  Dot-product kernels (linear, polynomial) have a non-zero diagonal gradient, so a
penalty at the poisons themselves does suppress them.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.capacity import diagonal_gradient
from derivations.claims import claim_by_slug
from derivations.conventions import c, k_zeta, kappa, m, y_t
from derivations.kernels import KernelSpec, r

CLAIM = claim_by_slug("poison_suppression")

__all__ = [
    "CLAIM",
    "g_zeta",
    "k0",
    "grad_k0_sq",
    "penalised_gain",
    "dominance_shift",
    "dominance_spike",
    "suppression_ratio",
    "kappa_half",
    "gain_identity",
    "dominance_general",
    "exact_shift_identity",
    "best_penalty_radius",
    "gaussian_trigger_penalty",
    "SHIFT_GROWS",
]

#: a pinned instance where the penalty does not suppress the shift (C10 as stated): Gaussian
#: kernel, one clean point, two clones, penalty at every training point; the numbers it
#: gives are computed by the checks (``proofs_check/test_poison_suppression.py``), not here
SHIFT_GROWS = {"kernel": "gaussian", "params": {"ell": 1.0}, "X": ((0.5,),), "y": (1.0,),
               "zeta": (0.0,), "m": 2, "y_t": 1.0, "x0": (0.5,), "c": 0.1,
               "kappas": (0.0, 0.1, 1.0, 10.0)}

g_zeta = sp.Symbol("g_zeta", nonnegative=True)  #: sum_p |grad_1 k(z_p, zeta)|^2
k0 = sp.Symbol("k_0", real=True)  #: k(x0, zeta)
grad_k0_sq = sp.Symbol("|grad k_0|^2", nonnegative=True)  #: |grad_x k(x0, zeta)|^2

#: penalised scalar gain of a clone cluster
penalised_gain = m / (c + m * (k_zeta + kappa * g_zeta))
#: shift and spike under tight-cluster dominance
dominance_shift = k0 * y_t * penalised_gain
dominance_spike = grad_k0_sq * (y_t * penalised_gain) ** 2
#: Delta f(kappa) / Delta f(0) (and the spike ratio is its square)
suppression_ratio = sp.simplify(penalised_gain / penalised_gain.subs(kappa, 0))
#: kappa at which the shift is halved
kappa_half = sp.solve(sp.Eq(suppression_ratio, sp.Rational(1, 2)), kappa)[0]


@cache
def gain_identity(m_value: int = 3) -> sp.Expr:
    """``(cI_m + s 11^T)^{-1} 1 - 1/(c + m s)`` with ``s = k_zeta + kappa g_zeta`` (0)."""
    s = k_zeta + kappa * g_zeta
    one = sp.ones(m_value, 1)
    A = c * sp.eye(m_value) + s * one * one.T
    return (A.LUsolve(one) - one / (c + m_value * s)).applyfunc(
        lambda e: sp.expand(sp.numer(sp.together(e))))


def _coefficients(expr: sp.MatrixExpr) -> dict[sp.Basic, sp.Expr]:
    """``expr`` expanded as ``{matrix part: simplified scalar coefficient}`` (zero
    coefficients dropped): a matrix expression is zero iff the result is empty."""
    expr = expr.expand().doit()
    if getattr(expr, "is_ZeroMatrix", False):
        return {}
    out: dict[sp.Basic, sp.Expr] = {}
    for t in (expr.args if isinstance(expr, sp.MatAdd) else (expr,)):
        coeff, mats = sp.Integer(1), []
        for a in (t.args if isinstance(t, sp.MatMul) else (t,)):
            if isinstance(a, sp.MatrixExpr):
                mats.append(a)
            else:
                coeff *= a
        key = sp.MatMul(*mats).doit() if mats else sp.Integer(1)
        out[key] = out.get(key, sp.Integer(0)) + coeff
    return {k: v for k, v in ((k, sp.simplify(v)) for k, v in out.items()) if v != 0}


@cache
def dominance_general() -> dict:
    """The dominance closed forms for every number of clones ``m`` and every dimension
    ``d`` (SymPy matrix expressions of symbolic size; ``1`` is ``OneMatrix(m, 1)``).

    ``m`` clones of ``zeta`` have Gram block ``k_zeta 1 1^T`` and, since they share
    ``j(zeta)``, penalty block ``g_zeta 1 1^T``; so the penalised system is
    ``A = cI + (k_zeta + kappa g_zeta) 1 1^T``.  Returned (each must be zero / empty):

    * ``solve``: ``A alpha - y_t 1`` for ``alpha = y_t / (c + m s) 1``, ``s = k_zeta +
      kappa g_zeta`` (``alpha`` solves the system);
    * ``inverse``: ``A W - I`` for the Sherman-Morrison ``W`` (``A`` is invertible, so
      ``alpha`` is *the* solution);
    * ``shift``: ``k_0 1^T alpha`` minus :data:`dominance_shift`;
    * ``spike``: ``|grad k_0 1^T alpha|^2`` (``grad k_0`` a ``d x 1`` symbol, the gradient of
      ``f = sum_i alpha_i k(., zeta)`` at ``x_0``) minus :data:`dominance_spike`.

    ``control`` (must *not* vanish): the shift against the unpenalised one.
    """
    mm = sp.Symbol("m", integer=True, positive=True)
    d = sp.Symbol("d", integer=True, positive=True)
    one = sp.OneMatrix(mm, 1)
    eye = sp.Identity(mm)
    s = k_zeta + kappa * g_zeta
    A = c * eye + k_zeta * one * one.T + kappa * g_zeta * one * one.T
    al = y_t / (c + mm * s) * one
    W = eye / c - s / (c * (c + mm * s)) * one * one.T
    gk = sp.MatrixSymbol("grad_k_0", d, 1)
    grad = gk * one.T * al
    back = {mm: m}

    def scalar(e: sp.MatrixExpr) -> sp.Expr:
        co = _coefficients(e)
        if set(co) - {sp.Integer(1), sp.Identity(1), sp.OneMatrix(1, 1)}:
            raise ValueError(f"not a scalar: {e}")
        return sum(co.values(), sp.Integer(0)).subs(back)

    sq = grad.T * grad
    gk_sq = gk.T * gk
    spike_coeff = _coefficients(sq)
    spike_diff = {k: sp.simplify(v.subs(back) - (dominance_spike / grad_k0_sq if k == gk_sq
                                                   else 0))
                  for k, v in spike_coeff.items()}
    return {
        "A": A, "alpha": al, "W": W, "gradient": grad,
        "solve": _coefficients(A * al - y_t * one),
        "inverse": _coefficients(A * W - eye),
        "shift": sp.simplify(scalar(k0 * one.T * al) - dominance_shift),
        # the same comparison against the unpenalised shift must not vanish (it can fail)
        "control": sp.simplify(scalar(k0 * one.T * al) - dominance_shift.subs(kappa, 0)),
        "spike": {k: v for k, v in spike_diff.items() if v != 0},
        "spike_terms": list(spike_coeff),
    }


@cache
def exact_shift_identity(m_value: int = 2) -> dict:
    """Refit-free symbolic check of the exact penalised shift: one clean point, ``m_value``
    clones, generic kernel values and penalty-Gram entries (with the clones' shared column).

    Returns the closed form and ``difference`` (must simplify to 0) against solving the full
    ``(1 + m) x (1 + m)`` system."""
    kcc, kcz, kz, yc, k0c = sp.symbols("k_CC k_Czeta k_zeta y_C k_0C", real=True)
    jc, jz = sp.symbols("j_C j_zeta", real=True)  # one penalty point in d = 1: G = j j^T
    n = 1 + m_value
    kv = [kcc] + [kcz] * m_value
    K = sp.Matrix(n, n, lambda i, j: kcc if i == j == 0 else (kcz if 0 in (i, j) else kz))
    jv = sp.Matrix([jc] + [jz] * m_value)
    G = jv * jv.T
    yv = sp.Matrix([yc] + [y_t] * m_value)
    al = (K + c * sp.eye(n) + kappa * G).LUsolve(yv)
    kx0 = sp.Matrix([k0c] + [k0] * m_value)
    f_pois = (kx0.T * al)[0]
    f_clean = k0c * yc / (kcc + c + kappa * jc**2)
    A = kcc + c + kappa * jc**2
    b = kcz + kappa * jc * jz
    s_t = kz + kappa * jz**2 - b**2 / A
    closed = (k0 - k0c * b / A) * (y_t - b * yc / A) * m_value / (c + m_value * s_t)
    del kv
    diff = sp.expand(sp.numer(sp.together(f_pois - f_clean - closed)))
    return {"closed_form": closed, "difference": diff}


def best_penalty_radius(spec: KernelSpec, **params) -> dict | None:
    """For an isotropic kernel ``g(r)``: the per-point suppression ``g'(rho)^2`` of a penalty
    point at distance ``rho`` from the poisons, its value at ``rho = 0`` and its maximiser
    (``None`` for other families)."""
    if spec.family != "isotropic":
        return None
    g = spec.subs_params(spec.expr, **params) if params else spec.expr
    h = sp.diff(g, r) ** 2
    at0 = sp.limit(h, r, 0, "+")
    crit = [s for s in sp.solve(sp.diff(g, r, 2), r) if s.is_positive]
    rho = crit[0] if crit else None
    return {"contribution": h, "at_zero": sp.simplify(at0), "rho_star": rho,
            "max": sp.simplify(h.subs(r, rho)) if rho is not None else None,
            "diagonal_gradient": diagonal_gradient(spec)}


def gaussian_trigger_penalty() -> dict:
    """Gaussian kernel, one penalty point at the triggered input ``x0`` (``|x0 - zeta| = r``):
    ``g_zeta = r^2/ell^4 exp(-r^2/ell^2)`` and the suppression ratio as ``r -> 0``."""
    from derivations.kernels import ell, get_spec

    spec = get_spec("gaussian")
    gz = sp.simplify(sp.diff(spec.expr, r) ** 2)
    ratio = suppression_ratio.subs({g_zeta: gz, k_zeta: 1})
    return {"g_zeta": gz, "ratio": ratio,
            "ratio_series": sp.collect(sp.simplify(sp.series(ratio, r, 0, 4).removeO()), r),
            "ell": ell}
