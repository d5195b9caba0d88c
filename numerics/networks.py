"""Fully connected networks in NTK parametrisation, trained in float64 by full-batch GD.

The network (see :mod:`derivations.ntk_kernels` for its infinite-width NTK)::

    z^1 = W^1 x + beta b^1,  z^{l+1} = h^{-1/2} W^{l+1} sigma(z^l) + beta b^{l+1},
    g(x; w) = h^{-1/2} v . sigma(z^L),

all parameters i.i.d. N(0, 1) at initialisation.  **Output centring**: the model is
``f(x; w) = g(x; w) - g(x; w0)`` with ``w0`` the (frozen) initial parameters, so
``f = 0`` at initialisation and the tangent kernel is unchanged; as ``h -> oo`` the
initial function (an NNGP draw) is removed instead of adding a random offset to the
KRR limit.

**Which KRR the trained network approaches** (derivation, linearised model).  Training
minimises ::

    Phi(w) = 1/2 sum_i (f(x_i; w) - y_i)^2 + c/2 |w - w0|^2 (+ penalty).

For the linearisation ``f(x; w) = J(x)(w - w0)`` the minimiser is
``w - w0 = J^T (J J^T + c I)^{-1} y`` (push-through identity), so
``f(x) = Theta(x, X) (Theta + c I)^{-1} y`` with ``Theta = J J^T`` the empirical NTK at
initialisation: exactly KRR with ridge ``c`` and the NTK.  As ``h -> oo`` the network
stays in its linear regime and ``Theta`` tends to the analytic NTK, so the trained
network tends to NTK-KRR with ridge ``c``; ``c -> 0`` gives the kernel interpolant that
plain gradient flow reaches.  Weight decay *toward the initialisation* is what makes
the ridge exact (decay toward 0 would also shrink the random features).  With a sum
(not a mean) over samples this is the ``c`` of :mod:`derivations.conventions`.

Optional input-gradient penalty (claims C8/C12), trained by double backprop::

    + kappa/2 sum_i |grad_x L(w; x_i)|^2          (penalty="loss", L = (f - y)^2 / 2)
    + kappa/2 sum_i |grad_x f(x_i; w)|^2          (penalty="function")

``reduction="mean"`` divides the data terms by ``n`` (``J = E[L] + kappa/2 E|g|^2`` of
C8/C12; the ridge is then also divided by ``n``).

This module holds the models and their training only; the C7, C12 and C13 experiments
built on them are in :mod:`numerics.network_experiments`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from numerics.validation import (
    DEFAULT_DTYPE,
    as_points,
    as_targets,
    check_positive,
    resolve_device,
)

__all__ = ["ACTIVATIONS", "FCNet", "TrainResult", "train", "empirical_ntk", "default_device",
           "objective", "input_loss_gradient", "loss_input_gradients"]

ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "erf": torch.erf,
    "tanh": torch.tanh,
}

Params = dict[str, torch.Tensor]


def default_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class FCNet:
    """A fully connected scalar-output network in NTK parametrisation (see module doc).

    Parameters
    ----------
    d: input dimension.   width: hidden width ``h``.   depth: number of hidden layers.
    activation: ``"relu"``, ``"erf"`` or ``"tanh"`` (analytic NTK: relu, erf).
    beta: bias standard deviation.   seed: initialisation seed.
    centred: subtract the initial function (default ``True``).
    device: ``"cpu"``, ``"cuda"``, ... (``None``: CPU).
    """

    def __init__(self, d: int, width: int, depth: int = 1, activation: str = "relu",
                 beta: float = 1.0, seed: int = 0, centred: bool = True,
                 device: str | torch.device | None = None) -> None:
        for nm, val, lo in (("d", d, 1), ("width", width, 1), ("depth", depth, 1)):
            if isinstance(val, bool) or not isinstance(val, int) or val < lo:
                raise ValueError(f"{nm} must be an integer >= {lo}, got {val!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; use one of {sorted(ACTIVATIONS)}")
        self.d, self.width, self.depth, self.activation = d, width, depth, activation
        self.beta = check_positive(beta, "bias std beta", allow_zero=True)
        self.sigma = ACTIVATIONS[activation]
        self.centred = bool(centred)
        self.device = resolve_device(device)
        gen = torch.Generator(device="cpu").manual_seed(int(seed))

        def normal(*shape):
            return torch.randn(*shape, generator=gen, dtype=DEFAULT_DTYPE).to(self.device)

        p: Params = {"W1": normal(width, d), "b1": normal(width)}
        for layer in range(2, depth + 1):
            p[f"W{layer}"] = normal(width, width)
            p[f"b{layer}"] = normal(width)
        p["v"] = normal(width)
        self.params0: Params = {k: t.clone() for k, t in p.items()}
        self.params: Params = p

    # ----------------------------------------------------------------- forward
    @property
    def n_params(self) -> int:
        return sum(t.numel() for t in self.params.values())

    def raw(self, params: Params, X: torch.Tensor) -> torch.Tensor:
        """``g(X; params)`` for a batch ``(n, d)`` -> ``(n,)`` (or ``(d,)`` -> ``()``)."""
        s = 1.0 / math.sqrt(self.width)
        z = X @ params["W1"].T + self.beta * params["b1"]
        for layer in range(2, self.depth + 1):
            z = s * self.sigma(z) @ params[f"W{layer}"].T + self.beta * params[f"b{layer}"]
        return s * self.sigma(z) @ params["v"]

    def apply(self, params: Params, X: torch.Tensor) -> torch.Tensor:
        """The centred model ``f(X; params)``."""
        out = self.raw(params, X)
        if self.centred:
            out = out - self.raw(self.params0, X)
        return out

    def _points(self, X) -> torch.Tensor:
        return as_points(X, name="inputs X", d=self.d, device=self.device)

    def __call__(self, X) -> torch.Tensor:
        with torch.no_grad():
            return self.apply(self.params, self._points(X))

    # ------------------------------------------------------- input derivatives
    def input_gradient(self, X, params: Params | None = None) -> torch.Tensor:
        """``grad_x f`` at each point, ``(n, d)`` (torch.func)."""
        params = self.params if params is None else params
        X = self._points(X)
        fn = torch.func.grad(lambda x: self.apply(params, x))
        return torch.func.vmap(fn)(X)

    def input_hessian(self, X, params: Params | None = None) -> torch.Tensor:
        """``hess_x f`` at each point, ``(n, d, d)`` (dense, torch.func; zero a.e. for relu)."""
        params = self.params if params is None else params
        X = self._points(X)
        fn = torch.func.hessian(lambda x: self.apply(params, x))
        return torch.func.vmap(fn)(X)

    # ------------------------------------------------------------------ NTK
    def jacobian(self, X, params: Params | None = None) -> torch.Tensor:
        """``d f(x_i) / d w`` flattened over all parameters, ``(n, P)``."""
        params = self.params if params is None else params
        X = self._points(X)
        jac = torch.func.jacrev(lambda p: self.apply(p, X))(params)
        return torch.cat([jac[k].reshape(X.shape[0], -1) for k in params], dim=1)

    def empirical_ntk(self, X1, X2=None, params: Params | None = None,
                      chunk: int = 256) -> torch.Tensor:
        """``Theta(x, x') = sum_w df(x)/dw df(x')/dw`` at ``params`` (default: current)."""
        X1 = self._points(X1)
        X2 = X1 if X2 is None else self._points(X2)
        J1 = torch.cat([self.jacobian(X1[s:s + chunk], params) for s in
                        range(0, X1.shape[0], chunk)])
        if X2 is X1:
            return J1 @ J1.T
        J2 = torch.cat([self.jacobian(X2[s:s + chunk], params) for s in
                        range(0, X2.shape[0], chunk)])
        return J1 @ J2.T


def empirical_ntk(net: FCNet, X1, X2=None) -> torch.Tensor:
    """The empirical NTK of ``net`` at its current parameters."""
    return net.empirical_ntk(X1, X2)


# ---------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------


@dataclass
class TrainResult:
    """History of a run: objective and gradient norm per logged step, callback records."""

    steps: int
    lr: float
    converged: bool
    objective: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    records: list = field(default_factory=list)


def input_loss_gradient(net: FCNet, params: Params, X: torch.Tensor, y: torch.Tensor,
                        penalty: str = "loss", create_graph: bool = True) -> torch.Tensor:
    """``g_w(x_i) = grad_x L(w; x_i, y_i)`` (``penalty="loss"``) or ``grad_x f``
    (``"function"``) at each training point, ``(n, d)``, differentiable in ``params``
    (double backprop through ``torch.autograd.grad(create_graph=True)``)."""
    Xr = X.detach().clone().requires_grad_(True)
    f = net.apply(params, Xr)
    out = 0.5 * (f - y) ** 2 if penalty == "loss" else f
    (g,) = torch.autograd.grad(out.sum(), Xr, create_graph=create_graph)
    return g


def objective(net: FCNet, params: Params, X, y, *, ridge: float = 0.0, kappa: float = 0.0,
              penalty: str = "loss", reduction: str = "sum",
              loss_weight: float = 1.0) -> torch.Tensor:
    """``Phi(w)`` of the module doc (differentiable in ``params``); ``loss_weight = 0``
    leaves the penalty (and ridge) alone (pure penalty flow)."""
    n = X.shape[0]
    scale = 1.0 if reduction == "sum" else 1.0 / n
    f = net.apply(params, X)
    val = 0.5 * scale * loss_weight * ((f - y) ** 2).sum()
    if ridge > 0:
        val = val + 0.5 * scale * ridge * sum(((params[k] - net.params0[k]) ** 2).sum()
                                              for k in params)
    if kappa > 0:
        g = input_loss_gradient(net, params, X, y, penalty)
        val = val + 0.5 * scale * kappa * (g**2).sum()
    return val


def train(net: FCNet, X, y, *, ridge: float = 0.0, kappa: float = 0.0, penalty: str = "loss",
          reduction: str = "sum", lr: float | None = None, steps: int = 5000,
          tol: float = 1e-10, momentum: float = 0.0, progress: bool = True,
          callback: Callable[[int, float, FCNet], object] | None = None,
          record_every: int = 0, desc: str = "train", loss_weight: float = 1.0) -> TrainResult:
    """Full-batch gradient descent on ``Phi`` (module doc), in place on ``net.params``.

    ``lr=None``: ``1 / (lambda_max(Theta) + ridge)`` (times ``n`` for ``reduction="mean"``)
    from the empirical NTK at the start, the stable step of the linearised problem (halved
    when ``kappa > 0``).  Stops when ``|grad Phi| <= tol * (1 + |grad Phi_0|)`` or after
    ``steps`` steps.  ``callback(step, t, net)`` (``t = step * lr``, the gradient-flow time)
    is called every ``record_every`` steps (and at 0 and the end); its returns are kept in
    ``records``.  A ``tqdm`` progress bar shows the objective.
    """
    X = net._points(X)
    y = as_targets(y, X.shape[0], name="targets y", device=net.device)
    if y.ndim != 1:
        raise ValueError(f"targets must be scalar per point (shape (n,)); got {tuple(y.shape)}")
    ridge = check_positive(ridge, "ridge c", allow_zero=True)
    kappa = check_positive(kappa, "penalty kappa", allow_zero=True)
    if penalty not in ("loss", "function"):
        raise ValueError(f"penalty must be 'loss' or 'function', got {penalty!r}")
    if reduction not in ("sum", "mean"):
        raise ValueError(f"reduction must be 'sum' or 'mean', got {reduction!r}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"steps must be a non-negative integer, got {steps!r}")
    if lr is None:
        with torch.no_grad():
            top = float(torch.linalg.eigvalsh(net.empirical_ntk(X))[-1])
        lr = 1.0 / (top + ridge)
        if reduction == "mean":
            lr *= X.shape[0]
        if kappa > 0:
            lr *= 0.5
    lr = check_positive(lr, "learning rate lr")
    params = {k: t.detach().clone().requires_grad_(True) for k, t in net.params.items()}
    opt = torch.optim.SGD(list(params.values()), lr=lr, momentum=momentum)
    res = TrainResult(steps=0, lr=lr, converged=False)

    def record(step: int) -> None:
        if callback is not None:
            net.params = {k: t.detach() for k, t in params.items()}
            res.records.append(callback(step, step * lr, net))

    from tqdm.auto import tqdm

    g0 = None
    bar = tqdm(range(steps), desc=desc, disable=not progress, leave=False, mininterval=1.0)
    record(0)
    step = 0
    for step in bar:
        if record_every and step > 0 and step % record_every == 0:
            record(step)
        opt.zero_grad(set_to_none=True)
        val = objective(net, params, X, y, ridge=ridge, kappa=kappa, penalty=penalty,
                        reduction=reduction, loss_weight=loss_weight)
        val.backward()
        val = val.item()
        gn = math.sqrt(sum(float((p.grad**2).sum()) for p in params.values()))
        if not math.isfinite(gn) or not math.isfinite(val):
            raise FloatingPointError(f"training diverged at step {step} (objective {val}, "
                                     f"gradient norm {gn}); lower the learning rate {lr:g}")
        g0 = gn if g0 is None else g0
        if step % 50 == 0:
            res.objective.append(val)
            res.grad_norm.append(gn)
            bar.set_postfix(obj=f"{val:.3e}", grad=f"{gn:.2e}", refresh=False)
        if gn <= tol * (1.0 + g0):
            res.converged = True
            break
        opt.step()
    else:
        step = steps
    res.steps = step
    net.params = {k: t.detach() for k, t in params.items()}
    record(step)
    return res


def loss_input_gradients(net: FCNet, params: Params, X: torch.Tensor,
                         y: torch.Tensor) -> torch.Tensor:
    """``g_w(x_i) = grad_x (f(x_i) - y_i)^2 / 2``, ``(n, d)``, as a pure ``torch.func``
    function of ``params`` (so it can be differentiated by ``jacrev``)."""
    def one(x, yy):
        return torch.func.grad(lambda z: 0.5 * (net.apply(params, z) - yy) ** 2)(x)

    return torch.func.vmap(one)(X, y)
