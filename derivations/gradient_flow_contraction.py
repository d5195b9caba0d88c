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
  (:func:`non_eigen_counterexample`, exact);
* **with the data term**: the flow converges to the minimiser of ``J`` where generically
  ``v^T g* != 0``, so ``E_v(t) -> (v^T g*)^2 > 0`` and the exponential bound fails for
  ``t > log(E_v(0)/E_v(oo)) / (2 kappa alpha)`` -- immediately if ``E_v(0) < E_v(oo)``
  (:func:`scalar_model`, exact closed form).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import kappa

CLAIM = claim_by_slug("gradient_flow_contraction")

__all__ = [
    "CLAIM",
    "t",
    "eigenmode_solution",
    "subspace_gronwall",
    "non_eigen_counterexample",
    "scalar_model",
]

t = sp.Symbol("t", nonnegative=True)
mu = sp.Symbol("mu", positive=True)
alpha_s = sp.Symbol("alpha", positive=True)


@cache
def eigenmode_solution() -> dict:
    """Solve ``e' = -kappa mu e`` (``e = v^T g``, ``v`` an eigenvector, no data term)."""
    e = sp.Function("e")
    e0 = sp.Symbol("e_0", real=True)
    sol = sp.dsolve(sp.Eq(e(t).diff(t), -kappa * mu * e(t)), e(t), ics={e(0): e0}).rhs
    E = sp.simplify(sol**2)
    bound = e0**2 * sp.exp(-2 * kappa * mu * t)
    return {"e": sol, "E": E, "ratio_to_bound": sp.simplify(E / bound)}


def subspace_gronwall() -> dict:
    """``d/dt |P g|^2 = -2 kappa (Pg)^T Theta (Pg) <= -2 kappa alpha |P g|^2`` (``P`` the
    spectral projector of ``Theta`` on eigenvalues ``>= alpha``, which commutes with
    ``Theta``), hence ``|P g(t)|^2 <= exp(-2 kappa alpha t) |P g(0)|^2`` (Gronwall).
    Checked here on a diagonal ``Theta = diag(mu_1, mu_2)`` with ``P`` = first coordinate."""
    m1, m2 = sp.symbols("mu_1 mu_2", positive=True)
    g1, g2 = sp.symbols("g_1 g_2", real=True)
    sol1 = g1 * sp.exp(-kappa * m1 * t)
    E_P = sol1**2
    bound = g1**2 * sp.exp(-2 * kappa * alpha_s * t)
    gap = sp.simplify(bound - E_P)  # >= 0 when mu_1 >= alpha
    del m2, g2
    return {"E_P": E_P, "bound": bound, "gap": gap,
            "gap_at_mu_eq_alpha": sp.simplify(gap.subs(m1, alpha_s))}


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
    return {"E_v": E, "dE_dt_at_0": dE0, "alpha": alpha_v,
            "example": {eps: sp.Rational(1, 10), a_: sp.Rational(1, 2)},
            "dE_dt_example": dE0.subs({eps: sp.Rational(1, 10), a_: sp.Rational(1, 2)})}


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
    bound = (b_ * w0) ** 2 * sp.exp(-2 * kappa * b_**2 * t)
    return {"w": sol, "E": E, "E_inf": E_inf, "bound": bound, "w_star": w_star,
            "initial_check": sp.simplify(E.subs(t, 0) - (b_ * w0) ** 2),
            "symbols": (a_, b_, y_, w0)}
