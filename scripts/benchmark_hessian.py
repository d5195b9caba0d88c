"""Benchmark: closed-form batched input Hessian of a KRR predictor vs per-point autograd.

    .venv/bin/python scripts/benchmark_hessian.py [--n 2000] [--d 64] [--q 1000]
        [--autograd-points 100] [--device cpu] [--threads N] [--json out.json]

Prints, for the Gaussian kernel in float64: the time of the closed-form batched input
Hessian (``KRR.input_hessian``), the time of per-point ``torch.func.hessian`` of the KRR
predictor (timed on ``--autograd-points`` points and scaled to ``q``; the scaling is
stated), their ratio, the peak memory of each (resident set size of a fresh process), the
closed form's achieved GFLOP/s against this machine's measured float64 matrix-multiply
rate, and the largest relative difference between the two Hessians.  Targets (issue 2):
>= 50x faster than per-point autograd, >= 40% of the matmul rate, agreement 1e-10.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import time

import torch


def _setup(n: int, d: int, q: int, device: str):
    from numerics.krr import KRR

    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    Xq = torch.randn(q, d, generator=g, dtype=torch.float64)
    ell = float(d) ** 0.5  # typical distances ~ sqrt(2d): keep the kernel non-degenerate
    model = KRR("gaussian", 1e-2, ell=ell, device=device).fit(X, y)
    return model, Xq.to(device)


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _threads(args) -> None:
    if args.threads:
        torch.set_num_threads(args.threads)


def _closed_form(args, queue) -> None:
    _threads(args)
    model, Xq = _setup(args.n, args.d, args.q, args.device)
    model.input_hessian(Xq[:8])  # warm-up
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for _ in range(args.repeats):  # best of a few (the first pays for fresh pages)
        _sync(args.device)
        t0 = time.perf_counter()
        H = model.input_hessian(Xq)
        _sync(args.device)
        times.append(time.perf_counter() - t0)
    t = min(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    k = args.autograd_points
    queue.put({"time": t, "times": times, "rss_peak_mb": peak / 1024,
               "rss_before_mb": base / 1024, "H_head": H[:k].cpu().numpy()})


def _autograd(args, queue) -> None:
    _threads(args)
    model, Xq = _setup(args.n, args.d, args.q, args.device)
    kern, Xtr, alpha = model.kernel, model.X, model.alpha

    def f(x):
        return (kern.pair(x[None, :].expand(Xtr.shape[0], -1), Xtr) * alpha).sum()

    hess = torch.func.hessian(f)
    hess(Xq[0])  # warm-up
    k = args.autograd_points
    _sync(args.device)
    t0 = time.perf_counter()
    H = torch.stack([hess(x) for x in Xq[:k]])
    _sync(args.device)
    t = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    queue.put({"time_points": t, "time": t * args.q / k, "rss_peak_mb": peak / 1024,
               "H_head": H.cpu().numpy()})


def _matmul_rate(device: str, size: int = 2048, reps: int = 5) -> float:
    A = torch.randn(size, size, dtype=torch.float64, device=device)
    B = torch.randn(size, size, dtype=torch.float64, device=device)
    A @ B
    _sync(device)
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        A @ B
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    return 2 * size**3 / best / 1e9


def _run(target, args) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=target, args=(args, queue))
    p.start()
    out = queue.get()
    p.join()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--q", type=int, default=1000)
    ap.add_argument("--autograd-points", type=int, default=100)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch CPU threads for all three measurements (0: torch's default)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="closed-form timings; the best is reported")
    ap.add_argument("--json", help="also write the figures to this JSON file")
    args = ap.parse_args()

    cf = _run(_closed_form, args)
    ad = _run(_autograd, args)
    _threads(args)
    rate = _matmul_rate(args.device)
    n, d, q = args.n, args.d, args.q
    # nominal flops of the mathematical work, whatever the algorithm: the weighted sum of
    # outer products sum_j c_j delta_j delta_j^T (2 n d^2 per query) plus the distances and
    # the gradient sum (~6 n d per query); the closed form does essentially these as GEMMs
    flops = q * (2 * n * d * d + 6 * n * d)
    gflops = flops / cf["time"] / 1e9
    diff = abs(cf["H_head"] - ad["H_head"]).max() / abs(ad["H_head"]).max()
    res = {
        "device": args.device,
        "torch_threads": torch.get_num_threads(),
        "n": n, "d": d, "q": q,
        "closed_form_s": cf["time"],
        "closed_form_s_all": cf["times"],
        "autograd_s_measured": ad["time_points"],
        "autograd_points": args.autograd_points,
        "autograd_s_scaled_to_q": ad["time"],
        "speedup": ad["time"] / cf["time"],
        "closed_form_peak_rss_mb": cf["rss_peak_mb"],
        "autograd_peak_rss_mb": ad["rss_peak_mb"],
        "closed_form_gflops": gflops,
        "matmul_gflops": rate,
        "fraction_of_matmul_rate": gflops / rate,
        "max_rel_diff": float(diff),
    }
    print(f"device {args.device}, torch threads {res['torch_threads']}, n={n}, d={d}, q={q}, "
          "Gaussian kernel, float64")
    print(f"closed-form batched input Hessian : {cf['time']:.3f} s (best of "
          f"{', '.join(f'{x:.3f}' for x in cf['times'])})")
    print(f"per-point torch.func.hessian      : {ad['time_points']:.3f} s for "
          f"{args.autograd_points} points -> {ad['time']:.1f} s scaled to {q}")
    print(f"speed-up                          : {res['speedup']:.0f}x  (target >= 50x)")
    print(f"peak RSS closed form / autograd   : {cf['rss_peak_mb']:.0f} MB / "
          f"{ad['rss_peak_mb']:.0f} MB")
    print(f"closed form rate                  : {gflops:.1f} GFLOP/s of {rate:.1f} GFLOP/s "
          f"float64 matmul = {100 * gflops / rate:.0f}%  (target >= 40%)")
    print(f"max relative difference           : {float(diff):.2e}  (target <= 1e-10)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1)


if __name__ == "__main__":
    main()
