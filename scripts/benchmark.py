#!/usr/bin/env python3
"""Peers side by side and cost curves (issue 14), all float64 on CPU.

    python scripts/benchmark.py                 # peers: results/benchmark/benchmark.json + PNGs
    python scripts/benchmark.py --quick         # small smoke version (written under /tmp)
    python scripts/benchmark.py --curves        # cost curves: results/benchmark/curves.json + PNGs

Peers (one run prints every ratio and each target as MET / NOT MET):

a. input gradient / Hessian of a Gaussian KRR predictor (n, d, q): ``KRR.input_gradient`` /
   ``KRR.input_hessian`` vs chunked ``vmap(hessian(f))``, ``vmap(jacfwd(jacrev(f)))`` and
   ``vmap(grad(f))`` (timed on ``--autograd-q`` queries and scaled linearly to q, which the
   JSON states), vs a plain written-out batched einsum formula; agreement to 1e-10
   relative; achieved GFLOP/s of the closed form (flop model:
   :func:`numerics.benchmark.hessian_flops`) against the measured float64 GEMM rate.
b. KRR fit + predict vs scikit-learn ``KernelRidge(kernel="rbf")`` (same gamma = 1/(2 l^2),
   alpha = ridge) and a bare Cholesky of the same Gram.
c. top-5 eigenpairs of a network's input loss Hessian: HVP + :func:`numerics.lanczos.lanczos`
   vs dense Hessian + ``eigh`` vs ``scipy.sparse.linalg.eigsh`` on the same HVP (HVPs
   counted), both to a relative residual of 1e-8.

Every timed peer runs in a fresh process (:func:`numerics.benchmark.run_isolated`), which
also measures its extra peak memory.  Each figure is the median of ``--repeats`` timed
calls after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from numerics import benchmark as B  # noqa: E402

OUT = ROOT / "results" / "benchmark"
AGREE_RTOL = 1e-10
PREDICT_RTOL = 1e-8
EIG_TOL = 1e-8


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _target(name: str, measured: float, op: str, goal: float, figure: str) -> dict:
    met = measured >= goal if op == ">=" else measured <= goal
    return {"name": name, "measured": measured, "op": op, "goal": goal, "met": bool(met),
            "figure": figure}


def _check(out: dict, what: str) -> dict:
    if "error" in out:
        raise SystemExit(f"{what} failed: {out['error']}")
    return out


# ----------------------------------------------------------------------- a. derivatives
def derivative_peers(args) -> dict:
    n, d, q, qa = args.n, args.d, args.q, min(args.autograd_q, args.q)
    common = {"n": n, "d": d, "threads": args.threads}
    res: dict = {"n": n, "d": d, "q": q, "autograd_q": qa, "chunk_autograd": args.chunk,
                 "chunk_plain": args.plain_chunk, "hessian": {}, "gradient": {}}
    hess = {}
    for peer, qq, chunk, reps in (("ours", q, 1, args.repeats),
                                  ("plain", q, args.plain_chunk, args.repeats),
                                  ("vmap_hessian", qa, args.chunk, args.autograd_repeats),
                                  ("vmap_jacfwd_jacrev", qa, args.chunk, args.autograd_repeats)):
        out = _check(B.run_isolated("hessian_peer", peer=peer, q=qq, repeats=reps, chunk=chunk,
                                    order=2, **common), f"hessian peer {peer}")
        t = out["timing"]["median_s"]
        hess[peer] = out.pop("result")
        res["hessian"][peer] = {**out, "queries_timed": qq, "time_s": t,
                                "time_at_q_s": t * q / qq, "scaled": qq != q}
        print(f"  hessian {peer:20s} {t:9.3f} s on {qq} queries -> {t * q / qq:9.3f} s at q={q}"
              f"  extra mem {out['extra_mib']:.0f} MiB")
    grads = {}
    for peer, qq, chunk in (("ours", q, 1), ("plain", q, args.plain_chunk),
                            ("vmap_grad", q, args.grad_chunk)):
        out = _check(B.run_isolated("hessian_peer", peer=peer, q=qq, repeats=args.repeats,
                                    chunk=chunk, order=1, **common), f"gradient peer {peer}")
        t = out["timing"]["median_s"]
        grads[peer] = out.pop("result")
        res["gradient"][peer] = {**out, "queries_timed": qq, "time_s": t, "time_at_q_s": t,
                                 "scaled": False}
        print(f"  gradient {peer:19s} {t:9.4f} s  extra mem {out['extra_mib']:.0f} MiB")
    ref = hess["ours"]
    res["hessian_max_rel_diff"] = {p: _rel(h, ref[: h.shape[0]]) for p, h in hess.items()
                                   if p != "ours"}
    res["gradient_max_rel_diff"] = {p: _rel(g, grads["ours"]) for p, g in grads.items()
                                    if p != "ours"}
    tq = {p: v["time_at_q_s"] for p, v in res["hessian"].items()}
    res["hessian_ratios"] = {f"{p}/ours": tq[p] / tq["ours"] for p in tq if p != "ours"}
    tg = {p: v["time_at_q_s"] for p, v in res["gradient"].items()}
    res["gradient_ratios"] = {f"{p}/ours": tg[p] / tg["ours"] for p in tg if p != "ours"}
    flops = B.hessian_flops(n, d, q)
    res["hessian_flops_model"] = flops
    res["hessian_gflops"] = flops / tq["ours"] / 1e9
    res["gradient_flops_model"] = B.gradient_flops(n, d, q)
    res["gradient_gflops"] = res["gradient_flops_model"] / tg["ours"] / 1e9
    return res


# ------------------------------------------------------------------------- b. fit
def fit_peers(args) -> dict:
    n, d, q = args.n, args.d, args.q
    res: dict = {"n": n, "d": d, "q": q, "peers": {}}
    preds = {}
    for peer in ("ours", "bare", "sklearn"):
        out = _check(B.run_isolated("fit_peer", peer=peer, n=n, d=d, q=q, repeats=args.repeats,
                                    threads=args.threads), f"fit peer {peer}")
        preds[peer] = out.pop("prediction")
        res["peers"][peer] = out
        print(f"  fit {peer:8s} fit {out['fit']['median_s']:.4f} s  predict "
              f"{out['predict']['median_s']:.4f} s  extra mem {out['fit_extra_mib']:.0f} MiB")
    res["predict_max_rel_diff"] = {p: _rel(preds[p], preds["ours"]) for p in ("bare", "sklearn")}
    f = {p: v["fit"]["median_s"] for p, v in res["peers"].items()}
    pr = {p: v["predict"]["median_s"] for p, v in res["peers"].items()}
    res["fit_ratios"] = {"ours/bare": f["ours"] / f["bare"],
                         "sklearn/ours": f["sklearn"] / f["ours"]}
    res["predict_ratios"] = {"bare/ours": pr["bare"] / pr["ours"],
                             "sklearn/ours": pr["sklearn"] / pr["ours"]}
    res["fit_flops_model"] = B.fit_flops(n, d)
    res["fit_gflops"] = res["fit_flops_model"] / f["ours"] / 1e9
    return res


# ---------------------------------------------------------------------- c. Lanczos
def eigen_peers(args) -> dict:
    from scipy.sparse.linalg import LinearOperator, eigsh

    from numerics.hessian_eig import dense_input_hessian, hvp, loss_fn
    from numerics.lanczos import lanczos
    from numerics.networks import FCNet

    torch.set_num_threads(args.threads)
    d, k = args.net_d, 5
    net = FCNet(d, args.net_width, depth=2, activation="tanh", seed=1, centred=False)
    g = torch.Generator().manual_seed(3)
    points = torch.randn(args.net_points, d, generator=g, dtype=torch.float64)
    rows = []
    dense_input_hessian(loss_fn(net, 1.0), points[:1])  # warm-up (first-call set-up untimed)
    for i, x in enumerate(points):
        fn = loss_fn(net, 1.0)
        t0 = time.perf_counter()
        H = dense_input_hessian(fn, x[None])[0]
        w, V = torch.linalg.eigh(0.5 * (H + H.T))
        t_dense = time.perf_counter() - t0
        w_top, V_top = w.flip(0)[:k], V.flip(1)[:, :k]
        scale = float(w.abs().max())
        v0 = torch.randn(d, generator=torch.Generator().manual_seed(10 + i), dtype=torch.float64)

        t0 = time.perf_counter()
        lz = lanczos(lambda v, x=x, fn=fn: hvp(fn, x, v), v0, k, tol=EIG_TOL)
        t_lz = time.perf_counter() - t0

        count = [0]

        def mv(v, x=x, fn=fn, count=count):
            count[0] += 1
            t = torch.as_tensor(np.asarray(v).reshape(-1), dtype=torch.float64)
            return hvp(fn, x, t).numpy()

        t0 = time.perf_counter()
        ew, EV = eigsh(LinearOperator((d, d), matvec=mv, dtype=np.float64), k=k, which="LA",
                       tol=EIG_TOL, v0=v0.numpy())
        t_es = time.perf_counter() - t0
        order = np.argsort(-ew)
        ew, EV = torch.as_tensor(ew[order].copy()), torch.as_tensor(EV[:, order].copy())

        def true_res(vals, vecs, x=x, fn=fn):  # checked with extra HVPs (not counted)
            out = []
            for j in range(k):
                v = vecs[:, j] / torch.linalg.vector_norm(vecs[:, j])
                out.append(float(torch.linalg.vector_norm(hvp(fn, x, v) - vals[j] * v)
                                 / abs(float(vals[j]))))
            return out

        def vec_err(vecs, V_top=V_top):
            return [float(1 - abs(float(vecs[:, j] @ V_top[:, j]))) for j in range(k)]

        row = {
            "point": i, "d": d, "eigh_top": w_top.tolist(), "dense_s": t_dense,
            "dense_hvp_equivalent": d,
            "lanczos": {"hvps": lz.matvecs, "time_s": t_lz, "values": lz.values.tolist(),
                        "rel_residuals": true_res(lz.values, lz.vectors),
                        "rel_eig_err_vs_eigh": [float(abs(a - b) / abs(b)) for a, b in
                                                zip(lz.values, w_top, strict=True)],
                        "one_minus_abs_cos_vs_eigh": vec_err(lz.vectors)},
            "eigsh": {"hvps": count[0], "time_s": t_es, "values": ew.tolist(),
                      "rel_residuals": true_res(ew, EV),
                      "rel_eig_err_vs_eigh": [float(abs(a - b) / abs(b)) for a, b in
                                              zip(ew, w_top, strict=True)],
                      "one_minus_abs_cos_vs_eigh": vec_err(EV)},
            "operator_scale": scale,
        }
        rows.append(row)
        print(f"  point {i}: Lanczos {lz.matvecs} HVPs ({t_lz:.2f} s), eigsh {count[0]} HVPs "
              f"({t_es:.2f} s), dense {d} HVP-equivalents ({t_dense:.2f} s); max rel residual "
              f"Lanczos {max(row['lanczos']['rel_residuals']):.1e}, eigsh "
              f"{max(row['eigsh']['rel_residuals']):.1e}")
    lz_h = sum(r["lanczos"]["hvps"] for r in rows)
    es_h = sum(r["eigsh"]["hvps"] for r in rows)
    return {"d": d, "width": args.net_width, "depth": 2, "activation": "tanh", "k": k,
            "tol": EIG_TOL, "loss": "(f(x) - 1)^2 / 2", "points": rows,
            "lanczos_hvps_total": lz_h, "eigsh_hvps_total": es_h,
            "hvp_ratio_lanczos_over_eigsh": lz_h / es_h,
            "max_rel_residual": {p: max(max(r[p]["rel_residuals"]) for r in rows)
                                 for p in ("lanczos", "eigsh")},
            "max_rel_eig_err_vs_eigh": {p: max(max(r[p]["rel_eig_err_vs_eigh"]) for r in rows)
                                        for p in ("lanczos", "eigsh")}}


# --------------------------------------------------------------------------- plots
def _plots_peers(res: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    h = res["derivatives"]["hessian"]
    names = list(h)
    axes[0].bar(names, [h[p]["time_at_q_s"] for p in names], color="C0")
    axes[0].set_yscale("log")
    axes[0].set_ylabel(f"seconds for q={res['derivatives']['q']} Hessians")
    axes[0].set_title("a. input Hessian (Gaussian KRR)")
    axes[0].tick_params(axis="x", rotation=25)
    fp = res["fit"]["peers"]
    x = np.arange(len(fp))
    axes[1].bar(x - 0.2, [v["fit"]["median_s"] for v in fp.values()], 0.4, label="fit")
    axes[1].bar(x + 0.2, [v["predict"]["median_s"] for v in fp.values()], 0.4, label="predict")
    axes[1].set_xticks(x, list(fp))
    axes[1].set_ylabel("seconds")
    axes[1].set_title(f"b. KRR fit/predict (n={res['fit']['n']})")
    axes[1].legend()
    ev = res["eigen"]
    pts = [r["point"] for r in ev["points"]]
    axes[2].plot(pts, [r["lanczos"]["hvps"] for r in ev["points"]], "o-", label="Lanczos")
    axes[2].plot(pts, [r["eigsh"]["hvps"] for r in ev["points"]], "s-", label="eigsh")
    axes[2].plot(pts, [r["dense_hvp_equivalent"] for r in ev["points"]], "^--",
                 label="dense (d)")
    axes[2].set_xlabel("point")
    axes[2].set_ylabel("HVPs")
    axes[2].set_yscale("log")
    axes[2].set_title(f"c. top-{ev['k']} input-Hessian eigenpairs (d={ev['d']})")
    axes[2].legend()
    fig.tight_layout()
    p = out / "peers.png"
    fig.savefig(p, dpi=110)
    plt.close(fig)
    files.append(p.name)
    return files


def _plots_curves(res: dict, out: Path) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    for axis in ("n", "q", "d"):
        curves = {k: v for k, v in res["curves"].items() if v["axis"] == axis}
        if not curves:
            continue
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
        for name, c in curves.items():
            pts = [p for p in c["points"] if "error" not in p and "skipped" not in p]
            if not pts:
                continue
            xs = [p[axis] for p in pts]
            lbl = f"{name} (slope {c['fit']['exponent']:.2f})" if c.get("fit") else name
            a1.loglog(xs, [p["time_s"] for p in pts], "o-", label=lbl)
            a2.loglog(xs, [max(p["extra_mib"], 1e-3) for p in pts], "o-", label=name)
        a1.set_xlabel(axis)
        a1.set_ylabel("seconds")
        a1.legend(fontsize=8)
        a1.set_title(f"time vs {axis}")
        a2.set_xlabel(axis)
        a2.set_ylabel("extra peak memory (MiB)")
        a2.set_title(f"peak memory vs {axis}")
        a2.legend(fontsize=8)
        fig.tight_layout()
        p = out / f"curves_{axis}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        files.append(p.name)
    return files


# ---------------------------------------------------------------------------- drivers
def machine(args) -> dict:
    torch.set_num_threads(args.threads)
    mm = B.matmul_rate(args.matmul_size, repeats=5)
    cp = B.copy_bandwidth(256 if args.quick else 512, repeats=5)
    print(f"machine: float64 GEMM {mm['gflops_best']:.1f} GFLOP/s (best; median "
          f"{mm['gflops_median']:.1f}), copy {cp['gbs_best']:.1f} GB/s")
    return {"matmul": mm, "copy": cp}


def peers(args) -> dict:
    env = B.environment(shared=args.shared, threads=args.threads)
    print(f"environment: {env['cores']} cores, {args.threads} torch threads, torch "
          f"{env['torch']}, shared machine: {args.shared}")
    res: dict = {"kind": "peers", "quick": args.quick, "environment": env,
                 "machine": machine(args)}
    print("a. input derivatives")
    res["derivatives"] = derivative_peers(args)
    print("b. fit / predict")
    res["fit"] = fit_peers(args)
    print("c. network input-Hessian eigenpairs")
    res["eigen"] = eigen_peers(args)
    rate = res["machine"]["matmul"]["gflops_best"]
    dv, ft, ev = res["derivatives"], res["fit"], res["eigen"]
    dv["hessian_fraction_of_matmul"] = dv["hessian_gflops"] / rate
    agree = max(*dv["hessian_max_rel_diff"].values(), *dv["gradient_max_rel_diff"].values())
    res["targets"] = [
        _target("input Hessian: vmap(hessian) time / ours",
                dv["hessian_ratios"]["vmap_hessian/ours"], ">=", 100.0, "speed-up"),
        _target("input Hessian: plain closed form time / ours", dv["hessian_ratios"]["plain/ours"],
                ">=", 1.5, "speed-up"),
        _target("input Hessian: achieved / float64 GEMM rate", dv["hessian_fraction_of_matmul"],
                ">=", 0.6, "fraction"),
        _target("derivative peers agree (max relative difference)", agree, "<=", AGREE_RTOL,
                "relative difference"),
        _target("KRR fit: ours / bare Cholesky time", ft["fit_ratios"]["ours/bare"], "<=", 1.1,
                "time ratio"),
        _target("KRR predictions agree (bare, sklearn; max relative difference)",
                max(ft["predict_max_rel_diff"].values()), "<=", PREDICT_RTOL,
                "relative difference"),
        _target("top-5 eigenpairs: Lanczos HVPs / eigsh HVPs", ev["hvp_ratio_lanczos_over_eigsh"],
                "<=", 3.0, "HVP ratio"),
        _target("top-5 eigenpairs: Lanczos relative residual (checked by HVP)",
                ev["max_rel_residual"]["lanczos"], "<=", EIG_TOL, "relative residual"),
    ]
    return res


def print_summary(res: dict) -> None:
    dv, ft, ev = res["derivatives"], res["fit"], res["eigen"]
    print("\nratios (time of peer / time of ours unless stated)")
    for k, v in dv["hessian_ratios"].items():
        print(f"  input Hessian  {k:28s} {v:10.2f}")
    for k, v in dv["gradient_ratios"].items():
        print(f"  input gradient {k:28s} {v:10.2f}")
    print(f"  input Hessian  achieved {dv['hessian_gflops']:.1f} GFLOP/s = "
          f"{100 * dv['hessian_fraction_of_matmul']:.0f}% of the GEMM rate")
    for k, v in ft["fit_ratios"].items():
        print(f"  fit            {k:28s} {v:10.2f}")
    for k, v in ft["predict_ratios"].items():
        print(f"  predict        {k:28s} {v:10.2f}")
    print(f"  eigenpairs     Lanczos/eigsh HVPs {ev['lanczos_hvps_total']}/{ev['eigsh_hvps_total']}"
          f" = {ev['hvp_ratio_lanczos_over_eigsh']:.2f}; dense needs d={ev['d']} per point")
    print("\ntargets")
    for t in res["targets"]:
        print(f"  {'MET    ' if t['met'] else 'NOT MET'}  {t['name']}: {t['measured']:.3g} "
              f"(target {t['op']} {t['goal']:g})")


def curves(args) -> dict:
    env = B.environment(shared=args.shared, threads=args.threads)
    res: dict = {"kind": "curves", "quick": args.quick, "environment": env,
                 "machine": machine(args), "curves": {}}
    rate = res["machine"]["matmul"]["gflops_best"]
    bw = res["machine"]["copy"]["gbs_best"]
    n_list = [200, 400, 800] if args.quick else [1000, 2000, 5000, 10000, 20000]
    q_list = [20, 40, 80] if args.quick else [50, 100, 200, 400, 800]
    d_list = [8, 16, 32] if args.quick else [16, 32, 64, 128, 256]
    n0, d0, q0 = (300, 16, 40) if args.quick else (2000, 64, 200)
    # the long fit-vs-n curve last, so that the others are in even if it runs out of time
    specs = [("hessian_vs_n", "hessian", "n", n_list), ("hessian_vs_q", "hessian", "q", q_list),
             ("hessian_vs_d", "hessian", "d", d_list), ("fit_vs_d", "fit", "d", d_list),
             ("fit_vs_n", "fit", "n", n_list)]
    for name, kind, axis, values in specs:
        pts = []
        for v in values:
            size = {"n": n0, "d": d0, "q": q0, axis: v}
            n, d, q = size["n"], size["d"], size["q"]
            reps = 1 if n >= 10000 else (2 if n >= 5000 else 3)
            if kind == "hessian":
                reps = 2 if n >= 10000 else 3
            need_gib = 4.5 * 8 * n * n / 2**30 if kind == "fit" else 0.0
            avail = _mem_available_gib()
            if need_gib and avail is not None and need_gib > avail - 1.0:
                pts.append({**size, "skipped": f"needs ~{need_gib:.1f} GiB, {avail:.1f} GiB "
                            "available"})
                print(f"  {name} {axis}={v}: skipped (memory)")
                continue
            t0 = time.perf_counter()
            out = B.run_isolated("curve_point", kind=kind, n=n, d=d, q=q, repeats=reps,
                                 threads=args.threads, timeout=args.point_timeout)
            if "error" in out:
                pts.append({**size, "error": out["error"]})
                print(f"  {name} {axis}={v}: ERROR {out['error']}")
                continue
            t = out["timing"]["median_s"]
            flops = B.fit_flops(n, d) if kind == "fit" else B.hessian_flops(n, d, q)
            nbytes = B.fit_bytes(n, d) if kind == "fit" else B.hessian_bytes(n, d, q)
            pts.append({**size, **out, "time_s": t, "repeats": reps, "flops_model": flops,
                        "bytes_model": nbytes, "gflops": flops / t / 1e9,
                        "gbs": nbytes / t / 1e9, "fraction_of_matmul": flops / t / 1e9 / rate,
                        "fraction_of_copy_bw": nbytes / t / 1e9 / bw,
                        "wall_incl_process_s": time.perf_counter() - t0})
            print(f"  {name} {axis}={v}: {t:.3f} s, extra mem {out['extra_mib']:.0f} MiB, "
                  f"{flops / t / 1e9:.1f} GFLOP/s ({100 * flops / t / 1e9 / rate:.0f}% of GEMM), "
                  f"{nbytes / t / 1e9:.2f} GB/s")
        ok = [p for p in pts if "time_s" in p]
        fit = B.fit_loglog([p[axis] for p in ok], [p["time_s"] for p in ok]) if len(
            {p[axis] for p in ok}) >= 2 else None
        mem_ok = [p for p in ok if p["extra_mib"] > 0]
        mfit = B.fit_loglog([p[axis] for p in mem_ok], [p["extra_mib"] for p in mem_ok]) if len(
            {p[axis] for p in mem_ok}) >= 2 else None
        res["curves"][name] = {"kind": kind, "axis": axis, "fixed": {"n": n0, "d": d0, "q": q0},
                               "points": pts, "fit": fit, "memory_fit": mfit}
        if fit:
            print(f"  {name}: time ~ {axis}^{fit['exponent']:.2f} (R^2 {fit['r2']:.3f})")
    res["model_exponents"] = {
        "fit_vs_n": "3 (Cholesky n^3/3) once n >> d; 2 where the Gram 3n^2 d dominates",
        "hessian_vs_n": "1 (2 q n d^2)", "hessian_vs_q": "1", "fit_vs_d": "0..1 (only the Gram)",
        "hessian_vs_d": "2 (2 q n d^2) for d >> 3"}
    return res


def _mem_available_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 2**20
    except OSError:
        return None
    return None


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke sizes")
    ap.add_argument("--curves", action="store_true", help="run the cost curves instead")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--d", type=int, default=64)
    ap.add_argument("--q", type=int, default=200)
    ap.add_argument("--autograd-q", type=int, default=16,
                    help="queries the vmap Hessian peers are timed on (scaled to q)")
    ap.add_argument("--chunk", type=int, default=8, help="vmap chunk_size (Hessian peers)")
    ap.add_argument("--grad-chunk", type=int, default=50, help="vmap chunk_size (gradient)")
    ap.add_argument("--plain-chunk", type=int, default=16, help="plain closed form chunk")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--autograd-repeats", type=int, default=1)
    ap.add_argument("--net-d", type=int, default=400)
    ap.add_argument("--net-width", type=int, default=256)
    ap.add_argument("--net-points", type=int, default=3)
    ap.add_argument("--matmul-size", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=2, help="torch threads (stated in the JSON)")
    ap.add_argument("--point-timeout", type=int, default=1200,
                    help="seconds allowed to one curve point (its fresh process); a point "
                         "that runs longer is recorded as not finished")
    ap.add_argument("--not-shared", dest="shared", action="store_false",
                    help="record that no other job shared the machine (default: shared)")
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default results/benchmark; --quick: /tmp)")
    args = ap.parse_args(argv)
    for nm in ("n", "d", "q", "autograd_q", "chunk", "grad_chunk", "plain_chunk", "repeats",
               "autograd_repeats", "net_d", "net_width", "net_points", "matmul_size", "threads",
               "point_timeout"):
        if getattr(args, nm) < 1:
            ap.error(f"--{nm.replace('_', '-')} must be >= 1")
    if args.quick:
        args.n, args.d, args.q, args.autograd_q = 300, 16, 24, 8
        args.repeats, args.net_d, args.net_width, args.net_points = 2, 60, 32, 2
        args.matmul_size = 512
    out = args.out or (Path("/tmp/poisoncurv_benchmark_quick") if args.quick else OUT)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_default_dtype(torch.float64)
    t0 = time.perf_counter()
    if args.curves:
        res = curves(args)
        res["wall_s"] = time.perf_counter() - t0
        res["figures"] = _plots_curves(res, out)
        path = out / "curves.json"
    else:
        res = peers(args)
        res["wall_s"] = time.perf_counter() - t0
        res["config"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
        print_summary(res)
        res["figures"] = _plots_peers(res, out)
        path = out / "benchmark.json"
    path.write_text(json.dumps(_jsonable(res), indent=1) + "\n")
    print(f"\nwrote {path} and {', '.join(res['figures'])} ({res['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
