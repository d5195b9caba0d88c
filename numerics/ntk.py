"""Torch evaluation of the NTK / NNGP kernels of :mod:`derivations.ntk_kernels`, stable
for near-parallel inputs.

The layer maps are lambdified from the SymPy expressions of
:func:`derivations.ntk_kernels.stable_layer_maps`; the only hand-written pieces are

* :func:`sin_minus_x_cos` -- ``sin t - t cos t`` by its Taylor series below ``t = 1``
  (the direct formula cancels like ``t^3 / 3`` there);
* :func:`first_layer_angle` -- the angle ``theta`` between the augmented inputs
  ``(x, c)`` and ``(x', c)`` (``c = beta sqrt(n_0 / sigma_w^2)``) and its supplement
  ``pi - theta``, each accurate where it is small: the component of ``(x', c)``
  orthogonal to ``(x, c)`` is computed from the *direct* difference ``x' - x`` (near
  parallel) or sum ``x' + x`` (near anti-parallel), whichever is shorter, so its
  absolute error is ``~eps`` times that short vector's length, not ``eps |x'|`` (which
  ``acos`` of a rounded cosine turns into ``sqrt(eps)``); and ``|x|^2 - |x'|^2`` as
  ``-(x' - x).(x' + x)``.

:meth:`numerics.kernels.TorchKernel.gram` calls :func:`network_gram` for every spec whose
``network`` is set; :func:`network_value` evaluates the same recursion from the invariants
``a, b, u`` alone (used where only those exist; near parallel inputs it is then only as
accurate as ``u``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache

import sympy as sp
import torch
from sympy.printing.pytorch import TorchPrinter

from derivations.ntk_kernels import Network, NetworkError, stable_layer_maps

__all__ = [
    "sin_minus_x_cos",
    "first_layer_angle",
    "NEAR_SIN2",
    "augmentation",
    "network_value",
    "network_gram",
    "stable_value_fn",
]

#: below this argument sin t - t cos t is summed from its series (14 terms: < eps relative;
#: above it the direct formula loses at most a factor ~3 to cancellation)
_SERIES_BELOW = 1.0
#: the series' coefficients: sin t - t cos t = sum_k>=1 (-1)^(k+1) 2k t^(2k+1) / (2k+1)!
_COEFFS = [(-1) ** (k + 1) * 2 * k / math.factorial(2 * k + 1) for k in range(1, 15)]

#: upper bound on the float64 entries of one (pairs, d + 1) intermediate
_CHUNK_ELEMENTS = 2**22
#: pairs whose first-layer angle has sin^2 below this get it from coordinates (elsewhere the
#: Gram entries give it to ~eps / NEAR_SIN2 relative)
NEAR_SIN2 = 1e-2


def sin_minus_x_cos(t: torch.Tensor) -> torch.Tensor:
    """``sin t - t cos t`` for ``t >= 0`` (tensor), relative error ~eps also as ``t -> 0``
    (series below 1, where the direct formula loses ``~log10(3 / t^2)`` digits)."""
    t = torch.as_tensor(t)
    small = t.abs() < _SERIES_BELOW
    ts = torch.where(small, t, torch.zeros_like(t))
    t2 = ts * ts
    acc = torch.zeros_like(ts)
    for c in reversed(_COEFFS):
        acc = acc * t2 + c
    series = acc * t2 * ts
    return torch.where(small, series, torch.sin(t) - t * torch.cos(t))


def augmentation(net: Network, params: dict) -> float:
    """``c = beta sqrt(n_0 / sigma_w^2)``: the first layer's covariance is ``sigma_w^2 /
    n_0`` times the Gram matrix of the augmented inputs ``(x, c)``."""
    return float(params["beta"]) * math.sqrt(net.n0 / float(params["sigma_w2"]))


def first_layer_angle(X: torch.Tensor, Y: torch.Tensor, c: float,
                      u: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
    """``(theta, pi - theta, |x|^2 - |y|^2)`` for every pair of rows, ``theta`` the angle
    between ``(x, c)`` and ``(y, c)``; see the module docstring.  ``u`` (``x . y``, e.g.
    with identical pairs set to ``|x|^2`` exactly) gives the cosine's sign and size (an
    error ``~eps`` there moves the angle by ``~eps``, see :func:`torch.atan2`).

    The orthogonal component is first estimated from the Gram entries (error ``~eps /
    sin^2 theta`` relative); pairs with ``sin^2 theta <`` :data:`NEAR_SIN2` (and only those:
    O(d) work per pair) get it from the direct difference or sum."""
    n, d = X.shape
    m = Y.shape[0]
    if u is None:
        u = X @ Y.T
    c2 = c * c
    na, nb = (X * X).sum(1)[:, None] + c2, (Y * Y).sum(1)[None, :] + c2
    nx = torch.sqrt(na)
    cos_part = (u + c2) / nx  # (y, c) . x_hat
    det = na * nb - (u + c2) ** 2
    perp = torch.sqrt(torch.clamp(det, min=0.0)) / nx
    dab = na - nb
    qi, ji = torch.nonzero(~(det >= NEAR_SIN2 * na * nb), as_tuple=True)  # (NaN: near)
    if qi.numel():
        cc = torch.full((1,), c, dtype=X.dtype, device=X.device)
        Xa, Ya = torch.cat((X, cc.expand(n, 1)), 1), torch.cat((Y, cc.expand(m, 1)), 1)
        Xh = Xa / torch.linalg.vector_norm(Xa, dim=1, keepdim=True)
        step = max(1, _CHUNK_ELEMENTS // (d + 1))
        for s in range(0, qi.numel(), step):
            q, j = qi[s : s + step], ji[s : s + step]
            xa, xh, ya = Xa[q], Xh[q], Ya[j]  # (P, d + 1)
            diff, summ = ya - xa, ya + xa  # direct differences and sums (last entry: 0, 2c)
            dab[q, j] = -(diff * summ).sum(-1)  # |x|^2 - |y|^2
            short = torch.where(((diff * diff).sum(-1) <= (summ * summ).sum(-1))[:, None],
                                diff, summ)
            proj = (short * xh).sum(-1, keepdim=True)
            perp[q, j] = torch.linalg.vector_norm(short - proj * xh, dim=-1)
    return torch.atan2(perp, cos_part), torch.atan2(perp, -cos_part), dab


@cache
def _compiled(net: Network) -> dict[str, Callable]:
    """The lambdified stable maps of ``net`` (torch; SinMinusXCos -> sin_minus_x_cos)."""
    from numerics.kernels import _floatify  # (numerics.kernels imports this module lazily)

    out = {}
    for key, (args, exprs) in stable_layer_maps(net).items():
        exprs = [_floatify(sp.sympify(e)) for e in exprs]
        out[key] = sp.lambdify(args, exprs, modules=[{"sin_minus_x_cos": sin_minus_x_cos},
                                                     "torch"], printer=_Printer, cse=True)
    return out


class _Printer(TorchPrinter):
    """torch code printer that knows :class:`~derivations.ntk_kernels.SinMinusXCos`."""

    def _print_SinMinusXCos(self, expr: sp.Expr) -> str:
        return f"sin_minus_x_cos({self._print(expr.args[0])})"


def _check(net: object) -> Network:
    if not isinstance(net, Network):
        raise NetworkError(f"not a derivations.ntk_kernels.Network: {net!r}")
    return net


def _recurse(net: Network, params: dict, state: list[torch.Tensor],
             same: torch.Tensor | None) -> torch.Tensor:
    fns = _compiled(net)
    w = torch.as_tensor(float(params["sigma_w2"]), dtype=state[0].dtype, device=state[0].device)
    b2 = torch.as_tensor(float(params["beta"]) ** 2, dtype=state[0].dtype,
                         device=state[0].device)
    for _ in range(net.depth - 1):
        state = list(fns["layer"](*state, w, b2))
        if same is not None:  # erf: identical inputs stay identical at every layer
            state[2] = torch.where(same, state[0], state[2])
    (value,) = fns["readout"](*state, w, b2)
    return torch.broadcast_to(value, state[0].shape)


def _first_state(net: Network, params: dict, a, b, u, angles=None) -> tuple[list, object]:
    """The first layer's state (see stable_layer_maps) from the invariants, and the mask
    of identical pairs for erf."""
    w, b2 = float(params["sigma_w2"]), float(params["beta"]) ** 2
    n0 = net.n0
    q11, q22 = w * a / n0 + b2, w * b / n0 + b2
    q12 = w * u / n0 + b2
    T = u + 1 if net.standard else q12
    if net.activation == "erf":
        return [q11, q22, q12, T], (a == b) & (u == a)
    if angles is None:  # from (a, b, u) alone
        c2 = b2 * n0 / w
        nx = torch.sqrt(a + c2)
        cos_part = (u + c2) / nx
        perp = torch.sqrt(torch.clamp((a + c2) * (b + c2) - (u + c2) ** 2, min=0.0)) / nx
        angles = (torch.atan2(perp, cos_part), torch.atan2(perp, -cos_part), a - b)
    th, ps, dab = angles
    return [q11, q22, w * dab / n0, th, ps, T], None


def network_value(net: Network, params: dict, a: torch.Tensor, b: torch.Tensor,
                  u: torch.Tensor) -> torch.Tensor:
    """The kernel of ``net`` at parameters ``params`` (``beta``, ``sigma_w2``) from the
    invariants ``a = |x|^2``, ``b = |x'|^2``, ``u = x . x'`` (broadcasting tensors).

    Symmetric by construction (``k(a, b, u) = k(b, a, u)`` bitwise: the two variances are
    sorted first).  Near parallel inputs the ReLU angle is only as good as ``u`` here; use
    :func:`network_gram` with coordinates for full accuracy."""
    net = _check(net)
    a, b, u = torch.broadcast_tensors(*(torch.as_tensor(v) for v in (a, b, u)))
    a, b = torch.minimum(a, b), torch.maximum(a, b)
    state, same = _first_state(net, params, a, b, u)
    return _recurse(net, params, state, same)


def network_gram(net: Network, params: dict, X: torch.Tensor, Y: torch.Tensor,
                 invariants: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """``K[i, j] = k(X[i], Y[j])`` with the first layer's angle from coordinates
    (:func:`first_layer_angle`); ``invariants`` are ``(a, b, u)`` of the pairs as
    :meth:`numerics.kernels.TorchKernel._invariants` returns them."""
    net = _check(net)
    a, b, u = invariants
    angles = None
    if net.activation == "relu":
        angles = first_layer_angle(X, Y, augmentation(net, params), u)
    state, same = _first_state(net, params, a, b, u, angles)
    return _recurse(net, params, state, same)


def stable_value_fn(activation: str, depth: int) -> Callable[..., torch.Tensor]:
    """``k(a, b, u, *, beta, sigma_w2=1.0)``: the default network's NTK (NTK
    parametrisation, no readout bias, no input scaling) from the invariants, as
    :func:`network_value`; kept for callers of the former
    ``derivations.ntk_kernels.stable_value_fn``."""
    net = Network(activation, depth)

    def value(a_, b_, u_, *, beta: float, sigma_w2: float = 1.0) -> torch.Tensor:
        return network_value(net, {"beta": beta, "sigma_w2": sigma_w2}, a_, b_, u_)

    value.__doc__ = f"stable torch NTK value, {activation}, depth {depth}"
    return value
