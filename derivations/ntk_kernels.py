"""Infinite-width kernels of fully connected networks: NTK and NNGP (SymPy builders).

Network (:class:`Network`: activation ``sigma``, ``L = depth`` hidden layers of width
``h``, weight variance ``sigma_w^2`` (parameter :data:`sigma_w2`), bias std ``sigma_b``
(parameter :data:`beta`, so ``sigma_b^2 = beta^2``), input dimension ``n_0`` when the
input is scaled by ``1/sqrt(n_0)`` and ``n_0 = 1`` otherwise).  In the **NTK
parametrisation** (Jacot et al. 2018) every weight and bias is N(0, 1) and the layer
carries the scale::

    z^1(x)     = sigma_w n_0^{-1/2} W^1 x + beta b^1
    z^{l+1}(x) = sigma_w h^{-1/2} W^{l+1} sigma(z^l(x)) + beta b^{l+1}    (l = 1 .. L-1)
    f(x)       = sigma_w h^{-1/2} v . sigma(z^L(x)) [+ beta b_out]          (readout bias: option)

In the **standard parametrisation** (Sohl-Dickstein et al. 2020, neural-tangents
``parameterization="standard"``) the same network is written ``z = W x + b`` with ``W_ij ~
N(0, sigma_w^2 / fan_in)``, ``b ~ N(0, beta^2)``: the same function at initialisation (same
NNGP), but the gradient with respect to ``W`` is not scaled down, so the NTK depends on the
hidden width ``h`` (build option ``width``).

As ``h -> oo`` the pre-activations are Gaussian processes with covariance ``Sigma^l`` and
the tangent kernel tends to ``Theta`` (Lee et al. 2019; Arora et al. 2019)::

    Sigma^1 = sigma_w^2 u / n_0 + beta^2
    Sigma^{l+1} = sigma_w^2 E[sigma sigma](Sigma^l) + beta^2
    NTK parametrisation:  Theta^1 = Sigma^1,
                          Theta^{l+1} = Sigma^{l+1} + sigma_w^2 E[sigma' sigma'](Sigma^l) Theta^l
    standard:             Theta^1 = u + 1,
                          Theta^{l+1} = h E[sigma sigma](Sigma^l) + 1
                                        + sigma_w^2 E[sigma' sigma'](Sigma^l) Theta^l

and the readout is the same step without ``beta^2`` (resp. ``1``) unless the readout has
a bias.  The **NNGP kernel** is the covariance of ``f`` at initialisation,
``sigma_w^2 E[sigma sigma](Sigma^L) [+ beta^2]``.  ``E[g g](S)`` is ``E[g(z) g(z')]`` for
``(z, z')`` centred Gaussian with covariance ``[[S(x,x), S(x,x')], [S(x,x'), S(x',x')]]``:

ReLU (arc-cosine kernels of order 1 and 0, Cho & Saul 2009), ``rho = cos theta``::

    E[relu relu]   = sqrt(s11 s22) (sqrt(1 - rho^2) + (pi - acos rho) rho) / (2 pi)
    E[relu' relu'] = (pi - acos rho) / (2 pi)

erf (Williams 1997 arcsine kernel; erf' = 2/sqrt(pi) exp(-z^2))::

    E[erf erf]     = (2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))
    E[erf' erf']   = (4/pi) / sqrt((1 + 2 s11)(1 + 2 s22) - 4 s12^2)

The defaults ``sigma_w^2 = 1``, ``beta = 1``, NTK parametrisation, no readout bias, no
input scaling are the foundation kernel ``ntk_relu`` of the project.  How other papers and
libraries name these settings is the data :data:`CONVENTIONS` (rendered in the book, each
row tested against an independent implementation of that convention).

Two representations of one kernel are built here, both from the same per-layer maps:

* :func:`network_expr` -- the kernel as one SymPy expression in the invariants ``a, b, u``
  (the ``expr`` of the :class:`~derivations.kernels.KernelSpec`; it is differentiated for
  the input derivatives);
* :func:`stable_layer_maps` -- the per-layer maps written for evaluation in floating point
  near parallel inputs (ReLU: in the angle and its supplement, and ``1 - cos`` of the next
  angle in a form without cancellation, see there).  :mod:`numerics.ntk` lambdifies them
  (torch); the tests check them against the plain maps and against 50-digit references.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import sympy as sp

__all__ = [
    "ACTIVATIONS",
    "KINDS",
    "PARAMETRISATIONS",
    "MAX_DEPTH",
    "Network",
    "NetworkError",
    "beta",
    "sigma_w2",
    "SinMinusXCos",
    "gaussian_maps",
    "network_expr",
    "ntk_expr",
    "nngp_expr",
    "stable_layer_maps",
    "relu_singular",
    "layer_correlations",
    "recursion_latex",
    "network_params",
    "ntk_spec",
    "nngp_spec",
    "Convention",
    "CONVENTIONS",
]

ACTIVATIONS = ("relu", "erf")
KINDS = ("ntk", "nngp")
PARAMETRISATIONS = ("ntk", "standard")
#: deepest network accepted by the builders (the expanded SymPy expression grows ~3x per
#: layer; the registered kernels have depths 1 to 3)
MAX_DEPTH = 8

#: bias standard deviation ``sigma_b`` (the same symbol as the foundation ``ntk_relu``)
beta = sp.Symbol("beta", nonnegative=True)
#: weight variance ``sigma_w^2``
sigma_w2 = sp.Symbol("sigma_w2", positive=True)

# per-layer covariance entries; rho = s12 / sqrt(s11 s22)
_s11, _s22 = sp.symbols("s11 s22", positive=True)
_s12 = sp.Symbol("s12", real=True)
_rho = sp.Symbol("rho", real=True)


class NetworkError(ValueError):
    """An architecture that has no kernel here (unknown activation, bad depth, ...)."""


@dataclass(frozen=True)
class Network:
    """Plain-data description of the network behind an NTK / NNGP kernel (hashable).

    Parameters
    ----------
    activation:
        ``"relu"`` or ``"erf"``.
    depth:
        Number of hidden layers, ``1 .. MAX_DEPTH``.
    kind:
        ``"ntk"`` (neural tangent kernel) or ``"nngp"`` (covariance at initialisation).
    parametrisation:
        ``"ntk"`` or ``"standard"`` (see the module docstring; only changes the NTK).
    readout_bias:
        Whether the output layer has a bias (of std ``beta``; trained, for the NTK).
    input_dim:
        ``n_0`` of the ``1/sqrt(n_0)`` input scaling; ``None``: no input scaling.
    width:
        Hidden width ``h`` of the standard-parametrisation NTK (required there, and only
        there: the NTK-parametrisation kernels do not depend on it).
    """

    activation: str
    depth: int
    kind: str = "ntk"
    parametrisation: str = "ntk"
    readout_bias: bool = False
    input_dim: int | None = None
    width: int | None = None

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise NetworkError(f"activation {self.activation!r} has no analytic kernel here; "
                               f"supported: {ACTIVATIONS}")
        if (isinstance(self.depth, bool) or not isinstance(self.depth, int)
                or not 1 <= self.depth <= MAX_DEPTH):
            raise NetworkError(f"depth (number of hidden layers) must be an integer in "
                               f"1 .. {MAX_DEPTH}, got {self.depth!r}")
        if self.kind not in KINDS:
            raise NetworkError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.parametrisation not in PARAMETRISATIONS:
            raise NetworkError(f"parametrisation must be one of {PARAMETRISATIONS}, "
                               f"got {self.parametrisation!r}")
        if not isinstance(self.readout_bias, bool):
            raise NetworkError(f"readout_bias must be True or False, got {self.readout_bias!r}")
        for name in ("input_dim", "width"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise NetworkError(f"{name} must be a positive integer or None, got {v!r}")
        standard_ntk = self.parametrisation == "standard" and self.kind == "ntk"
        if standard_ntk and self.width is None:
            raise NetworkError("the standard-parametrisation NTK depends on the hidden width: "
                               "pass width=<h>")
        if not standard_ntk and self.width is not None:
            raise NetworkError("width is only used by the standard-parametrisation NTK; "
                               f"got width={self.width!r} for kind={self.kind!r}, "
                               f"parametrisation={self.parametrisation!r}")

    @property
    def n0(self) -> int:
        """The input scaling's ``n_0`` (1: none)."""
        return 1 if self.input_dim is None else self.input_dim

    @property
    def standard(self) -> bool:
        return self.parametrisation == "standard"


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise NetworkError(f"activation {activation!r} has no analytic NTK here; "
                           f"supported: {ACTIVATIONS}")


class SinMinusXCos(sp.Function):
    """``g(t) = sin t - t cos t`` as one function, so that its floating-point evaluation
    can avoid the cancellation at small ``t`` (``g ~ t^3 / 3``): the Cho-Saul angular
    factor is ``J_1(theta) = sin theta + (pi - theta) cos theta = g(pi - theta)``.  The torch
    implementation (series below 1) is :func:`numerics.ntk.sin_minus_x_cos`."""

    @classmethod
    def eval(cls, t):
        if t.is_zero:
            return sp.Integer(0)
        return None

    def fdiff(self, argindex: int = 1):
        t = self.args[0]
        return t * sp.sin(t)

    def _eval_rewrite_as_sin(self, t, **kwargs):
        return sp.sin(t) - t * sp.cos(t)

    _eval_rewrite_as_cos = _eval_rewrite_as_sin

    def _eval_evalf(self, prec):
        t = self.args[0]
        return (sp.sin(t) - t * sp.cos(t))._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


@cache
def gaussian_maps(activation: str) -> tuple[sp.Expr, sp.Expr, tuple[sp.Symbol, ...]]:
    """``(E[sigma sigma], E[sigma' sigma'], (s11, s22, s12, rho))`` as SymPy expressions.

    For ReLU they are written in ``s11, s22`` and ``rho`` (the cosine, substitute
    ``rho = s12 / sqrt(s11 s22)``); for erf in ``s11, s22, s12``.
    """
    _check_activation(activation)
    if activation == "relu":
        theta = sp.acos(_rho)
        kk = sp.sqrt(_s11 * _s22) * (sp.sqrt(1 - _rho**2) + (sp.pi - theta) * _rho) / (2 * sp.pi)
        kd = (sp.pi - theta) / (2 * sp.pi)
    else:
        den = sp.sqrt((1 + 2 * _s11) * (1 + 2 * _s22))
        kk = 2 / sp.pi * sp.asin(2 * _s12 / den)
        kd = 4 / sp.pi / sp.sqrt((1 + 2 * _s11) * (1 + 2 * _s22) - 4 * _s12**2)
    return kk, kd, (_s11, _s22, _s12, _rho)


def _apply(expr: sp.Expr, activation: str, s11, s22, s12) -> sp.Expr:
    if activation == "relu":
        return expr.subs({_rho: s12 / sp.sqrt(s11 * s22)}).subs(
            {_s11: s11, _s22: s22}, simultaneous=True)
    return expr.subs({_s11: s11, _s22: s22, _s12: s12}, simultaneous=True)


@cache
def _diag_map(activation: str) -> sp.Lambda:
    """``s -> E[sigma(z)^2]`` for ``z ~ N(0, s)`` (the diagonal of the covariance map)."""
    s = sp.Symbol("s", positive=True)
    kk = gaussian_maps(activation)[0]
    if activation == "relu":
        val = kk.subs({_rho: 1, _s11: s, _s22: s})
    else:
        val = kk.subs({_s11: s, _s22: s, _s12: s})
    return sp.Lambda(s, sp.simplify(val))


def _contributions(net: Network, w, b2, E):
    """``(Sigma term, Theta term)`` that a layer (hidden or readout) adds: the NNGP part
    ``w E + b2`` and, for the NTK, the gradient of its own weights and bias (NTK
    parametrisation: the same ``w E + b2``; standard: ``h E + 1``)."""
    return w * E + b2, (net.width * E + 1 if net.standard else w * E + b2)


def _layer(net: Network, maps: Callable, D: Callable, w, bias, state: tuple) -> tuple:
    """One hidden layer: ``(Sigma_11, Sigma_22, Sigma_12, Theta)`` of layer ``l`` to layer
    ``l + 1``, for ``maps(s11, s22, s12) = (E[sigma sigma], E[sigma' sigma'])`` and the
    diagonal map ``D`` (SymPy expressions or placeholder functions for the book)."""
    s11, s22, s12, theta = state
    E, Ed = maps(s11, s22, s12)
    n12, t12 = _contributions(net, w, bias**2, E)
    return w * D(s11) + bias**2, w * D(s22) + bias**2, n12, t12 + w * Ed * theta


def _readout(net: Network, maps: Callable, w, bias, state: tuple):
    """The output layer: the NNGP ``w E [+ beta^2]`` or the NTK."""
    s11, s22, s12, theta = state
    E, Ed = maps(s11, s22, s12)
    b2 = bias**2 if net.readout_bias else 0
    n12, t12 = _contributions(net, w, b2, E)
    if net.standard and not net.readout_bias:
        t12 = t12 - 1
    return n12 if net.kind == "nngp" else t12 + w * Ed * theta


def _maps(activation: str) -> tuple[Callable, Callable]:
    kk, kd, _ = gaussian_maps(activation)
    return (lambda *q: (_apply(kk, activation, *q), _apply(kd, activation, *q)),
            _diag_map(activation))


def _first(net: Network, w, bias, a_, b_, u_) -> tuple:
    n0 = net.n0
    s12 = w * u_ / n0 + bias**2
    theta1 = u_ + 1 if net.standard else s12
    return (w * a_ / n0 + bias**2, w * b_ / n0 + bias**2, s12, theta1)


def _recursion(net: Network, w, bias, a_, b_, u_, layers: int | None = None) -> tuple:
    """(Sigma^L(x,x), Sigma^L(x',x'), Sigma^L(x,x'), Theta^L) after ``layers`` hidden layers
    (default: all of them)."""
    state = _first(net, w, bias, a_, b_, u_)
    for _ in range((net.depth if layers is None else layers) - 1):
        state = _layer(net, *_maps(net.activation), w, bias, state)
    return state


def network_expr(net: Network) -> sp.Expr:
    """The kernel of ``net`` as one SymPy expression in ``a, b, u`` and the parameters
    ``beta``, ``sigma_w2``."""
    from derivations.kernels import a, b, u

    return _readout(net, _maps(net.activation)[0], sigma_w2, beta,
                    _recursion(net, sigma_w2, beta, a, b, u))


def ntk_expr(activation: str, depth: int, bias: sp.Expr = beta, **options) -> sp.Expr:
    """The NTK ``Theta(a, b, u)`` of the depth-``depth`` network (``options`` as
    :class:`Network`); ``bias`` replaces the symbol ``beta``."""
    return network_expr(Network(activation, depth, "ntk", **options)).subs(beta, bias)


def nngp_expr(activation: str, depth: int, bias: sp.Expr = beta, **options) -> sp.Expr:
    """The NNGP kernel (covariance of the output at initialisation)."""
    return network_expr(Network(activation, depth, "nngp", **options)).subs(beta, bias)


# ---------------------------------------------------------------------------
# the maps written for floating point (evaluated by numerics.ntk)
# ---------------------------------------------------------------------------

#: symbols of the stable state: variances, their difference, the angle and its supplement
#: (ReLU), the cross covariance (erf), the NTK so far; the parameters ``w = sigma_w^2``,
#: ``b2 = beta^2``, and ``u`` for the standard parametrisation's first layer
STATE = sp.symbols("q11 q22 dq th ps q12 T w b2", real=True)


@cache
def stable_layer_maps(net: Network) -> dict[str, tuple[tuple[sp.Symbol, ...], list[sp.Expr]]]:
    """The per-layer maps of ``net`` for floating-point evaluation, as SymPy expressions:
    ``{"layer": (args, [new state...]), "readout": (args, [value])}``.

    erf: the state is ``(q11, q22, q12, T)`` and the maps are the plain ones (the arcsine's
    argument ``2 q12 / sqrt((1 + 2 q11)(1 + 2 q22))`` stays away from +-1).

    ReLU: the state is ``(q11, q22, dq, th, ps, T)`` with ``dq = q11 - q22`` and the angle
    ``th`` and its supplement ``ps = pi - th`` carried separately, each accurate where it is
    small, so nothing goes through ``acos`` of a rounded cosine:

    * ``E[relu relu] = sqrt(q11 q22) g(ps) / (2 pi)`` with ``g(t) = sin t - t cos t``
      (:class:`SinMinusXCos`, evaluated by a series at small ``t``);
      ``E[relu' relu'] = ps / (2 pi)``;
    * the next angle from ``1 - cos th'`` as a sum of non-negative terms: with ``A_i = w
      q_ii / 2`` and ``B = beta^2`` (``q_ii' = A_i + B``),
      ``sqrt(q11' q22') - q12' = B (sqrt A1 - sqrt A2)^2 / (sqrt(q11' q22') + sqrt(A1 A2) + B)
      + sqrt(A1 A2) (1 - J_1(th) / pi)``, ``1 - J_1(th) / pi = 2 sin^2(th / 2) - g(th) / pi``,
      and ``(sqrt A1 - sqrt A2)^2 = (w dq / 2)^2 / (sqrt A1 + sqrt A2)^2``;
      ``th' = 2 asin(sqrt((1 - cos th') / 2))``; ``ps' = pi - th'`` (``th' <= pi/2``: the
      next covariance is ``>= 0``).
    """
    q11, q22, dq, th, ps, q12, T, w, b2 = STATE
    g = SinMinusXCos
    two_pi = 2 * sp.pi
    if net.activation == "relu":
        n = sp.sqrt(q11 * q22)
        E, Ed = n * g(ps) / two_pi, ps / two_pi
        A1, A2 = w * q11 / 2, w * q22 / 2
        n11, n22 = A1 + b2, A2 + b2
        nn = sp.sqrt(n11 * n22)
        sq = sp.sqrt(A1 * A2)
        gap = (b2 * (w * dq / 2) ** 2 / ((sp.sqrt(A1) + sp.sqrt(A2)) ** 2 * (nn + sq + b2))
               + sq * (2 * sp.sin(th / 2) ** 2 - g(th) / sp.pi))
        th_new = 2 * sp.asin(sp.sqrt(gap / nn / 2))
        n12, t12 = _contributions(net, w, b2, E)
        layer = [n11, n22, w * dq / 2, th_new, sp.pi - th_new, t12 + w * Ed * T]
        args = (q11, q22, dq, th, ps, T, w, b2)
    else:
        kk, kd, _ = gaussian_maps("erf")
        E, Ed = (e.subs({_s11: q11, _s22: q22, _s12: q12}, simultaneous=True) for e in (kk, kd))
        D = _diag_map("erf")
        n12, t12 = _contributions(net, w, b2, E)
        layer = [w * D(q11) + b2, w * D(q22) + b2, n12, t12 + w * Ed * T]
        args = (q11, q22, q12, T, w, b2)
    rb = b2 if net.readout_bias else 0
    r12, rt12 = _contributions(net, w, rb, E)
    if net.standard and not net.readout_bias:
        rt12 = rt12 - 1
    readout = [r12 if net.kind == "nngp" else rt12 + w * Ed * T]
    return {"layer": (args, layer), "readout": (args, readout)}


# ---------------------------------------------------------------------------
# singular set, per-layer correlations, the book's recursion
# ---------------------------------------------------------------------------


def relu_singular(bias: sp.Expr = beta, net: Network | None = None) -> sp.Expr:
    """Where a ReLU kernel of *any* depth has no input derivative: ``1 - rho_1^2`` with
    ``rho_1 = Sigma^1(x,x') / sqrt(Sigma^1(x,x) Sigma^1(x',x'))`` the first layer's
    correlation (default network: ``(u + beta^2) / sqrt((a + beta^2)(b + beta^2))``), i.e.
    ``sin^2`` of the angle between the augmented inputs ``(sigma_w x / sqrt(n_0), beta)``
    and ``(sigma_w x' / sqrt(n_0), beta)`` (the ``singular`` expression of ``ntk_relu``).

    Why the first layer's angle alone, at every depth: the per-layer maps ``E[relu relu]``
    and ``E[relu' relu']`` are analytic in ``(s11, s22, rho)`` for ``s11, s22 > 0`` and
    ``|rho| < 1`` (the only non-smooth points of ``acos``, ``sqrt(1 - rho^2)`` are
    ``rho = +-1``), and the diagonal map ``s -> sigma_w^2 s/2 + beta^2`` is linear, so the
    kernel is smooth wherever every layer's correlation ``rho_l`` has ``|rho_l| < 1``.  And
    ``|rho_{l+1}| = 1`` only if ``rho_l = 1``: ``rho_{l+1}`` is the correlation of the
    features ``(sigma_w relu(z), beta)`` and ``(sigma_w relu(z'), beta)`` in ``L^2 (+) R``,
    which by Cauchy-Schwarz has modulus 1 only for proportional features, i.e. ``relu(z)``,
    ``relu(z')`` proportional almost surely, i.e. ``rho_l = 1``; ``rho_{l+1} = -1`` is
    impossible since ``E[relu relu] >= 0``.  By induction ``|rho_L| = 1`` forces
    ``|rho_1| = 1``.  Conversely at ``rho_1 = 1`` (``x = x'``; for ``beta = 0`` any
    ``x' = lambda x``, ``lambda > 0``) the first layer's ``acos`` has a cusp that no
    later layer removes; at ``rho_1 = -1`` (``beta = 0``, ``x' = -lambda x``) too.  Checked
    numerically in ``tests/test_ntk_kernels.py`` (per-layer correlations from
    :func:`layer_correlations`; one-sided derivatives at the diagonal).
    """
    from derivations.kernels import a, b, u

    if net is None:
        return 1 - (u + bias**2) ** 2 / ((a + bias**2) * (b + bias**2))
    s11, s22, s12, _ = _first(net, sigma_w2, bias, a, b, u)
    return 1 - s12**2 / (s11 * s22)


def layer_correlations(activation: str, depth: int, bias: sp.Expr = beta,
                       **options) -> list[sp.Expr]:
    """The correlations ``rho_l = Sigma^l(x,x') / sqrt(Sigma^l(x,x) Sigma^l(x',x'))`` of the
    pre-activations of layers ``l = 1 .. depth``, as SymPy expressions in ``a, b, u``
    (``sigma_w2 = 1`` unless ``options`` say otherwise: ``sigma_w2=<value>`` and the
    :class:`Network` options)."""
    from derivations.kernels import a, b, u

    w = options.pop("sigma_w2", 1)
    net = Network(activation, depth, "nngp", **options)
    out = []
    for layer in range(1, depth + 1):
        s11, s22, s12, _ = _recursion(net, w, bias, a, b, u, layer)
        out.append(s12 / sp.sqrt(s11 * s22))
    return out


def recursion_latex(activation: str, depth: int, bias: sp.Expr = beta, **options) -> str:
    """LaTeX of the layer recursion of a network's kernel (an ``aligned`` block), printed
    by running the same :func:`_first` / :func:`_layer` / :func:`_readout` code as
    :func:`network_expr` on placeholder functions, followed by the activation's Gaussian
    maps as SymPy prints them.  Shown in the book in place of the expanded expression,
    which is too long to read from two hidden layers on.  ``options``: ``kind`` and the
    other :class:`Network` fields (default: the NTK)."""
    from derivations.kernels import a, b, u

    net = Network(activation, depth, **options)
    E, Ed, D = sp.Function("E"), sp.Function("Edot"), sp.Function("D")

    def maps(*q):
        return E(*q), Ed(*q)

    def layer_symbols(layer: int) -> tuple[sp.Symbol, ...]:
        return (*(sp.Symbol(f"Sigma_{ij}^({layer})") for ij in ("11", "22", "12")),
                sp.Symbol(f"Theta^({layer})"))

    def equations(lhs: tuple, rhs: tuple) -> list[str]:
        pairs = zip(lhs, rhs, strict=True)
        if net.kind == "nngp":
            pairs = list(pairs)[:3]
        return [f"{sp.latex(x)} &= {sp.latex(y)}" for x, y in pairs]

    state = layer_symbols(1)
    lines = equations(state, _first(net, sigma_w2, bias, a, b, u))
    for layer in range(1, depth):
        new = _layer(net, maps, D, sigma_w2, bias, state)
        state = layer_symbols(layer + 1)
        lines += equations(state, new)
    lines.append(f"k &= {sp.latex(_readout(net, maps, sigma_w2, bias, state))}")
    kk, kd, _ = gaussian_maps(activation)
    args = (_s11, _s22, _s12)
    s = sp.Symbol("s", positive=True)
    lines.append(rf"{sp.latex(E(*args))} &= {sp.latex(kk)}")
    if net.kind == "ntk":
        lines.append(rf"{sp.latex(Ed(*args))} &= {sp.latex(kd)}")
    lines.append(rf"{sp.latex(D(s))} &= {sp.latex(_diag_map(activation)(s))}")
    if activation == "relu":
        lines.append(rf"{sp.latex(_rho)} &= {sp.latex(_s12 / sp.sqrt(_s11 * _s22))}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


# ---------------------------------------------------------------------------
# kernel specs
# ---------------------------------------------------------------------------


def network_params(beta_default: float = 1.0, sigma_w2_default: float = 1.0) -> tuple:
    """The two :class:`~derivations.kernels.Param` of every network kernel, with declared
    ranges: ``beta`` (bias std) in ``[0, 3]``, ``sigma_w2`` (weight variance) in
    ``[0.05, 20]`` (``2`` is the ReLU "He" / critical value; the kernels are finite for
    every ``sigma_w2 > 0``, but deep erf kernels saturate and deep ReLU kernels grow like
    ``(sigma_w^2 / 2)^L`` away from it, so the range stops at a factor ~10 either side of
    the usual values 1 and 2)."""
    from derivations.kernels import Param

    return (Param(beta, beta_default, "bias std sigma_b", bounds=(0.0, 3.0)),
            Param(sigma_w2, sigma_w2_default, "weight variance sigma_w^2",
                  bounds=(0.05, 20.0)))


def _describe(net: Network) -> tuple[str, str]:
    layers = "one hidden layer" if net.depth == 1 else f"{net.depth} hidden layers"
    what = "NTK" if net.kind == "ntk" else "NNGP"
    title = f"{what}, {net.activation}, {layers}"
    extras = []
    if net.kind == "ntk":
        extras.append(f"{net.parametrisation} parametrisation"
                      + (f" (hidden width {net.width})" if net.standard else ""))
    extras.append("readout bias" if net.readout_bias else "no readout bias")
    extras.append(f"input scaled by 1/sqrt({net.input_dim})" if net.input_dim
                  else "no input scaling")
    trained = ", all layers trained" if net.kind == "ntk" else ""
    notes = (f"Infinite-width {what} of a fully connected {net.activation} network with "
             f"{layers}: weight variance sigma_w2, bias std beta, {', '.join(extras)}"
             f"{trained}; see derivations.ntk_kernels.")
    return title, notes


def _spec(net: Network, name: str | None, default_name: str):
    from derivations.kernels import KernelSpec

    title, notes = _describe(net)
    return KernelSpec(
        name or default_name, "invariant", network_expr(net), network_params(),
        singular=relu_singular(net=net) if net.activation == "relu" else None,
        definition=(recursion_latex(net.activation, net.depth, kind=net.kind,
                                    parametrisation=net.parametrisation,
                                    readout_bias=net.readout_bias, input_dim=net.input_dim,
                                    width=net.width)
                    if net.depth > 1 or net != Network(net.activation, 1, net.kind) else ""),
        title=title, notes=notes, network=net,
    )


def _default_name(prefix: str, activation: str, depth: int) -> str:
    return f"{prefix}_{activation}" + ("" if depth == 1 else f"_d{depth}")


def ntk_spec(activation: str, depth: int, name: str | None = None, *,
             parametrisation: str = "ntk", readout_bias: bool = False,
             input_dim: int | None = None, width: int | None = None):
    """A :class:`~derivations.kernels.KernelSpec` for the NTK of a fully connected network
    (parameters ``beta``, ``sigma_w2``; the categorical options are fixed here, see
    :class:`Network`), named ``ntk_<activation>`` for one hidden layer and
    ``ntk_<activation>_d<depth>`` otherwise unless ``name`` is given.  ReLU kernels declare
    their non-differentiable set (:func:`relu_singular`); erf kernels are smooth.  Its
    ``network`` field makes :mod:`numerics.kernels` evaluate it by the stable recursion."""
    net = Network(activation, depth, "ntk", parametrisation, readout_bias, input_dim, width)
    return _spec(net, name, _default_name("ntk", activation, depth))


def nngp_spec(activation: str, depth: int, name: str | None = None, *,
              readout_bias: bool = False, input_dim: int | None = None):
    """A :class:`~derivations.kernels.KernelSpec` for the NNGP kernel of the same networks
    (``nngp_<activation>[_d<depth>]``); see :func:`ntk_spec`."""
    net = Network(activation, depth, "nngp", "ntk", readout_bias, input_dim)
    return _spec(net, name, _default_name("nngp", activation, depth))


# ---------------------------------------------------------------------------
# the conventions of other papers and libraries
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Convention:
    """How one paper or library writes these kernels, mapped to this module.

    ``theirs`` names their setting; ``kind``, ``options`` (:class:`Network` fields) and
    ``params`` (``beta``, ``sigma_w2`` as functions of their hyper-parameters, written as
    text) build our kernel; ``factor`` is their kernel divided by ours (``"1"`` unless
    their normalisation differs); ``depth`` says how their depth counts our hidden layers.
    """

    source: str
    theirs: str
    kind: str
    options: tuple[tuple[str, object], ...]
    params: tuple[tuple[str, str], ...]
    depth: str
    factor: str = "1"
    note: str = ""


#: the conventions table (rendered in book/kernels.md; every row is tested against an
#: independent implementation of that convention in tests/test_ntk_conventions.py)
CONVENTIONS: tuple[Convention, ...] = (
    Convention(
        "this project (ntk_relu, ntk_erf, ...)",
        "defaults", "ntk", (), (("beta", "beta"), ("sigma_w2", "sigma_w2")),
        "L hidden layers = depth L",
        note="NTK parametrisation, N(0,1) weights and biases, no readout bias, no input "
        "scaling; sigma_w2 = 1, beta = 1 by default"),
    Convention(
        "Jacot, Gabriel & Hongler 2018 (NeurIPS), NTK of an L-layer network",
        "nonlinearity sigma, bias multiplier beta, layers n_0 .. n_L", "ntk",
        (("readout_bias", True), ("input_dim", "n_0")),
        (("beta", "beta"), ("sigma_w2", "1")),
        "their L layers (the last is the output) = depth L - 1",
        note="Sigma^1 = x.x'/n_0 + beta^2; every layer, the output included, has a bias"),
    Convention(
        "Lee et al. 2018 (ICLR), deep networks as Gaussian processes",
        "K^l with sigma_w^2, sigma_b^2, input dimension d_in", "nngp",
        (("readout_bias", True), ("input_dim", "d_in")),
        (("beta", "sigma_b"), ("sigma_w2", "sigma_w^2")),
        "K^L of L hidden layers = depth L",
        note="standard parametrisation; the NNGP does not depend on it"),
    Convention(
        "Lee et al. 2019 (NeurIPS), wide networks as linear models",
        "Theta^L with sigma_w^2, sigma_b^2, NTK parametrisation", "ntk",
        (("readout_bias", True), ("input_dim", "n_0")),
        (("beta", "sigma_b"), ("sigma_w2", "sigma_w^2")),
        "L hidden layers = depth L"),
    Convention(
        "Arora et al. 2019 (NeurIPS), exact computation with an infinitely wide net",
        "ReLU, c_sigma = 2, no biases, Theta^(L) = sum_h Sigma^(h-1) prod Sigmadot", "ntk",
        (), (("beta", "0"), ("sigma_w2", "2")),
        "L hidden layers = depth L", factor="1/2",
        note="their first layer has weight variance 1, ours 2: by the ReLU's homogeneity "
        "their kernel is ours over 2 (ReLU only)"),
    Convention(
        "Cho & Saul 2009 (NeurIPS), arc-cosine kernel of order 1, l-fold composition",
        "k_1^(l)(x, y), J_1(theta) = sin theta + (pi - theta) cos theta", "nngp",
        (), (("beta", "0"), ("sigma_w2", "2")),
        "l compositions = depth l", factor="1/2",
        note="ReLU only; their first map has unit weight variance (k_1 = 2 E[relu relu]), "
        "ours sigma_w2 = 2; k_0 (order 0) is 2 E[relu' relu'], the NTK's derivative factor"),
    Convention(
        "neural-tangents stax (Novak et al. 2020), parameterization='ntk'",
        "serial(Dense(h, W_std, b_std), Relu() | Erf(), ..., Dense(1, W_std, b_std))",
        "ntk", (("readout_bias", True), ("input_dim", "d")),
        (("beta", "b_std"), ("sigma_w2", "W_std**2")),
        "L hidden Dense+activation blocks = depth L",
        note="neural-tangents normalises the input kernel by the feature count d; "
        "get='nngp' gives our NNGP with the same options"),
    Convention(
        "neural-tangents stax, parameterization='standard' (Sohl-Dickstein et al. 2020)",
        "serial(Dense(h, W_std, b_std, parameterization='standard'), ..., Dense(1, ...))",
        "ntk", (("parametrisation", "standard"), ("readout_bias", True), ("input_dim", "d"),
                ("width", "h")),
        (("beta", "b_std"), ("sigma_w2", "W_std**2")),
        "L hidden Dense+activation blocks = depth L",
        note="the NTK grows with the width h: each hidden Dense adds h E[sigma sigma] + 1"),
)
