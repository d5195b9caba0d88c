"""Outside references for the built-in kernels (test helper; imports nothing from the
project's kernel code).

* :func:`sklearn_gram` -- every stationary and dot-product built-in through
  scikit-learn's own implementation (``sklearn.gaussian_process.kernels`` and
  ``sklearn.metrics.pairwise``), mapped by the parameter conventions written out below.
* :func:`ntk_reference` -- the infinite-width NTK of a fully connected ReLU or erf
  network, written from the published recursion (Jacot, Gabriel & Hongler 2018; Arora et
  al. 2019, "On exact computation with an infinitely wide neural net") and evaluated in
  mpmath at :data:`DPS` digits.  The Gaussian expectations are the published closed forms:
  the arc-cosine kernels of Cho & Saul (2009) for ReLU and its derivative (the step
  function), and Williams' (1997) arcsine formula for erf, with ``E[erf'(z) erf'(z')]``
  from the Gaussian integral ``E[exp(-z^T z)] = det(I + 2 S)^(-1/2)``.
* :func:`gaussian_expectation_by_quadrature` -- the same expectations computed another
  way (conditioning on the first coordinate and integrating over it with ``mpmath.quad``),
  which checks the closed forms typed here against their definition.

Parametrisation of the NTK (the convention the project documents in
``derivations/ntk_kernels.py``, read there and re-derived here, not imported): NTK
parametrisation, every weight and bias N(0, 1), bias multiplier ``beta``, no input
scaling (``z^1 = W^1 x + beta b^1``), hidden layers ``z^{l+1} = h^{-1/2} W sigma(z^l) +
beta b``, linear readout ``f = h^{-1/2} v . sigma(z^L)`` without bias, all layers
trained.  Hence ``Sigma^1(x, x') = x.x' + beta^2`` and ``Theta^1 = Sigma^1`` (gradients
with respect to ``W^1`` and ``b^1``), and for each further layer and the readout the
usual NTK step ``Theta <- E[sigma sigma] (+ beta^2 for a hidden layer) + Theta *
E[sigma' sigma']``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import mpmath
import numpy as np
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    DotProduct,
    Matern,
    RationalQuadratic,
)
from sklearn.metrics.pairwise import linear_kernel, polynomial_kernel

__all__ = [
    "DPS",
    "SKLEARN_KERNELS",
    "NTK_KERNELS",
    "sklearn_gram",
    "sklearn_routes",
    "relu_expectations",
    "erf_expectations",
    "CONDITIONAL_MEANS",
    "FUNCTIONS",
    "gaussian_expectation_by_quadrature",
    "ntk_reference",
    "ntk_reference_gram",
    "first_layer_sin2",
]

#: working precision (decimal digits) of the mpmath reference
DPS = 40

# ---------------------------------------------------------------------------
# scikit-learn
# ---------------------------------------------------------------------------


def _matern(nu: float) -> Callable[..., object]:
    return lambda ell: Matern(length_scale=ell, nu=nu)


#: project kernel -> scikit-learn kernel object from the project's parameters.
#: gaussian  exp(-r^2 / (2 ell^2))            = RBF(length_scale=ell)
#: laplace   exp(-r / ell)                    = Matern(ell, nu=1/2)
#: matern32  (1 + sqrt3 r/ell) exp(-sqrt3 r/ell)               = Matern(ell, nu=3/2)
#: matern52  (1 + sqrt5 r/ell + 5 r^2/(3 ell^2)) exp(-sqrt5 r/ell) = Matern(ell, nu=5/2)
#: rational_quadratic (1 + r^2 / (2 alpha ell^2))^(-alpha) = RationalQuadratic(ell, alpha)
_GP_KERNELS: dict[str, Callable[..., object]] = {
    "gaussian": lambda ell: RBF(length_scale=ell),
    "laplace": _matern(0.5),
    "matern32": _matern(1.5),
    "matern52": _matern(2.5),
    "rational_quadratic": lambda ell, alpha: RationalQuadratic(length_scale=ell, alpha=alpha),
}


def _np(X) -> np.ndarray | None:
    return None if X is None else np.asarray(X, dtype=np.float64)


def sklearn_routes(name: str, params: dict) -> dict[str, Callable]:
    """Every scikit-learn route to kernel ``name`` at the project's ``params``: a dict
    ``route name -> f(X, Y=None)`` returning the Gram matrix as a float64 array (``Y=None``
    takes scikit-learn's own ``k(X, X)`` path)."""
    if name in _GP_KERNELS:
        args = [params["ell"]] + ([params["alpha"]] if name == "rational_quadratic" else [])
        kern = _GP_KERNELS[name](*args)
        return {repr(kern): lambda X, Y=None: kern(_np(X), _np(Y))}
    if name == "linear":
        dot = DotProduct(sigma_0=0.0)
        return {"linear_kernel": lambda X, Y=None: linear_kernel(_np(X), _np(Y)),
                repr(dot): lambda X, Y=None: dot(_np(X), _np(Y))}
    if name == "polynomial":
        g, c0, p = params["gamma"], params["c0"], params["p"]
        # (gamma u + c0)^p = gamma^p (u + c0/gamma)^p = ConstantKernel(gamma^p) * DotProduct(
        # sigma_0 = sqrt(c0/gamma))^p: an independent second route through the GP kernels
        gp = ConstantKernel(constant_value=g**p) * DotProduct(sigma_0=float(np.sqrt(c0 / g))) ** p
        return {f"polynomial_kernel(degree={p}, gamma={g}, coef0={c0})": lambda X, Y=None:
                polynomial_kernel(_np(X), _np(Y), degree=p, gamma=g, coef0=c0),
                repr(gp): lambda X, Y=None: gp(_np(X), _np(Y))}
    raise KeyError(f"no scikit-learn reference for kernel {name!r}")


#: the built-ins referenced through scikit-learn
SKLEARN_KERNELS = (*_GP_KERNELS, "linear", "polynomial")


def sklearn_gram(name: str, params: dict, X, Y=None) -> np.ndarray:
    """The Gram matrix of ``name`` by its first scikit-learn route."""
    return next(iter(sklearn_routes(name, params).values()))(X, Y)


# ---------------------------------------------------------------------------
# NTK recursions in mpmath
# ---------------------------------------------------------------------------

#: the built-in NTKs: name -> (activation, number of hidden layers)
NTK_KERNELS = {"ntk_relu": ("relu", 1), "ntk_erf": ("erf", 1),
               "ntk_relu_d2": ("relu", 2), "ntk_erf_d2": ("erf", 2)}


def relu_expectations(s11, s22, s12) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``(E[relu(z) relu(z')], E[step(z) step(z')])`` for centred Gaussian ``(z, z')`` with
    covariance ``[[s11, s12], [s12, s22]]``: half the arc-cosine kernels of Cho & Saul (2009),
    ``k_n = (1/pi) |x|^n |y|^n J_n(theta)``, ``J_0 = pi - theta``, ``J_1 = sin theta +
    (pi - theta) cos theta``, with the angle ``theta`` between the (virtual) features:
    ``cos theta = s12 / sqrt(s11 s22)``, here by ``atan2`` of the exact 2 x 2 minor."""
    s11, s22, s12 = mpmath.mpf(s11), mpmath.mpf(s22), mpmath.mpf(s12)
    det = s11 * s22 - s12**2
    det = max(det, mpmath.mpf(0))  # Cauchy-Schwarz; only rounding at DPS digits can go below
    theta = mpmath.atan2(mpmath.sqrt(det), s12)
    norm = mpmath.sqrt(s11 * s22)
    J0 = mpmath.pi - theta
    J1 = mpmath.sin(theta) + (mpmath.pi - theta) * mpmath.cos(theta)
    k0 = J0 / mpmath.pi
    k1 = norm * J1 / mpmath.pi
    return k1 / 2, k0 / 2


def erf_expectations(s11, s22, s12) -> tuple[mpmath.mpf, mpmath.mpf]:
    """``(E[erf(z) erf(z')], E[erf'(z) erf'(z')])`` for the same Gaussian pair: Williams
    (1997), ``(2/pi) arcsin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))``; and, with ``erf'(z) =
    (2/sqrt(pi)) exp(-z^2)``, ``(4/pi) E[exp(-z^2 - z'^2)] = (4/pi) det(I + 2 S)^(-1/2)``."""
    s11, s22, s12 = mpmath.mpf(s11), mpmath.mpf(s22), mpmath.mpf(s12)
    kk = 2 / mpmath.pi * mpmath.asin(2 * s12 / mpmath.sqrt((1 + 2 * s11) * (1 + 2 * s22)))
    det = (1 + 2 * s11) * (1 + 2 * s22) - (2 * s12) ** 2  # det(I + 2 S)
    kd = 4 / mpmath.pi / mpmath.sqrt(det)
    return kk, kd


_EXPECTATIONS = {"relu": relu_expectations, "erf": erf_expectations}


#: ``m, v -> E[g(Y)]`` for ``Y ~ N(m, v)``, ``v > 0``: one-dimensional Gaussian facts used by
#: :func:`gaussian_expectation_by_quadrature` (each checked against ``mpmath.quad`` of its
#: definition in the tests), keyed by the function ``g``
CONDITIONAL_MEANS: dict[str, Callable] = {
    # E[max(Y, 0)] = m Phi(m / s) + s phi(m / s), s = sqrt(v)
    "relu": lambda m, v: (m * mpmath.ncdf(m / mpmath.sqrt(v))
                          + mpmath.sqrt(v) * mpmath.npdf(m / mpmath.sqrt(v))),
    # E[1{Y > 0}] = Phi(m / s)
    "step": lambda m, v: mpmath.ncdf(m / mpmath.sqrt(v)),
    # E[erf(Y)] = erf(m / sqrt(1 + 2 v))
    "erf": lambda m, v: mpmath.erf(m / mpmath.sqrt(1 + 2 * v)),
    # E[erf'(Y)] = (2 / sqrt(pi)) E[exp(-Y^2)]
    #           = (2 / sqrt(pi)) exp(-m^2 / (1 + 2 v)) / sqrt(1 + 2 v)
    "erf_prime": lambda m, v: (2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-m**2 / (1 + 2 * v))
                               / mpmath.sqrt(1 + 2 * v)),
}

#: the functions themselves, same keys
FUNCTIONS: dict[str, Callable] = {
    "relu": lambda z: max(z, mpmath.mpf(0)),
    "step": lambda z: mpmath.mpf(1) if z > 0 else mpmath.mpf(0),
    "erf": mpmath.erf,
    "erf_prime": lambda z: 2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-(z**2)),
}


def gaussian_expectation_by_quadrature(g: str, s11, s22, s12) -> mpmath.mpf:
    """``E[g(z) g(z')]`` for ``g`` a key of :data:`FUNCTIONS`, by conditioning: ``z =
    sqrt(s11) t``, ``z' | z ~ N(m, v)`` with ``m = (s12 / s11) z`` and ``v = s22 - s12^2 /
    s11 > 0``, the inner expectation from :data:`CONDITIONAL_MEANS`, and the outer integral
    over ``t`` by ``mpmath.quad`` against the standard normal density, split at 0 (where
    ReLU and the step function have their kink)."""
    s11, s22, s12 = mpmath.mpf(s11), mpmath.mpf(s22), mpmath.mpf(s12)
    v = s22 - s12**2 / s11
    f, inner = FUNCTIONS[g], CONDITIONAL_MEANS[g]

    def integrand(t):
        z = mpmath.sqrt(s11) * t
        return f(z) * inner(s12 / s11 * z, v) * mpmath.npdf(t)

    return mpmath.quad(integrand, [-mpmath.inf, 0, mpmath.inf])


def _step(activation: str, state: tuple, beta, c_sigma, bias: bool) -> tuple:
    """One step of the NTK recursion: a hidden layer (``bias=True``) or the readout.
    ``state = (Sigma(x,x), Sigma(x',x'), Sigma(x,x'), Theta(x,x'))`` of the layer below."""
    s11, s22, s12, theta = state
    E12, Ed12 = _EXPECTATIONS[activation](s11, s22, s12)
    E11 = _EXPECTATIONS[activation](s11, s11, s11)[0]
    E22 = _EXPECTATIONS[activation](s22, s22, s22)[0]
    b2 = beta**2 if bias else 0
    sigma12 = c_sigma * E12 + b2
    return (c_sigma * E11 + b2, c_sigma * E22 + b2, sigma12,
            sigma12 + theta * c_sigma * Ed12)


def ntk_reference(activation: str, depth: int, beta, x: Sequence[float],
                  y: Sequence[float], *, dps: int = DPS, c_sigma=1,
                  output_bias: bool = False) -> mpmath.mpf:
    """The NTK ``Theta(x, y)`` of the network of the module docstring with ``depth`` hidden
    layers, at ``dps`` digits (the float inputs are exact binary numbers in mpmath).

    ``c_sigma`` (the variance of the weights after the first layer) and ``output_bias``
    (a readout bias of std ``beta``) exist for the negative controls only: the project's
    network has ``c_sigma = 1`` and no readout bias; Arora et al. (2019) write the ReLU
    recursion with ``c_sigma = 2``."""
    with mpmath.workdps(dps):
        beta = mpmath.mpf(beta)
        xs = [mpmath.mpf(float(v)) for v in x]
        ys = [mpmath.mpf(float(v)) for v in y]
        b2 = beta**2
        s12 = mpmath.fsum(p * q for p, q in zip(xs, ys, strict=True)) + b2
        state = (mpmath.fsum(v * v for v in xs) + b2, mpmath.fsum(v * v for v in ys) + b2,
                 s12, s12)  # Sigma^1 and Theta^1 = Sigma^1 (gradients in W^1 and b^1)
        for _ in range(depth - 1):
            state = _step(activation, state, beta, c_sigma, True)
        return +_step(activation, state, beta, c_sigma, output_bias)[3]


def ntk_reference_gram(activation: str, depth: int, beta, X, Y, **kw) -> np.ndarray:
    """:func:`ntk_reference` for every pair, rounded to float64 (``kw`` as there)."""
    X, Y = _np(X), _np(Y)
    return np.array([[float(ntk_reference(activation, depth, beta, x, y, **kw)) for y in Y]
                     for x in X])


def first_layer_sin2(beta, X, Y) -> np.ndarray:
    """``sin^2`` of the angle between the augmented inputs ``(x, beta)`` and ``(y, beta)``
    (the first layer's covariance), at :data:`DPS` digits, rounded to float64."""
    X, Y = _np(X), _np(Y)
    out = np.empty((len(X), len(Y)))
    with mpmath.workdps(DPS):
        b2 = mpmath.mpf(beta) ** 2
        for i, x in enumerate(X):
            for j, y in enumerate(Y):
                xs, ys = [mpmath.mpf(float(v)) for v in x], [mpmath.mpf(float(v)) for v in y]
                s11 = mpmath.fsum(v * v for v in xs) + b2
                s22 = mpmath.fsum(v * v for v in ys) + b2
                s12 = mpmath.fsum(p * q for p, q in zip(xs, ys, strict=True)) + b2
                out[i, j] = float((s11 * s22 - s12**2) / (s11 * s22))
    return out
