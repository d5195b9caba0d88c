"""Analytic neural tangent kernels of fully connected networks (SymPy builders).

Network (NTK parametrisation, all weights and biases i.i.d. N(0, 1), depth ``L`` =
number of hidden layers, widths ``h``)::

    z^1(x)     = W^1 x + beta b^1
    z^{l+1}(x) = h^{-1/2} W^{l+1} sigma(z^l(x)) + beta b^{l+1}     (l = 1 .. L-1)
    f(x)       = h^{-1/2} v . sigma(z^L(x))                          (no output bias)

so that ``L = 1`` is exactly the network of the foundation kernel ``ntk_relu``.  As
``h -> oo`` (Jacot et al. 2018; Arora et al. 2019, with the bias convention above) the
pre-activations are Gaussian processes with covariance ``Sigma^l`` and the tangent
kernel converges to ``Theta``::

    Sigma^1 = u + beta^2,                          Theta^1 = Sigma^1
    Sigma^{l+1} = E[sigma sigma](Sigma^l) + beta^2
    Theta^{l+1} = Sigma^{l+1} + Theta^l * E[sigma' sigma'](Sigma^l)
    Theta       = E[sigma sigma](Sigma^L) + Theta^L * E[sigma' sigma'](Sigma^L)

where ``E[g g](S)`` is ``E[g(z) g(z')]`` for ``(z, z')`` centred Gaussian with
covariance ``[[S(x,x), S(x,x')], [S(x,x'), S(x',x')]]``.  The two Gaussian
expectations per activation are closed forms:

ReLU (arc-cosine kernels of order 1 and 0, Cho & Saul 2009), ``rho = cos theta``::

    E[relu relu]   = sqrt(s11 s22) (sqrt(1 - rho^2) + (pi - acos rho) rho) / (2 pi)
    E[relu' relu'] = (pi - acos rho) / (2 pi)

erf (Williams 1997 arcsine kernel; erf' = 2/sqrt(pi) exp(-z^2))::

    E[erf erf]     = (2/pi) asin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22)))
    E[erf' erf']   = (4/pi) / sqrt((1 + 2 s11)(1 + 2 s22) - 4 s12^2)

The kernels are built here as SymPy expressions in the invariants ``a, b, u`` (see
:mod:`derivations.kernels`) and registered there.  The torch ``"k"`` override of each
is generated from the *same* per-layer SymPy maps (:func:`stable_value_fn`), adding
only a clamp of the cosine to ``[-1, 1]`` (rounding leaves it at ``1 + eps`` on the
diagonal).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache

import sympy as sp

__all__ = [
    "ACTIVATIONS",
    "beta",
    "gaussian_maps",
    "ntk_expr",
    "nngp_expr",
    "stable_value_fn",
    "relu_singular",
    "layer_correlations",
    "recursion_latex",
    "ntk_spec",
]

ACTIVATIONS = ("relu", "erf")

#: bias standard deviation (the same symbol as the foundation ``ntk_relu`` kernel)
beta = sp.Symbol("beta", nonnegative=True)

# per-layer covariance entries; rho = s12 / sqrt(s11 s22)
_s11, _s22 = sp.symbols("s11 s22", positive=True)
_s12 = sp.Symbol("s12", real=True)
_rho = sp.Symbol("rho", real=True)


def _check_activation(activation: str) -> None:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation {activation!r} has no analytic NTK here; "
                         f"supported: {ACTIVATIONS}")


def _check_depth(depth: int) -> None:
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"depth (number of hidden layers) must be an integer >= 1, got {depth!r}")


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


def _layer(maps: Callable, D: Callable, bias, state: tuple) -> tuple:
    """One hidden layer of the recursion: ``(Sigma_11, Sigma_22, Sigma_12, Theta)`` of layer
    ``l`` to layer ``l + 1``, for ``maps(s11, s22, s12) = (E[sigma sigma], E[sigma'
    sigma'])`` and the diagonal map ``D`` (SymPy expressions, placeholder functions for
    the book, or torch tensors in :func:`stable_value_fn`: one recursion for all three)."""
    s11, s22, s12, theta = state
    E, Ed = maps(s11, s22, s12)
    n12 = E + bias**2
    return D(s11) + bias**2, D(s22) + bias**2, n12, n12 + theta * Ed


def _readout(maps: Callable, state: tuple):
    """The output layer (no bias): ``Theta = E(Sigma^L) + Theta^L Ed(Sigma^L)``."""
    s11, s22, s12, theta = state
    E, Ed = maps(s11, s22, s12)
    return E + theta * Ed


def _maps(activation: str) -> tuple[Callable, Callable]:
    kk, kd, _ = gaussian_maps(activation)
    return (lambda *q: (_apply(kk, activation, *q), _apply(kd, activation, *q)),
            _diag_map(activation))


def _recursion(activation: str, depth: int, bias: sp.Expr, a_, b_, u_):
    """(Sigma^L(x,x), Sigma^L(x',x'), Sigma^L(x,x'), Theta^L) after ``depth`` hidden layers."""
    state = (a_ + bias**2, b_ + bias**2, u_ + bias**2, u_ + bias**2)
    for _ in range(depth - 1):
        state = _layer(*_maps(activation), bias, state)
    return state


def recursion_latex(activation: str, depth: int, bias: sp.Expr = beta) -> str:
    """LaTeX of the layer recursion of the depth-``depth`` NTK (an ``aligned`` block),
    printed by running the same :func:`_layer` / :func:`_readout` code as :func:`ntk_expr`
    on placeholder functions, followed by the activation's Gaussian maps as SymPy prints
    them.  Shown in the book in place of the expanded expression, which is too long to
    read from two hidden layers on."""
    from derivations.kernels import a, b, u

    _check_activation(activation)
    _check_depth(depth)
    E, Ed, D = sp.Function("E"), sp.Function("Edot"), sp.Function("D")

    def layer_symbols(layer: int) -> tuple[sp.Symbol, ...]:
        return (*(sp.Symbol(f"Sigma_{ij}^({layer})") for ij in ("11", "22", "12")),
                sp.Symbol(f"Theta^({layer})"))

    def equations(lhs: tuple, rhs: tuple) -> list[str]:
        return [f"{sp.latex(x)} &= {sp.latex(y)}" for x, y in zip(lhs, rhs, strict=True)]

    state = layer_symbols(1)
    lines = equations(state, (a + bias**2, b + bias**2, u + bias**2, u + bias**2))
    for layer in range(1, depth):
        new = _layer(lambda *q: (E(*q), Ed(*q)), D, bias, state)
        state = layer_symbols(layer + 1)
        lines += equations(state, new)
    lines.append(f"k &= {sp.latex(_readout(lambda *q: (E(*q), Ed(*q)), state))}")
    kk, kd, _ = gaussian_maps(activation)
    args = (_s11, _s22, _s12)
    s = sp.Symbol("s", positive=True)
    lines.append(rf"{sp.latex(E(*args))} &= {sp.latex(kk)}")
    lines.append(rf"{sp.latex(Ed(*args))} &= {sp.latex(kd)}")
    lines.append(rf"{sp.latex(D(s))} &= {sp.latex(_diag_map(activation)(s))}")
    if activation == "relu":
        lines.append(rf"{sp.latex(_rho)} &= {sp.latex(_s12 / sp.sqrt(_s11 * _s22))}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def ntk_expr(activation: str, depth: int, bias: sp.Expr = beta) -> sp.Expr:
    """The NTK ``Theta(a, b, u)`` of the depth-``depth`` network of this module."""
    from derivations.kernels import a, b, u

    _check_activation(activation)
    _check_depth(depth)
    return _readout(_maps(activation)[0], _recursion(activation, depth, bias, a, b, u))


def nngp_expr(activation: str, depth: int, bias: sp.Expr = beta) -> sp.Expr:
    """The covariance of the output at initialisation (NNGP kernel, no output bias)."""
    from derivations.kernels import a, b, u

    _check_activation(activation)
    _check_depth(depth)
    s11, s22, s12, _ = _recursion(activation, depth, bias, a, b, u)
    return _apply(gaussian_maps(activation)[0], activation, s11, s22, s12)


def stable_value_fn(activation: str, depth: int) -> Callable:
    """A torch function ``k(a, b, u, *, beta)`` of the NTK, generated from the per-layer
    SymPy maps of :func:`gaussian_maps` by ``lambdify``; between layers the ReLU cosine is
    clamped to ``[-1, 1]`` (the only hand-written step)."""
    _check_activation(activation)
    _check_depth(depth)

    @lru_cache(maxsize=1)
    def compiled():
        # compiled on first use: numerics.kernels imports derivations.kernels
        from numerics.kernels import lambdify_torch

        kk, kd, args = gaussian_maps(activation)
        s = sp.Symbol("s", positive=True)
        return (lambdify_torch(args, [kk, kd]),
                lambdify_torch((s,), _diag_map(activation)(s)))

    def value(a_, b_, u_, *, beta: float):
        import torch

        f_maps, f_dm = compiled()

        def maps(q11, q22, q12):
            if activation == "relu":
                cos = torch.clamp(q12 / torch.sqrt(q11 * q22), -1.0, 1.0)
            else:
                cos = q12  # unused by the erf maps
            return f_maps(q11, q22, q12, cos)

        # symmetric by construction: k(a, b, u) and k(b, a, u) see the same arguments (the
        # generated products are not commutative to the last bit, and near parallel inputs
        # the next layer's acos turns one ulp into ~sqrt(eps): K(X, X) was not symmetric)
        a_, b_ = torch.minimum(a_, b_), torch.maximum(a_, b_)
        state = (a_ + beta**2, b_ + beta**2, u_ + beta**2, u_ + beta**2)
        # identical inputs (a = b = u) stay identical at every layer: the generated cross
        # map at cos = 1 and the diagonal map can differ in the last bit, which the next
        # layer's acos would turn into ~sqrt(eps)
        same = (state[0] == state[1]) & (state[2] == state[0])
        for _ in range(depth - 1):
            q11, q22, q12, th = _layer(maps, f_dm, beta, state)
            state = (q11, q22, torch.where(same, q11, q12), th)
        return _readout(maps, state)

    value.__doc__ = f"stable torch NTK value, {activation}, depth {depth} (generated)"
    return value


def relu_singular(bias: sp.Expr = beta) -> sp.Expr:
    """Where a ReLU NTK of *any* depth has no input derivative: ``1 - rho_1^2`` with
    ``rho_1 = (u + beta^2) / sqrt((a + beta^2)(b + beta^2))`` the first layer's
    correlation, i.e. ``sin^2`` of the angle between the augmented inputs ``(x, beta)``
    and ``(x', beta)`` (the ``singular`` expression of the foundation ``ntk_relu``).

    Why the first layer's angle alone, at every depth: the per-layer maps ``E[relu relu]``
    and ``E[relu' relu']`` are analytic in ``(s11, s22, rho)`` for ``s11, s22 > 0`` and
    ``|rho| < 1`` (the only non-smooth points of ``acos``, ``sqrt(1 - rho^2)`` are
    ``rho = +-1``), and the diagonal map ``s -> s/2 + beta^2`` is linear, so the NTK is
    smooth wherever every layer's correlation ``rho_l`` has ``|rho_l| < 1``.  And
    ``|rho_{l+1}| = 1`` only if ``rho_l = 1``: ``rho_{l+1}`` is the correlation of the
    features ``(relu(z), beta)`` and ``(relu(z'), beta)`` in ``L^2 (+) R``, which by
    Cauchy-Schwarz has modulus 1 only for proportional features, i.e. ``relu(z)``,
    ``relu(z')`` proportional almost surely, i.e. ``rho_l = 1``; ``rho_{l+1} = -1`` is
    impossible since ``E[relu relu] >= 0``.  By induction ``|rho_L| = 1`` forces
    ``|rho_1| = 1``.  Conversely at ``rho_1 = 1`` (``x = x'``; for ``beta = 0`` any
    ``x' = lambda x``, ``lambda > 0``) the first layer's ``acos`` has a cusp that no
    later layer removes; at ``rho_1 = -1`` (``beta = 0``, ``x' = -lambda x``) too.  Checked
    numerically in ``tests/test_ntk_kernels.py`` (per-layer correlations from
    :func:`layer_correlations`; one-sided derivatives at the diagonal).
    """
    from derivations.kernels import a, b, u

    return 1 - (u + bias**2) ** 2 / ((a + bias**2) * (b + bias**2))


def layer_correlations(activation: str, depth: int, bias: sp.Expr = beta) -> list[sp.Expr]:
    """The correlations ``rho_l = Sigma^l(x,x') / sqrt(Sigma^l(x,x) Sigma^l(x',x'))`` of the
    pre-activations of layers ``l = 1 .. depth``, as SymPy expressions in ``a, b, u``."""
    from derivations.kernels import a, b, u

    _check_activation(activation)
    _check_depth(depth)
    out = []
    for layer in range(1, depth + 1):
        s11, s22, s12, _ = _recursion(activation, layer, bias, a, b, u)
        out.append(s12 / sp.sqrt(s11 * s22))
    return out


def ntk_spec(activation: str, depth: int, name: str | None = None):
    """A :class:`~derivations.kernels.KernelSpec` for the NTK (bias std parameter ``beta``),
    named ``ntk_<activation>`` for one hidden layer and ``ntk_<activation>_d<depth>``
    otherwise.  ReLU NTKs declare their non-differentiable set (:func:`relu_singular`);
    erf NTKs are smooth."""
    from derivations.kernels import KernelSpec, Param

    name = name or f"ntk_{activation}" + ("" if depth == 1 else f"_d{depth}")
    fn = stable_value_fn(activation, depth)
    layers = "one hidden layer" if depth == 1 else f"{depth} hidden layers"
    return KernelSpec(
        name, "invariant", ntk_expr(activation, depth), (Param(beta, 1.0, "bias std"),),
        overrides={"k": fn},
        singular=relu_singular() if activation == "relu" else None,
        definition=recursion_latex(activation, depth) if depth > 1 else "",
        title=f"NTK, {activation}, {layers}",
        notes=f"Infinite-width NTK of a fully connected {activation} network with {layers} "
        "in NTK parametrisation (N(0,1) weights, bias std beta, no output bias, all layers "
        "trained); see derivations.ntk_kernels.",
    )
