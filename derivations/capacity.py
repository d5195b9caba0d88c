"""C9: capacity of the gradient-penalised KRR as a function of ``kappa``.

Paper (Thm 3.9): ``df(kappa) = tr[K (K + n lambda I + kappa G)^{-1}]`` *strictly* decreases in
``kappa`` and the training residual ``|y - K alpha|^2`` *strictly* increases.

What the derivation finds (``M = K + cI + kappa G``, ``alpha = M^{-1} y``, ``B = cI + kappa G``,
``N = K^2 + cK + kappa G`` for the ``rkhs`` variant of C8):

df
    ``d df / d kappa = -tr[K M^{-1} G M^{-1}] = -|K^{1/2} M^{-1} G^{1/2}|_F^2 <= 0``.  It is
    zero iff ``K M^{-1} G = 0``, and (proof in :data:`DF_STRICTNESS_PROOF`) that happens iff
    ``K G = 0``, *independently of kappa*.  So: df is strictly decreasing on ``[0, oo)`` iff
    ``K G != 0``, and constant iff ``K G = 0``.  ``G = 0`` happens for a clone cluster with
    the penalty at the training points and any kernel whose input gradient vanishes on the
    diagonal (every smooth isotropic kernel): the paper's "strictly" fails there.
    (``rkhs`` variant: ``d df_A / d kappa = -tr[K N^+ G N^+ K] <= 0``.)
Residual
    ``d R / d kappa = 2 (B alpha)^T K M^{-1} G alpha`` (``y - K alpha = B alpha``), a bilinear
    form with no sign: the residual can *decrease* (pinned counterexamples
    :data:`RESIDUAL_COUNTEREXAMPLES`, e.g. three points, Gaussian kernel, penalty at the
    training points).  It is non-decreasing when ``K G = G K`` (common eigenbasis: each
    component ``((c + kappa g_i)/(k_i + c + kappa g_i))^2 y_i^2`` increases).
    What *is* monotone for every instance is the data part of the minimised objective:
    ``dual``: ``F_B = 1/2 alpha^T (K + cI) alpha - y^T alpha``, ``dF_B/dkappa =
    kappa alpha^T G M^{-1} G alpha >= 0``; ``rkhs``: ``D_A = |y - K alpha|^2 + c alpha^T K
    alpha``, ``dD_A/dkappa = 2 kappa alpha^T G N^+ G alpha >= 0``; and the penalty
    ``alpha^T G alpha`` is non-increasing (standard exchange argument).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, kappa
from derivations.kernels import KernelSpec
from derivations.regularised_objective import symbolic_system

CLAIM = claim_by_slug("capacity")

__all__ = [
    "CLAIM",
    "df_derivative",
    "derivative_identities_general",
    "trace_classes",
    "residual_derivative",
    "data_energy_derivative",
    "commuting_residual",
    "DF_STRICTNESS_PROOF",
    "RESIDUAL_COUNTEREXAMPLES",
    "DF_CONSTANT_CLONES",
    "pinned_residual_slope",
    "diagonal_gradient",
    "clone_df",
]

DF_STRICTNESS_PROOF = (
    r"$\mathrm{df}'(\kappa)=-\mathrm{tr}[KM^{-1}GM^{-1}]=-\|K^{1/2}M^{-1}G^{1/2}\|_F^2\le0$, "
    r"with equality iff $W:=M^{-1}G$ satisfies $KW=0$. Then $MW=G$ gives "
    r"$(cI+\kappa G)W=G$, so $W=(cI+\kappa G)^{-1}G$, a function of $G$ with the range of $G$; "
    r"hence $KW=0\iff KG=0$. The condition does not depend on $\kappa$: df is strictly "
    r"decreasing on $[0,\infty)$ iff $KG\ne0$ and constant iff $KG=0$."
)


def _zero(expr: sp.Expr) -> bool:
    """Exact test that a rational function of the symbols is identically 0."""
    return sp.expand(sp.numer(sp.together(expr))) == 0


def _inverse(M: sp.Matrix) -> tuple[sp.Matrix, sp.Expr]:
    return M.adjugate(), M.det()


# --- general n: MatrixSymbol proofs ------------------------------------------------------
_N = sp.Symbol("n", integer=True, positive=True)
_K = sp.MatrixSymbol("K", _N, _N)
_G = sp.MatrixSymbol("G", _N, _N)
_M = sp.MatrixSymbol("M", _N, _N)  #: M = K + cI + kappa G, symmetric positive definite
_C = sp.MatrixSymbol("C", _N, _N)  #: C = K + cI = M - kappa G (constant in kappa)
_P = sp.MatrixSymbol("P", _N, _N)  #: K = P^T P
_Q = sp.MatrixSymbol("Q", _N, _N)  #: G = Q^T Q
_y = sp.MatrixSymbol("y", _N, 1)
#: the symmetric matrices of the argument
_SYMMETRIC = (_K, _G, _M, _C)


def _sym_factor(a: sp.MatrixExpr) -> sp.MatrixExpr:
    """One factor of a matrix word in normal form: ``S^T -> S`` for the symmetric
    matrices, ``(S^T)^{-1} = (S^{-1})^T -> S^{-1}``, ``(A^T)^T -> A``."""
    if isinstance(a, sp.Inverse) or (isinstance(a, sp.MatPow) and a.exp == -1):
        return _sym_factor(a.args[0]) ** -1
    if isinstance(a, sp.Transpose):
        inner = a.arg
        if isinstance(inner, sp.Transpose):
            return _sym_factor(inner.arg)
        if isinstance(inner, sp.Inverse) or (isinstance(inner, sp.MatPow) and inner.exp == -1):
            return _sym_factor(sp.Transpose(inner.args[0])) ** -1
        if inner in _SYMMETRIC:
            return inner
    return a


def _words(mexpr: sp.MatrixExpr) -> list[tuple[sp.Expr, tuple]]:
    """``mexpr`` expanded (``.expand().doit()``: products like ``M M^{-1}`` cancel) into
    ``(scalar coefficient, matrix word)`` terms."""
    mexpr = mexpr.expand().doit()
    out = []
    for t in (mexpr.args if isinstance(mexpr, sp.MatAdd) else (mexpr,)):
        coeff, mats = sp.Integer(1), []
        for a in (t.args if isinstance(t, sp.MatMul) else (t,)):
            if isinstance(a, sp.Identity):
                continue
            if isinstance(a, sp.MatrixExpr):
                mats.append(_sym_factor(a))
            else:
                coeff *= a
        out.append((coeff, tuple(mats)))
    return out


def _trace_key(word: tuple) -> tuple:
    """The class of ``tr(word)`` under the two trace rules ``tr(AB) = tr(BA)`` and
    ``tr(A) = tr(A^T)``: the least of all rotations of the word and of its transpose."""
    transposed = tuple(_sym_factor(sp.Transpose(a)) for a in reversed(word))
    cands = [w[i:] + w[:i] for w in (word, transposed) for i in range(len(w))] or [()]
    return min(cands, key=lambda w: tuple(sp.srepr(a) for a in w))


def trace_classes(expr: sp.Expr) -> dict[tuple, sp.Expr]:
    """A scalar -- a sum of scalar multiples of ``Trace(...)``, or a ``1 x 1`` matrix
    expression -- as ``{trace class: coefficient}`` (zero coefficients dropped).  Two scalars
    are equal for every ``n`` when their classes and coefficients agree."""
    if isinstance(expr, sp.MatrixExpr):
        terms = [(sp.Integer(1), expr)]
    else:
        terms = []
        for t in sp.Add.make_args(sp.expand(expr)):
            coeff, arg = sp.Integer(1), None
            for f in sp.Mul.make_args(t):
                if isinstance(f, sp.Trace):
                    arg = f.arg
                else:
                    coeff *= f
            if arg is None:
                raise ValueError(f"term {t} is not a multiple of a trace")
            terms.append((coeff, arg))
    out: dict[tuple, sp.Expr] = {}
    for coeff, m_ in terms:
        for c2, w in _words(m_):
            key = _trace_key(w)
            out[key] = out.get(key, sp.Integer(0)) + coeff * c2
    return {k: v for k, v in ((k, sp.simplify(v)) for k, v in out.items()) if v != 0}


def _d_dkappa(f: sp.Expr) -> sp.Expr:
    """``d f(M(kappa)) / d kappa`` for ``dM/dkappa = G``: SymPy's matrix derivative
    ``df/dM`` (entrywise, no symmetry assumed) and the chain rule ``tr[(df/dM)^T G]``."""
    return sp.Trace(f.diff(_M).T * _G)


@cache
def derivative_identities_general() -> dict:
    """The kappa-derivatives of df, the residual, the data part ``F_B`` of the dual objective
    and the penalty, for every ``n`` (``MatrixSymbol``\\ s of symbolic size ``n``).

    Steps, each checked by SymPy except the named standard rules:
    (1) ``df = tr[K M^{-1}]``, ``R = |y - K M^{-1} y|^2``, ``F_B = 1/2 y^T M^{-1} C M^{-1} y
    - y^T M^{-1} y`` (``C = K + cI``), ``pen = y^T M^{-1} G M^{-1} y`` depend on kappa only
    through ``M`` (``dM/dkappa = G``); SymPy differentiates them in ``M`` and the chain rule
    gives ``tr[(d./dM)^T G]``; (2) ``K, G, M, C`` are symmetric; (3) equality is decided on
    trace classes (:func:`trace_classes`: the rules ``tr(AB) = tr(BA)``, ``tr A = tr A^T``);
    (4) ``y - K alpha = B alpha`` with ``B = M - K`` (SymPy); ``C = M - kappa G`` for
    ``F_B``; (5) signs: with ``K = P^T P``, ``G = Q^T Q`` the df slope is
    ``-tr[X X^T]``, ``X = P M^{-1} Q^T`` (SymPy, same rules), ``<= 0`` as a sum of squares;
    ``dF_B/dkappa = kappa (G alpha)^T M^{-1} (G alpha) >= 0`` and ``dpen/dkappa =
    -2 (G alpha)^T M^{-1} (G alpha) <= 0`` since ``M^{-1}`` is positive definite.

    Returns, per identity, ``computed`` and ``claimed`` (SymPy expressions) and ``equal``.
    ``control``: a wrong slope (``-tr[K M^{-1} G]``) is *not* equal to the computed one (the
    comparison can fail)."""
    K, G, M, C, P, Q, y = _K, _G, _M, _C, _P, _Q, _y
    Mi = M.I
    al = Mi * y
    out: dict[str, dict] = {}

    shown = {K.T: K, G.T: G, M.T: M}  # symmetric: for display; the comparison normalises

    def record(name: str, computed: sp.Expr, claimed: sp.Expr, subs: dict | None = None):
        comp = computed.subs(subs) if subs else computed
        out[name] = {"computed": computed, "claimed": claimed.subs(shown),
                     "equal": trace_classes(comp) == trace_classes(claimed)}

    df_slope = _d_dkappa(sp.Trace(K * Mi))
    record("df", df_slope, -sp.Trace(K * Mi * G * Mi))
    X = P * Mi * Q.T
    record("df_sum_of_squares", -sp.Trace(K * Mi * G * Mi), -sp.Trace(X * X.T),
           {K: P.T * P, G: Q.T * Q})
    res = y - K * Mi * y
    B = M - K
    out["residual_is_B_alpha"] = {
        "computed": res, "claimed": B * al,
        "equal": (res - B * al).expand().doit().is_ZeroMatrix}
    record("residual", _d_dkappa(res.T * res), 2 * (B * al).T * K * Mi * G * al)
    F = al.T * C * al / 2 - y.T * al
    record("F_B", _d_dkappa(F), kappa * (G * al).T * Mi * (G * al), {C: M - kappa * G})
    record("penalty", _d_dkappa(al.T * G * al), -2 * (G * al).T * Mi * (G * al))
    out["control"] = {"computed": df_slope, "claimed": -sp.Trace(K * Mi * G),
                      "equal": trace_classes(df_slope) == trace_classes(-sp.Trace(K * Mi * G))}
    return out


@cache
def df_derivative(n: int = 2) -> dict:
    """``d/dkappa tr[K M^{-1}]`` by SymPy against ``-tr[K M^{-1} G M^{-1}]``."""
    s = symbolic_system(n)
    K, G, eye = s["K"], s["G"], s["I"]
    adj, det = _inverse(K + c * eye + kappa * G)
    df = (K * adj).trace() / det
    claimed = -(K * adj * G * adj).trace() / det**2
    return {"df": df, "claimed": claimed, "identity": _zero(sp.diff(df, kappa) - claimed)}


@cache
def residual_derivative(n: int = 2) -> dict:
    """``d/dkappa |y - K M^{-1} y|^2`` against ``2 (B alpha)^T K M^{-1} G alpha``."""
    s = symbolic_system(n)
    K, G, eye, y = s["K"], s["G"], s["I"], s["y"]
    adj, det = _inverse(K + c * eye + kappa * G)
    al = adj * y / det
    res = y - K * al
    R = (res.T * res)[0]
    B = c * eye + kappa * G
    claimed = 2 * ((B * al).T * K * adj * G * al)[0] / det
    return {"R": R, "claimed": claimed,
            "residual_is_B_alpha": all(_zero(e) for e in (res - B * al)),
            "identity": _zero(sp.diff(R, kappa) - claimed)}


@cache
def data_energy_derivative(n: int = 2) -> dict:
    """Monotone quantities: ``F_B`` (dual) and the penalty ``alpha^T G alpha``."""
    s = symbolic_system(n)
    K, G, eye, y = s["K"], s["G"], s["I"], s["y"]
    adj, det = _inverse(K + c * eye + kappa * G)
    al = adj * y / det
    F = (al.T * (K + c * eye) * al)[0] / 2 - (y.T * al)[0]
    pen = (al.T * G * al)[0]
    GMG = (al.T * G * adj * G * al)[0] / det
    return {"F": F, "dF": kappa * GMG, "dpen": -2 * GMG,
            "dF_identity": _zero(sp.diff(F, kappa) - kappa * GMG),
            "dpen_identity": _zero(sp.diff(pen, kappa) + 2 * GMG)}


@cache
def commuting_residual() -> dict:
    """In a common eigenbasis (``K = diag(k_i)``, ``G = diag(g_i)``) one component of the
    residual and its ``kappa``-derivative, which is ``>= 0`` for ``k_i, g_i >= 0``."""
    ki, gi, yi = sp.symbols("k_i g_i y_i", nonnegative=True)
    comp = ((c + kappa * gi) / (ki + c + kappa * gi)) ** 2 * yi**2
    der = sp.factor(sp.diff(comp, kappa))
    return {"component": comp, "derivative": der,
            "nonnegative": bool(der.is_nonnegative)}


#: a pinned instance where df is constant in kappa (``K G = 0``): two clones of one point,
#: Gaussian kernel, penalty at the training points (``G = 0``: the input gradient vanishes on
#: the diagonal); its numbers are computed by the checks, not here
DF_CONSTANT_CLONES = {"kernel": "gaussian", "params": {"ell": 1.0},
                      "X": ((0.3, -0.2), (0.3, -0.2)), "y": (1.0, 1.0), "c": 0.5}

#: small exact instances where the training residual *decreases* in kappa (Gaussian kernel,
#: ell = 1, d = 1, penalty at the training points, which is the default)
RESIDUAL_COUNTEREXAMPLES = (
    {"variant": "dual", "kernel": "gaussian", "params": {"ell": 1}, "X": (0, sp.Rational(1, 2), 1),
     "y": (1, -1, 1), "c": sp.Integer(1)},
    {"variant": "rkhs", "kernel": "gaussian", "params": {"ell": 1}, "X": (0, sp.Rational(1, 2), 1),
     "y": (1, 1, 1), "c": sp.Rational(1, 10)},
)


def pinned_residual_slope(example: dict, digits: int = 30) -> sp.Float:
    """``dR/dkappa`` at ``kappa = 0`` for a pinned 1-D example, in exact arithmetic
    (kernel entries from the registry expression) evaluated to ``digits`` digits."""
    from derivations.kernels import get_spec, r

    spec = get_spec(example["kernel"])
    g = spec.subs_params(spec.expr, **example["params"])
    X, y = example["X"], sp.Matrix(example["y"])
    n = len(X)
    K = sp.Matrix(n, n, lambda i, j: g.subs(r, abs(X[i] - X[j])))
    # 1-D: d/dz k(z, x) = g'(|z - x|) sign(z - x); at the training points
    dg = sp.diff(g, r)
    J = sp.Matrix(n, n, lambda p, i: 0 if X[p] == X[i]
                  else dg.subs(r, abs(X[p] - X[i])) * sp.sign(X[p] - X[i]))
    G = J.T * J
    eye = sp.eye(n)
    if example["variant"] == "dual":
        M = K + example["c"] * eye + kappa * G
        al = M.LUsolve(y)
    else:
        M = K * K + example["c"] * K + kappa * G
        al = M.LUsolve(K * y)
    res = y - K * al
    R = (res.T * res)[0]
    return sp.N(sp.diff(R, kappa).subs(kappa, 0), digits)


@cache
def diagonal_gradient(spec: KernelSpec) -> sp.Expr | None:
    """``|grad_x k(x, x')|`` at ``x = x'`` as a SymPy expression (``None``: undefined).

    Isotropic: ``A(0) * |x - x| = 0`` whenever ``A(0)`` is finite.  Invariant / dot-product:
    ``(2 phi_a + phi_u) x`` on the diagonal ``a = b = u = t``, norm ``|2 phi_a + phi_u| sqrt(t)``.
    Simplified when small (``derivations.kernels.SIMPLIFY_MAX_OPS``); a larger one (deep
    NTKs: ``simplify`` takes minutes) is returned as is, and as ``0`` when it vanishes at 40
    digits at generic values of ``t`` and the parameters.
    """
    coeff = spec.coefficients
    if spec.family == "isotropic":
        return sp.Integer(0) if coeff.diagonal["A"] is not None else None
    t = sp.Symbol("t", positive=True)
    pa, pu = coeff.diagonal["phi_a"], coeff.diagonal["phi_u"]
    if pa is None or pu is None:
        return None
    from derivations.kernels import SIMPLIFY_MAX_OPS, a, b, u

    val = (2 * pa + pu).subs({a: t, b: t, u: t})
    if sp.count_ops(val) <= SIMPLIFY_MAX_OPS:
        return sp.simplify(sp.Abs(val) * sp.sqrt(t))
    probes = [{sym: sp.Rational(7 + 3 * j, 5 + k) for j, sym in enumerate(
        sorted(val.free_symbols, key=str))} for k in range(2)]
    if all(abs(complex(val.evalf(40, subs=p))) < 1e-30 for p in probes):
        return sp.Integer(0)
    return sp.Abs(val) * sp.sqrt(t)


def clone_df(n_points: sp.Expr, kz: sp.Expr, g2: sp.Expr) -> sp.Expr:
    """``df(kappa)`` of ``n`` clones (``K = k_z 11^T``, ``G = g2 11^T``) in the dual variant:
    ``n (k_z) / (c + n (k_z + kappa g2))``; constant in ``kappa`` iff ``g2 = 0``."""
    return sp.simplify(n_points * kz / (c + n_points * (kz + kappa * g2)))
