"""Experiment E1: a dirty-label backdoor on scikit-learn's digits against linear (ridge)
regression and Gaussian-kernel KRR, with spectral visibility and the Spectral Signatures
baseline.

Attack.  An additive trigger pattern (a ``patch x patch`` square of amplitude ``amp`` in
the bottom-right corner of the 8x8 image, added without clipping) is added to a fraction
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
from numerics.data import load_digits_dataset, one_hot, split
from numerics.krr import KRR
from numerics.spectral_signatures import VARIANTS, detection_metrics, spectral_signatures

__all__ = ["E1Settings", "QUICK", "trigger_pattern", "poison_training_set", "run_cell",
           "run_e1", "settings_hash", "RESULTS_DIR", "load_cached", "CacheMismatch",
           "load_data", "summarise_lag", "input_hessians", "save_plots",
           "plot_success_vs_visibility", "plot_spectral_signatures"]

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results" / "e1"


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

    def to_json(self) -> dict:
        return json.loads(json.dumps(dataclasses.asdict(self)))


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
    ``L = |f(x) - y|^2 / 2`` at each query, ``(q, d, d)`` each (:meth:`KRR.loss_hessian`)."""
    lh = krr.loss_hessian(Xq, Yq)
    return lh.gauss_newton, lh.total


def _hessian_stats(H: torch.Tensor, p_hat: torch.Tensor) -> dict[str, float]:
    vals, vecs = torch.linalg.eigh(0.5 * (H + H.transpose(-1, -2)))
    top, second = vals[:, -1], vals[:, -2]
    overlap = (vecs[:, :, -1] @ p_hat) ** 2
    along = torch.einsum("d,qde,e->q", p_hat, H, p_hat)
    return {"lam_top": float(top.mean()), "lam_second": float(second.mean()),
            "overlap": float(overlap.mean()), "overlap_median": float(overlap.median()),
            "rayleigh_trigger": float(along.mean())}


def run_cell(model: str, params: dict, ridge: float, theta: float, data: dict,
             settings: E1Settings, *, signatures: bool = True) -> dict:
    """One (model, ridge, theta) cell of the sweep.  Spectral Signatures (when
    ``signatures``) uses representations that do not depend on the ridge (inputs; the
    kernel map), so the sweep runs it once per model and theta."""
    Xtr, ytr, Xte, yte, pattern = (data[k] for k in ("Xtr", "ytr", "Xte", "yte", "pattern"))
    n_classes = 10
    pz = poison_training_set(Xtr, ytr, theta, settings, pattern)
    krr = KRR(model, ridge, **params).fit(pz.X, one_hot(pz.y, n_classes))
    clean_acc = float((krr.predict(Xte).argmax(1) == yte).double().mean())
    src_te = Xte[yte == settings.source]
    trig = src_te + pattern
    asr = float((krr.predict(trig).argmax(1) == settings.target).double().mean())
    q = trig[: settings.max_hessian_points]
    yq = one_hot(torch.full((q.shape[0],), settings.source), n_classes)
    H_gn, H_tot = input_hessians(krr, q, yq)
    p_hat = pattern / torch.linalg.vector_norm(pattern)
    gn = _hessian_stats(H_gn, p_hat)
    tot = _hessian_stats(H_tot, p_hat)
    # margins of the poisoned model at the clean source inputs (for the E1 slug's bound)
    f_clean_inputs = krr.predict(src_te[: settings.max_hessian_points])
    margin = (f_clean_inputs[:, settings.source] - f_clean_inputs[:, settings.target])
    success = krr.predict(q).argmax(1) == settings.target
    out = {"model": model, "params": params, "ridge": ridge, "theta": theta,
           "n_poison": pz.n_poison, "n_train": int(Xtr.shape[0]), "clean_acc": clean_acc,
           "asr": asr, "gn": gn, "total": tot,
           "margin_bound_check": _margin_bound(H_gn, p_hat, pattern, margin,
                                               success) if model == "linear" else None}
    # Spectral Signatures on the poisoned training data
    if pz.n_poison > 0 and signatures:
        reps = pz.X if model == "linear" else krr.kernel.gram(pz.X, pz.X)
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
        out["spectral_signatures"] = ss
    else:
        out["spectral_signatures"] = None
    return out


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


def load_data(settings: E1Settings) -> dict:
    ds = load_digits_dataset()
    tr, te = split(ds, settings.test_fraction, seed=settings.seed)
    return {"Xtr": tr.X, "ytr": tr.y, "Xte": te.X, "yte": te.y,
            "pattern": trigger_pattern(settings, ds.image_shape)}


def run_e1(settings: E1Settings = E1Settings(), *, progress: bool = True) -> dict:
    """Run the whole sweep; returns a JSON-ready dict with the settings and their hash."""
    from threadpoolctl import threadpool_limits
    from tqdm.auto import tqdm

    # one BLAS / torch thread: on a shared 2-core machine oversubscription costs ~5x
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t0 = time.time()
    data = load_data(settings)
    jobs = [(mdl, params, c, th, c == ridges[0]) for mdl, params, ridges in settings.models
            for c in ridges for th in settings.thetas]
    cells = []
    try:
        with threadpool_limits(1):
            for mdl, params, c, th, sig in tqdm(jobs, desc="E1 sweep", disable=not progress):
                cells.append(run_cell(mdl, dict(params), c, th, data, settings, signatures=sig))
    finally:
        torch.set_num_threads(threads)
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
