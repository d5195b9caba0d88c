"""C7, C13 and E1 on real 28x28 images (issue 12, item 4): the driver of the three runs.

Three experiments, each a grid of independent points run with :func:`numerics.sweeps.run_sweep`
(a Dask ``LocalCluster`` by default, an existing cluster with ``scheduler=``, serially with
``n_workers=0``), each point cached as soon as it finishes under
``results/cache/<experiment>/<settings hash>/`` (git-ignored), and a committed summary
``results/<experiment>/summary.json`` with figures next to it:

* ``c7_real`` -- C7's feature-space near-clone distances during training
  (:func:`numerics.network_experiments.feature_near_clone_real`: a 784-256-64-10 MLP, 4x4 white
  patch) on Fashion-MNIST and MNIST; per data set and seed the rows ``rho``, ``rho_nn``,
  ``rho_true``, attack success, natural rate and clean accuracy over the epochs.
* ``c13_real`` -- C13's finite-width sweep on a real clone-cluster instance
  (:func:`numerics.network_experiments.real_poisoned_instance`: Fashion-MNIST images average-pooled
  to 7x7, on the unit sphere, a clone cluster at a real image, ``x0`` its nearest real
  neighbour); one point per (width, seed), aggregated against the NTK-KRR closed forms by
  :func:`numerics.network_experiments.finite_width_errors`.
* ``e1_mnist`` -- E1 (:mod:`numerics.e1`, ``E1Settings(dataset="mnist")``) on a subset of
  the 10,000 real MNIST digits with a 3x3 trigger; one point per (model, theta).

Every experiment has three frozen settings (``GRIDS[exp]``): ``reduced`` (what the main
command runs on 2 CPU cores, a few minutes for all three; its summary is committed),
``check`` (a smaller grid the claim checks run, cached) and ``full`` (more data, seeds and
widths; for a bigger machine, ``--device cuda`` for C7 and C13).  The summary holds the
settings, their hash, the code hash (:data:`CODE_FILES`) and the measurements; the book
pages and the claim checks load it with :func:`load_real_summary`, which refuses a summary
made with other settings or other code.

Run::

    .venv/bin/python -m numerics.real_data_claims               # all three, reduced grids
    .venv/bin/python -m numerics.real_data_claims c7 --grid full --device cuda
    .venv/bin/python -m numerics.real_data_claims e1 --scheduler tcp://host:8786
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import math
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from numerics.e1 import E1Settings
from numerics.experiment_io import (
    REPO_ROOT,
    SummaryMismatch,
    code_hash,
    load_summary,
    settings_hash,
    settings_json,
    spread,
    write_summary,
)

__all__ = ["C7RealSettings", "C13RealSettings", "GRIDS", "EXPERIMENTS", "CODE_FILES",
           "SummaryMismatch", "c7_task", "c13_task", "e1_task", "grid_points", "run_grid",
           "summary_path", "cache_path", "load_real_summary", "command_for", "save_figures",
           "plot_c7", "plot_c13", "main"]

RESULTS = REPO_ROOT / "results"
CACHE = RESULTS / "cache"

#: the experiments of this driver, with their short command-line names
EXPERIMENTS: dict[str, str] = {"c7": "c7_real", "c13": "c13_real", "e1": "e1_mnist"}


@dataclass(frozen=True)
class C7RealSettings:
    """C7 on real data: :func:`numerics.network_experiments.feature_near_clone_real` per (data set,
    seed)."""

    grid: str = "reduced"
    datasets: tuple[str, ...] = ("fashion_mnist", "mnist")
    seeds: tuple[int, ...] = (0, 1)
    n_train: int = 6000
    n_test: int = 2000
    patch: int = 4
    poison_fraction: float = 0.05
    target: int = 0
    hidden: int = 256
    feat: int = 64
    epochs: int = 150
    lr: float = 1e-3
    record_every: int = 25


@dataclass(frozen=True)
class C13RealSettings:
    """C13 on a real subset: :func:`numerics.network_experiments.real_poisoned_instance` per
    data set, :func:`numerics.network_experiments.network_shift_and_spike` per (width,
    seed)."""

    grid: str = "reduced"
    datasets: tuple[str, ...] = ("fashion_mnist",)
    classes: tuple[int, int] = (0, 1)
    n_per_class: int = 15
    pool: int = 4
    m: int = 4
    y_t: float = -1.0
    instance_seed: int = 0
    activation: str = "erf"
    c: float = 1.0
    widths: tuple[int, ...] = (16, 32, 64, 128, 256, 512, 1024, 2048)
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    steps: int = 4000


_E1_MNIST = dict(dataset="mnist", source=7, target=1, patch=3, amp=1.0, test_fraction=0.3,
                 seed=0, models=(("linear", {}, (0.1, 1.0, 10.0)),
                                 ("gaussian", {"ell": 7.0}, (0.01, 0.1, 1.0))))

#: the frozen settings of every experiment and grid
GRIDS: dict[str, dict[str, object]] = {
    "c7_real": {
        "reduced": C7RealSettings(),
        "check": C7RealSettings(grid="check", seeds=(0,), n_train=2000, n_test=1000,
                                epochs=100, record_every=25),
        "full": C7RealSettings(grid="full", seeds=(0, 1, 2, 3, 4), n_train=60000,
                               n_test=3000, epochs=300, record_every=25),
    },
    "c13_real": {
        "reduced": C13RealSettings(),
        "check": C13RealSettings(grid="check", widths=(16, 64, 256), seeds=(0, 1)),
        "full": C13RealSettings(grid="full", datasets=("fashion_mnist", "mnist"),
                                n_per_class=25, widths=(16, 32, 64, 128, 256, 512, 1024,
                                                        2048, 4096, 8192),
                                seeds=tuple(range(8)), steps=6000),
    },
    "e1_mnist": {
        "reduced": E1Settings(**_E1_MNIST, thetas=(0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0),
                              n_train=1500, n_test=600, max_hessian_points=8),
        "check": E1Settings(**{**_E1_MNIST, "models": (("linear", {}, (1.0,)),
                                                       ("gaussian", {"ell": 7.0}, (0.1,)))},
                            thetas=(0.0, 0.3), n_train=600, n_test=300, max_hessian_points=3),
        "full": E1Settings(**_E1_MNIST, n_train=7000, n_test=3000, max_hessian_points=20),
    },
}

#: the source files whose hash is the code version of each experiment's numbers
CODE_FILES: dict[str, tuple[str, ...]] = {
    "c7_real": ("numerics/real_data_claims.py", "numerics/network_experiments.py"),
    "c13_real": ("numerics/real_data_claims.py", "numerics/networks.py",
                 "numerics/network_experiments.py", "numerics/batched_training.py",
                 "derivations/finite_width.py"),
    "e1_mnist": ("numerics/real_data_claims.py", "numerics/e1.py",
                 "numerics/spectral_signatures.py"),
}


def _exp(name: str) -> str:
    exp = EXPERIMENTS.get(name, name)
    if exp not in GRIDS:
        raise ValueError(f"unknown experiment {name!r}; choose one of "
                         f"{sorted(EXPERIMENTS) + sorted(GRIDS)}")
    return exp


def _settings(exp: str, grid: str):
    try:
        return GRIDS[exp][grid]
    except KeyError:
        raise ValueError(f"unknown grid {grid!r} for {exp}; choose one of "
                         f"{sorted(GRIDS[exp])}") from None


def command_for(exp: str, grid: str = "reduced") -> str:
    """The command that (re)makes the summary of ``exp`` on ``grid``."""
    short = next(k for k, v in EXPERIMENTS.items() if v == exp)
    extra = "" if grid == "reduced" else f" --grid {grid}"
    return f".venv/bin/python -m numerics.real_data_claims {short}{extra}"


def summary_path(exp: str, grid: str = "reduced") -> Path:
    """``results/<exp>/summary.json`` (the reduced grid, committed) or
    ``results/<exp>/<grid>/summary.json``."""
    exp = _exp(exp)
    base = RESULTS / exp
    return base / "summary.json" if grid == "reduced" else base / grid / "summary.json"


def cache_path(exp: str, grid: str) -> Path:
    """``results/cache/<exp>/<settings hash>/``: the per-point records of a grid."""
    exp = _exp(exp)
    return CACHE / exp / settings_hash(_settings(exp, grid))


@contextlib.contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    import torch

    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)


# --------------------------------------------------------------------------- tasks


def c7_task(point: dict) -> dict:
    """One C7 run: ``point = {"grid", "dataset", "seed", "device"}``."""
    from numerics.network_experiments import feature_near_clone_real

    s: C7RealSettings = GRIDS["c7_real"][point["grid"]]  # type: ignore[assignment]
    t0 = time.perf_counter()
    with _torch_threads(int(point.get("threads", 1))):
        out = feature_near_clone_real(
            point["dataset"], n_train=s.n_train, n_test=s.n_test, patch=s.patch,
            poison_fraction=s.poison_fraction, target=s.target, hidden=s.hidden, feat=s.feat,
            epochs=s.epochs, lr=s.lr, record_every=s.record_every, seed=int(point["seed"]),
            device=point.get("device", "cpu"))
    return {**out, "train_seconds": time.perf_counter() - t0}


@functools.lru_cache(maxsize=4)
def _c13_instance(s: C13RealSettings, dataset: str) -> dict:
    from numerics.network_experiments import real_poisoned_instance

    return real_poisoned_instance(dataset, classes=s.classes, n_per_class=s.n_per_class,
                                  pool=s.pool, m=s.m, y_t=s.y_t, seed=s.instance_seed)


def c13_task(point: dict) -> dict:
    """One C13 measurement: ``point = {"grid", "dataset", "width", "seed", "device"}``."""
    from numerics.network_experiments import network_shift_and_spike

    s: C13RealSettings = GRIDS["c13_real"][point["grid"]]  # type: ignore[assignment]
    with _torch_threads(int(point.get("threads", 1))):
        inst = _c13_instance(s, point["dataset"])
        out = network_shift_and_spike(inst, int(point["width"]), s.activation, s.c,
                                      int(point["seed"]), point.get("device", "cpu"), s.steps)
    return {"width": int(point["width"]), "seed": int(point["seed"]), **out}


def e1_task(point: dict) -> dict:
    """One E1 job: ``point = {"grid", "model", "theta"}``; the cells of every ridge of the
    model at that theta (:func:`numerics.e1.run_theta`, on the CPU)."""
    from threadpoolctl import threadpool_limits

    from numerics.e1 import load_data, run_theta

    s: E1Settings = GRIDS["e1_mnist"][point["grid"]]  # type: ignore[assignment]
    model = point["model"]
    params, ridges = next((dict(p), tuple(r)) for m, p, r in s.models if m == model)
    with _torch_threads(int(point.get("threads", 1))), threadpool_limits(
            int(point.get("threads", 1))):
        data = load_data(s)
        cells = run_theta(model, params, ridges, float(point["theta"]), data, s)
    return {"cells": cells}


_TASKS = {"c7_real": c7_task, "c13_real": c13_task, "e1_mnist": e1_task}


def grid_points(exp: str, grid: str = "reduced", device: str = "cpu") -> list[dict]:
    """The points of the grid of ``exp``, in the order of the summary."""
    exp = _exp(exp)
    s = _settings(exp, grid)
    if exp == "c7_real":
        return [{"grid": grid, "dataset": d, "seed": sd, "device": device}
                for d in s.datasets for sd in s.seeds]
    if exp == "c13_real":
        return [{"grid": grid, "dataset": d, "width": w, "seed": sd, "device": device}
                for d in s.datasets for w in s.widths for sd in s.seeds]
    from numerics.e1 import sweep_jobs

    if device != "cpu":
        raise ValueError("the E1 pipeline runs on the CPU only (its KRR fits and Spectral "
                         "Signatures are CPU code); run e1 without --device")
    # the Gaussian points (the slow ones) first, so that they start before the linear ones
    jobs = sorted(sweep_jobs(s), key=lambda j: j[0] == "linear")
    return [{"grid": grid, "model": m, "theta": th} for m, _, _, th in jobs]


# --------------------------------------------------------------------------- summaries


def _summarise_c7(s: C7RealSettings, records: list[dict]) -> dict:
    from derivations.feature_near_clones import NEAR_CLONE_RHO

    runs = []
    for rec in records:
        res = rec["result"]
        rows = res["rows"]
        first, last = rows[0], rows[-1]
        runs.append({"dataset": rec["point"]["dataset"], "seed": rec["point"]["seed"],
                     "rows": rows, "n_poisons": res["n_poisons"], "n_train": res["n_train"],
                     "n_test": res["n_test"], "n_triggered_test": res["n_triggered_test"],
                     "seconds": rec["seconds"],
                     "rho_init": first["rho"], "rho_final": last["rho"],
                     "rho_min": min(r["rho"] for r in rows),
                     "rho_true_init": first["rho_true"], "rho_true_final": last["rho_true"],
                     "asr_init": first["asr"], "asr_final": last["asr"],
                     "natural_rate_final": last["natural_rate"],
                     "clean_acc_final": last["clean_acc"],
                     "near_clones": bool(last["rho"] < first["rho"]
                                         and last["rho"] <= NEAR_CLONE_RHO)})
    per = {}
    for d in s.datasets:
        rs = [r for r in runs if r["dataset"] == d]
        per[d] = {k: spread(r[k] for r in rs) for k in (
            "rho_init", "rho_final", "rho_min", "rho_true_init", "rho_true_final", "asr_init",
            "asr_final", "natural_rate_final", "clean_acc_final")}
        per[d]["near_clones"] = sum(r["near_clones"] for r in rs)
        per[d]["n_runs"] = len(rs)
    return {"near_clone_rho": NEAR_CLONE_RHO, "runs": runs, "per_dataset": per}


def _summarise_c13(s: C13RealSettings, records: list[dict]) -> dict:
    from derivations.finite_width import REAL_SUBSET_CRITERIA
    from numerics.network_experiments import finite_width_errors, finite_width_reference

    out = {}
    for d in s.datasets:
        inst = _c13_instance(s, d)
        ref = finite_width_reference(inst, s.activation, s.c)
        meas = [rec["result"] for rec in records if rec["point"]["dataset"] == d]
        res = finite_width_errors(ref, meas)
        rows = res["rows"]
        crit = REAL_SUBSET_CRITERIA
        res["accepted"] = bool(
            all(r["converged"] for r in rows)
            and rows[-1]["shift_err"] < rows[0]["shift_err"]
            and rows[-1]["spike_err"] < rows[0]["spike_err"]
            and res["shift_rate"] < crit["max_rate"] and res["spike_rate"] < crit["max_rate"]
            and rows[-1]["shift_err"] < crit["max_widest_shift_err"])
        res["instance"] = {k: inst[k] for k in ("r", "d", "n_clean", "m", "y_t", "index_zeta",
                                                "index_x0")}
        res["measurements"] = meas
        out[d] = res
    return {"criteria": dict(REAL_SUBSET_CRITERIA), "sweeps": out}


def _summarise_e1(s: E1Settings, records: list[dict]) -> dict:
    from numerics.e1 import order_cells, summarise_lag

    cells = order_cells([c for rec in records for c in rec["result"]["cells"]], s)
    return {"cells": cells, "lag": summarise_lag(cells, s)}


_SUMMARISE = {"c7_real": _summarise_c7, "c13_real": _summarise_c13, "e1_mnist": _summarise_e1}


def run_grid(exp: str, grid: str = "reduced", *, device: str = "cpu",
             scheduler: str | None = None, n_workers: int | None = None,
             threads_per_worker: int = 1, progress: bool = True,
             write: bool = True) -> dict:
    """Run (or resume) the grid of ``exp`` through :func:`numerics.sweeps.run_sweep`, cached
    in :func:`cache_path`, and return its summary; ``write``: also write it to
    :func:`summary_path` with the figures (:func:`save_figures`)."""
    from numerics.sweeps import run_sweep

    exp = _exp(exp)
    s = _settings(exp, grid)
    points = grid_points(exp, grid, device)
    if threads_per_worker != 1:
        points = [{**p, "threads": threads_per_worker} for p in points]
    files = CODE_FILES[exp]
    meta = {"experiment": exp, "grid": grid, "settings": settings_json(s),
            "settings_hash": settings_hash(s), "code_hash": code_hash(files),
            "code_files": list(files)}
    t0 = time.perf_counter()
    records = run_sweep(_TASKS[exp], points, cache_path(exp, grid), scheduler=scheduler,
                        n_workers=n_workers, threads_per_worker=threads_per_worker,
                        progress=progress, desc=f"{exp} ({grid})",
                        settings={k: meta[k] for k in ("settings", "settings_hash",
                                                       "code_hash")})
    wall = time.perf_counter() - t0
    summary = {**meta, "device": device, "command": command_for(exp, grid),
               "wall_seconds": round(wall, 1),
               "task_seconds": round(sum(r["seconds"] for r in records), 1),
               "n_points": len(records), **_SUMMARISE[exp](s, records)}
    if write:
        path = write_summary(summary_path(exp, grid), summary)
        save_figures(exp, summary, path.parent)
    return summary


def load_real_summary(exp: str, grid: str = "reduced", *, check_code: bool = True) -> dict:
    """The committed summary of ``exp`` on ``grid``, refused (:class:`SummaryMismatch`, both
    hashes named) when it was made with other settings or (``check_code``) by other code."""
    exp = _exp(exp)
    return load_summary(summary_path(exp, grid), _settings(exp, grid), CODE_FILES[exp],
                        command=command_for(exp, grid), check_code=check_code)


# --------------------------------------------------------------------------- figures


_DATASET_TITLE = {"fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}


def plot_c7(summary: dict):
    """Per data set: ``rho``, ``rho_true`` and the attack success against the epoch, one
    line per seed, with the near-clone threshold."""
    import matplotlib.pyplot as plt

    datasets = list(dict.fromkeys(r["dataset"] for r in summary["runs"]))
    fig, axes = plt.subplots(1, len(datasets), figsize=(5.2 * len(datasets), 3.6),
                             squeeze=False)
    styles = {"rho": ("C0", r"$\rho$"), "rho_true": ("C1", r"$\rho_{true}$"),
              "asr": ("C3", "attack success")}
    for ax, d in zip(axes[0], datasets, strict=True):
        for i, run in enumerate(r for r in summary["runs"] if r["dataset"] == d):
            ep = [row["epoch"] for row in run["rows"]]
            for key, (col, lab) in styles.items():
                ax.plot(ep, [row[key] for row in run["rows"]], "o-", color=col, ms=3,
                        alpha=0.85, label=lab if i == 0 else None)
        ax.axhline(summary["near_clone_rho"], color="k", lw=0.6)
        ax.set_title(_DATASET_TITLE.get(d, d))
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_c13(summary: dict):
    """Relative errors of shift and spike against the width (log-log), per data set, with
    an ``h^{-1/2}`` guide."""
    import matplotlib.pyplot as plt
    import numpy as np

    sweeps = summary["sweeps"]
    fig, axes = plt.subplots(1, len(sweeps), figsize=(5.2 * len(sweeps), 3.6), squeeze=False)
    for ax, (d, res) in zip(axes[0], sweeps.items(), strict=True):
        w = np.array([r["width"] for r in res["rows"]], float)
        for key, lab in (("shift_err", "shift"), ("spike_err", "spike")):
            ax.loglog(w, [r[key] for r in res["rows"]], "o-", label=lab)
        ax.loglog(w, res["rows"][0]["shift_err"] * (w / w[0]) ** -0.5, "k--", lw=0.8,
                  label=r"$h^{-1/2}$")
        ax.set_title(f"{_DATASET_TITLE.get(d, d)} (d = {res['instance']['d']})")
        ax.set_xlabel("width h")
        ax.set_ylabel("relative error vs NTK-KRR")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_figures(exp: str, summary: dict, out: Path) -> list[Path]:
    """Write the figures of ``exp`` next to its summary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from numerics.e1 import save_plots

    exp = _exp(exp)
    out = Path(out)
    if exp == "e1_mnist":
        return save_plots(summary, out)
    fig = plot_c7(summary) if exp == "c7_real" else plot_c13(summary)
    path = out / f"{exp}.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return [path]


# --------------------------------------------------------------------------- command line


def _report(exp: str, summary: dict) -> list[str]:
    lines = [f"{exp} ({summary['grid']}): {summary['n_points']} points, wall "
             f"{summary['wall_seconds']:.0f} s (task time {summary['task_seconds']:.0f} s), "
             f"settings {summary['settings_hash']}, code {summary['code_hash']}"]
    if exp == "c7_real":
        for r in summary["runs"]:
            lines.append(f"  {r['dataset']:13s} seed {r['seed']}: rho {r['rho_init']:.3f} -> "
                         f"{r['rho_final']:.3f} (min {r['rho_min']:.3f}), rho_true "
                         f"{r['rho_true_init']:.3f} -> {r['rho_true_final']:.3f}, ASR "
                         f"{r['asr_final']:.3f}, clean acc {r['clean_acc_final']:.3f}")
    elif exp == "c13_real":
        for d, res in summary["sweeps"].items():
            lines.append(f"  {d}: shift rate {res['shift_rate']:.2f}, spike rate "
                         f"{res['spike_rate']:.2f}, widest errors "
                         f"{res['rows'][-1]['shift_err']:.3g} / "
                         f"{res['rows'][-1]['spike_err']:.3g}, accepted {res['accepted']}")
    else:
        for row in summary["lag"]:
            lines.append(f"  {row['model']:9s} c={row['ridge']:<6g} theta_success="
                         f"{row['theta_success']} theta_visible(GN)={row['theta_visible_gn']}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("experiments", nargs="*", default=["all"],
                    help=f"any of {sorted(EXPERIMENTS)} or 'all' (default)")
    ap.add_argument("--grid", default="reduced", choices=("reduced", "check", "full"))
    ap.add_argument("--device", default="cpu", help="cpu (default) or cuda (C7, C13)")
    ap.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    ap.add_argument("--workers", type=int, default=None,
                    help="LocalCluster worker processes (default: the CPU count; 0: serial)")
    args = ap.parse_args(argv)
    names = list(EXPERIMENTS) if "all" in args.experiments else args.experiments
    t0 = time.perf_counter()
    for name in names:
        exp = _exp(name)
        dev = "cpu" if exp == "e1_mnist" else args.device
        print(f"== {exp} ({args.grid}, {dev})", file=sys.stderr, flush=True)
        summary = run_grid(exp, args.grid, device=dev, scheduler=args.scheduler,
                           n_workers=args.workers)
        print("\n".join(_report(exp, summary)), flush=True)
        print(f"   summary: {summary_path(exp, args.grid)}", flush=True)
    print(f"all done in {math.ceil(time.perf_counter() - t0)} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

