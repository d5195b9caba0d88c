"""Kernel ridge regression for large ``n``: a matrix-free conjugate-gradient fit.

:class:`CGKRR` solves ``(K + cI) alpha = y`` by preconditioned conjugate gradients
(``linear_operator.utils.linear_cg``, the CG of GPyTorch's ``linear_operator`` library)
without ever forming ``K``: the operator :func:`gram_operator` multiplies by the Gram
matrix one block of rows at a time (each block recomputed from the kernel, at most
``block_elements`` entries alive), and the preconditioner is the library's partial pivoted
Cholesky factor ``L_k`` of ``K`` (rank ``k``) with ``(L_k L_k^T + cI)^{-1}`` applied by
the Woodbury identity.  The solve stops at a stated *true* relative residual
``|y - (K + cI) alpha| / |y|`` (recomputed after CG, restarting from the iterate when
the recursive residual drifted), else :class:`CGNotConvergedError` says so with the
residual reached.  Predictions, input gradients and Hessians are those of
:class:`~numerics.krr.KRR` (blocked over queries and training points) with the CG weights.

The dense in-place path for ``n`` that fits in memory is :class:`~numerics.krr.KRR`
itself (see its module docstring).  :func:`~numerics.closed_forms.clean_quantities_from_fit`
(re-exported here) turns any fitted
clean model (dense or CG) into the :class:`~numerics.closed_forms.CleanQuantities` of the
exact shift and spike closed forms.

The library is an optional dependency (extra ``matrixfree``); without it
:class:`MissingExtraError` names the extra to install.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch

from numerics.closed_forms import clean_quantities_from_fit  # re-exported (its one home)
from numerics.kernels import CHUNK_ELEMENTS, TorchKernel
from numerics.krr import KRR

__all__ = [
    "CGKRR",
    "CGNotConvergedError",
    "CGReport",
    "MissingExtraError",
    "MATRIXFREE_EXTRA",
    "clean_quantities_from_fit",
    "gram_operator",
    "require_linear_operator",
]

#: the optional dependency group of pyproject.toml that provides the CG library
MATRIXFREE_EXTRA = "matrixfree"


class MissingExtraError(ImportError):
    """An optional dependency of the matrix-free path is not installed."""


class CGNotConvergedError(ValueError):
    """Conjugate gradients did not reach the requested relative residual."""

    def __init__(self, message: str, iterations: int, residual: float) -> None:
        super().__init__(message)
        self.iterations = iterations
        self.residual = residual


def require_linear_operator() -> Any:
    """Import ``linear_operator`` or raise :class:`MissingExtraError` naming the extra."""
    try:
        import linear_operator
    except ImportError as exc:
        raise MissingExtraError(
            "the matrix-free KRR solver needs the 'linear_operator' package (GPyTorch's "
            f"operator library): install the optional extra {MATRIXFREE_EXTRA!r}, "
            f"pip install 'poisoncurv[{MATRIXFREE_EXTRA}]' (keep torch pinned)") from exc
    return linear_operator


def _gram_rows(kernel: TorchKernel, X: torch.Tensor, rows: torch.Tensor | slice,
               cols: torch.Tensor | slice) -> torch.Tensor:
    return kernel.gram(X[rows], X[cols])


def gram_operator(kernel: TorchKernel, X: torch.Tensor, *,
                  block_elements: int = CHUNK_ELEMENTS) -> Any:
    """The Gram matrix ``k(X, X)`` as a ``linear_operator.LinearOperator`` that is never
    formed: products are summed over blocks of at most ``block_elements`` entries,
    entries and the diagonal are computed on request."""
    lo = require_linear_operator()
    from linear_operator.operators import LinearOperator

    class _GramOperator(LinearOperator):
        def __init__(self, X: torch.Tensor) -> None:
            super().__init__(X)
            self.X = X

        def _size(self) -> torch.Size:
            return torch.Size((self.X.shape[0], self.X.shape[0]))

        def _transpose_nonbatch(self) -> LinearOperator:
            return self

        def _matmul(self, rhs: torch.Tensor) -> torch.Tensor:
            n = self.X.shape[0]
            vec = rhs.ndim == 1
            R = rhs[:, None] if vec else rhs
            rows = max(1, block_elements // max(1, n))
            out = torch.cat([_gram_rows(kernel, self.X, slice(s, s + rows), slice(None)) @ R
                             for s in range(0, n, rows)])
            return out[:, 0] if vec else out

        def _diagonal(self) -> torch.Tensor:
            n = self.X.shape[0]
            b = max(1, min(n, int(block_elements**0.5)))
            return torch.cat([_gram_rows(kernel, self.X, slice(s, s + b),
                                         slice(s, s + b)).diagonal()
                              for s in range(0, n, b)])

        def _get_indices(self, row_index: torch.Tensor, col_index: torch.Tensor,
                         *batch_indices: torch.Tensor) -> torch.Tensor:
            shape = torch.broadcast_shapes(row_index.shape, col_index.shape)
            ru, ri = torch.unique(row_index, return_inverse=True)
            cu, ci = torch.unique(col_index, return_inverse=True)
            G = _gram_rows(kernel, self.X, ru, cu)
            return G[ri.expand(shape), ci.expand(shape)]

    del lo
    return _GramOperator(X)


@dataclass(frozen=True)
class CGReport:
    """What one CG solve did: iterations (matrix products after the first residual),
    restarts, the true relative residual reached and the preconditioner's rank."""

    iterations: int
    restarts: int
    residual: float
    tolerance: float
    preconditioner_rank: int


class CGKRR(KRR):
    """KRR fitted by preconditioned conjugate gradients without forming ``K``.

    Parameters are those of :class:`~numerics.krr.KRR` plus

    tol:
        Required true relative residual ``|B - (K + cI) X| / |B|`` (per column).
    max_iter:
        Most CG iterations in all (restarts included); beyond them
        :class:`CGNotConvergedError` reports the residual reached.
    precond_rank:
        Rank of the pivoted-Cholesky preconditioner (``0``: none).

    ``solve`` (used by :mod:`numerics.poisons` for the conditional kernel) runs CG too;
    every solve's :class:`CGReport` is appended to :attr:`reports`.
    """

    def __init__(self, kernel: TorchKernel | str, ridge: float, *, tol: float = 1e-10,
                 max_iter: int = 2000, precond_rank: int = 100,
                 device: str | torch.device | None = None,
                 block_elements: int = CHUNK_ELEMENTS, **params: float | int) -> None:
        super().__init__(kernel, ridge, device=device, block_elements=block_elements,
                         **params)
        require_linear_operator()
        if not (isinstance(tol, float | int) and 0 < tol < 1):
            raise ValueError(f"tol must be a relative residual in (0, 1), got {tol!r}")
        for name, v, lo in (("max_iter", max_iter, 1), ("precond_rank", precond_rank, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
        self.tol, self.max_iter, self.precond_rank = float(tol), max_iter, precond_rank
        self.reports: list[CGReport] = []
        self._op: Any = None
        self._precond: Any = None
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None  # (B, solution)

    def fit(self, X, y) -> CGKRR:
        """Fit by CG; ``K`` is never formed (:attr:`K` stays ``None``)."""
        from numerics.validation import as_points, as_targets

        X = as_points(X, name="training inputs X", device=self.device)
        if X.shape[0] == 0:
            from numerics.krr import EmptyTrainingSetError

            raise EmptyTrainingSetError("training inputs X have zero rows")
        y = as_targets(y, X.shape[0], name="training targets y", device=self.device)
        self.X, self.y, self._K, self._L = X, y, None, None
        self._op = gram_operator(self.kernel, X, block_elements=self.block_elements)
        self._last = None
        self._precond = self._preconditioner()
        self.alpha = torch.zeros_like(y)  # marks the model fitted for solve()
        self.alpha = self.solve(y)
        return self

    @property
    def report(self) -> CGReport:
        """The fit's CG report (the first solve)."""
        self._require_fit()
        return self.reports[0]

    def _preconditioner(self):
        c = self.ridge + self.jitter
        k = min(self.precond_rank, self.X.shape[0])
        if k == 0:
            self._rank = 0
            return None
        Lk = self._op.pivoted_cholesky(rank=k)  # (n, k'), k' <= k (early stop at tolerance)
        self._rank = Lk.shape[1]
        inner = torch.linalg.cholesky(Lk.T @ Lk + c * torch.eye(Lk.shape[1], dtype=Lk.dtype,
                                                                 device=Lk.device))

        def apply(r: torch.Tensor) -> torch.Tensor:  # (Lk Lk^T + cI)^{-1} r, Woodbury
            return (r - Lk @ torch.cholesky_solve(Lk.T @ r, inner)) / c

        return apply

    def _matvec(self, V: torch.Tensor) -> torch.Tensor:
        return self._op._matmul(V) + (self.ridge + self.jitter) * V

    def solve(self, B: torch.Tensor) -> torch.Tensor:
        """``(K + (c + jitter) I)^{-1} B`` by preconditioned CG to the relative residual
        :attr:`tol`; raises :class:`CGNotConvergedError` past :attr:`max_iter`.  The last
        right-hand side and its solution are remembered (the conditional-kernel quantities
        of :func:`numerics.poisons.clean_conditionals` solve against ``k_C(zeta)`` three
        times); a repeat returns the same solution without a new report."""
        from linear_operator.utils.linear_cg import linear_cg

        self._require_fit()
        vec = B.ndim == 1
        Bm = B[:, None] if vec else B
        if self._last is not None and self._last[0].shape == Bm.shape \
                and torch.equal(self._last[0], Bm):
            Xs = self._last[1]
            return Xs[:, 0] if vec else Xs
        bnorm = torch.linalg.vector_norm(Bm, dim=0).clamp_min(torch.finfo(Bm.dtype).tiny)
        calls = [0]

        def matmul(V: torch.Tensor) -> torch.Tensor:
            calls[0] += 1
            return self._matvec(V)

        Xs = torch.zeros_like(Bm)
        used, restarts, res = 0, -1, float("inf")
        while used < self.max_iter:
            restarts += 1
            calls[0] = 0
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                # eps: the library's guard against division by ~0 is compared with squared
                # residual norms; its default 1e-10 freezes the iterate at |r| ~ 1e-5
                Xs = linear_cg(matmul, Bm, tolerance=self.tol / 4, eps=1e-200, max_tridiag_iter=0,
                               stop_updating_after=self.tol / 100,
                               max_iter=self.max_iter - used, initial_guess=Xs,
                               preconditioner=self._precond)
            used += max(0, calls[0] - 1)
            true = torch.linalg.vector_norm(Bm - self._matvec(Xs), dim=0) / bnorm
            res = float(true.max())
            if res <= self.tol:
                break
            if restarts >= 5:
                break
        self.reports.append(CGReport(iterations=used, restarts=restarts, residual=res,
                                     tolerance=self.tol, preconditioner_rank=self._rank))
        if not res <= self.tol:
            raise CGNotConvergedError(
                f"conjugate gradients did not converge: relative residual {res:.3g} after "
                f"{used} iterations (max_iter {self.max_iter}, tolerance {self.tol:.3g}); "
                "raise max_iter or precond_rank, or increase the ridge",
                iterations=used, residual=res)
        self._last = (Bm.clone(), Xs)
        return Xs[:, 0] if vec else Xs
