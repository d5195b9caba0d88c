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
    "sklearn_input_derivatives",
    "sklearn_curvature_at_zero",
    "relu_expectations",
    "erf_expectations",
    "CONDITIONAL_MEANS",
    "FUNCTIONS",
    "gaussian_expectation_by_quadrature",
    "ntk_reference",
    "ntk_reference_gram",
    "first_layer_sin2",
    "network_reference",
    "jacot_ntk",
    "lee2018_nngp",
    "arora_ntk",
    "cho_saul_k1",
    "nt_stax_kernel",
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


def _richardson(D: Callable[[float], np.ndarray], h: float, order: int) -> np.ndarray:
    """``D(h) = D0 + c h^order + O(h^(order + 1))``: the extrapolated ``D0`` from ``D(h)``
    and ``D(h / 2)``."""
    f = 2.0**order
    return (f * D(h / 2) - D(h)) / (f - 1)


def sklearn_input_derivatives(name: str, params: dict, Xq, Y, h: float
                              ) -> tuple[np.ndarray, np.ndarray]:
    """``grad_x k(x_q, y_j)`` (``(q, m, d)``) and ``hess_x k(x_q, y_j)`` (``(q, m, d, d)``)
    of kernel ``name`` by central differences of scikit-learn's Gram matrix
    (:func:`sklearn_gram`, which shares no code with the project's derivatives), step ``h``
    and Richardson-extrapolated once (truncation ``O(h^4)``).  Only where the kernel is
    smooth: every pair at distance well above ``h``."""
    Xq, Y = _np(Xq), _np(Y)
    q, d = Xq.shape

    def k(X):
        return sklearn_gram(name, params, X, Y)

    def shifted(*steps):  # Xq with coordinate i moved by s, for each (i, s) in steps
        X = Xq.copy()
        for i, st in steps:
            X[:, i] += st
        return k(X)

    def D1(hh):
        return np.stack([(shifted((i, hh)) - shifted((i, -hh))) / (2 * hh) for i in range(d)],
                        axis=-1)

    def D2(hh):
        H = np.empty((q, Y.shape[0], d, d))
        for i in range(d):
            for j in range(d):
                H[..., i, j] = (shifted((i, hh), (j, hh)) - shifted((i, hh), (j, -hh))
                                - shifted((i, -hh), (j, hh)) + shifted((i, -hh), (j, -hh))
                                ) / (4 * hh * hh)
        return H

    return _richardson(D1, h, 2), _richardson(D2, h, 2)


def sklearn_curvature_at_zero(name: str, params: dict, d: int, h: float) -> float:
    """``-g''(0)`` of a stationary kernel ``k(x, x') = g(|x - x'|)``, from scikit-learn's
    values only: the second difference ``-(g(h) - 2 g(0) + g(-h)) / h^2`` along a unit
    direction in ``R^d``, Richardson-extrapolated against its leading ``O(h)`` error (a
    ``|r|^3`` term, Matern 3/2) -- so the curvature at the diagonal, which fixes the
    length scale (Matern 5/2: ``5 / (3 ell^2)``), is checked without any closed form."""
    x = np.zeros((1, d))
    e = np.ones((1, d)) / np.sqrt(d)

    def g(t):
        return sklearn_gram(name, params, x, x + t * e)[0, 0]

    def D(hh):
        return -(g(hh) - 2 * g(0.0) + g(-hh)) / hh**2

    return float(_richardson(D, h, 1))  # leaves O(h^2)


# ---------------------------------------------------------------------------
# NTK recursions in mpmath
# ---------------------------------------------------------------------------

#: the built-in network kernels: name -> (activation, number of hidden layers, kind)
NTK_KERNELS = {"ntk_relu": ("relu", 1, "ntk"), "ntk_erf": ("erf", 1, "ntk"),
               "ntk_relu_d2": ("relu", 2, "ntk"), "ntk_erf_d2": ("erf", 2, "ntk"),
               "ntk_relu_d3": ("relu", 3, "ntk"), "ntk_erf_d3": ("erf", 3, "ntk"),
               "nngp_relu": ("relu", 1, "nngp"), "nngp_erf": ("erf", 1, "nngp")}


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
    J0 = mpmath.pi - theta
    # |x||y| J_1 = |x||y| (sin theta + (pi - theta) cos theta), with |x||y| sin theta =
    # sqrt(det) and |x||y| cos theta = s12 exactly (no sin(pi) ~ 1e-DPS at theta = pi)
    k0 = J0 / mpmath.pi
    k1 = (mpmath.sqrt(det) + J0 * s12) / mpmath.pi
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


# ---------------------------------------------------------------------------
# the general fully connected network, and other papers' and libraries' conventions,
# each written from its own definitions (for derivations.ntk_kernels.CONVENTIONS)
# ---------------------------------------------------------------------------


def _vec(x) -> list:
    return [mpmath.mpf(float(v)) for v in x]


def _dot(p, q):
    return mpmath.fsum(a * b for a, b in zip(p, q, strict=True))


def network_reference(activation: str, depth: int, x, y, *, beta, sigma_w2=1,
                      kind: str = "ntk", readout_bias: bool = False, input_dim=None,
                      parametrisation: str = "ntk", width=None, dps: int = DPS) -> mpmath.mpf:
    """The NTK or NNGP kernel of a fully connected network with ``depth`` hidden layers,
    weight variance ``sigma_w2``, bias std ``beta``, input scaled by ``1/sqrt(input_dim)``
    (``None``: not scaled), with or without a readout bias, at ``dps`` digits.

    NTK parametrisation (Lee et al. 2019, eqs. (3)-(5) written layer by layer): the
    pre-activation covariance ``K <- sigma_w2 E[g g](K) + beta^2`` and the NTK ``Theta <- K
    + sigma_w2 E[g' g'](K) Theta``.  Standard parametrisation (Sohl-Dickstein et al. 2020):
    ``W ~ N(0, sigma_w2 / fan_in)`` trained directly, so a layer's own weights contribute
    ``fan_in`` times the covariance of its inputs (``x.y / n_0`` for the first, ``E[g g]``
    for later ones, fan-in ``width``) and its bias 1."""
    with mpmath.workdps(dps):
        xs, ys = _vec(x), _vec(y)
        n0 = 1 if input_dim is None else input_dim
        w, b2 = mpmath.mpf(sigma_w2), mpmath.mpf(beta) ** 2
        std = parametrisation == "standard"
        # inputs: their "covariance" and the first layer
        c11, c22, c12 = (_dot(p, q) / n0 for p, q in ((xs, xs), (ys, ys), (xs, ys)))
        K = (w * c11 + b2, w * c22 + b2, w * c12 + b2)
        T = n0 * c12 + 1 if std else K[2]
        ex = _EXPECTATIONS[activation]
        for layer in range(1, depth + 1):
            last = layer == depth
            E12, Ed12 = ex(*K)
            E11, E22 = ex(K[0], K[0], K[0])[0], ex(K[1], K[1], K[1])[0]
            bias = (not last) or readout_bias
            bb = b2 if bias else 0
            newK = (w * E11 + bb, w * E22 + bb, w * E12 + bb)
            own = (width * E12 + (1 if bias else 0)) if std else newK[2]
            T = own + w * Ed12 * T
            K = newK
        return +(K[2] if kind == "nngp" else T)


def jacot_ntk(activation: str, n_layers: int, beta, x, y, *, dps: int = DPS) -> mpmath.mpf:
    """Jacot, Gabriel & Hongler (2018), NTK of a network with layers ``0 .. L`` (``L =
    n_layers``; layer ``L`` is the output), ``alpha^(l+1) = n_l^{-1/2} W^(l) sigma(
    alpha^(l)) + beta b^(l)``: ``Sigma^(1) = x.y / n_0 + beta^2``, ``Sigma^(l+1) =
    E[sigma sigma](Sigma^(l)) + beta^2``, ``Theta^(1) = Sigma^(1)``, ``Theta^(l+1) =
    Theta^(l) Sigmadot^(l+1) + Sigma^(l+1)`` with ``Sigmadot^(l+1) = E[sigma' sigma']
    (Sigma^(l))``; the kernel is ``Theta^(L)``."""
    with mpmath.workdps(dps):
        xs, ys = _vec(x), _vec(y)
        n0, b2 = len(xs), mpmath.mpf(beta) ** 2
        S = [_dot(xs, xs) / n0 + b2, _dot(ys, ys) / n0 + b2, _dot(xs, ys) / n0 + b2]
        Theta = S[2]
        for _ in range(1, n_layers):
            ex = _EXPECTATIONS[activation]
            S12, Sdot = ex(*S)
            S = [ex(S[0], S[0], S[0])[0] + b2, ex(S[1], S[1], S[1])[0] + b2, S12 + b2]
            Theta = Theta * Sdot + S[2]
        return +Theta


def lee2018_nngp(activation: str, n_hidden: int, sigma_w2, sigma_b, x, y, *,
                 dps: int = DPS) -> mpmath.mpf:
    """Lee et al. (2018), the NNGP of ``n_hidden`` hidden layers: ``K^0(x, y) = sigma_b^2 +
    sigma_w^2 x.y / d_in`` and ``K^l = sigma_b^2 + sigma_w^2 F_phi(K^{l-1})``; the output's
    covariance is ``K^L`` with ``L = n_hidden``."""
    with mpmath.workdps(dps):
        xs, ys = _vec(x), _vec(y)
        d = len(xs)
        w, b2 = mpmath.mpf(sigma_w2), mpmath.mpf(sigma_b) ** 2
        K = [b2 + w * _dot(xs, xs) / d, b2 + w * _dot(ys, ys) / d, b2 + w * _dot(xs, ys) / d]
        ex = _EXPECTATIONS[activation]
        for _ in range(n_hidden):
            K = [b2 + w * ex(K[0], K[0], K[0])[0], b2 + w * ex(K[1], K[1], K[1])[0],
                 b2 + w * ex(*K)[0]]
        return +K[2]


def arora_ntk(n_hidden: int, x, y, *, dps: int = DPS) -> mpmath.mpf:
    """Arora et al. (2019), ReLU, ``c_sigma = 2``, no biases: ``Sigma^(0) = x.y``,
    ``Sigma^(h) = c_sigma E[relu relu](Lambda^(h))``, ``Sigmadot^(h) = c_sigma E[step
    step](Lambda^(h))``, ``Theta = sum_{h=1}^{L+1} Sigma^(h-1) prod_{h'=h}^{L+1}
    Sigmadot^(h')`` with ``Sigmadot^(L+1) = 1`` and ``L = n_hidden``."""
    with mpmath.workdps(dps):
        xs, ys = _vec(x), _vec(y)
        S = [(_dot(xs, xs), _dot(ys, ys), _dot(xs, ys))]
        Sdot = [None]
        for _ in range(n_hidden):
            s11, s22, s12 = S[-1]
            e12, ed12 = relu_expectations(s11, s22, s12)
            S.append((2 * relu_expectations(s11, s11, s11)[0],
                      2 * relu_expectations(s22, s22, s22)[0], 2 * e12))
            Sdot.append(2 * ed12)
        Sdot.append(mpmath.mpf(1))
        total = mpmath.mpf(0)
        for h in range(1, n_hidden + 2):
            prod = mpmath.mpf(1)
            for hp in range(h, n_hidden + 2):
                prod *= Sdot[hp]
            total += S[h - 1][2] * prod
        return +total


def _J1(theta):
    return mpmath.sin(theta) + (mpmath.pi - theta) * mpmath.cos(theta)


def cho_saul_k1(n_layers: int, x, y, *, dps: int = DPS) -> mpmath.mpf:
    """Cho & Saul (2009), arc-cosine kernel of order 1 composed ``n_layers`` times:
    ``k^(1)(x, y) = |x| |y| J_1(theta) / pi`` with ``theta`` the angle between ``x, y``, and
    ``k^(l+1)(x, y) = sqrt(k^(l)(x, x) k^(l)(y, y)) J_1(theta^(l)) / pi`` with ``cos
    theta^(l) = k^(l)(x, y) / sqrt(k^(l)(x, x) k^(l)(y, y))``."""
    with mpmath.workdps(dps):
        xs, ys = _vec(x), _vec(y)
        kxx, kyy, kxy = _dot(xs, xs), _dot(ys, ys), _dot(xs, ys)
        for _ in range(n_layers):
            det = max(kxx * kyy - kxy**2, mpmath.mpf(0))
            theta = mpmath.atan2(mpmath.sqrt(det), kxy)
            kxy = mpmath.sqrt(kxx * kyy) * _J1(theta) / mpmath.pi
            kxx, kyy = kxx * _J1(0) / mpmath.pi, kyy * _J1(0) / mpmath.pi
        return +kxy


def nt_stax_kernel(activation: str, n_hidden: int, W_std, b_std, x, y, *, get: str = "ntk",
                   parameterization: str = "ntk", width=None, dps: int = DPS) -> mpmath.mpf:
    """The kernel of neural-tangents' ``stax.serial(Dense(width, W_std, b_std), Act(), ...,
    Dense(1, W_std, b_std))`` with ``n_hidden`` Dense+activation blocks, following the
    library's documented layer rules: the inputs' kernel is ``x.y / d`` (``d`` features) with
    NTK 0; ``Dense``: ``nngp <- W_std^2 nngp + b_std^2`` and ``ntk <- nngp_new + W_std^2
    ntk`` ('ntk'), or ``ntk <- fan_in nngp_old + 1 + W_std^2 ntk`` ('standard'); an
    activation: ``nngp <- E[g g]``, ``ntk <- ntk E[g' g']``."""
    with mpmath.workdps(dps):
        xs, ys = _vec(x), _vec(y)
        d = len(xs)
        W2, b2 = mpmath.mpf(W_std) ** 2, mpmath.mpf(b_std) ** 2
        var1, var2, nngp = _dot(xs, xs) / d, _dot(ys, ys) / d, _dot(xs, ys) / d
        ntk = mpmath.mpf(0)
        fan_in = d
        ex = _EXPECTATIONS[activation]
        for block in range(n_hidden + 1):
            # Dense
            if parameterization == "ntk":
                var1, var2, nngp = W2 * var1 + b2, W2 * var2 + b2, W2 * nngp + b2
                ntk = nngp + W2 * ntk
            else:
                ntk = fan_in * nngp + 1 + W2 * ntk
                var1, var2, nngp = W2 * var1 + b2, W2 * var2 + b2, W2 * nngp + b2
            fan_in = width
            if block == n_hidden:
                break
            # activation
            e12, ed12 = ex(var1, var2, nngp)
            var1, var2 = ex(var1, var1, var1)[0], ex(var2, var2, var2)[0]
            nngp, ntk = e12, ntk * ed12
        return +(ntk if get == "ntk" else nngp)
