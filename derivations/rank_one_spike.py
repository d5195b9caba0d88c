"""C3 -- the rank-one input-Hessian spike of a clone cluster.

From C2 (exact clones, no dominance assumption)
``Delta f(x) = k~(x, zeta) b(m)`` with ``b(m) = (y_t - f_C(zeta)) S~(m; c)`` independent of
``x``, so ``grad_x Delta f = b(m) grad_x k~(x, zeta)`` and the poison-induced Gauss-Newton
term ``grad Delta f grad Delta f^T = b^2 grad k~ grad k~^T`` is rank one with eigenvalue
``b^2 |grad k~|^2 = R_k~ Delta f^2`` and eigenvector ``grad k~ / |grad k~|``, where
``R_k~ = |grad_x k~(x0, zeta)|^2 / k~(x0, zeta)^2``.  Under dominance (``k~ = k``) this is
the paper's statement with ``R_k = |grad_x k(x0, zeta)|^2 / k(x0, zeta)^2``; with clean
coupling ``R_k~ != R_k`` in general, so the stated eigenvalue is then not exact.

For one-hot (multi-output) KRR every output shares ``grad k~(x, zeta)``:
``sum_o grad Delta f_o grad Delta f_o^T = |b|^2 grad k~ grad k~^T`` is still rank one, with
eigenvalue ``R_k~ |Delta f|^2`` (``|.|`` the Euclidean norm over outputs).

``R_k`` for every registered kernel is derived from the kernel's coordinate-free
gradient coefficients (``spec.coefficients``), in the family's own variables:

* isotropic ``g(r)``: ``grad_x k = A(r)(x - x')`` so ``R_k(r) = A(r)^2 r^2 / g(r)^2``;
* invariant / dot-product ``phi(a, b, u)`` with ``a = |x0|^2``, ``b = |zeta|^2``,
  ``u = x0 . zeta``: ``grad_x k = 2 phi_a x0 + phi_u zeta`` so
  ``R_k = (4 phi_a^2 a + 4 phi_a phi_u u + phi_u^2 b) / phi^2``.

Kernels that are not differentiable on the diagonal (Laplace, ReLU NTK) are *not*
excluded: the spike is evaluated at ``x0 != zeta`` where they are differentiable (the
exact-clone Gram needs no derivative at all).
"""

from __future__ import annotations

import sympy as sp

from derivations import prediction_shift as ps
from derivations.claims import claim_by_slug
from derivations.kernels import KernelSpec, a, b, get_spec, iter_specs, r, u

CLAIM = claim_by_slug("rank_one_spike")

__all__ = [
    "CLAIM",
    "R_k",
    "R_k_table",
    "grad_norm_sq",
    "spike_eigen",
    "rank_one_proof",
    "general_spike_proof",
    "Dk", "Gk", "bm",
]

Dk = sp.Symbol(r"\Delta f", real=True)
Gk = sp.Symbol(r"|\nabla_x \tilde{k}|", nonnegative=True)  #: |grad_x k~(x0, zeta)|
bm = sp.Symbol("b_m", real=True)  #: (y_t - f_C(zeta)) S~(m; c)


def grad_norm_sq(spec: KernelSpec | str) -> sp.Expr:
    """``|grad_x k(x0, zeta)|^2`` in the family variables, from ``spec.coefficients``."""
    spec = get_spec(spec) if isinstance(spec, str) else spec
    t = spec.coefficients.terms
    if spec.family == "isotropic":
        return t["A"] ** 2 * r**2
    pa, pu = t["phi_a"], t["phi_u"]
    return 4 * pa**2 * a + 4 * pa * pu * u + pu**2 * b


def R_k(spec: KernelSpec | str, simplify: bool = True) -> sp.Expr:
    """``R_k = |grad_x k(x0, zeta)|^2 / k(x0, zeta)^2 = |grad_x log k|^2`` in the family
    variables (``r`` for isotropic kernels; ``a = |x0|^2``, ``b = |zeta|^2``, ``u``
    otherwise)."""
    spec = get_spec(spec) if isinstance(spec, str) else spec
    kexpr = spec.expr if spec.family == "isotropic" else spec.invariant_expr()
    expr = grad_norm_sq(spec) / kexpr**2
    if simplify and spec.family != "invariant":  # simplify is slow on arc-cosine forms
        expr = sp.simplify(expr)
    return expr


def R_k_table() -> dict[str, sp.Expr]:
    """``R_k`` for every registered kernel."""
    return {spec.name: R_k(spec) for spec in iter_specs()}


def spike_eigen(d: int = 3) -> dict[str, sp.Expr]:
    """The spike for a generic gradient in ``R^d``: ``grad Delta f = b g`` with symbols
    ``g = (g_1..g_d)``; returns the GN matrix, its eigenvalue ``b^2 |g|^2``, the
    eigenvector ``g`` and ``R Delta f^2`` with ``Delta f = b k~0`` (equal to it)."""
    g = sp.Matrix(sp.symbols(f"g1:{d + 1}", real=True))
    k0 = sp.Symbol(r"\tilde{k}_0", nonzero=True, real=True)
    GN = (bm * g) * (bm * g).T
    lam = bm**2 * (g.T * g)[0, 0]
    R = (g.T * g)[0, 0] / k0**2
    return {"GN": GN, "eigenvalue": lam, "eigenvector": g,
            "R_times_shift_sq": R * (bm * k0) ** 2}


def rank_one_proof(d: int = 3) -> dict[str, sp.Expr]:
    """Proof objects: ``GN g - lambda g`` (zero vector), ``rank(GN)`` (1 for ``g != 0``),
    ``GN v`` for every ``v`` orthogonal to ``g`` (zero), ``lambda - R Delta f^2`` (zero)."""
    s = spike_eigen(d)
    g, GN = s["eigenvector"], s["GN"]
    # a basis of g's orthogonal complement: e_1 g_j - e_j g_1 (j >= 2), valid for g_1 != 0
    orth = [sp.Matrix([g[j] if i == 0 else (-g[0] if i == j else 0) for i in range(d)])
            for j in range(1, d)]
    return {
        "eigen_residual": sp.simplify(GN * g - s["eigenvalue"] * g),
        "rank": GN.subs({g[i]: i + 2 for i in range(d)}).subs(bm, 3).rank(),
        "orth_images": [sp.simplify(GN * v) for v in orth],
        "eigenvalue_minus_R_shift_sq": sp.simplify(s["eigenvalue"] - s["R_times_shift_sq"]),
    }


def general_spike_proof() -> dict:
    """The spike in general (symbolic ``n``, ``m`` and ``d``), from C2's block elimination.

    1. The derived shift ``f_P(x) - f_C(x)``
       (:func:`derivations.prediction_shift.block_elimination`, ``MatrixSymbol`` s of
       symbolic size) depends on ``x`` through ``k(x, zeta)``,
       ``p0 = k_C(x)^T A^{-1} k_C(zeta)`` and ``f_C(x)`` only; with
       ``k(x, zeta) = k~(x, zeta) + p0`` substituted, ``x_symbols_left`` (the x-dependent
       symbols that remain) must be empty and the shift must be linear in ``k~``
       (``linear_in_kt``: ``shift - k~ d shift / d k~``, must be 0) with a factor ``b_m``
       free of ``x`` (``b_has_x`` False).
    2. With ``k~`` a function of one coordinate ``x_i`` (any of the ``d``),
       ``partial_residual = d_i shift - b_m d_i k~`` (must be 0).
    3. ``g = grad k~`` a ``MatrixSymbol`` ``d x 1`` (``d`` symbolic), ``GN = b_m^2 g g^T``:
       ``eigen_residual = GN g - g (b_m^2 g^T g)`` and, for any ``v`` (``MatrixSymbol``),
       ``image_residual = GN v - g (b_m^2 g^T v)`` (both must be zero matrices: rank one,
       eigenvector ``g``, eigenvalue ``b_m^2 |g|^2``).
    4. ``eigenvalue_minus_R_shift_sq = b_m^2 |g|^2 - R_k~ shift^2`` with
       ``R_k~ = |g|^2 / k~^2`` (must be 0).
    """
    der = ps.block_elimination()
    kxz = next(sym for sym in der["shift_raw"].free_symbols if sym.name == "k(x,zeta)")
    fCx = sp.Symbol("f_C(x)")
    x_dependent = {kxz, ps.p0, fCx}
    shift = sp.simplify(der["shift_raw"].subs(kxz, ps.kt0 + ps.p0))
    b_m = sp.simplify(sp.diff(shift, ps.kt0))
    xi = sp.Symbol("x_i", real=True)
    kt_fn = sp.Function("ktilde")(xi)
    partial = sp.diff(shift.subs(ps.kt0, kt_fn), xi) - b_m * sp.diff(kt_fn, xi)
    d = sp.Symbol("d", integer=True, positive=True)
    g = sp.MatrixSymbol("g", d, 1)
    v = sp.MatrixSymbol("v", d, 1)
    GN = b_m**2 * g * g.T
    eigen = sp.simplify(sp.expand(GN * g - g * (b_m**2 * g.T * g)))
    image = sp.simplify(sp.expand(GN * v - g * (b_m**2 * g.T * v)))
    lam = b_m**2 * Gk**2
    R_tilde = Gk**2 / ps.kt0**2
    return {
        "shift": shift,
        "b_m": b_m,
        "x_symbols_left": shift.free_symbols & x_dependent,
        "linear_in_kt": sp.simplify(shift - ps.kt0 * b_m),
        "b_has_x": bool(b_m.free_symbols & (x_dependent | {ps.kt0})),
        "partial_residual": sp.simplify(partial),
        "eigen_residual": eigen,
        "image_residual": image,
        "eigenvalue_minus_R_shift_sq": sp.simplify(lam - R_tilde * shift**2),
    }
