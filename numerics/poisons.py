"""Poison constructions and the measurements made on poisoned KRR fits.

Poison model (see ``derivations/conventions.py``): ``m`` training points at (or tightly
around) a trigger point ``zeta``, all with the attacker's label ``y_t``; a triggered test
input ``x_0`` at distance ``r`` from ``zeta``.

Constructions
    :func:`clone_cluster` (``m`` exact copies of ``zeta``), :func:`spread_cluster`
    (``zeta + sigma u_j``), :func:`triggered_point` (a point at distance ``r``),
    :func:`with_poisons` (clean data plus poisons).
Fits
    :func:`fit_clean_and_poisoned` refits the KRR with and without the poisons (same
    ridge ``c``; see the ridge convention in ``derivations/conventions.py``).
Measurements, by refits (never by the closed forms of ``derivations/``)
    :func:`measured_shift` (``f_poisoned - f_clean``), :func:`measured_shift_gradient`,
    :func:`measured_gn_term` (``grad Delta f grad Delta f^T`` from the closed-form
    kernel gradients of :mod:`numerics.kernels`), and the independent autograd route
    :func:`autograd_shift_gradient` / :func:`autograd_gn_term` (``torch.func`` over a
    pure-torch predictor built from :meth:`TorchKernel.pair`).  Every function of a
    clean and a poisoned fit refuses two fits with different kernels or ridges
    (:class:`MismatchedFitsError`); no queries (``(0, d)``) give empty results.
Clean-data quantities that the exact (conditional-kernel) closed forms take as inputs
    :func:`conditional_kernel` ``k~(x, x') = k(x, x') - k_C(x)^T (K_CC + cI)^{-1} k_C(x')``
    and :func:`conditional_kernel_gradient` (its gradient in the first argument).
    :func:`clean_conditionals` evaluates all four (``k~(x0, zeta)``, ``k~(zeta, zeta)``,
    ``f_C(zeta)``, ``grad_x k~(x0, zeta)``) for one trigger and one query.
Spectra
    :func:`top_eigenpairs` (batched symmetric matrices, descending).

This module is the library only: the deterministic claim instances and the C2-C4
measurements built on it are in :mod:`numerics.claim_cases`, experiments elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import torch

from numerics.kernels import TorchKernel, as_kernel
from numerics.krr import KRR, solve_spd
from numerics.validation import (
    DEFAULT_DTYPE,
    KernelOverflowError,
    NotFittedError,
    as_points,
    as_targets,
    as_tensor,
    check_positive,
    resolve_device,
)

__all__ = [
    "clone_cluster",
    "spread_cluster",
    "triggered_point",
    "with_poisons",
    "PoisonedFit",
    "fit_clean_and_poisoned",
    "measured_shift",
    "measured_shift_gradient",
    "measured_gn_term",
    "torch_predictor",
    "autograd_shift_gradient",
    "autograd_gn_term",
    "conditional_kernel",
    "conditional_kernel_gradient",
    "CleanConditionals",
    "clean_conditionals",
    "top_eigenpairs",
    "SPREAD_KINDS",
    "MismatchedFitsError",
]

#: direction models of :func:`spread_cluster`
SPREAD_KINDS = ("gaussian", "sphere")


# ---------------------------------------------------------------------------
# constructions
# ---------------------------------------------------------------------------


def _zeta(zeta, device=None) -> torch.Tensor:
    z = as_tensor(zeta, name="trigger point zeta", device=device)
    if z.ndim == 2 and z.shape[0] == 1:
        z = z[0]
    if z.ndim != 1 or z.shape[0] == 0:
        raise ValueError(f"trigger point zeta must be one point of shape (d,); got "
                         f"{tuple(z.shape)}")
    return z


#: most poisons :func:`clone_cluster` / :func:`spread_cluster` make (rows of the poison
#: matrix; 2**31 rows of even one float64 input are 16 GiB)
MAX_POISONS = 2**31


def _finite_points(t: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"the {what} overflow float64 (sigma, r or zeta of extreme "
                         "magnitude)")
    return t


def _finite_derivative(t: torch.Tensor, what: str) -> torch.Tensor:
    if not bool(torch.isfinite(t).all()):
        raise KernelOverflowError(f"the {what} is not finite at these queries (inputs of "
                                  "extreme magnitude overflow the kernel's derivatives)")
    return t


def _count(m, name: str = "m (number of poisons)") -> int:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {m!r}")
    if m < 1:
        raise ValueError(f"{name} must be at least 1, got {m}")
    if m > MAX_POISONS:
        raise ValueError(f"{name} = {m} exceeds {MAX_POISONS} (a poison matrix that large "
                         "cannot be allocated)")
    return int(m)


def _labels(y_t, m: int, device) -> torch.Tensor:
    t = as_tensor(y_t, name="attacker label y_t", device=device)
    if t.ndim == 0:
        return t.expand(m).clone()
    if t.ndim == 1 and t.shape[0] > 0:
        return t[None, :].expand(m, -1).clone()
    raise ValueError(f"attacker label y_t must be a scalar or a vector (one-hot); got shape "
                     f"{tuple(t.shape)}")


def clone_cluster(zeta, m: int, y_t) -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` exact copies of the trigger ``zeta`` (``(d,)``) labelled ``y_t``.

    ``y_t`` is a scalar (labels ``(m,)``) or a vector, e.g. one-hot (labels ``(m, o)``).
    Returns ``(Xp, yp)`` in float64 on ``zeta``'s device.
    """
    z = _zeta(zeta)
    m = _count(m)
    return z[None, :].expand(m, -1).clone(), _labels(y_t, m, z.device)


def spread_cluster(zeta, m: int, sigma: float, y_t, seed: int | None = None, *,
                   kind: str = "gaussian") -> tuple[torch.Tensor, torch.Tensor]:
    """``m`` poisons ``zeta + sigma u_j`` labelled ``y_t``.

    ``kind="gaussian"``: ``u_j`` i.i.d. standard normal in ``R^d`` (so ``|sigma u_j|`` is
    about ``sigma sqrt(d)``); ``kind="sphere"``: ``u_j`` i.i.d. uniform unit directions
    (every poison exactly at distance ``sigma``).  ``sigma = 0`` gives
    :func:`clone_cluster`.  Deterministic given ``seed``.
    """
    z = _zeta(zeta)
    m = _count(m)
    sigma = check_positive(sigma, "cluster spread sigma", allow_zero=True)
    if kind not in SPREAD_KINDS:
        raise ValueError(f"unknown spread kind {kind!r}; use one of {SPREAD_KINDS}")
    rng = np.random.default_rng(seed)
    U = rng.standard_normal((m, z.shape[0]))
    if kind == "sphere":
        U /= np.linalg.norm(U, axis=1, keepdims=True)
    Ut = torch.as_tensor(U, dtype=z.dtype, device=z.device)
    return _finite_points(z[None, :] + sigma * Ut, "poisons zeta + sigma u"), \
        _labels(y_t, m, z.device)


def triggered_point(zeta, r: float, direction=None, seed: int | None = None) -> torch.Tensor:
    """A test input at distance ``r`` from ``zeta``: ``zeta + r v / |v|``.

    ``direction`` ``v`` (``(d,)``, non-zero) or, when omitted, a uniform random unit
    direction drawn with ``seed``.  Returns shape ``(d,)``.
    """
    z = _zeta(zeta)
    r = check_positive(r, "distance r", allow_zero=True)
    if direction is None:
        v = torch.as_tensor(np.random.default_rng(seed).standard_normal(z.shape[0]),
                            dtype=z.dtype, device=z.device)
    else:
        v = as_tensor(direction, name="direction", device=z.device).reshape(-1)
        if v.shape != z.shape:
            raise ValueError(f"direction has shape {tuple(v.shape)} but zeta has "
                             f"{tuple(z.shape)}")
    norm = torch.linalg.vector_norm(v)
    if not float(norm) > 0:
        raise ValueError("direction must be a non-zero vector")
    return _finite_points(z + r * v / norm, "triggered point zeta + r v / |v|")


def with_poisons(X, y, Xp, yp) -> tuple[torch.Tensor, torch.Tensor]:
    """The poisoned training set: clean ``(X, y)`` followed by the poisons ``(Xp, yp)``."""
    X = as_points(X, name="clean inputs X")
    y = as_targets(y, X.shape[0], name="clean targets y", device=X.device)
    Xp = as_points(Xp, name="poison inputs Xp", d=X.shape[1], device=X.device)
    yp = as_targets(yp, Xp.shape[0], name="poison labels yp", device=X.device)
    if y.ndim != yp.ndim or (y.ndim == 2 and y.shape[1] != yp.shape[1]):
        raise ValueError(f"clean targets have shape {tuple(y.shape)} but poison labels "
                         f"{tuple(yp.shape)}: both must be scalar or have the same outputs")
    return torch.cat([X, Xp]), torch.cat([y, yp])


# ---------------------------------------------------------------------------
# fits and measurements
# ---------------------------------------------------------------------------


class PoisonedFit(NamedTuple):
    """A clean and a poisoned KRR fit with the same kernel and ridge; unpacks as a pair."""

    clean: KRR
    poisoned: KRR




def fit_clean_and_poisoned(kernel: TorchKernel | str, c: float, X, y, Xp, yp,
                           device: str | torch.device | None = None) -> PoisonedFit:
    """Fit KRR with ridge ``c`` on ``(X, y)`` and on ``(X, y) + (Xp, yp)``.

    ``X`` may have zero rows (no clean data): the clean predictor is then ``f = 0``.
    """
    k = as_kernel(kernel)
    dev = resolve_device(device)
    X = as_tensor(X, name="clean inputs X", device=dev)
    if X.ndim == 2 and X.shape[0] == 0:
        Xp_ = as_points(Xp, name="poison inputs Xp", device=dev)
        yp_ = as_targets(yp, Xp_.shape[0], name="poison labels yp", device=dev)
        clean = _EmptyKRR(k, c, Xp_.shape[1], yp_.shape[1:], dev)
        return PoisonedFit(clean, KRR(k, c, device=dev).fit(Xp_, yp_))
    Xa, ya = with_poisons(X, y, as_tensor(Xp, name="poison inputs Xp", device=dev),
                          as_tensor(yp, name="poison labels yp", device=dev))
    return PoisonedFit(KRR(k, c, device=dev).fit(X, y), KRR(k, c, device=dev).fit(Xa, ya))


class _EmptyKRR(KRR):
    """The KRR fit on no data (``f = 0``), so that "no clean data" needs no special case."""

    def __init__(self, kernel: TorchKernel, c: float, d: int, out_shape, device) -> None:
        super().__init__(kernel, c, device=device)
        self.X = torch.zeros(0, d, dtype=DEFAULT_DTYPE, device=self.device)
        shape = (0, *out_shape)
        self.y = torch.zeros(shape, dtype=DEFAULT_DTYPE, device=self.device)
        self.alpha = torch.zeros(shape, dtype=DEFAULT_DTYPE, device=self.device)
        self.K = torch.zeros(0, 0, dtype=DEFAULT_DTYPE, device=self.device)


class MismatchedFitsError(ValueError):
    """A clean and a poisoned fit that do not share their kernel, ridge or data shape."""


def _require_fitted(model: object, nm: str) -> None:
    """``model`` is a fitted :class:`~numerics.krr.KRR` (else TypeError / NotFittedError)."""
    if not isinstance(model, KRR):
        raise TypeError(f"the {nm} fit must be a numerics.krr.KRR, got {type(model).__name__}")
    if model.alpha is None:
        raise NotFittedError(f"the {nm} KRR is not fitted")


def _check_pair(clean: KRR, poisoned: KRR) -> None:
    """Refuse a clean/poisoned pair that is not "the same KRR with and without poisons":
    unfitted, or with different kernels (name or hyper-parameters), ridges, jitters,
    input dimensions or numbers of outputs (their difference would not be a poison's
    effect)."""
    for mdl, nm in ((clean, "clean"), (poisoned, "poisoned")):
        _require_fitted(mdl, nm)
    kc, kp = clean.kernel, poisoned.kernel
    if kc.name != kp.name or kc.params != kp.params:
        raise MismatchedFitsError(f"clean and poisoned fits have different kernels ({kc!r} vs "
                                  f"{kp!r}); refit both with the same kernel")
    if clean.ridge != poisoned.ridge or clean.jitter != poisoned.jitter:
        raise MismatchedFitsError(
            f"clean and poisoned fits have different ridges (c = {clean.ridge:g} + jitter "
            f"{clean.jitter:g} vs c = {poisoned.ridge:g} + jitter {poisoned.jitter:g}); "
            "refit both with the same ridge")
    if clean.X.shape[1] != poisoned.X.shape[1]:
        raise MismatchedFitsError("clean and poisoned fits have different input dimensions")
    if clean.alpha.shape[1:] != poisoned.alpha.shape[1:]:
        raise MismatchedFitsError("clean and poisoned fits have different numbers of outputs")


def _query(model: KRR, Xq) -> torch.Tensor:
    return as_points(Xq, name="query points", d=model.X.shape[1], device=model.device)


def measured_shift(clean: KRR, poisoned: KRR, Xq) -> torch.Tensor:
    """``Delta f = f_poisoned - f_clean`` at the queries, by the two refits: ``(q,)`` or
    ``(q, o)``."""
    _check_pair(clean, poisoned)
    Xq = _query(poisoned, Xq)
    return poisoned.predict(Xq) - clean.predict(Xq)


def measured_shift_gradient(clean: KRR, poisoned: KRR, Xq) -> torch.Tensor:
    """``grad_x Delta f`` from the closed-form kernel gradients of both refits:
    ``(q, d)`` or ``(q, o, d)``."""
    _check_pair(clean, poisoned)
    Xq = _query(poisoned, Xq)
    return poisoned.input_gradient(Xq) - clean.input_gradient(Xq)


def _outer(g: torch.Tensor) -> torch.Tensor:
    """``g g^T`` for ``(q, d)``; ``sum_o g_o g_o^T`` for ``(q, o, d)``."""
    if g.ndim == 2:
        return g[:, :, None] * g[:, None, :]
    return torch.einsum("qod,qoe->qde", g, g)


def measured_gn_term(clean: KRR, poisoned: KRR, Xq) -> torch.Tensor:
    """The poison-induced Gauss-Newton term ``grad Delta f grad Delta f^T`` (summed over
    outputs for multi-output fits), shape ``(q, d, d)``."""
    return _outer(measured_shift_gradient(clean, poisoned, Xq))


def torch_predictor(model: KRR) -> Callable[[torch.Tensor], torch.Tensor]:
    """``x (d,) -> f(x)`` (scalar, or ``(o,)``) built only from :meth:`TorchKernel.pair` and
    the fitted ``alpha``: differentiable by ``torch.func``, independent of the closed-form
    derivative code."""
    _require_fitted(model, "model")
    Xtr, alpha, kern = model.X, model.alpha, model.kernel

    def f(x: torch.Tensor) -> torch.Tensor:
        if Xtr.shape[0] == 0:
            return torch.zeros(alpha.shape[1:], dtype=x.dtype, device=x.device) + 0.0 * x.sum()
        kx = kern.pair(x[None, :].expand_as(Xtr), Xtr)  # (n,)
        return kx @ alpha

    return f


def autograd_shift_gradient(clean: KRR, poisoned: KRR, Xq) -> torch.Tensor:
    """``grad_x Delta f`` by ``torch.func.jacrev`` of the pure-torch predictors:
    ``(q, d)`` or ``(q, o, d)``."""
    _check_pair(clean, poisoned)
    Xq = _query(poisoned, Xq)
    fp, fc = torch_predictor(poisoned), torch_predictor(clean)

    def shift(x: torch.Tensor) -> torch.Tensor:
        return fp(x) - fc(x)

    jac = torch.func.jacrev(shift)
    if Xq.shape[0] == 0:  # no queries: an empty result of the documented shape
        return Xq.new_zeros((0, *poisoned.alpha.shape[1:], Xq.shape[1]))
    return _finite_derivative(torch.stack([jac(x) for x in Xq]), "autograd shift gradient")


def autograd_gn_term(clean: KRR, poisoned: KRR, Xq) -> torch.Tensor:
    """:func:`measured_gn_term` by autograd (independent route), shape ``(q, d, d)``."""
    return _outer(autograd_shift_gradient(clean, poisoned, Xq))


# ---------------------------------------------------------------------------
# clean-data quantities for the exact closed forms
# ---------------------------------------------------------------------------


def _clean_solve(clean: KRR, B: torch.Tensor) -> torch.Tensor:
    """``(K_CC + cI)^{-1} B`` with the clean fit's ridge: the fit's own factor when it kept
    one (large-n fits, :meth:`KRR.solve`), else a fresh Cholesky of ``K_CC + cI``."""
    if clean.jitter == 0.0:
        return clean.solve(B)
    A = clean.K + clean.ridge * torch.eye(clean.K.shape[0], dtype=B.dtype, device=B.device)
    return solve_spd(A, B, name="K_CC + cI (clean system)")


def conditional_kernel(clean: KRR, X1, X2) -> torch.Tensor:
    """``k~(x, x') = k(x, x') - k_C(x)^T (K_CC + cI)^{-1} k_C(x')`` for all pairs,
    ``(q1, q2)``, with ``C`` the clean training inputs and ``c`` the clean fit's ridge."""
    _require_fitted(clean, "clean")
    X1 = _query(clean, X1)
    X2 = _query(clean, X2)
    K12 = clean.kernel.gram(X1, X2)
    if clean.X.shape[0] == 0:
        return K12
    KC1 = clean.kernel.gram(clean.X, X1)
    KC2 = clean.kernel.gram(clean.X, X2)
    return K12 - KC1.T @ _clean_solve(clean, KC2)


def conditional_kernel_gradient(clean: KRR, Xq, zeta) -> torch.Tensor:
    """``grad_x k~(x, zeta)`` at each query, ``(q, d)`` (closed-form kernel gradients)."""
    _require_fitted(clean, "clean")
    Xq = _query(clean, Xq)
    z = _query(clean, zeta)
    g = clean.kernel.grad(Xq, z)[:, 0, :]
    if clean.X.shape[0] == 0:
        return g
    w = _clean_solve(clean, clean.kernel.gram(clean.X, z))[:, 0]  # (n,)
    return g - clean.kernel.derivatives(Xq, clean.X, w, order=1)[1]


class CleanConditionals(NamedTuple):
    """The clean-data quantities of the exact closed forms for one query ``x0`` and one
    trigger ``zeta`` (:func:`clean_conditionals`)."""

    #: ``k~(x0, zeta)``
    kt0: float
    #: ``k~(zeta, zeta)``
    ktz: float
    #: ``f_C(zeta)``: a float for a scalar fit, a ``(o,)`` tensor for ``o`` outputs
    fCz: float | torch.Tensor
    #: ``grad_x k~(x0, zeta)``, ``(d,)``
    grad: torch.Tensor


def clean_conditionals(clean: KRR, x0, zeta) -> CleanConditionals:
    """``k~(x0, zeta)``, ``k~(zeta, zeta)``, ``f_C(zeta)`` and ``grad_x k~(x0, zeta)`` of
    the clean fit (its kernel and its ridge ``c``): every clean-data input of the C2
    shift and the C3 spike closed forms.  ``x0`` and ``zeta`` are single points
    (``(d,)`` or ``(1, d)``); a clean fit on no data gives ``k~ = k`` and ``f_C = 0``."""
    _require_fitted(clean, "clean")
    x = _query(clean, x0)
    z = _query(clean, zeta)
    if x.shape[0] != 1 or z.shape[0] != 1:
        raise ValueError(f"x0 and zeta must be single points; got {x.shape[0]} and "
                         f"{z.shape[0]} rows")
    if clean.X.shape[0]:
        fz = clean.predict(z)[0]
    else:
        fz = torch.zeros(clean.alpha.shape[1:], dtype=z.dtype, device=z.device)
    return CleanConditionals(
        kt0=float(conditional_kernel(clean, x, z)[0, 0]),
        ktz=float(conditional_kernel(clean, z, z)[0, 0]),
        fCz=float(fz) if fz.ndim == 0 else fz,
        grad=conditional_kernel_gradient(clean, x, z)[0],
    )


# ---------------------------------------------------------------------------
# spectra
# ---------------------------------------------------------------------------


def top_eigenpairs(H, k: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest eigenvalues (descending) and eigenvectors of symmetric matrices.

    ``H``: ``(d, d)`` or batched ``(..., d, d)``.  Returns ``(values (..., k),
    vectors (..., d, k))`` with column ``i`` the eigenvector of ``values[..., i]``, by
    ``torch.linalg.eigh`` (dense).  Raises for non-square or non-symmetric input.
    """
    H = as_tensor(H, name="matrix H", device=H.device if isinstance(H, torch.Tensor) else None)
    if H.ndim < 2 or H.shape[-1] != H.shape[-2]:
        raise ValueError(f"H must be square (..., d, d); got shape {tuple(H.shape)}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= H.shape[-1]:
        raise ValueError(f"k must be an integer in [1, {H.shape[-1]}], got {k!r}")
    scale = float(H.abs().max()) if H.numel() else 0.0
    asym = float((H - H.transpose(-1, -2)).abs().max()) if H.numel() else 0.0
    if asym > 1e-10 * max(scale, 1e-300):
        raise ValueError(f"H is not symmetric (max |H - H^T| = {asym:.3g}, max |H| = "
                         f"{scale:.3g})")
    # entries of extreme magnitude: decompose H / scale (eigh fails on inf / NaN)
    s = scale if (scale > 1e150 or 0.0 < scale < 1e-150) else 1.0
    vals, vecs = torch.linalg.eigh(0.5 * (H / s + (H / s).transpose(-1, -2)))
    vals = vals * s
    if not bool(torch.isfinite(vals).all()):
        raise ValueError(f"the eigenvalues of H overflow float64 (max |H| = {scale:.3g})")
    idx = torch.arange(H.shape[-1] - 1, H.shape[-1] - 1 - k, -1, device=H.device)
    return vals[..., idx], vecs[..., idx]
