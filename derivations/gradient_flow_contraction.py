"""C12: gradient flow on ``J`` and the decay of input-Fisher energy (linearised model).

Linearised model: parameters ``w in R^p``; per input ``x`` the prediction
``f(x; w) = f_0(x) + a(x)^T w`` and the loss's input gradient *linearised in w*,
``g(x; w) = g_0(x) + B(x) w`` with a constant Jacobian ``B(x) = d_w g`` (``d x p``).  Then
``J(w) = E[(f - y)^2]/2 + kappa/2 E|g|^2`` is quadratic and gradient flow
``w' = -E[a (f - y)] - kappa E[B^T g]`` is linear:

    ``g(x)' = -kappa E_x'[B(x) B(x')^T g(x')]  -  B(x) E_x'[a(x') (f(x') - y(x'))]``
              (penalty: contraction)              (data term: forcing)

Where the bound ``E_v(t) <= E_v(0) exp(-2 kappa alpha t)`` is exact / holds:

* single input (or the stacked operator ``Theta = B B^T`` over the inputs), **no data
  term**, ``v`` an eigenvector of ``Theta`` with eigenvalue ``mu >= alpha``:
  ``E_v(t) = E_v(0) exp(-2 kappa mu t)`` exactly (:func:`eigenmode_solution`); for the whole
  spectral subspace ``{mu >= alpha}`` the projected energy obeys the bound (Gronwall,
  :func:`subspace_gronwall`).

Where it does not:

* ``v`` **not an eigenvector** (only ``v^T B B^T v >= alpha``): the energy can grow
  (:func:`non_eigen_counterexample`, exact; the instance ``eps = 1/10``, ``a = 1/2`` is
  :data:`NON_EIGEN_INSTANCE`);
* **with the data term**: the flow converges to the minimiser of ``J`` where generically
  ``v^T g* != 0``, so ``E_v(t) -> (v^T g*)^2 > 0`` and the exponential bound fails for
  ``t > log(E_v(0)/E_v(oo)) / (2 kappa alpha)`` -- immediately if ``E_v(0) < E_v(oo)``
  (:func:`scalar_model`, exact closed form; at ``a = b = y = w0 = kappa = 1`` the bound
  fails at every ``t > 0``).

The bound itself is written once, :func:`stated_bound` (SymPy) and
:func:`stated_bound_numeric` (NumPy, generated from it); every check and the network
measurement compare with it instead of re-typing ``exp(-2 kappa alpha t)``.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import _real_array, _real_number, kappa

CLAIM = claim_by_slug("gradient_flow_contraction")

__all__ = [
    "CLAIM",
    "t",
    "E0",
    "alpha_s",
    "stated_bound",
    "stated_bound_numeric",
    "eigenmode_solution",
    "subspace_gronwall",
    "non_eigen_counterexample",
    "scalar_model",
    "scalar_excess_set",
    "NON_EIGEN_INSTANCE",
    "SCALAR_INSTANCE",
]

t = sp.Symbol("t", nonnegative=True)
mu = sp.Symbol("mu", positive=True)
alpha_s = sp.Symbol("alpha", positive=True)
E0 = sp.Symbol("E_0", nonnegative=True)  #: E_v(0)


def stated_bound() -> sp.Expr:
    """The claim's bound as stated, ``E_v(0) exp(-2 kappa alpha t)`` (symbols :data:`E0`,
    :data:`~derivations.conventions.kappa`, :data:`alpha_s`, :data:`t`)."""
    return E0 * sp.exp(-2 * kappa * alpha_s * t)


@cache
def _bound_fn():
    import numpy as np  # noqa: F401  (lambdify's module)

    return sp.lambdify((E0, kappa, alpha_s, t), stated_bound(), "numpy")


def stated_bound_numeric(E_0, kap, alpha, times):
    """:func:`stated_bound` evaluated with NumPy (broadcasting over its arguments)."""
    import numpy as np

    args = (_real_array(E_0, "E_0"), _real_number(kap, "kappa"), _real_array(alpha, "alpha"),
            _real_array(times, "times"))
    try:
        np.broadcast_shapes(args[0].shape, args[2].shape, args[3].shape)
    except ValueError:
        raise ValueError(f"E_0, alpha and times do not broadcast: shapes {args[0].shape}, "
                         f"{args[2].shape}, {args[3].shape}") from None
    with np.errstate(all="ignore"):
        out = _bound_fn()(*args)
    if not np.isfinite(out).all():
        raise ValueError("the stated bound overflows float64 at these inputs")
    return out


@cache
def eigenmode_solution() -> dict:
    """Solve ``e' = -kappa mu e`` (``e = v^T g``, ``v`` an eigenvector, no data term)."""
    e = sp.Function("e")
    e0 = sp.Symbol("e_0", real=True)
    sol = sp.dsolve(sp.Eq(e(t).diff(t), -kappa * mu * e(t)), e(t), ics={e(0): e0}).rhs
    E = sp.simplify(sol**2)
    bound = stated_bound().subs({E0: e0**2, alpha_s: mu})
    return {"e": sol, "E": E, "bound": bound, "ratio_to_bound": sp.simplify(E / bound),
            "symbols": (e0, mu)}


@cache
def subspace_gronwall(k: int = 3) -> dict:
    """Grönwall on the spectral subspace ``{mu >= alpha}`` of ``Theta`` (no data term), in
    the eigenbasis of ``Theta``, for ``k`` modes with eigenvalues ``mu_i = alpha + delta_i``
    (``delta_i >= 0``) and initial coordinates ``c_i``.

    Each coordinate follows the eigenmode solution (:func:`eigenmode_solution`, ``dsolve``):
    ``c_i(t) = c_i exp(-kappa mu_i t)``.  With ``E_P(t) = sum_i c_i(t)^2`` and
    ``F(t) = E_P(t) exp(2 kappa alpha t)``: ``F(0) = E_P(0)`` and
    ``F'(t) = -2 kappa sum_i delta_i c_i(t)^2 exp(2 kappa alpha t) <= 0`` (SymPy decides the
    sign from the assumptions), so ``F(t) <= F(0)``, i.e. ``E_P(t) <= E_P(0) exp(-2 kappa
    alpha t)`` = :func:`stated_bound`.  Returned: ``dF_dt`` (simplified), its sign as SymPy
    decides it, ``F(0) - E_P(0)`` and the gap ``bound - E_P`` at ``delta = 0`` (equality)."""
    em = eigenmode_solution()
    e0, mu_ = em["symbols"]
    deltas = sp.symbols(f"delta_1:{k + 1}", nonnegative=True)
    cs = sp.symbols(f"c_1:{k + 1}", real=True)
    coords = [em["e"].subs({e0: ci, mu_: alpha_s + di}) for ci, di in zip(cs, deltas,
                                                                          strict=True)]
    E_P = sum(ci**2 for ci in coords)
    E_P0 = sum(ci**2 for ci in cs)
    F = E_P * sp.exp(2 * kappa * alpha_s * t)
    dF = sp.simplify(sp.expand(sp.diff(F, t)))
    bound = stated_bound().subs(E0, E_P0)
    return {"k": k, "E_P": E_P, "bound": bound, "dF_dt": dF,
            "dF_dt_nonpositive": dF.is_nonpositive,
            "F0_minus_E0": sp.simplify(F.subs(t, 0) - E_P0),
            "gap_at_delta_0": sp.simplify((bound - E_P).subs({d: 0 for d in deltas}))}


#: the pinned non-eigenvector instance: ``Theta = diag(1, eps)``, ``g(0) = (-a, 1)``,
#: ``v = (1, 1)/sqrt 2``
NON_EIGEN_INSTANCE = {"eps": sp.Rational(1, 10), "a": sp.Rational(1, 2)}
#: the pinned scalar instance with the data term
SCALAR_INSTANCE = {"a": 1, "b": 1, "y": 1, "w_0": 1, "kappa": 1}


@cache
def non_eigen_counterexample() -> dict:
    """``Theta = diag(1, eps)``, ``v = (1, 1)/sqrt 2`` (``v^T Theta v = (1 + eps)/2 =: alpha``),
    ``g(0) = (-a, 1)``: ``dE_v/dt`` at 0 is ``kappa (1 - a)(a - eps) > 0`` for
    ``eps < a < 1`` -- the energy grows, so no decaying bound can hold."""
    eps, a_ = sp.symbols("epsilon a", positive=True)
    g = sp.Matrix([-a_ * sp.exp(-kappa * t), sp.exp(-kappa * eps * t)])
    v = sp.Matrix([1, 1]) / sp.sqrt(2)
    E = sp.expand((v.T * g)[0] ** 2)
    dE0 = sp.factor(sp.diff(E, t).subs(t, 0))
    alpha_v = sp.simplify((v.T * sp.diag(1, eps) * v)[0])
    ex = {eps: NON_EIGEN_INSTANCE["eps"], a_: NON_EIGEN_INSTANCE["a"]}
    return {"E_v": E, "dE_dt_at_0": dE0, "alpha": alpha_v, "symbols": (eps, a_),
            "example": ex, "dE_dt_example": dE0.subs(ex), "alpha_example": alpha_v.subs(ex),
            "E_v0_example": E.subs(ex).subs(t, 0)}


@cache
def scalar_model() -> dict:
    """Scalar model with the data term: ``f = a w``, ``g = b w``, label ``y``,
    ``J = (a w - y)^2/2 + kappa b^2 w^2 / 2``.  Exact flow, energy and its limit; the bound
    (``alpha = b^2``) fails for large ``t`` whenever ``a y != 0``."""
    a_, b_, y_, w0 = sp.symbols("a b y w_0", real=True)
    w = sp.Function("w")
    ode = sp.Eq(w(t).diff(t), -a_ * (a_ * w(t) - y_) - kappa * b_**2 * w(t))
    sol = sp.simplify(sp.dsolve(ode, w(t), ics={w(0): w0}).rhs)
    E = sp.simplify((b_ * sol) ** 2)
    w_star = a_ * y_ / (a_**2 + kappa * b_**2)
    E_inf = sp.simplify((b_ * w_star) ** 2)
    bound = stated_bound().subs({E0: (b_ * w0) ** 2, alpha_s: b_**2})
    return {"w": sol, "E": E, "E_inf": E_inf, "bound": bound, "w_star": w_star,
            "initial_check": sp.simplify(E.subs(t, 0) - (b_ * w0) ** 2),
            "symbols": (a_, b_, y_, w0)}


def _scalar_values() -> dict:
    a_, b_, y_, w0 = scalar_model()["symbols"]
    v = SCALAR_INSTANCE
    return {a_: v["a"], b_: v["b"], y_: v["y"], w0: v["w_0"], kappa: v["kappa"]}


def scalar_excess_set(bound: sp.Expr | None = None) -> sp.Set:
    """The times ``t > 0`` at which the bound is *not* violated in the pinned scalar
    instance (:data:`SCALAR_INSTANCE`): ``{t > 0 : E(t) <= bound(t)}``, solved by SymPy's
    ``solveset`` at finite ``t``.  ``bound`` defaults to the claim's bound
    (:func:`stated_bound` with ``E_0 = (b w_0)^2``, ``alpha = b^2``); the empty set means
    the bound fails at every ``t > 0``."""
    sm = scalar_model()
    vals = _scalar_values()
    b = sm["bound"] if bound is None else bound
    excess = sp.simplify((sm["E"] - b).subs(vals))
    ts = sp.Symbol("t_s", real=True)
    return sp.solveset(sp.Le(excess.subs(t, ts), 0), ts, sp.Interval.open(0, sp.oo))
