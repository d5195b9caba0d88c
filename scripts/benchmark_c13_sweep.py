"""Benchmark: the C13 finite-width sweep, batched training vs the sequential ``train`` path.

    .venv/bin/python scripts/benchmark_c13_sweep.py [--activation relu] [--steps N]
        [--seeds 0 1 2] [--widths 32 64 ...] [--paths batched sequential] [--threads N]
        [--json out.json]

Runs :func:`numerics.network_experiments.finite_width_sweep` with the configuration of
:data:`derivations.finite_width.SLOW_SWEEPS` for ``--activation`` (``--steps``,
``--seeds``, ``--widths`` override it: a reduced run, recorded as such) once per path and
prints the wall time of each, their ratio, the fitted shift and spike rates and whether
they lie in the configuration's ``rate_window``, and the largest relative difference of
the per-width errors between the paths.  The record holds the machine (cores, threads,
torch version, date, load average: the machine may be shared).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time

import torch


def main() -> None:
    from derivations.finite_width import SLOW_SWEEPS
    from numerics.network_experiments import finite_width_sweep

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--activation", default="relu", choices=sorted(SLOW_SWEEPS))
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--widths", type=int, nargs="+", default=None)
    ap.add_argument("--paths", nargs="+", default=["batched", "sequential"],
                    choices=["batched", "sequential"])
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = SLOW_SWEEPS[args.activation]
    widths = list(args.widths or cfg["widths"])
    seeds = list(args.seeds if args.seeds is not None else cfg["seeds"])
    steps = int(args.steps or cfg["steps"])
    reduced = (widths != list(cfg["widths"]) or seeds != list(cfg["seeds"])
               or steps != cfg["steps"])
    lo, hi = cfg["rate_window"]
    rec: dict = {
        "what": "finite_width_sweep wall time, batched vs sequential training",
        "activation": args.activation, "widths": widths, "seeds": seeds, "steps": steps,
        "config": "reduced SLOW_SWEEPS" if reduced else "SLOW_SWEEPS",
        "rate_window": [lo, hi],
        "machine": {"cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version(),
                    "date_utc": datetime.datetime.now(datetime.UTC).isoformat(
                        timespec="seconds"),
                    "loadavg_start": os.getloadavg(),
                    "shared": "assumed shared (other jobs may run); see loadavg"},
        "runs": {},
    }
    for path in args.paths:
        t = time.perf_counter()
        res = finite_width_sweep(widths, seeds, args.activation, steps=steps,
                                 batched=(path == "batched"))
        wall = time.perf_counter() - t
        rec["runs"][path] = {
            "wall_s": wall, "shift_rate": res["shift_rate"], "spike_rate": res["spike_rate"],
            "rates_in_window": bool(lo < res["shift_rate"] < hi and lo < res["spike_rate"] < hi),
            "rows": res["rows"]}
        print(f"{path:10s} {wall:8.1f} s  shift rate {res['shift_rate']:.4f}  spike rate "
              f"{res['spike_rate']:.4f}  in window {rec['runs'][path]['rates_in_window']}",
              flush=True)
    rec["machine"]["loadavg_end"] = os.getloadavg()
    if len(rec["runs"]) == 2:
        a, b = rec["runs"]["batched"], rec["runs"]["sequential"]
        rec["speedup"] = b["wall_s"] / a["wall_s"]
        rec["max_rel_diff_errors"] = max(
            abs(x[k] - y[k]) / abs(y[k]) for x, y in zip(a["rows"], b["rows"], strict=True)
            for k in ("shift_err", "spike_err"))
        print(f"speed-up {rec['speedup']:.1f}x, largest relative difference of the errors "
              f"{rec['max_rel_diff_errors']:.2e}")
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as fh:
            json.dump(rec, fh, indent=1)


if __name__ == "__main__":
    main()
