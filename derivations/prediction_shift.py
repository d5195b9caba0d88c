"""C2 -- the prediction shift of a clone cluster, as stated and exactly.

As stated (paper Thm 3.3, "tight cluster and dominance": ``K_PP = k_zeta 1 1^T`` and the
clean-poison coupling neglected)::

    Delta f(x0) = k(x0, zeta) y_t S(m; c).

Exact (our derivation, no dominance assumption, exact clones).  Order the training set
as clean ``C`` (``n`` points) then the ``m`` clones.  With ``A = K_CC + c I``,
``k_z = k_C(zeta)``, ``k_x = k_C(x)`` the poisoned system is::

    [ A          k_z 1^T              ] [alpha_C]   [ y_C   ]
    [ 1 k_z^T    k_zeta 1 1^T + c I_m ] [alpha_P] = [ y_t 1 ].

It is symmetric positive definite, hence has one solution; it is invariant under
permutations of the clones, so ``alpha_P = beta 1``.  Block elimination
(:func:`block_elimination`, with SymPy ``MatrixSymbol`` s of symbolic size ``n``) gives
``beta = (y_t - f_C(zeta)) / (c + m k~(zeta, zeta))`` and::

    Delta f(x) = k~(x, zeta) (y_t - f_C(zeta)) m / (c + m k~(zeta, zeta)),
    k~(x, x') = k(x, x') - k_C(x)^T A^{-1} k_C(x')      (the conditional kernel),

with ``f_C`` the fit on the clean data alone with the same ``c``.  The stated formula is
the special case ``k_C(zeta) = 0`` and ``k_C(x0) = 0`` (:func:`dominance_limit`).

The error of the exact-clone formula for a *spread* cluster ``zeta + sigma u_j`` is not
derived in closed form here; it is measured against ``sigma / ell`` by the checks and the
book page (see ``proofs_check/test_prediction_shift.py``).
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, k_zeta, m, y_t
from derivations.scalar_gain import gain_in

CLAIM = claim_by_slug("prediction_shift")

__all__ = [
    "CLAIM",
    "k0", "kt0", "ktz", "f_Cz", "p0", "q_z", "beta",
    "dominance_shift",
    "exact_shift",
    "exact_gain",
    "block_elimination",
    "explicit_block_check",
    "dominance_limit",
    "exact_minus_dominance",
]

k0 = sp.Symbol("k_0", real=True)  #: k(x0, zeta)
kt0 = sp.Symbol(r"\tilde{k}_0", real=True)  #: k~(x0, zeta)
ktz = sp.Symbol(r"\tilde{k}_\zeta", nonnegative=True)  #: k~(zeta, zeta) >= 0 (Schur complement)
f_Cz = sp.Symbol(r"f_C(\zeta)", real=True)  #: clean fit at the trigger
p0 = sp.Symbol("p_0", real=True)  #: k_C(x0)^T A^{-1} k_C(zeta)
q_z = sp.Symbol("q_zeta", nonnegative=True)  #: k_C(zeta)^T A^{-1} k_C(zeta)
beta = sp.Symbol("beta", real=True)  #: common dual weight of the clones


def dominance_shift() -> sp.Expr:
    """The paper's ``Delta f(x0) = k(x0, zeta) y_t S(m; c)``."""
    return k0 * y_t * gain_in(m, c, k_zeta)


def exact_gain() -> sp.Expr:
    """``S~(m; c) = m / (c + m k~(zeta, zeta))``: C1's gain with the conditional kernel."""
    return gain_in(m, c, ktz)


def exact_shift() -> sp.Expr:
    """``Delta f(x0) = k~(x0, zeta) (y_t - f_C(zeta)) m / (c + m k~(zeta, zeta))``."""
    return kt0 * (y_t - f_Cz) * exact_gain()


def block_elimination() -> dict[str, sp.Expr]:
    """Derive the exact shift by block elimination with matrices of symbolic size ``n``.

    Returns ``alpha_C`` (in terms of ``beta``), the poison-row equation in scalars,
    ``beta`` solved from it, the residual of the clean block rows (a zero matrix), and
    ``shift`` (``f_P(x) - f_C(x)`` with ``k~`` and ``f_C(zeta)`` substituted), which
    equals :func:`exact_shift` with ``x = x0``.
    """
    n = sp.Symbol("n", integer=True, positive=True)
    A = sp.MatrixSymbol("A", n, n)  # K_CC + c I, symmetric positive definite
    kz = sp.MatrixSymbol("k_zeta_C", n, 1)
    kx = sp.MatrixSymbol("k_x_C", n, 1)
    yC = sp.MatrixSymbol("y_C", n, 1)
    kxz = sp.Symbol("k(x,zeta)", real=True)
    # clean rows: A alpha_C + k_z (1^T alpha_P) = y_C with 1^T alpha_P = m beta
    alpha_C = A.I * (yC - m * beta * kz)
    clean_residual = sp.expand(A * alpha_C + m * beta * kz - yC)
    # each poison row: k_z^T alpha_C + k_zeta (1^T alpha_P) + c beta = y_t
    row = (kz.T * alpha_C)
    row = sp.expand(row)
    # name the 1x1 clean quantities: f_C(zeta) = k_z^T A^{-1} y_C, q = k_z^T A^{-1} k_z
    # (A symmetric, so y_C^T A^{-1} k_z = k_z^T A^{-1} y_C)
    named = {(kz.T * A.I * yC): sp.Matrix([[f_Cz]]), (kz.T * A.I * kz): sp.Matrix([[q_z]])}
    row_scalar = _scalarise(row, named, m, beta)
    poison_eq = sp.Eq(row_scalar + k_zeta * m * beta + c * beta, y_t)
    beta_sol = sp.solve(poison_eq, beta)[0]
    # f_P(x) - f_C(x) = k_x^T alpha_C + k(x, zeta) m beta - k_x^T A^{-1} y_C
    named_x = {(kx.T * A.I * yC): sp.Matrix([[sp.Symbol("f_C(x)")]]),
               (kx.T * A.I * kz): sp.Matrix([[p0]])}
    diff = _scalarise(sp.expand(kx.T * alpha_C), named_x, m, beta) + kxz * m * beta \
        - sp.Symbol("f_C(x)")
    shift = sp.factor(sp.expand(diff.subs(beta, beta_sol)))
    return {
        "alpha_C": alpha_C,
        "clean_residual": clean_residual,
        "poison_row": poison_eq,
        "beta": sp.simplify(beta_sol),
        "shift_raw": shift,
        # substitute k~(x, zeta) = k(x, zeta) - p0, k~(zeta, zeta) = k_zeta - q
        "shift": sp.simplify(shift.subs({kxz: kt0 + p0, k_zeta: ktz + q_z})),
    }


def _scalarise(expr, named: dict, mm, bb) -> sp.Expr:
    """Turn a sum of 1x1 matrix products into a scalar using the named 1x1 blocks."""
    total = sp.Integer(0)
    terms = expr.args if isinstance(expr, sp.MatAdd) else (expr,)
    for t in terms:
        coeff, mat = t.as_coeff_mmul()
        rest = sp.Integer(1)
        mats = []
        for f in mat.args if isinstance(mat, sp.MatMul) else (mat,):
            if getattr(f, "is_Matrix", False) or isinstance(f, sp.MatrixExpr):
                mats.append(f)
            else:
                rest *= f
        key = sp.MatMul(*mats).doit() if len(mats) > 1 else mats[0]
        hit = None
        for k, v in named.items():
            if sp.simplify(key - k) == sp.ZeroMatrix(1, 1) or key == k:
                hit = v[0, 0]
        if hit is None:
            raise ValueError(f"unnamed 1x1 block {key}")
        total += coeff * rest * hit
    return total


def explicit_block_check(n_clean: int, n_poison: int, seed: int | None = None) -> sp.Matrix:
    """Independent check with explicit matrices: solve the poisoned system of ``n_clean``
    clean points and ``n_poison`` clones by ``LUsolve`` and return
    ``f_P(x) - f_C(x) - exact_shift`` (must simplify to 0).

    ``seed=None``: every Gram entry, label, ``c``, ``k_zeta`` and ``y_t`` is a symbol
    (costly beyond ``2 + 2`` points); otherwise they are random exact rationals drawn with
    ``seed`` (exact arithmetic, any size)."""
    import random

    N, M = int(n_clean), int(n_poison)
    if N < 1 or M < 1:
        raise ValueError("need at least one clean point and one poison")
    if seed is None:
        def ent(name):
            return sp.Symbol(name, real=True)
        cc, kzz, yt = c, k_zeta, y_t
    else:
        rng = random.Random(seed)

        def ent(name):
            return sp.Rational(rng.randint(-40, 40), rng.randint(1, 20))
        cc, kzz, yt = (sp.Rational(rng.randint(1, 40), rng.randint(1, 20)),
                       sp.Rational(rng.randint(1, 40), 7), ent("y_t"))
    Kd = {}
    K = sp.Matrix(N, N, lambda i, j: Kd.setdefault((min(i, j), max(i, j)), ent(f"K_{i}{j}")))
    kz = sp.Matrix(N, 1, lambda i, _: ent(f"kz_{i}"))
    kx = sp.Matrix(N, 1, lambda i, _: ent(f"kx_{i}"))
    yC = sp.Matrix(N, 1, lambda i, _: ent(f"y_{i}"))
    kxz = ent("kxz")
    ones = sp.ones(M, 1)
    top = K.row_join(kz * ones.T)
    bottom = (ones * kz.T).row_join(kzz * ones * ones.T)
    G = top.col_join(bottom) + cc * sp.eye(N + M)
    alpha = G.LUsolve(yC.col_join(yt * ones))
    fP = (kx.col_join(kxz * ones)).T * alpha
    A = K + cc * sp.eye(N)
    Ainv_kz = A.LUsolve(kz)
    fC = kx.T * A.LUsolve(yC)
    subs = {
        kt0: kxz - (kx.T * Ainv_kz)[0, 0],
        ktz: kzz - (kz.T * Ainv_kz)[0, 0],
        f_Cz: (kz.T * A.LUsolve(yC))[0, 0],
        m: M, c: cc, y_t: yt,
    }
    expected = exact_shift().subs(subs, simultaneous=True)
    return sp.simplify(sp.together(fP - fC - sp.Matrix([[expected]])))


def dominance_limit() -> sp.Expr:
    """``exact_shift`` with the coupling switched off (``p0 = q = f_C(zeta) = 0``, i.e.
    ``k~ = k``) minus the stated formula; simplifies to ``0``."""
    no_coupling = exact_shift().subs({kt0: k0, ktz: k_zeta, f_Cz: 0})
    return sp.simplify(no_coupling - dominance_shift())


def exact_minus_dominance() -> sp.Expr:
    """``exact - stated`` in raw quantities (``k~0 = k0 - p0``, ``k~_zeta = k_zeta - q``):
    the error of the dominance formula, zero exactly when the coupling terms vanish."""
    raw = exact_shift().subs({kt0: k0 - p0, ktz: k_zeta - q_z})
    return sp.factor(sp.simplify(raw - dominance_shift()))
