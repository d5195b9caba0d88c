"""Many depth-1 :class:`~numerics.networks.FCNet` trainings of one width at once.

One job: the batched counterpart of :func:`numerics.networks.train` for one-hidden-layer
networks (the C13 finite-width sweeps train dozens of small networks for thousands of
steps; per step, one network costs mostly Python and autograd overhead).  The parameters
of ``B`` networks are stacked along a leading batch dimension and the gradient of the
objective is written in closed form, so one step of all ``B`` networks is a handful of
batched tensor operations.

The mathematics is that of :func:`~numerics.networks.train` with ``kappa = 0``,
``reduction="sum"``, ``loss_weight = 1`` and no callback, network by network:

* model (:meth:`FCNet.raw` / :meth:`FCNet.apply`, depth 1, width ``h``, ``s = h^{-1/2}``)::

      z = X W^T + beta b,   g(X; w) = s sigma(z) . v,   f = g(X; w) - g(X; w0) (centred)

* objective (:func:`~numerics.networks.objective`)::

      Phi(w) = 1/2 sum_i r_i^2 + c/2 |w - w0|^2,   r_i = f(x_i) - y_i

* its gradient (closed form; ``sigma'`` is the derivative autograd uses: ``1[z > 0]``
  for relu, ``2/sqrt(pi) exp(-z^2)`` for erf, ``1 - tanh(z)^2`` for tanh)::

      dPhi/dv = s sigma(z)^T r + c (v - v0)
      D       = s (r v^T) * sigma'(z)                    (n x h)
      dPhi/dW = D^T X + c (W - W0),   dPhi/db = beta D^T 1 + c (b - b0)

* learning rate per network ``1 / (lambda_max(Theta) + c)`` from the empirical NTK at the
  start (computed by :meth:`FCNet.empirical_ntk`, as ``train`` does) unless given;
* the update of ``torch.optim.SGD(momentum=mu)`` (``dampening = 0``, no Nesterov, no weight
  decay): ``buf <- mu buf + g`` (``buf = g`` at the first step), ``p <- p - lr buf``;
* per-network stopping: at step ``t`` the gradient norm ``|g_t|`` (summed over ``W1``,
  ``b1``, ``v`` in that order) is compared with ``tol (1 + |g_0|)``; a network that meets it
  is *converged* after ``t`` updates and freezes (its parameters stop changing), the others
  continue, up to ``steps`` updates.

**Different sample sizes** (e.g. clean and poisoned data): the data sets are padded to the
largest ``n`` with zero rows whose residual is multiplied by a zero weight, so a padded row
adds exact zeros to every gradient and to the objective.

Not bit-identical to ``train``: the batched products sum in another order, so results agree
to rounding (``tests/test_batched_training.py`` measures the agreement).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from numerics.networks import FCNet, TrainResult
from numerics.validation import as_targets, check_positive

__all__ = ["BatchedTrainingError", "train_depth1_batched"]

_DERIVATIVES = {
    "relu": lambda z, a: torch.sign(a),  # 1[z > 0]: a = relu(z) >= 0
    "erf": lambda z, a: z.square().neg_().exp_().mul_(2.0 / math.sqrt(math.pi)),
    "tanh": lambda z, a: 1.0 - a * a,
}


class BatchedTrainingError(ValueError):
    """Networks or data that :func:`train_depth1_batched` cannot train together."""


def _check_nets(nets: Sequence[FCNet]) -> None:
    if isinstance(nets, FCNet) or not isinstance(nets, Sequence) or len(nets) == 0:
        raise BatchedTrainingError("nets must be a non-empty sequence of FCNet")
    for i, net in enumerate(nets):
        if not isinstance(net, FCNet):
            raise BatchedTrainingError(f"nets[{i}] is a {type(net).__name__}, not an FCNet")
        if net.depth != 1:
            raise BatchedTrainingError(f"nets[{i}] has depth {net.depth}; only depth-1 "
                                       "networks are trained in a batch")
        if net.activation not in _DERIVATIVES:
            raise BatchedTrainingError(f"nets[{i}]: activation {net.activation!r} has no "
                                       "closed-form derivative here")
    ref = nets[0]
    for i, net in enumerate(nets[1:], 1):
        for attr in ("d", "width", "activation", "beta", "centred", "device"):
            if getattr(net, attr) != getattr(ref, attr):
                raise BatchedTrainingError(
                    f"nets[{i}].{attr} = {getattr(net, attr)!r} differs from nets[0].{attr} "
                    f"= {getattr(ref, attr)!r}; a batch holds networks of one architecture")


def train_depth1_batched(nets: Sequence[FCNet], data: Sequence[tuple], *, ridge: float = 0.0,
                         lr: float | Sequence[float] | None = None, steps: int = 5000,
                         tol: float = 1e-10, momentum: float = 0.0,
                         threads: int | None = 1) -> list[TrainResult]:
    """Train depth-1 networks of one architecture together, each on its own data, in place
    on each ``net.params`` (the module doc states the mathematics: that of
    :func:`numerics.networks.train` with ``kappa = 0``, ``reduction="sum"``).

    Parameters
    ----------
    nets: the networks (same ``d``, width, activation, ``beta``, centring and device).
    data: one ``(X, y)`` per network; ``X`` of shape ``(n_i, d)``, ``y`` of shape ``(n_i,)``.
    ridge: ``c`` (decay toward the initial parameters).
    lr: one learning rate, one per network, or ``None`` (per network
        ``1 / (lambda_max(Theta) + c)``, as in ``train``).
    steps, tol, momentum: as in ``train``.
    threads: torch intra-op threads while training on the CPU (restored afterwards);
        ``None`` leaves torch's setting.  Default 1: the per-step tensors are small (at most
        ``B x n x h``), and on the shared 2-core machine torch's default of 2 threads made
        the full relu C13 sweep 8x slower (186 s against 22 s, loaded machine; see
        ``results/benchmark/c13_sweep_*.json``).

    Returns one :class:`~numerics.networks.TrainResult` per network (``steps``, ``lr``,
    ``converged``; objective and gradient norm every 50 steps, as in ``train``).
    Raises :class:`FloatingPointError` when a network's objective or gradient stops being
    finite (as ``train`` does).
    """
    _check_nets(nets)
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence) \
            or len(data) != len(nets):
        raise BatchedTrainingError(f"data must hold one (X, y) pair per network "
                                   f"({len(nets)}), got {type(data).__name__}"
                                   + (f" of length {len(data)}"
                                      if isinstance(data, Sequence) else ""))
    ridge = check_positive(ridge, "ridge c", allow_zero=True)
    tol = check_positive(tol, "tolerance tol", allow_zero=True)
    momentum = check_positive(momentum, "momentum", allow_zero=True)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise BatchedTrainingError(f"steps must be a non-negative integer, got {steps!r}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise BatchedTrainingError(f"threads must be a positive integer or None, got "
                                   f"{threads!r}")
    if threads is None or nets[0].device.type != "cpu":
        return _train(nets, data, ridge, lr, steps, tol, momentum)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return _train(nets, data, ridge, lr, steps, tol, momentum)
    finally:
        torch.set_num_threads(before)


def _train(nets: Sequence[FCNet], data: Sequence[tuple], ridge: float,
           lr: float | Sequence[float] | None, steps: int, tol: float,
           momentum: float) -> list[TrainResult]:
    """:func:`train_depth1_batched` after its scalar checks."""
    B = len(nets)
    ref = nets[0]
    dev = ref.device
    Xs, ys = [], []
    for i, (net, pair) in enumerate(zip(nets, data, strict=True)):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise BatchedTrainingError(f"data[{i}] must be an (X, y) pair")
        X = net._points(pair[0])
        y = as_targets(pair[1], X.shape[0], name=f"targets data[{i}][1]", device=dev)
        if y.ndim != 1:
            raise BatchedTrainingError(f"targets data[{i}][1] must be scalar per point (shape "
                                       f"(n,)); got {tuple(y.shape)}")
        Xs.append(X)
        ys.append(y)
    # learning rates: the rule of train, network by network
    if lr is None:
        lrs = []
        for net, X in zip(nets, Xs, strict=True):
            with torch.no_grad():
                top = float(torch.linalg.eigvalsh(net.empirical_ntk(X))[-1])
            lrs.append(1.0 / (top + ridge))
    elif isinstance(lr, Sequence):
        if len(lr) != B:
            raise BatchedTrainingError(f"lr holds {len(lr)} rates for {B} networks")
        lrs = list(lr)
    else:
        lrs = [lr] * B
    lrs = [check_positive(v, "learning rate lr") for v in lrs]

    # stacked state; data padded to the largest n with zero-weight rows
    n_max = max(X.shape[0] for X in Xs)
    dt = Xs[0].dtype
    Xb = torch.zeros(B, n_max, ref.d, dtype=dt, device=dev)
    yb = torch.zeros(B, n_max, dtype=dt, device=dev)
    wb = torch.zeros(B, n_max, dtype=dt, device=dev)
    for i, (X, y) in enumerate(zip(Xs, ys, strict=True)):
        Xb[i, :X.shape[0]] = X
        yb[i, :X.shape[0]] = y
        wb[i, :X.shape[0]] = 1.0
    # parameters stacked over the batch; W1 kept transposed, (B, d, h), for the products
    P = {"W1": torch.stack([net.params["W1"].detach().T for net in nets]).clone(),
         "b1": torch.stack([net.params["b1"].detach() for net in nets]).clone(),
         "v": torch.stack([net.params["v"].detach() for net in nets]).clone()}
    P0 = {"W1": torch.stack([net.params0["W1"].T for net in nets]),
          "b1": torch.stack([net.params0["b1"] for net in nets]),
          "v": torch.stack([net.params0["v"] for net in nets])}
    s = 1.0 / math.sqrt(ref.width)
    beta = ref.beta
    sigma = ref.sigma
    dsigma = _DERIVATIVES[ref.activation]
    d = ref.d
    # [X, beta 1]: one product gives both D^T X and beta D^T 1 (D of the module doc)
    Xaug = torch.cat([Xb, torch.full_like(Xb[..., :1], beta)], dim=2)

    def raw(Wt, b, v, X):
        a = sigma(torch.baddbmm(beta * b[:, None, :], X, Wt))
        return s * torch.bmm(v[:, None, :], a.mT)[:, 0]

    raw0 = raw(P0["W1"], P0["b1"], P0["v"], Xb) if ref.centred else torch.zeros_like(yb)
    lr_t = torch.tensor(lrs, dtype=dt, device=dev)

    results = [TrainResult(steps=0, lr=lrs[i], converged=False) for i in range(B)]
    g0: list[float | None] = [None] * B
    # the active (not yet converged) networks, in compact tensors
    idx = list(range(B))
    Wt, b, v = P["W1"], P["b1"], P["v"]
    Wt0, b0, v0 = P0["W1"], P0["b1"], P0["v"]
    X, Xa, y, w, r0, lr_a = Xb, Xaug, yb, wb, raw0, lr_t
    bufs: tuple[torch.Tensor, ...] | None = None

    def write_back(rows: list[int], Wt_, b_, v_) -> None:
        for j in rows:
            i = idx[j]
            P["W1"][i], P["b1"][i], P["v"][i] = Wt_[j], b_[j], v_[j]

    with torch.no_grad():
        for step in range(steps + 1):
            if step == steps:  # the step budget is spent: no gradient test, as in train
                write_back(list(range(len(idx))), Wt, b, v)
                for i in idx:
                    results[i].steps = steps
                break
            z = torch.baddbmm(beta * b[:, None, :], X, Wt)            # (A, n, h)
            a = sigma(z)
            f = s * torch.bmm(v[:, None, :], a.mT)[:, 0] - r0          # (A, n)
            r = (f - y) * w
            dWt, db, dv = Wt - Wt0, b - b0, v - v0
            gv = s * torch.bmm(r[:, None, :], a)[:, 0] + ridge * dv
            G = torch.bmm((Xa * (s * r)[:, :, None]).mT, dsigma(z, a))  # (A, d + 1, h)
            gWt = G[:, :d] * v[:, None, :] + ridge * dWt
            gb = G[:, d] * v + ridge * db
            sq = torch.stack([(gWt * gWt).sum((1, 2)), (gb * gb).sum(1), (gv * gv).sum(1)], 1)
            obj = 0.5 * (r * r).sum(1)
            if ridge > 0:
                obj = obj + 0.5 * ridge * ((dWt * dWt).sum((1, 2)) + (db * db).sum(1)
                                           + (dv * dv).sum(1))
            sq_l = sq.tolist()
            obj_l = obj.tolist()
            done = []
            for j, i in enumerate(idx):
                gn = math.sqrt(sum(sq_l[j]))
                val = obj_l[j]
                if not math.isfinite(gn) or not math.isfinite(val):
                    raise FloatingPointError(
                        f"training of network {i} diverged at step {step} (objective {val}, "
                        f"gradient norm {gn}); lower the learning rate {lrs[i]:g}")
                if g0[i] is None:
                    g0[i] = gn
                if step % 50 == 0:
                    results[i].objective.append(val)
                    results[i].grad_norm.append(gn)
                if gn <= tol * (1.0 + g0[i]):
                    results[i].converged = True
                    results[i].steps = step
                    done.append(j)
            if done:
                write_back(done, Wt, b, v)
                keep = [j for j in range(len(idx)) if j not in done]
                idx = [idx[j] for j in keep]
                if not idx:
                    break
                k = torch.tensor(keep, device=dev)
                Wt, b, v, Wt0, b0, v0 = (t[k] for t in (Wt, b, v, Wt0, b0, v0))
                gWt, gb, gv = gWt[k], gb[k], gv[k]
                X, Xa, y, w, r0, lr_a = X[k], Xa[k], y[k], w[k], r0[k], lr_a[k]
                if bufs is not None:
                    bufs = tuple(t[k] for t in bufs)
            # torch.optim.SGD with momentum: buf = mu buf + g (buf = g first), p -= lr buf
            if momentum != 0:
                if bufs is None:
                    bufs = (gWt.clone(), gb.clone(), gv.clone())
                else:
                    for buf, g in zip(bufs, (gWt, gb, gv), strict=True):
                        buf.mul_(momentum).add_(g)
                upd = bufs
            else:
                upd = (gWt, gb, gv)
            Wt = Wt - lr_a[:, None, None] * upd[0]
            b = b - lr_a[:, None] * upd[1]
            v = v - lr_a[:, None] * upd[2]
    for i, net in enumerate(nets):
        net.params = {"W1": P["W1"][i].T.contiguous(), "b1": P["b1"][i].clone(),
                      "v": P["v"][i].clone()}
    return results
