"""Top-k eigenpairs of a symmetric operator given only by its matrix-vector product.

:func:`lanczos` is a (block) Lanczos method with *full* reorthogonalisation and a
growing Krylov space (no restarts): every new direction ``A q`` is orthogonalised twice
against the whole basis ``Q`` (classical Gram-Schmidt, done twice), and the products
``A Q`` are kept, so that Rayleigh-Ritz on ``H = Q^T A Q`` gives Ritz pairs
``(theta, v = Q y)`` whose residuals ``||A v - theta v|| = ||(A Q) y - theta Q y||`` are
computed exactly from stored matvecs (not from the three-term recurrence's estimate).

Stopping criterion (stated once, used everywhere): the wanted ``k`` Ritz pairs are
accepted when, for each of them,

    ||A v - theta v||_2  <=  tol * max(|theta|, floor),   ||v||_2 = 1,

with ``floor = floor_rel * max_j |theta_j|`` (the largest Ritz value magnitude estimates
``||A||_2``; ``floor_rel = 1e-6`` by default), so that an eigenvalue at or near zero is
judged relative to the operator's scale rather than to itself.  For an isolated
eigenvalue this bounds the eigenvalue error by ``||r||^2 / gap`` and the angle of the
eigenvector by ``||r|| / gap``.

A single start vector only ever sees one direction of a repeated eigenvalue (the Krylov
space of ``v`` meets an eigenspace in the span of ``v``'s projection on it); use
``block_size >= multiplicity`` when eigenvalues may be exactly repeated.

The matvec may be a Hessian-vector product (:func:`numerics.hessian_eig.hvp`); all work
is done in torch on the device and dtype of the start vector, CPU or CUDA.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

__all__ = ["lanczos", "LanczosResult", "LanczosInputError", "LanczosConvergenceError", "WHICH"]

#: which end of the spectrum: largest algebraic, smallest algebraic, largest magnitude
WHICH = ("LA", "SA", "LM")


class LanczosInputError(ValueError):
    """Bad arguments to :func:`lanczos` (shapes, k, tolerances, a non-finite matvec...)."""


class LanczosConvergenceError(RuntimeError):
    """The wanted eigenpairs did not reach the tolerance within the matvec budget."""


@dataclass(frozen=True)
class LanczosResult:
    """``values`` ``(k,)`` (ordered by ``which``: descending for LA, ascending for SA,
    descending magnitude for LM), ``vectors`` ``(d, k)`` orthonormal, ``residuals`` ``(k,)``
    (``||A v - theta v||``), ``matvecs`` (products used), ``converged`` (criterion met)."""

    values: torch.Tensor
    vectors: torch.Tensor
    residuals: torch.Tensor
    matvecs: int
    converged: bool


def _order(theta: torch.Tensor, which: str) -> torch.Tensor:
    if which == "LA":
        return torch.argsort(theta, descending=True)
    if which == "SA":
        return torch.argsort(theta)
    return torch.argsort(theta.abs(), descending=True)


def lanczos(matvec: Callable[[torch.Tensor], torch.Tensor], v0: torch.Tensor, k: int = 1, *,
            which: str = "LA", tol: float = 1e-8, max_matvecs: int | None = None,
            block_size: int = 1, floor_rel: float = 1e-6, seed: int = 0,
            raise_on_fail: bool = True) -> LanczosResult:
    """The ``k`` wanted eigenpairs of the symmetric operator ``v -> matvec(v)``.

    Parameters
    ----------
    matvec:
        ``(d,) -> (d,)``, symmetric (not checked beyond the Rayleigh-Ritz matrix being
        symmetrised); called once per basis vector.
    v0:
        Start vector ``(d,)`` (or start block ``(d, b)``); its device and dtype are used
        throughout.  Extra block columns, when ``block_size`` exceeds them, are drawn from
        a generator seeded by ``seed``.
    k:
        Number of eigenpairs, ``1 <= k <= d``.
    which:
        ``"LA"`` (largest algebraic, default), ``"SA"`` or ``"LM"``.
    tol:
        Relative residual tolerance of the module's stopping criterion.
    max_matvecs:
        Budget of matvecs (default ``d``: with ``d`` basis vectors Rayleigh-Ritz is exact).
    block_size:
        Vectors added per step (block Krylov); ``>=`` the multiplicity of a repeated
        wanted eigenvalue to resolve all its copies.
    raise_on_fail:
        Raise :class:`LanczosConvergenceError` when the budget ends before the criterion
        is met (default); otherwise return with ``converged=False``.
    """
    if not callable(matvec):
        raise LanczosInputError("matvec must be callable (d,) -> (d,)")
    if not isinstance(v0, torch.Tensor) or v0.ndim not in (1, 2) or v0.shape[0] == 0:
        raise LanczosInputError("v0 must be a torch tensor of shape (d,) or (d, b) with d >= 1")
    if v0.dtype not in (torch.float32, torch.float64):
        raise LanczosInputError(f"v0 must be a float32 or float64 floating-point tensor (half "
                                f"precision cannot resolve the Ritz values), got {v0.dtype}")
    if not bool(torch.isfinite(v0).all()):
        raise LanczosInputError("v0 has non-finite entries")
    d = v0.shape[0]
    for name, val, lo in (("k", k, 1), ("block_size", block_size, 1)):
        if isinstance(val, bool) or not isinstance(val, int) or val < lo:
            raise LanczosInputError(f"{name} must be an integer >= {lo}, got {val!r}")
    if k > d:
        raise LanczosInputError(f"k={k} exceeds the dimension d={d}")
    if which not in WHICH:
        raise LanczosInputError(f"which must be one of {WHICH}, got {which!r}")
    for name, val in (("tol", tol), ("floor_rel", floor_rel)):
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not 0 < val < 1:
            raise LanczosInputError(f"{name} must be a number in (0, 1), got {val!r}")
    if max_matvecs is None:
        max_matvecs = d
    if isinstance(max_matvecs, bool) or not isinstance(max_matvecs, int) or max_matvecs < k:
        raise LanczosInputError(f"max_matvecs must be an integer >= k={k}, got {max_matvecs!r}")
    max_matvecs = min(max_matvecs, d)
    dev, dt = v0.device, v0.dtype
    gen = torch.Generator(device=dev).manual_seed(int(seed))

    def rand(cols: int) -> torch.Tensor:
        return torch.randn(d, cols, generator=gen, device=dev, dtype=dt)

    def apply(block: torch.Tensor) -> torch.Tensor:
        cols = []
        for j in range(block.shape[1]):
            try:
                w = matvec(block[:, j])
            except (RuntimeError, ValueError, TypeError, IndexError) as err:
                raise LanczosInputError(f"matvec failed on a vector of shape ({d},) -- is v0 "
                                        f"of the operator's dimension? ({err})") from err
            if not isinstance(w, torch.Tensor) or w.shape != (d,):
                got = tuple(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
                raise LanczosInputError(f"matvec must return a tensor of shape ({d},), got {got}")
            if not w.dtype.is_floating_point:
                raise LanczosInputError(f"matvec must return a real floating tensor, got "
                                        f"{w.dtype}")
            if not bool(torch.isfinite(w).all()):
                raise LanczosInputError("matvec returned non-finite entries")
            cols.append(w.to(device=dev, dtype=dt))
        return torch.stack(cols, 1)

    eps = torch.finfo(dt).eps
    Q = v0.new_zeros(d, 0)
    AQ = v0.new_zeros(d, 0)
    H = v0.new_zeros(0, 0)

    def orthonormal_new(W: torch.Tensor, scale: float) -> torch.Tensor:
        """``W`` orthogonalised against ``Q`` (twice) and within itself; columns that
        vanish (an invariant subspace was reached) are replaced by random directions."""
        for _ in range(2):
            W = W - Q @ (Q.T @ W)
        out = []
        for j in range(W.shape[1]):
            w = W[:, j]
            for _attempt in range(3):
                basis = torch.cat([Q, *[c[:, None] for c in out]], 1)
                for _ in range(2):
                    w = w - basis @ (basis.T @ w)
                nrm = float(torch.linalg.vector_norm(w))
                if nrm > 1e3 * eps * max(scale, 1.0) * d ** 0.5 and nrm > 0:
                    out.append(w / nrm)
                    break
                w = rand(1)[:, 0]
                scale = float(torch.linalg.vector_norm(w))
        return torch.stack(out, 1) if out else v0.new_zeros(d, 0)

    start = v0[:, None] if v0.ndim == 1 else v0
    if start.shape[1] < block_size:
        start = torch.cat((start, rand(block_size - start.shape[1])), 1)
    block = orthonormal_new(start[:, : min(block_size, max_matvecs)].clone(), 1.0)
    result = None
    while True:
        block = block[:, : max_matvecs - Q.shape[1]]
        Ab = apply(block)
        # grow H = Q^T A Q by the new rows/columns (symmetrised)
        cross = Q.T @ Ab
        corner = block.T @ Ab
        corner = 0.5 * (corner + corner.T)
        H = torch.cat((torch.cat((H, cross), 1), torch.cat((cross.T, corner), 1)), 0)
        Q = torch.cat((Q, block), 1)
        AQ = torch.cat((AQ, Ab), 1)
        m = Q.shape[1]
        if m >= k:
            theta, Y = torch.linalg.eigh(H)
            idx = _order(theta, which)[:k]
            th, Ys = theta[idx], Y[:, idx]
            V = Q @ Ys
            res = torch.linalg.vector_norm(AQ @ Ys - V * th, dim=0)
            if not (bool(torch.isfinite(th).all()) and bool(torch.isfinite(res).all())):
                raise LanczosInputError(
                    "the Ritz values or residuals overflow float64: the operator's entries "
                    "are of extreme magnitude (rescale it)")
            floor = floor_rel * float(theta.abs().max())
            bound = tol * torch.clamp(th.abs(), min=floor)
            ok = bool((res <= bound).all())
            result = LanczosResult(values=th, vectors=V, residuals=res, matvecs=m, converged=ok)
            if ok:
                return result
        if m >= max_matvecs:
            break
        block = orthonormal_new(Ab.clone(), float(torch.linalg.vector_norm(Ab)))
        if block.shape[1] == 0:
            break
    if raise_on_fail:
        assert result is not None
        raise LanczosConvergenceError(
            f"Lanczos: after {result.matvecs} matvecs the largest relative residual of the "
            f"{k} wanted eigenpairs is {float((result.residuals / result.values.abs()).max()):.3g}"
            f" > tol={tol:g}; raise max_matvecs or tol")
    assert result is not None
    return result
