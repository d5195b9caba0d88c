"""C11: the gradient penalty in the Fourier domain; effective spectral density, kernel and
length scale.

Model (exact in this idealisation): regularised least squares with the RKHS norm of a
stationary kernel with spectral density ``S(omega)`` (``k(r) = int S(omega) e^{i omega.r}
domega / (2 pi)^d``) plus a gradient penalty integrated against the *Lebesgue* measure,
``c/2 |f|_H^2 + kappa/2 int grad f^T A grad f dx``.  By Parseval the regulariser has symbol
``c (1/S(omega) + kappa' omega^T A omega)`` with ``kappa' = kappa / c``, i.e. the problem is
KRR with ridge ``c`` and the *effective* kernel of spectral density

    ``S_eff = 1 / (1/S + kappa' omega^T A omega) = S / (1 + kappa' omega^T A omega S)``

(a penalty growing like ``|omega|^2``: a high-pass *penalty*, so a low-pass estimator).  A
penalty averaged over data of density ``p`` is this only where ``p`` is ~ constant (then
``kappa`` is multiplied by ``p``); otherwise the penalty is not diagonal in Fourier space.

Effective length scale (three readings, all derived below):

* **Laplace (exponential) kernel, d = 1 -- exact.**  ``S = 2 ell / (1 + ell^2 omega^2)`` and
  ``S_eff = 2 ell / (1 + (ell^2 + 2 ell kappa') omega^2)``: ``k_eff(r) = (ell/ell_eff)
  exp(-|r|/ell_eff)`` with ``ell_eff^2 = ell^2 + 2 ell kappa'`` for every ``kappa`` (the law
  ``ell_eff^2 = ell^2 + c kappa`` holds exactly, ``c = 2 ell / c_ridge``, amplitude
  ``ell/ell_eff``).  In ``d > 1`` (``S ~ (1 + ell^2|omega|^2)^{-(d+1)/2}``) it is not exact.
* **Gaussian kernel -- low-frequency law, exact and linear in kappa.**  Defining
  ``ell_LF^2 = 2 d/d|omega|^2 log(1/S_eff)`` at ``omega = 0`` (the Gaussian of the same
  low-frequency curvature) gives ``ell_LF^2 = ell^2 + 2 kappa' (2 pi ell^2)^{d/2}``; with a
  data metric ``A`` the matrix ``Lambda_eff = ell^2 I + 2 kappa' (2 pi ell^2)^{d/2} A``.
  But ``k_eff`` is *not* a Gaussian for any ``kappa > 0``.
* **Gaussian kernel -- curvature at r = 0.**  ``ell_curv^2 = -k_eff(0)/k_eff''(0)`` is
  ``ell^2 + (sqrt(pi)/4) ell kappa' + O(kappa'^2)`` in ``d = 1`` (a different constant).
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from derivations.claims import claim_by_slug
from derivations.conventions import c, kappa

CLAIM = claim_by_slug("high_pass_filter")

__all__ = [
    "CLAIM",
    "omega",
    "ell",
    "kappa_rel",
    "s_freq",
    "spectral_density_1d",
    "laplace_density_3d",
    "gaussian_density",
    "effective_density",
    "laplace_exact",
    "gaussian_lowfreq_length",
    "gaussian_anisotropic",
    "gaussian_curvature_length",
    "laplace_3d_lowfreq_length",
]

omega = sp.Symbol("omega", positive=True)
ell = sp.Symbol("ell", positive=True)
x = sp.Symbol("x", real=True)
rr = sp.Symbol("r", positive=True)
#: kappa' = kappa / c, the penalty relative to the ridge
kappa_rel = sp.Symbol("kappa'", nonnegative=True)
#: s = |omega|^2
s_freq = sp.Symbol("s", nonnegative=True)
d_sym = sp.Symbol("d", positive=True, integer=True)

KAPPA_REL_DEFINITION = sp.Eq(kappa_rel, kappa / c)


@cache
def spectral_density_1d(name: str) -> sp.Expr:
    """``S(omega) = int k(x) cos(omega x) dx`` of a registry kernel in ``d = 1`` (SymPy
    integral of the registry expression; ``omega > 0``)."""
    from derivations.kernels import get_spec, r

    spec = get_spec(name)
    if spec.family != "isotropic":
        raise ValueError(f"kernel {name!r} is not stationary (isotropic); no spectral density")
    g = spec.expr.subs(spec.params[0].symbol, ell) if spec.params else spec.expr
    val = 2 * sp.integrate(g.subs(r, x) * sp.cos(omega * x), (x, 0, sp.oo), conds="none")
    return sp.simplify(val)


@cache
def laplace_density_3d() -> sp.Expr:
    """Radial Fourier transform in ``d = 3``: ``S = 4 pi/omega int r k(r) sin(omega r) dr``."""
    val = 4 * sp.pi / omega * sp.integrate(rr * sp.exp(-rr / ell) * sp.sin(omega * rr),
                                           (rr, 0, sp.oo), conds="none")
    return sp.simplify(val)


def gaussian_density(d=d_sym) -> sp.Expr:
    """``(2 pi ell^2)^{d/2} exp(-ell^2 s / 2)`` (product of ``d`` one-dimensional transforms;
    ``d = 1`` checked against :func:`spectral_density_1d`), as a function of ``s = |omega|^2``."""
    return (2 * sp.pi * ell**2) ** (sp.sympify(d) / 2) * sp.exp(-(ell**2) * s_freq / 2)


def effective_density(S: sp.Expr, penalty_symbol: sp.Expr = None) -> sp.Expr:
    """``S / (1 + kappa' q S)`` with ``q = omega^T A omega`` (default ``q = s = |omega|^2``)."""
    q = s_freq if penalty_symbol is None else penalty_symbol
    return S / (1 + kappa_rel * q * S)


@cache
def laplace_exact() -> dict:
    """1-D Laplace: ``S_eff`` in closed form, ``ell_eff`` and the forward transform of the
    claimed ``k_eff`` (must equal ``S_eff``)."""
    S = spectral_density_1d("laplace")
    S_eff = sp.simplify(effective_density(S.subs(omega, sp.sqrt(s_freq))).subs(
        s_freq, omega**2))
    ell_eff = sp.sqrt(ell**2 + 2 * ell * kappa_rel)
    k_eff = ell / ell_eff * sp.exp(-x / ell_eff)
    L = sp.Symbol("L", positive=True)
    ft = 2 * sp.integrate((ell / L) * sp.exp(-x / L) * sp.cos(omega * x), (x, 0, sp.oo),
                          conds="none")
    ft = ft.subs(L, ell_eff)
    return {"S": S, "S_eff": S_eff, "ell_eff": ell_eff, "k_eff": k_eff,
            "difference": sp.simplify(sp.together(ft - S_eff))}


@cache
def gaussian_lowfreq_length(d=d_sym) -> dict:
    """``ell_LF^2 = 2 d/ds log(1/S_eff)`` at ``s = 0`` for the Gaussian in ``d`` dimensions."""
    S = gaussian_density(d)
    S_eff = effective_density(S)
    l2 = sp.simplify(2 * sp.diff(sp.log(1 / S_eff), s_freq).subs(s_freq, 0))
    return {"S": S, "S_eff": S_eff, "ell_LF_sq": l2,
            "constant": sp.simplify(sp.diff(l2, kappa_rel)),
            "second_derivative_in_kappa": sp.simplify(sp.diff(l2, kappa_rel, 2))}


@cache
def gaussian_anisotropic(d: int = 2) -> dict:
    """Data-metric penalty ``int grad f^T A grad f``: ``Lambda_eff = Hess_omega log(1/S_eff)``
    at 0 (times 1), for a generic symmetric ``A`` in ``d`` dimensions."""
    w = sp.symbols(f"w1:{d + 1}", real=True)
    A = sp.Matrix(d, d, lambda i, j: sp.Symbol(f"A_{min(i, j) + 1}{max(i, j) + 1}", real=True))
    wv = sp.Matrix(w)
    s = sum(wi**2 for wi in w)
    S = gaussian_density(d).subs(s_freq, s)
    S_eff = S / (1 + kappa_rel * (wv.T * A * wv)[0] * S)
    H = sp.hessian(sp.log(1 / S_eff), w).subs({wi: 0 for wi in w})
    H = sp.simplify(H)
    claimed = ell**2 * sp.eye(d) + 2 * kappa_rel * (2 * sp.pi * ell**2) ** sp.Rational(d, 2) * A
    return {"A": A, "Lambda_eff": H, "claimed": claimed,
            "difference": sp.simplify(H - claimed)}


@cache
def gaussian_curvature_length(order: int = 2) -> dict:
    """``ell_curv^2 = int S_eff / int omega^2 S_eff`` (d = 1) as a series in ``kappa'``."""
    w = sp.Symbol("w", real=True)
    S = gaussian_density(1).subs(s_freq, w**2)
    num, den = 0, 0
    for j in range(order + 1):
        term = (-kappa_rel) ** j * w ** (2 * j) * S ** (j + 1)  # S/(1 + k' w^2 S) expanded
        num += sp.integrate(term, (w, -sp.oo, sp.oo))
        den += sp.integrate(w**2 * term, (w, -sp.oo, sp.oo))
    ser = sp.series(num / den, kappa_rel, 0, order).removeO()
    ser = sp.expand(sp.simplify(ser))
    return {"series": ser, "constant": sp.simplify(ser.coeff(kappa_rel, 1))}


@cache
def laplace_3d_lowfreq_length() -> dict:
    """Laplace in ``d = 3``: the low-frequency law and the (non-)exactness of the form."""
    S = laplace_density_3d().subs(omega, sp.sqrt(s_freq))
    S_eff = effective_density(S)
    inv = sp.simplify(1 / S_eff)
    # same family would need 1/S_eff = C (1 + L^2 s)^2: compare the s-polynomial coefficients
    poly = sp.Poly(sp.expand(inv * 8 * sp.pi * ell**3), s_freq)
    # (1 + L^2 s)^2 = 1 + 2 L^2 s + ...: the family's length from the linear coefficient
    l2 = sp.simplify(sp.Rational(1, 2) * sp.diff(sp.log(inv), s_freq).subs(s_freq, 0))
    L2 = sp.Symbol("L^2", positive=True)
    # the same family needs coefficients proportional to (L^4, 2 L^2, 1): s^2 term mismatch
    mismatch = sp.simplify(poly.all_coeffs()[0] - l2**2)
    return {"S": S, "inv_S_eff": inv, "coefficients": poly.all_coeffs(), "ell_LF_sq": l2,
            "family_mismatch": mismatch, "L2": L2}
