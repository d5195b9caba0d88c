"""Input-gradient-regularised kernel ridge regression (claims C8-C12), in float64.

The model is ``f(x) = sum_i alpha_i k(x, x_i)`` (dual parametrisation over the training
inputs ``x_i``).  Two penalties of the input gradient are implemented.

Function-gradient penalty (quadratic in ``alpha``)
    At penalty points ``z_1 .. z_P`` (default: the training inputs),
    ``grad_x f(z_p) = J_p alpha`` with ``J_p`` the ``(d, n)`` matrix whose column ``i`` is
    ``grad_x k(z_p, x_i)``; so ``sum_p |grad f(z_p)|^2 = alpha^T G alpha`` with the
    *penalty Gram matrix* ``G = sum_p J_p^T J_p`` (``n x n``, PSD), built in one batched
    call by :func:`penalty_gram`.  Two objectives (both derived in
    :mod:`derivations.regularised_objective`, which is where the normal equations are
    proved):

    ``variant="dual"`` (the paper's parametrisation; its ``df`` formula)
        ``E_B(alpha) = 1/2 alpha^T (K + cI) alpha - y^T alpha + kappa/2 alpha^T G alpha``
        (equivalently ``1/2 |y - K alpha|^2_{K^{-1}} + c/2 |alpha|^2 + kappa/2 alpha^T G
        alpha`` up to a constant when ``K`` is invertible), minimised by
        ``alpha = (K + cI + kappa G)^{-1} y``; smoother ``H = K (K + cI + kappa G)^{-1}``,
        ``df = tr H``.  At ``kappa = 0`` it is ordinary KRR.
    ``variant="rkhs"`` (the penalty added to the usual KRR objective, restricted to the span
    of the ``k(., x_i)``)
        ``E_A(alpha) = 1/2 |y - K alpha|^2 + c/2 alpha^T K alpha + kappa/2 alpha^T G alpha``,
        normal equations ``(K^2 + cK + kappa G) alpha = K y``; smoother
        ``H = K (K^2 + cK + kappa G)^+ K``.  With repeated inputs (e.g. a clone cluster)
        ``K`` is singular and ``alpha`` is not unique, but ``f`` is: the minimum-norm
        solution is returned (symmetric pseudo-inverse with relative cut-off
        :data:`PINV_RTOL`).

Loss-gradient penalty (not quadratic)
    ``E_L(alpha) = 1/2 |y - K alpha|^2 + c/2 alpha^T K alpha
    + kappa/2 sum_i (f(x_i) - y_i)^2 |grad f(x_i)|^2`` (the penalty of ``grad_x L`` with
    ``L = (f - y)^2 / 2`` at the training points, the only points where a label exists).
    Minimised numerically by :func:`fit_loss_gradient_penalty` (damped Newton with the exact
    gradient and Hessian, both by torch autograd of the objective); the result carries the
    final gradient norm and raises
    :class:`ConvergenceError` if it is not small.

Normalisation (the paper's ``1/n``): the objectives above are sums.  The paper's
``(1/n) sum L + lambda/2 |f|^2 + kappa/2 (1/n) sum |grad L|^2`` times ``n`` is this form with
``c = n lambda`` (:func:`derivations.conventions.ridge_from_lambda`) and the same ``kappa``
when the penalty is averaged over the ``n`` training points;
:func:`derivations.regularised_objective.kappa_sum_from_mean` converts a penalty averaged
over ``P`` points.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from numerics.kernels import TorchKernel, as_kernel
from numerics.krr import KRR, solve_spd
from numerics.validation import (
    SingularSystemError,
    as_points,
    as_targets,
    as_tensor,
    check_positive,
    resolve_device,
)

__all__ = [
    "VARIANTS",
    "PINV_RTOL",
    "ConvergenceError",
    "penalty_jacobians",
    "penalty_gram",
    "solve_function_gradient",
    "smoother_matrix",
    "degrees_of_freedom",
    "RegularisedKRR",
    "LossGradientFit",
    "fit_loss_gradient_penalty",
    "loss_gradient_objective",
]

VARIANTS = ("dual", "rkhs")
#: relative eigenvalue cut-off of the symmetric pseudo-inverse used by ``variant="rkhs"``
PINV_RTOL = 1e-12


class ConvergenceError(RuntimeError):
    """A numerical optimiser did not reach its stopping tolerance."""




def _variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"unknown penalty variant {variant!r}; use one of {VARIANTS}")
    return variant


def _kappa(kappa: float) -> float:
    return check_positive(kappa, "penalty strength kappa", allow_zero=True)


def penalty_jacobians(kernel: TorchKernel | str, Z, X) -> torch.Tensor:
    """``J[p, i, :] = grad_x k(z_p, x_i)``, shape ``(P, n, d)`` (one batched call).

    Raises :class:`~numerics.validation.NonDifferentiableError` when a penalty point
    coincides with a training input for a kernel that is not differentiable there
    (Laplace, ReLU NTK).
    """
    k = as_kernel(kernel)
    X = as_points(X, name="training inputs X")
    Z = as_points(Z, name="penalty points Z", d=X.shape[1], device=X.device)
    return k.grad(Z, X)


def penalty_gram(kernel: TorchKernel | str, Z, X, metric=None) -> torch.Tensor:
    """``G = sum_p J_p^T J_p`` (``n x n``, PSD): ``alpha^T G alpha = sum_p |grad f(z_p)|^2``.

    ``metric`` (optional ``(d, d)`` PSD matrix ``A``) gives the data-metric penalty
    ``sum_p grad f(z_p)^T A grad f(z_p)``, i.e. ``G = sum_p J_p^T A J_p``.
    """
    J = penalty_jacobians(kernel, Z, X)
    G = _penalty_gram(J, metric)
    if not bool(torch.isfinite(G).all()):
        raise ValueError("the penalty Gram matrix G overflows float64 (metric or inputs of "
                         "extreme magnitude)")
    return G


def _penalty_gram(J: torch.Tensor, metric) -> torch.Tensor:
    if metric is None:
        G = torch.einsum("pid,pjd->ij", J, J)
    else:
        A = as_tensor(metric, name="metric", device=J.device)
        d = J.shape[-1]
        if A.shape != (d, d):
            raise ValueError(f"metric must have shape ({d}, {d}); got {tuple(A.shape)}")
        if not bool(torch.isfinite(A).all()):
            raise ValueError("metric contains NaN or infinite values")
        if float((A - A.T).abs().max()) > 1e-12 * max(1.0, float(A.abs().max())):
            raise ValueError("metric must be symmetric")
        if float(torch.linalg.eigvalsh(A).min()) < -1e-12 * max(1.0, float(A.abs().max())):
            raise ValueError("metric must be positive semi-definite")
        G = torch.einsum("pid,de,pje->ij", J, A, J)
    return 0.5 * (G + G.T)


def _check_system(K: torch.Tensor, G: torch.Tensor) -> None:
    if K.ndim != 2 or K.shape[0] != K.shape[1]:
        raise ValueError(f"K must be square; got shape {tuple(K.shape)}")
    if G.shape != K.shape:
        raise ValueError(f"G has shape {tuple(G.shape)} but K has {tuple(K.shape)}")
    for M, nm in ((K, "K"), (G, "G")):
        if not bool(torch.isfinite(M).all()):
            raise ValueError(f"{nm} contains NaN or infinite values")


def _pinv_solve(N: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    if not bool(torch.isfinite(N).all()):
        raise SingularSystemError("K^2 + cK + kappa G overflows float64 (c, kappa or K of "
                                  "extreme magnitude)")
    try:
        ev, V = torch.linalg.eigh(0.5 * (N + N.T))
    except torch.linalg.LinAlgError as err:  # e.g. entries near the float64 limit
        raise SingularSystemError(f"K^2 + cK + kappa G cannot be diagonalised ({err}); c, "
                                  "kappa or K of extreme magnitude?") from None
    cut = PINV_RTOL * float(ev.abs().max()) if ev.numel() else 0.0
    if float(ev.min()) < -1e3 * cut - 1e-300:
        raise SingularSystemError(
            f"K^2 + cK + kappa G is not positive semi-definite (smallest eigenvalue "
            f"{float(ev.min()):.3g}); is K a PSD Gram matrix?")
    inv = torch.where(ev > cut, 1.0 / torch.where(ev > cut, ev, 1.0), 0.0)
    return V @ (inv[:, None] * (V.T @ B))


def solve_function_gradient(K, G, y, c: float, kappa: float, variant: str = "dual"
                            ) -> torch.Tensor:
    """``alpha`` of the function-gradient-penalised KRR (see the module docstring).

    ``dual``: ``(K + cI + kappa G)^{-1} y`` (Cholesky, clear error if singular);
    ``rkhs``: minimum-norm solution of ``(K^2 + cK + kappa G) alpha = K y``.
    """
    variant = _variant(variant)
    c = check_positive(c, "ridge c")
    kappa = _kappa(kappa)
    K = as_tensor(K, name="Gram matrix K")
    G = as_tensor(G, name="penalty matrix G", device=K.device)
    _check_system(K, G)
    y = as_targets(y, K.shape[0], name="targets y", device=K.device)
    Y = y[:, None] if y.ndim == 1 else y
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    if variant == "dual":
        out = solve_spd(K + c * eye + kappa * G, Y,
                        name=f"K + cI + kappa G (c={c:g}, kappa={kappa:g})")
    else:
        out = _pinv_solve(K @ K + c * K + kappa * G, K @ Y)
    return out[:, 0] if y.ndim == 1 else out


def smoother_matrix(K, G, c: float, kappa: float, variant: str = "dual") -> torch.Tensor:
    """The hat matrix ``H`` with fitted values ``K alpha = H y``."""
    K = as_tensor(K, name="Gram matrix K")
    if K.ndim != 2:
        raise ValueError(f"K must be square; got shape {tuple(K.shape)}")
    eye = torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    return K @ solve_function_gradient(K, G, eye, c, kappa, variant)


def degrees_of_freedom(K, G, c: float, kappa: float, variant: str = "dual") -> float:
    """``df = tr H``; for ``dual`` this is the paper's ``tr[K (K + cI + kappa G)^{-1}]``."""
    return float(torch.trace(smoother_matrix(K, G, c, kappa, variant)))


class RegularisedKRR(KRR):
    """KRR with the function-gradient penalty ``kappa/2 sum_p |grad f(z_p)|^2``.

    Parameters
    ----------
    kernel:
        A :class:`~numerics.kernels.TorchKernel` or registry name (``**params`` then set
        its hyper-parameters).
    ridge:
        ``c > 0`` (``c = n lambda``, see :mod:`derivations.conventions`).
    kappa:
        Penalty strength ``kappa >= 0``.
    penalty_points:
        ``(P, d)`` points ``z_p``; ``None`` (default) uses the training inputs.
    variant:
        ``"dual"`` (default, the paper's ``df`` parametrisation) or ``"rkhs"``.
    metric:
        Optional ``(d, d)`` PSD data metric ``A`` (penalty ``grad f^T A grad f``).
    device:
        ``"cpu"`` (default) or ``"cuda"``; float64 throughout.
    """

    def __init__(self, kernel: TorchKernel | str, ridge: float, kappa: float, *,
                 penalty_points=None, variant: str = "dual", metric=None,
                 device: str | torch.device | None = None, **params: float | int) -> None:
        super().__init__(kernel, ridge, device=device, **params)
        self.kappa = _kappa(kappa)
        self.variant = _variant(variant)
        self.penalty_points = (None if penalty_points is None else
                               as_points(penalty_points, name="penalty points Z",
                                         device=self.device))
        self.metric = metric
        self.alpha: torch.Tensor | None = None

    def fit(self, X, y) -> RegularisedKRR:
        X = as_points(X, name="training inputs X", device=self.device)
        y = as_targets(y, X.shape[0], name="training targets y", device=self.device)
        Z = X if self.penalty_points is None else self.penalty_points
        if Z.shape[1] != X.shape[1]:
            raise ValueError(f"penalty points have {Z.shape[1]} input dimensions but the "
                             f"training inputs have {X.shape[1]}")
        self.X, self.y, self.Z = X, y, Z
        self.K = self.kernel.gram(X)
        self.G = penalty_gram(self.kernel, Z, X, self.metric)
        self.alpha = solve_function_gradient(self.K, self.G, y, self.ridge, self.kappa,
                                             self.variant)
        return self

    def degrees_of_freedom(self) -> float:
        self._require_fit()
        return degrees_of_freedom(self.K, self.G, self.ridge, self.kappa, self.variant)

    def training_residual(self) -> float:
        """``|y - K alpha|^2`` (summed over outputs)."""
        self._require_fit()
        return float(((self.y - self.K @ self.alpha) ** 2).sum())


# ---------------------------------------------------------------------------
# loss-gradient penalty (numerical)
# ---------------------------------------------------------------------------


def loss_gradient_objective(kernel: TorchKernel, X: torch.Tensor, y: torch.Tensor, c: float,
                            kappa: float):
    """``alpha -> E_L(alpha)`` as a differentiable torch function (see module docstring)."""
    K = kernel.gram(X)

    def objective(alpha: torch.Tensor) -> torch.Tensor:
        f = K @ alpha
        res = f - y
        grad_f = kernel.derivatives(X, X, alpha, order=1)[1]  # (n, d)
        pen = (res**2 * (grad_f**2).sum(-1)).sum()
        return 0.5 * (res**2).sum() + 0.5 * c * alpha @ (K @ alpha) + 0.5 * kappa * pen

    return objective


@dataclass(frozen=True)
class LossGradientFit:
    """Result of :func:`fit_loss_gradient_penalty`."""

    alpha: torch.Tensor
    objective: float
    grad_norm: float
    newton_steps: int
    X: torch.Tensor
    kernel: TorchKernel

    def predict(self, Xq) -> torch.Tensor:
        Xq = as_points(Xq, name="query points", d=self.X.shape[1], device=self.X.device)
        return self.kernel.gram(Xq, self.X) @ self.alpha


def fit_loss_gradient_penalty(kernel: TorchKernel | str, X, y, c: float, kappa: float, *,
                              alpha0=None, gtol: float = 1e-10, max_newton: int = 200,
                              device: str | torch.device | None = None) -> LossGradientFit:
    """Minimise the loss-gradient-penalised objective ``E_L`` (module docstring).

    Newton steps from ``alpha0`` (default: the ``kappa = 0`` KRR solution of the same
    objective) with the exact autograd gradient and Hessian (``|H|`` in its eigenbasis where
    ``H`` is indefinite; backtracking line search) until
    ``|grad E_L| <= gtol * max(1, |K y|)``.  Raises
    :class:`ConvergenceError` otherwise.  The objective is quartic, hence possibly non-convex:
    the result is a stationary point reached from ``alpha0``.
    """
    k = as_kernel(kernel)
    c = check_positive(c, "ridge c")
    kappa = _kappa(kappa)
    dev = resolve_device(device)
    X = as_points(X, name="training inputs X", device=dev)
    y = as_targets(y, X.shape[0], name="training targets y", device=dev)
    if y.ndim != 1:
        raise ValueError("fit_loss_gradient_penalty takes scalar targets y of shape (n,)")
    obj = loss_gradient_objective(k, X, y, c, kappa)
    K = k.gram(X)
    scale = max(1.0, float(torch.linalg.vector_norm(K @ y)))
    if alpha0 is None:
        a = solve_function_gradient(K, torch.zeros_like(K), y, c, 0.0, "rkhs")
    else:
        a = as_tensor(alpha0, name="alpha0", device=dev).reshape(-1).clone()
        if a.shape[0] != X.shape[0]:
            raise ValueError(f"alpha0 has {a.shape[0]} entries but there are {X.shape[0]} points")

    grad_fn = torch.func.grad(obj)
    hess_fn = torch.func.hessian(obj)
    steps = 0
    gnorm = float("inf")
    for steps in range(max_newton + 1):  # noqa: B007
        g = grad_fn(a)
        gnorm = float(torch.linalg.vector_norm(g))
        if gnorm <= gtol * scale:
            break
        H = hess_fn(a)
        if not (math.isfinite(gnorm) and bool(torch.isfinite(H).all())):
            raise ConvergenceError(
                f"loss-gradient-penalised fit: the objective's gradient or Hessian overflows "
                f"float64 (c = {c:g}, kappa = {kappa:g}: inputs of extreme magnitude)")
        try:
            ev, V = torch.linalg.eigh(0.5 * (H + H.T))
        except torch.linalg.LinAlgError as err:
            raise ConvergenceError(f"loss-gradient-penalised fit: the Newton Hessian cannot be "
                                   f"diagonalised ({err}); c = {c:g}, kappa = {kappa:g}") from None
        # Newton direction on |H| (a descent direction also where H is indefinite)
        evp = torch.clamp(ev.abs(), min=1e-14 * float(ev.abs().max()))
        step = -(V @ ((V.T @ g) / evp))
        f0, t = float(obj(a)), 1.0
        slack = 1e-13 * (abs(f0) + 1.0)  # rounding: accept steps that do not increase f
        while t > 1e-10 and float(obj(a + t * step)) > f0 + 1e-4 * t * float(g @ step) + slack:
            t *= 0.5
        a = a + t * step
    if not gnorm <= gtol * scale:
        raise ConvergenceError(
            f"loss-gradient-penalised fit did not converge: |grad| = {gnorm:.3g} > "
            f"{gtol * scale:.3g} after {steps} Newton steps")
    return LossGradientFit(alpha=a.detach(), objective=float(obj(a)), grad_norm=gnorm,
                           newton_steps=steps, X=X, kernel=k)
