"""Kernel ridge regression in float64 with closed-form input derivatives.

Jitter policy (explicit, documented, never silent)
    The system ``K + c I`` is solved by Cholesky with the ridge ``c > 0`` exactly as
    given.  No jitter is added unless the caller passes ``jitter > 0``, which is then
    added to the diagonal and recorded in :attr:`KRR.jitter`.  If the factorisation
    fails, or the factor's estimated condition number exceeds :data:`MAX_CONDITION`,
    :class:`~numerics.validation.SingularSystemError` is raised; when the failure comes
    from a Gram matrix that is not positive semi-definite,
    :class:`~numerics.validation.NotPSDError` is raised instead, naming the kernel.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from numerics.kernels import TorchKernel, as_kernel, check_gram_psd
from numerics.validation import (
    NotPSDError,
    SingularSystemError,
    as_points,
    as_targets,
    check_positive,
    resolve_device,
)

__all__ = ["KRR", "LossHessian", "solve_spd", "MAX_CONDITION", "NotPSDError", "SingularSystemError",
           "EmptyTrainingSetError"]

class EmptyTrainingSetError(ValueError):
    """A KRR was asked to fit zero training points."""


#: largest accepted condition number of the SPD system (beyond it float64 solutions
#: lose more than ~4 of their 16 digits)
MAX_CONDITION = 1e12


def solve_spd(A: torch.Tensor, B: torch.Tensor, *, name: str = "system",
              kernel_name: str | None = None, K: torch.Tensor | None = None) -> torch.Tensor:
    """Solve ``A X = B`` for a symmetric positive-definite ``A`` by Cholesky.

    Raises :class:`SingularSystemError` (or :class:`NotPSDError` when ``K``, the Gram
    matrix inside ``A``, is not PSD) with the reason, instead of returning a wrong answer.
    """
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
    diag = L.diagonal()
    cond_est = float((diag.max() / diag.min()) ** 2)
    if not cond_est < MAX_CONDITION:
        raise SingularSystemError(
            f"{name} is numerically singular (estimated condition number {cond_est:.3g} "
            f"> {MAX_CONDITION:.0e}); increase the ridge"
        )
    return torch.cholesky_solve(B, L)


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
    """

    def __init__(self, kernel: TorchKernel | str, ridge: float, *, jitter: float = 0.0,
                 device: str | torch.device | None = None, **params: float | int) -> None:
        self.kernel = as_kernel(kernel, **params)
        self.ridge = check_positive(ridge, "ridge c")
        self.jitter = check_positive(jitter, "jitter", allow_zero=True)
        self.device = resolve_device(device)
        self.X: torch.Tensor | None = None
        self.alpha: torch.Tensor | None = None

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y) -> KRR:
        X = as_points(X, name="training inputs X", device=self.device)
        if X.shape[0] == 0:
            raise EmptyTrainingSetError(
                "training inputs X have zero rows: a KRR needs at least one training point "
                "(for 'no clean data' use numerics.poisons.fit_clean_and_poisoned, whose "
                "clean fit on no data is f = 0)")
        y = as_targets(y, X.shape[0], name="training targets y", device=self.device)
        K = self.kernel.gram(X)
        A = K + (self.ridge + self.jitter) * torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
        self.alpha = solve_spd(A, y[:, None] if y.ndim == 1 else y,
                               name=f"K + cI (kernel {self.kernel.name!r}, c={self.ridge:g})",
                               kernel_name=self.kernel.name, K=K)
        if y.ndim == 1:
            self.alpha = self.alpha[:, 0]
        self.X, self.y, self.K = X, y, K
        return self

    def _require_fit(self) -> None:
        if self.alpha is None:
            raise RuntimeError("KRR is not fitted; call fit(X, y) first")

    # -------------------------------------------------------------- prediction
    def predict(self, Xq) -> torch.Tensor:
        """``f(x_q)``: shape ``(q,)`` or ``(q, outputs)``."""
        self._require_fit()
        Xq = as_points(Xq, name="query points", d=self.X.shape[1], device=self.device)
        return self.kernel.gram(Xq, self.X) @ self.alpha

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
        return self.kernel.derivatives(Xq, self.X, self.alpha, order=order)

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
        return LossHessian(gauss_newton=gn, residual=res)

    def _q(self, Xq) -> torch.Tensor:
        return as_points(Xq, name="query points", d=self.X.shape[1], device=self.device)

