"""Kernel ridge regression in float64 with closed-form input derivatives.

Jitter policy (explicit, documented, never silent)
    The system ``K + c I`` is solved by Cholesky with the ridge ``c > 0`` exactly as
    given.  No jitter is added unless the caller passes ``jitter > 0``, which is then
    added to the diagonal and recorded in :attr:`KRR.jitter`.  If the factorisation
    fails, or the factor's estimated condition number exceeds :data:`MAX_CONDITION`,
    :class:`~numerics.validation.SingularSystemError` is raised; when the failure comes
    from a Gram matrix that is not positive semi-definite,
    :class:`~numerics.validation.NotPSDError` is raised instead, naming the kernel.

Condition limit (:data:`MAX_CONDITION`)
    What it bounds: the estimate ``(max_i L_ii / min_i L_ii)^2`` of the Cholesky factor ``L``
    of the system (``K + (c + jitter) I``, or the matrix given to :func:`solve_spd` /
    :func:`factor_in_place`).  This estimate is a LOWER bound of the 2-norm condition
    number ``kappa`` (``|A| >= max L_ii^2``, ``|A^-1| >= 1 / min L_ii^2``) and equals it for
    a diagonal system.  So every system with ``kappa < MAX_CONDITION`` is accepted, every
    refused one has ``kappa >= MAX_CONDITION``, but a system whose estimate falls short of
    ``kappa`` can be accepted above the limit (the estimate can be orders of magnitude
    below ``kappa`` when the small eigenvalues are not aligned with the coordinate axes).
    Digits: a Cholesky solve has a small normwise backward error (of order ``n u``,
    ``u = 2^-53``), so its relative forward error is of order ``kappa n u``: a solve loses
    about ``log10(kappa)`` of float64's ~16 significant digits, plus a few for ``n`` (worst
    case ``log10(n (3n + 1) / 2)``, typically the square root of that constant).  At the
    limit ``kappa = 1e12`` about 12 digits may be lost and about 4 remain; the refitted
    predictions, derivatives and closed-form inputs inherit that accuracy.  The digits
    actually lost, measured against an exact (mpmath) solve, and the estimate's shortfall
    are tabulated in the book page ``precision`` (:mod:`numerics.precision`;
    ``tests/test_precision.py``).

Memory (large ``n``)
    Up to :data:`KEEP_GRAM_MAX_ELEMENTS` Gram entries (``n <= 5792``) a fit keeps the Gram
    matrix ``K`` as :attr:`KRR.K` and solves a separate ``K + cI`` exactly as always.
    Beyond it (or with ``keep_gram=False``) the fit allocates ONE ``n x n`` buffer, writes
    the Gram matrix into it in row blocks of at most ``block_elements`` entries, adds the
    ridge on its diagonal and factors it in place (``torch.linalg.cholesky_ex`` writing into
    the buffer's column-major view: no second ``n x n`` array); the buffer then holds the
    Cholesky factor, used by :meth:`KRR.solve` through two triangular solves
    (``torch.cholesky_solve`` would clone the factor).  Predictions and input derivatives are
    summed over blocks of queries and of training points so that no ``q x n x d``
    intermediate exceeds ``block_elements`` entries (where one query's footprint allows).
    :attr:`KRR.K` of such a fit is recomputed on access (it allocates ``n x n``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from numerics.kernels import CHUNK_ELEMENTS, TorchKernel, as_kernel, check_gram_psd
from numerics.validation import (
    NotFittedError,
    NotPSDError,
    SingularSystemError,
    as_points,
    as_targets,
    check_positive,
    real_matrix,
    resolve_device,
)

__all__ = ["KRR", "LossHessian", "solve_spd", "MAX_CONDITION", "NotPSDError", "SingularSystemError",
           "EmptyTrainingSetError", "KEEP_GRAM_MAX_ELEMENTS", "gram_into", "factor_in_place",
           "solve_with_factor"]


class EmptyTrainingSetError(ValueError):
    """A KRR was asked to fit zero training points."""


#: largest accepted condition ESTIMATE ``(max L_ii / min L_ii)^2`` of the SPD system (a lower
#: bound of its 2-norm condition number; see "Condition limit" in the module docstring): at
#: a condition number of 1e12 a float64 solve may lose about 12 of its ~16 digits
MAX_CONDITION = 1e12

#: fits with at most this many Gram entries keep ``K`` (the historical dense path)
KEEP_GRAM_MAX_ELEMENTS = CHUNK_ELEMENTS

#: a failed in-place factorisation is diagnosed (PSD test of the kernel on the leading
#: block) only up to this order; beyond it the eigen-decomposition would cost more than the fit
_DIAGNOSE_MAX_N = 4096


def _rows_per_block(cols: int, block_elements: int) -> int:
    return max(1, int(block_elements) // max(1, cols))


def gram_into(kernel: TorchKernel, X: torch.Tensor, out: torch.Tensor, *,
              block_elements: int = CHUNK_ELEMENTS) -> torch.Tensor:
    """Write the Gram matrix ``k(X, X)`` into the preallocated ``out`` (``(n, n)``) in blocks
    of rows of at most ``block_elements`` entries; returns ``out``.  Only one block of
    kernel intermediates is alive at a time."""
    real_matrix(X, "gram_into: X", finite=False)  # kernel.gram validates the values
    real_matrix(out, "gram_into: out", finite=False)  # a fresh buffer: any values
    if X.ndim != 2:
        raise ValueError(f"gram_into: X must be (n, d), got shape {tuple(X.shape)}")
    n = X.shape[0]
    if out.shape != (n, n):
        raise ValueError(f"gram_into: output buffer has shape {tuple(out.shape)}, expected "
                         f"({n}, {n})")
    rows = _rows_per_block(n, block_elements)
    for s in range(0, n, rows):
        out[s : s + rows] = kernel.gram(X[s : s + rows], X)
    return out


def factor_in_place(A: torch.Tensor, *, name: str = "system") -> torch.Tensor:
    """Cholesky-factor the symmetric positive-definite ``A`` (``(n, n)``, contiguous) in its
    own storage: returns the lower factor ``L`` as a column-major view of ``A``'s memory
    (``A`` is overwritten; no second ``n x n`` array is made).

    Raises :class:`SingularSystemError` naming the leading minor where the factorisation
    broke down, or when the factor's estimated condition number exceeds
    :data:`MAX_CONDITION`."""
    real_matrix(A, f"factor_in_place: {name}", finite=False)  # NaN/inf: checked on L below
    if A.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"factor_in_place: {name} must be float32 or float64, got {A.dtype}")
    if A.ndim != 2 or A.shape[0] != A.shape[1] or not A.is_contiguous():
        raise ValueError(f"factor_in_place: {name} must be a contiguous square matrix, got "
                         f"shape {tuple(A.shape)}")
    At = A.mT  # column-major view: LAPACK factors it without a copy (A is symmetric)
    info = torch.empty((), dtype=torch.int32, device=A.device)
    L, info = torch.linalg.cholesky_ex(At, out=(At, info))
    if int(info) != 0:
        raise SingularSystemError(
            f"{name} is not positive definite to working precision: the Cholesky "
            f"factorisation broke down at leading minor {int(info)} of {A.shape[0]}; "
            "increase the ridge")
    # a NaN/inf entry of the factored triangle reaches the diagonal of its row (no second
    # n x n array for an isfinite mask)
    if not bool(torch.isfinite(L.diagonal()).all()):
        raise ValueError(f"factor_in_place: {name} contains NaN or infinite entries")
    _check_condition(L, name)
    return L


def solve_with_factor(L: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """``(L L^T)^{-1} B`` by two triangular solves (``B``: ``(n, k)``).  Unlike
    ``torch.cholesky_solve``, which clones the factor (measured: one more ``n x n`` array),
    ``torch.linalg.solve_triangular`` works on ``L``'s own storage."""
    real_matrix(L, "factor L", finite=False)  # a factor from factor_in_place: finite
    real_matrix(B, "right-hand side B")
    if L.dtype not in (torch.float32, torch.float64) or B.dtype != L.dtype:
        raise TypeError(f"solve_with_factor: L and B must share a float32/float64 dtype, got "
                        f"{L.dtype} and {B.dtype}")
    if L.ndim != 2 or L.shape[0] != L.shape[1] or B.ndim != 2 or B.shape[0] != L.shape[0]:
        raise ValueError(f"solve_with_factor: L must be (n, n) and B (n, k); got "
                         f"{tuple(L.shape)} and {tuple(B.shape)}")
    z = torch.linalg.solve_triangular(L, B, upper=False)
    out = torch.linalg.solve_triangular(L.mT, z, upper=True)
    if not bool(torch.isfinite(out).all()):
        raise SingularSystemError("solve_with_factor: the solution overflows float64 (the "
                                  "factor L is numerically singular or of extreme magnitude)")
    return out


def _check_condition(L: torch.Tensor, name: str) -> None:
    diag = L.diagonal()
    cond_est = float((diag.max() / diag.min()) ** 2) if diag.numel() else 1.0
    if not cond_est < MAX_CONDITION:
        raise SingularSystemError(
            f"{name} is numerically singular (estimated condition number {cond_est:.3g} "
            f"> {MAX_CONDITION:.0e}); increase the ridge"
        )


def solve_spd(A: torch.Tensor, B: torch.Tensor, *, name: str = "system",
              kernel_name: str | None = None, K: torch.Tensor | None = None) -> torch.Tensor:
    """Solve ``A X = B`` for a symmetric positive-definite ``A`` by Cholesky.

    Raises :class:`SingularSystemError` (or :class:`NotPSDError` when ``K``, the Gram
    matrix inside ``A``, is not PSD) with the reason, instead of returning a wrong answer.
    """
    real_matrix(A, name)
    real_matrix(B, f"right-hand side of {name}")
    if A.dtype not in (torch.float32, torch.float64) or B.dtype != A.dtype:
        raise TypeError(f"{name}: A and B must share a float32/float64 dtype, got {A.dtype} "
                        f"and {B.dtype}")
    if A.ndim != 2 or A.shape[0] != A.shape[1] or B.ndim not in (1, 2) \
            or B.shape[0] != A.shape[0]:
        raise ValueError(f"{name}: A must be (n, n) and B (n,) or (n, k); got "
                         f"{tuple(A.shape)} and {tuple(B.shape)}")
    if B.ndim == 1:
        return solve_spd(A, B[:, None], name=name, kernel_name=kernel_name, K=K)[:, 0]
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        if K is not None:
            check_gram_psd(K, name=f"kernel {kernel_name!r}" if kernel_name else "kernel")
        ev = torch.linalg.eigvalsh(A)
        raise SingularSystemError(
            f"{name} is not positive definite to working precision "
            f"(smallest eigenvalue {float(ev.min()):.3g}, largest {float(ev.max()):.3g}); "
            "increase the ridge"
        )
    _check_condition(L, name)
    out = torch.cholesky_solve(B, L)
    if not bool(torch.isfinite(out).all()):
        raise SingularSystemError(f"{name}: the solution overflows float64 (a system of "
                                  "extreme magnitude); rescale it or increase the ridge")
    return out


@dataclass(frozen=True)
class LossHessian:
    """Input Hessian of the squared loss at query points, split in its two parts.

    ``gauss_newton = sum_o grad f_o grad f_o^T`` and
    ``residual = sum_o (f_o - y_o) hess f_o``; ``total`` is their sum.  Shapes ``(q, d, d)``.
    """

    gauss_newton: torch.Tensor
    residual: torch.Tensor

    @property
    def total(self) -> torch.Tensor:
        return self.gauss_newton + self.residual


class KRR:
    """Kernel ridge regression ``f(x) = sum_i alpha_i k(x, x_i)``, ``alpha = (K + cI)^{-1} y``.

    Parameters
    ----------
    kernel:
        A :class:`~numerics.kernels.TorchKernel` or a registry name (then ``**params``
        are its hyper-parameters).
    ridge:
        The ridge ``c > 0`` (see :mod:`derivations.conventions` for ``c = n lambda``).
    jitter:
        Extra diagonal added on purpose (default 0; see the module's jitter policy).
    device:
        ``"cpu"`` (default), ``"cuda"``...; data are moved there in float64.
    keep_gram:
        Keep the Gram matrix (the dense path) or factor one buffer in place (the
        large-``n`` path, see the module docstring).  ``None`` (default): keep it when it has
        at most :data:`KEEP_GRAM_MAX_ELEMENTS` entries.
    block_elements:
        Cap on the entries of one block of Gram rows, of query-by-training intermediates
        and of the training-point blocks of the input derivatives (default
        :data:`~numerics.kernels.CHUNK_ELEMENTS`, 256 MiB of float64).
    """

    def __init__(self, kernel: TorchKernel | str, ridge: float, *, jitter: float = 0.0,
                 device: str | torch.device | None = None, keep_gram: bool | None = None,
                 block_elements: int = CHUNK_ELEMENTS, **params: float | int) -> None:
        self.kernel = as_kernel(kernel, **params)
        self.ridge = check_positive(ridge, "ridge c")
        self.jitter = check_positive(jitter, "jitter", allow_zero=True)
        self.device = resolve_device(device)
        if keep_gram is not None and not isinstance(keep_gram, bool):
            raise TypeError(f"keep_gram must be True, False or None, got {keep_gram!r}")
        if isinstance(block_elements, bool) or not isinstance(block_elements, int) \
                or block_elements < 1:
            raise ValueError(f"block_elements must be a positive int, got {block_elements!r}")
        self.keep_gram = keep_gram
        self.block_elements = block_elements
        self.X: torch.Tensor | None = None
        self.alpha: torch.Tensor | None = None
        self._K: torch.Tensor | None = None
        #: Cholesky factor of ``K + (c + jitter) I`` (large-n path only), column-major view
        self._L: torch.Tensor | None = None

    @property
    def K(self) -> torch.Tensor | None:
        """The Gram matrix of the training inputs.  A large-``n`` fit does not keep it: it is
        recomputed here (blocked; allocates ``n x n``)."""
        if self._K is None and self._L is not None:
            K = torch.empty(self.X.shape[0], self.X.shape[0], dtype=self.X.dtype,
                            device=self.X.device)
            return gram_into(self.kernel, self.X, K, block_elements=self.block_elements)
        return self._K

    @K.setter
    def K(self, value: torch.Tensor | None) -> None:
        self._K = value
        self._L = None

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> KRR:
        X = as_points(X, name="training inputs X", device=self.device)
        if X.shape[0] == 0:
            raise EmptyTrainingSetError(
                "training inputs X have zero rows: a KRR needs at least one training point "
                "(for 'no clean data' use numerics.poisons.fit_clean_and_poisoned, whose "
                "clean fit on no data is f = 0)")
        y = as_targets(y, X.shape[0], name="training targets y", device=self.device)
        n = X.shape[0]
        keep = self.keep_gram if self.keep_gram is not None else n * n <= KEEP_GRAM_MAX_ELEMENTS
        if not keep:
            return self._fit_in_place(X, y)
        K = self.kernel.gram(X)
        A = K + (self.ridge + self.jitter) * torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
        self.alpha = solve_spd(A, y[:, None] if y.ndim == 1 else y,
                               name=f"K + cI (kernel {self.kernel.name!r}, c={self.ridge:g})",
                               kernel_name=self.kernel.name, K=K)
        if y.ndim == 1:
            self.alpha = self.alpha[:, 0]
        self.X, self.y, self.K = X, y, K
        return self

    def _system_name(self) -> str:
        return f"K + cI (kernel {self.kernel.name!r}, c={self.ridge:g})"

    def _fit_in_place(self, X: torch.Tensor, y: torch.Tensor) -> KRR:
        """The large-``n`` fit: one ``n x n`` buffer, Gram written in row blocks, ridge on
        the diagonal, Cholesky in place (see the module docstring)."""
        n = X.shape[0]
        self._K = self._L = self.alpha = None  # release a previous fit's buffer first
        A = torch.empty(n, n, dtype=X.dtype, device=X.device)
        gram_into(self.kernel, X, A, block_elements=self.block_elements)
        A.diagonal().add_(self.ridge + self.jitter)
        try:
            L = factor_in_place(A, name=self._system_name())
        except SingularSystemError:
            del A
            if n <= _DIAGNOSE_MAX_N:  # name a non-PSD kernel, as the dense path does
                check_gram_psd(self.kernel.gram(X), name=f"kernel {self.kernel.name!r}")
            raise
        alpha = solve_with_factor(L, y[:, None] if y.ndim == 1 else y)
        self.X, self.y = X, y
        self._K, self._L = None, L
        self.alpha = alpha[:, 0] if y.ndim == 1 else alpha
        return self

    def solve(self, B: torch.Tensor) -> torch.Tensor:
        """``(K + (c + jitter) I)^{-1} B`` for the training Gram ``K`` (``B``: ``(n,)`` or
        ``(n, k)``): from the stored in-place factor of a large-``n`` fit, else by a fresh
        Cholesky of ``K + (c + jitter) I`` (:func:`solve_spd`)."""
        self._require_fit()
        vec = B.ndim == 1
        B2 = B[:, None] if vec else B
        if self._L is not None:
            out = solve_with_factor(self._L, B2)
        else:
            K = self.K
            A = K + (self.ridge + self.jitter) * torch.eye(K.shape[0], dtype=B.dtype,
                                                            device=B.device)
            out = solve_spd(A, B2, name="K_CC + cI (clean system)")
        return out[:, 0] if vec else out

    def _require_fit(self) -> None:
        if self.alpha is None:
            raise NotFittedError("KRR is not fitted; call fit(X, y) first")

    # -------------------------------------------------------------- prediction
    def predict(self, Xq) -> torch.Tensor:
        """``f(x_q)``: shape ``(q,)`` or ``(q, outputs)``."""
        self._require_fit()
        Xq = as_points(Xq, name="query points", d=self.X.shape[1], device=self.device)
        n = self.X.shape[0]
        if Xq.shape[0] * n <= self.block_elements:
            return self.kernel.gram(Xq, self.X) @ self.alpha
        rows = _rows_per_block(n, self.block_elements)
        return torch.cat([self.kernel.gram(Xq[s : s + rows], self.X) @ self.alpha
                          for s in range(0, Xq.shape[0], rows)])

    def input_gradient(self, Xq) -> torch.Tensor:
        """``grad_x f(x_q)``: shape ``(q, d)`` or ``(q, outputs, d)``."""
        self._require_fit()
        return self._derivatives(self._q(Xq), order=1)[1]

    def input_hessian(self, Xq) -> torch.Tensor:
        """``hess_x f(x_q)``: shape ``(q, d, d)`` or ``(q, outputs, d, d)``; batched, chunked."""
        self._require_fit()
        return self._derivatives(self._q(Xq), order=2)[2]

    def derivatives(self, Xq):
        """``(f, grad f, hess f)`` at the query points in one pass."""
        self._require_fit()
        return self._derivatives(self._q(Xq), order=2)

    def _derivatives(self, Xq: torch.Tensor, order: int):
        """The kernel's closed-form derivatives of ``f``; no queries (``(0, d)``) give empty
        results of the shapes above (``q = 0``)."""
        if Xq.shape[0] == 0:
            d = Xq.shape[1]
            out = tuple(self.alpha.shape[1:])
            empty = [Xq.new_zeros((0, *out, *(d,) * k)) for k in range(3)]
            return empty[0], empty[1], (empty[2] if order >= 2 else None)
        n, d = self.X.shape
        outputs = self.alpha.shape[1] if self.alpha.ndim == 2 else 1
        # one query's footprint over m training points in TorchKernel.derivatives (its (q, m)
        # work arrays, outputs, and the batched (d, m) fallback when m o d^2 is too large)
        def per_query(m: int) -> int:
            fallback = order >= 2 and m * outputs * d * d > CHUNK_ELEMENTS
            return 8 * m + outputs * d * (d + 3) + (d * m * outputs if fallback else 0)

        if per_query(n) <= self.block_elements:
            return self.kernel.derivatives(Xq, self.X, self.alpha, order=order)
        fixed = outputs * d * (d + 3)
        block = max(1, (self.block_elements - fixed) // (8 + d * outputs))
        # sums over training points, one block at a time (each block centred on its own mean)
        total = None
        for s in range(0, n, block):
            part = self.kernel.derivatives(Xq, self.X[s : s + block], self.alpha[s : s + block],
                                           order=order)
            total = list(part) if total is None else [
                t + p if t is not None else None for t, p in zip(total, part, strict=True)]
        return tuple(total)

    def loss_hessian(self, Xq, yq) -> LossHessian:
        """Input Hessian of ``L = sum_o (f_o(x) - y_o)^2 / 2`` at each query point."""
        f, g, h = self.derivatives(Xq)
        yq = as_targets(yq, f.shape[0], name="query targets", device=self.device)
        if yq.shape != f.shape:
            raise ValueError(f"query targets have shape {tuple(yq.shape)}, predictions "
                             f"{tuple(f.shape)}")
        if f.ndim == 1:
            f, g, h, yq = f[:, None], g[:, None], h[:, None], yq[:, None]
        gn = torch.einsum("qod,qoe->qde", g, g)
        res = torch.einsum("qo,qode->qde", f - yq, h)
        if not (bool(torch.isfinite(gn).all()) and bool(torch.isfinite(res).all())):
            raise ValueError("the loss Hessian overflows float64 (query targets or "
                             "predictions of extreme magnitude)")
        return LossHessian(gauss_newton=gn, residual=res)

    def _q(self, Xq) -> torch.Tensor:
        return as_points(Xq, name="query points", d=self.X.shape[1], device=self.device)

