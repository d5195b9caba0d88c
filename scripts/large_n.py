#!/usr/bin/env python3
"""Large-n KRR: the exact in-place dense solver and the matrix-free CG solver, measured.

    python scripts/large_n.py --n 20000 --steps dense --name n20000          # CPU, d = 64
    python scripts/large_n.py --n 5000 --d 8 --steps dense,cg --name cg_n5000
    python scripts/large_n.py --n 2000 --data fashion --kernel ntk_relu --device cpu \\
        --steps dense,cg --name smoke --out /tmp/scale                       # GPU script, small

Steps (each prints a progress line and records wall seconds and peak memory):

``dense``
    :class:`numerics.krr.KRR` (one ``n x n`` buffer, Gram written in blocks, Cholesky in
    place): fit, predict at ``q`` queries, input Hessian at the ``q`` queries, and the
    exact prediction shift and rank-one spike of ``m`` clones of a trigger from the fitted
    clean model (:func:`numerics.closed_forms.clean_quantities_from_fit`).
``cg``
    :class:`numerics.large_krr.CGKRR` (``K`` never formed): the same four steps, with CG
    iterations and residuals; when ``dense`` ran too, the maximum relative differences of
    weights, predictions, Hessians, shift and spike.

Peak memory: the process's peak resident set (``VmHWM``, reset before each step through
``/proc/self/clear_refs``), and on CUDA ``torch.cuda.max_memory_allocated``.  The JSON
(``<out>/<name>.json``) records cores, threads, torch version, date and the ``--shared``
note.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from numerics import closed_forms as cf  # noqa: E402
from numerics.krr import KRR  # noqa: E402

GIB = 2.0**30


def _rss_peak_reset() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _status_kib(key: str) -> float | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


class Step:
    """Context manager: time one step, record its peak memory, print a progress line."""

    def __init__(self, record: dict, name: str, device: torch.device) -> None:
        self.record, self.name, self.device = record, name, device

    def __enter__(self) -> Step:
        print(f"[{time.strftime('%H:%M:%S')}] {self.name} ...", flush=True)
        _rss_peak_reset()
        self.rss0 = _status_kib("VmRSS")
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.gpu0 = torch.cuda.memory_allocated()
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        sec = time.perf_counter() - self.t0
        hwm = _status_kib("VmHWM")
        rec = {"seconds": sec,
               "rss_before_gib": None if self.rss0 is None else self.rss0 / 2**20,
               "peak_rss_gib": None if hwm is None else hwm / 2**20}
        if self.device.type == "cuda":
            rec["gpu_before_gib"] = self.gpu0 / GIB
            rec["gpu_peak_gib"] = torch.cuda.max_memory_allocated() / GIB
        rec["ok"] = exc[0] is None
        self.record[self.name] = rec
        peak = rec.get("gpu_peak_gib", rec["peak_rss_gib"])
        print(f"[{time.strftime('%H:%M:%S')}] {self.name}: {sec:.1f} s, peak "
              f"{'GPU' if 'gpu_peak_gib' in rec else 'RSS'} {peak:.2f} GiB"
              + ("" if rec["ok"] else f" FAILED ({exc[0].__name__})"), flush=True)


def load_data(args: argparse.Namespace, device: torch.device):
    """Training inputs/targets, queries, trigger and triggered input."""
    g = torch.Generator().manual_seed(args.seed)
    if args.data == "fashion":
        from numerics.data import load_fashion_mnist

        tr = load_fashion_mnist(train=True)
        te = load_fashion_mnist(train=False)
        if args.n > tr.X.shape[0]:
            raise SystemExit(f"--n {args.n} exceeds the {tr.X.shape[0]} training images")
        X = tr.X[: args.n]
        y = torch.where(tr.y[: args.n] < 5, 1.0, -1.0).to(torch.float64)
        Xq = te.X[: args.q]
        zeta = te.X[args.q]
        target = "+1 for labels 0-4, -1 for 5-9 (scalar)"
    else:
        d = args.d
        X = torch.randn(args.n, d, generator=g, dtype=torch.float64)
        w = torch.randn(d, generator=g, dtype=torch.float64) / d**0.5
        y = torch.sin(X @ w) + 0.1 * torch.randn(args.n, generator=g, dtype=torch.float64)
        Xq = torch.randn(args.q, d, generator=g, dtype=torch.float64)
        zeta = torch.randn(d, generator=g, dtype=torch.float64)
        target = "sin(x.w) + 0.1 N(0,1), w ~ N(0, I/d)"
    x0 = zeta + args.x0_offset * torch.randn(zeta.shape[0], generator=g, dtype=torch.float64)
    return (X.to(device), y.to(device), Xq.to(device), zeta.to(device), x0.to(device),
            target)


def shift_spike(model: KRR, zeta: torch.Tensor, x0: torch.Tensor, m: int,
                y_t: float) -> dict:
    from numerics.closed_forms import clean_quantities_from_fit

    q = clean_quantities_from_fit(model, zeta.cpu().numpy(), x0.cpu().numpy())
    lam, vec = cf.spike(q, m, y_t)
    return {"exact_shift": float(cf.exact_shift(q, m, y_t)),
            "stated_shift": float(cf.stated_shift(q, m, y_t)),
            "exact_gain": cf.exact_gain(q, m), "spike_eigenvalue": lam,
            "spike_eigenvector": vec, "k_tilde_x0_zeta": q.kt0, "k_tilde_zeta_zeta": q.ktz,
            "f_C_zeta": float(q.f_Cz), "R_k_tilde": cf.R_k_tilde(q)}


def run_model(kind: str, model: KRR, X, y, Xq, zeta, x0, args, record: dict,
              device: torch.device) -> dict:
    out: dict = {}
    with Step(record, f"{kind}: fit", device):
        model.fit(X, y)
    with Step(record, f"{kind}: predict (q = {Xq.shape[0]})", device):
        out["pred"] = model.predict(Xq)
    with Step(record, f"{kind}: input Hessian (q = {Xq.shape[0]})", device):
        out["hess"] = model.input_hessian(Xq)
    with Step(record, f"{kind}: shift and spike (m = {args.m})", device):
        out["shift_spike"] = shift_spike(model, zeta, x0, args.m, args.y_t)
    out["alpha"] = model.alpha
    return out


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--data", choices=("synthetic", "fashion"), default="synthetic")
    p.add_argument("--d", type=int, default=64, help="input dimension (synthetic data)")
    p.add_argument("--kernel", default="gaussian")
    p.add_argument("--ell", type=float, default=None,
                   help="Gaussian length-scale (default sqrt(d): k ~ e^-1 at typical pairs)")
    p.add_argument("--ridge", type=float, default=1.0, help="the ridge c of (K + cI)")
    p.add_argument("--q", type=int, default=100, help="number of query points")
    p.add_argument("--m", type=int, default=10, help="number of clone poisons")
    p.add_argument("--y-t", type=float, default=3.0, help="attacker's label")
    p.add_argument("--x0-offset", type=float, default=0.05)
    p.add_argument("--steps", default="dense", help="comma list of dense, cg")
    p.add_argument("--in-place", action="store_true",
                   help="dense step: force the in-place buffer path (default: only beyond "
                        "KEEP_GRAM_MAX_ELEMENTS Gram entries)")
    p.add_argument("--block-elements", type=int, default=None,
                   help="cap on the entries of one Gram block / intermediate (default 2^25; "
                        "larger blocks mean fewer kernel calls per CG product on a GPU)")
    p.add_argument("--tol", type=float, default=1e-10, help="CG relative residual")
    p.add_argument("--precond-rank", type=int, default=100)
    p.add_argument("--max-iter", type=int, default=2000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "results" / "scale"))
    p.add_argument("--name", default=None, help="JSON file stem (default <device>_<kernel>_n<N>)")
    p.add_argument("--shared", default="shared machine (other jobs running)",
                   help="note on whether the machine was shared")
    args = p.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    # a timeout's SIGTERM ends the run through `finally`, so the JSON keeps what was done
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    blocks = {} if args.block_elements is None else {"block_elements": args.block_elements}
    bad = sorted(set(steps) - {"dense", "cg"})
    if bad or not steps:
        p.error(f"--steps: unknown step(s) {bad}; use dense and/or cg")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    params: dict = {}
    if args.kernel == "gaussian":
        d_in = 784 if args.data == "fashion" else args.d
        params["ell"] = args.ell if args.ell is not None else float(d_in) ** 0.5
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    name = args.name or f"{device.type}_{args.kernel}_n{args.n}"
    X, y, Xq, zeta, x0, target = load_data(args, device)
    n, d = X.shape
    print(f"n = {n}, d = {d}, kernel {args.kernel} {params}, c = {args.ridge:g}, device "
          f"{device}, threads {torch.get_num_threads()}, n x n buffer "
          f"{n * n * 8 / GIB:.2f} GiB", flush=True)
    record: dict = {}
    result: dict = {
        "meta": {
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "host_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version(),
            "device": str(device),
            "device_name": (torch.cuda.get_device_name(device) if device.type == "cuda"
                            else platform.processor() or platform.machine()),
            "shared_machine": args.shared,
            "command": "python scripts/large_n.py " + " ".join(argv or sys.argv[1:]),
        },
        "config": {"n": n, "d": d, "data": args.data, "target": target,
                   "kernel": args.kernel, "kernel_params": params, "ridge": args.ridge,
                   "q": int(Xq.shape[0]), "m": args.m, "y_t": args.y_t,
                   "x0_offset": args.x0_offset, "buffer_gib": n * n * 8 / GIB,
                   "block_elements": args.block_elements,
                   "steps": steps},
        "steps": record,
    }
    path = out_dir / f"{name}.json"

    def save() -> None:
        path.write_text(json.dumps(_jsonable(result), indent=1) + "\n")

    outs: dict = {}
    try:
        if "dense" in steps:
            model = KRR(args.kernel, args.ridge, device=device,
                        keep_gram=False if args.in_place else None, **blocks, **params)
            outs["dense"] = run_model("dense", model, X, y, Xq, zeta, x0, args, record, device)
            result["dense"] = {"in_place": model._L is not None,
                               "shift_spike": outs["dense"]["shift_spike"]}
            save()
        if "cg" in steps:
            from numerics.large_krr import CGKRR

            cg = CGKRR(args.kernel, args.ridge, device=device, tol=args.tol,
                       max_iter=args.max_iter, precond_rank=args.precond_rank, **blocks,
                       **params)
            result["cg"] = {"solves": cg.reports}  # filled in as the solves finish
            outs["cg"] = run_model("cg", cg, X, y, Xq, zeta, x0, args, record, device)
            result["cg"] = {
                "tolerance": args.tol, "precond_rank_requested": args.precond_rank,
                "solves": [r.__dict__ for r in cg.reports],
                "fit_iterations": cg.reports[0].iterations,
                "fit_residual": cg.reports[0].residual,
                "shift_spike": outs["cg"]["shift_spike"]}
            if "dense" in outs:
                a, b = outs["cg"], outs["dense"]
                sa, sb = a["shift_spike"], b["shift_spike"]
                result["dense_vs_cg"] = {
                    "weights": _rel(a["alpha"], b["alpha"]),
                    "predictions": _rel(a["pred"], b["pred"]),
                    "hessian": _rel(a["hess"], b["hess"]),
                    "exact_shift": abs(sa["exact_shift"] - sb["exact_shift"])
                    / abs(sb["exact_shift"]),
                    "spike_eigenvalue": abs(sa["spike_eigenvalue"] - sb["spike_eigenvalue"])
                    / abs(sb["spike_eigenvalue"]),
                }
                print("dense vs CG (max relative differences):", result["dense_vs_cg"],
                      flush=True)
    finally:
        save()
        print(f"wrote {path}", flush=True)
    return 0


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, torch.Tensor | np.ndarray):
        return _jsonable(v.tolist())
    if isinstance(v, np.floating | np.integer):
        return v.item()
    if hasattr(v, "__dataclass_fields__"):
        return _jsonable(dict(v.__dict__))
    return v


if __name__ == "__main__":
    raise SystemExit(main())
