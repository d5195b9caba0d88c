"""Benchmark library: timing, peak memory, machine limits, flop/byte models and the peers.

Used by ``scripts/benchmark.py`` (the driver) and ``tests/test_benchmark.py``.

* :func:`time_call` -- warm-up calls, then ``repeats`` timed calls; the **median** is the
  figure reported (all times are kept).
* :func:`run_isolated` -- runs a named task of :data:`TASKS` in a fresh (spawned) Python
  process and returns its result together with the process's peak memory: the high-water
  resident set (``VmHWM``, reset through ``/proc/self/clear_refs`` right before the
  measured work where the kernel allows it, else ``ru_maxrss``) minus the resident set
  just before the work, i.e. the extra memory the work needed.
* :func:`matmul_rate` (float64 GEMM GFLOP/s, best of the repeats) and
  :func:`copy_bandwidth` (GB/s of a large ``copy_``, bytes read + written, best of the
  repeats) are the machine limits the achieved rates are compared with.
* Flop/byte models: :func:`hessian_flops`, :func:`gradient_flops`, :func:`fit_flops`,
  :func:`hessian_bytes`, :func:`fit_bytes` (each states what it counts).
* Peers for the Gaussian-kernel KRR predictor ``f(x) = sum_i a_i exp(-|x - x_i|^2 / (2 l^2))``:
  :func:`plain_closed_form` (a written-out batched einsum formula), :func:`vmap_hessian`
  (``vmap(hessian(f))``), :func:`vmap_jacfwd_jacrev`, :func:`vmap_grad`,
  :func:`bare_cholesky_fit`; and :func:`fit_loglog` (least-squares log-log exponent).
"""

from __future__ import annotations

import datetime as _dt
import math
import multiprocessing as mp
import os
import platform
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "BenchmarkInputError", "Timing", "time_call", "run_isolated", "TASKS", "matmul_rate",
    "copy_bandwidth", "hessian_flops", "gradient_flops", "fit_flops", "hessian_bytes",
    "fit_bytes", "fit_loglog", "gaussian_predictor", "plain_closed_form", "vmap_hessian",
    "vmap_jacfwd_jacrev", "vmap_grad", "bare_cholesky_fit", "environment", "krr_problem",
]

ROOT = Path(__file__).resolve().parent.parent


class BenchmarkInputError(ValueError):
    """Bad arguments to a benchmark helper (sizes, repeats, unknown task, ...)."""


def _pos_int(value: Any, name: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise BenchmarkInputError(f"{name} must be an integer >= {lo}, got {value!r}")
    return value


# ----------------------------------------------------------------------------- timing
@dataclass(frozen=True)
class Timing:
    """``median`` seconds of ``times`` (each a timed call after the warm-up)."""

    median: float
    times: list[float] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"median_s": self.median, "times_s": list(self.times)}


def time_call(fn: Callable[[], Any], *, warmup: int = 1, repeats: int = 3) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then ``repeats`` times timed; the median."""
    if not callable(fn):
        raise BenchmarkInputError("fn must be callable")
    _pos_int(warmup, "warmup", 0)
    _pos_int(repeats, "repeats")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(median=statistics.median(times), times=times)


# ----------------------------------------------------------------------------- memory
def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def reset_peak() -> tuple[bool, float]:
    """Reset the high-water resident set if possible; ``(reset?, resident MiB now)``."""
    ok = False
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        ok = True
    except OSError:
        pass
    rss = _status_kib("VmRSS")
    if rss is None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return ok, rss / 1024


def peak_mib() -> float:
    """High-water resident set (MiB) since the last :func:`reset_peak` (or process start)."""
    hwm = _status_kib("VmHWM")
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return hwm / 1024


class MemoryWindow:
    """``with MemoryWindow() as mw: work()`` -> ``mw.extra_mib`` (peak - resident before)."""

    def __enter__(self) -> MemoryWindow:
        self.reset, self.before_mib = reset_peak()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peak_mib = peak_mib()
        self.extra_mib = max(0.0, self.peak_mib - self.before_mib)


# ----------------------------------------------------------------------- machine limits
def matmul_rate(size: int = 2048, repeats: int = 5, *, threads: int | None = None) -> dict:
    """float64 ``size x size`` GEMM rate: GFLOP/s of the best of ``repeats`` (2 n^3 flops)."""
    _pos_int(size, "size")
    _pos_int(repeats, "repeats")
    if threads:
        torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    A = torch.randn(size, size, generator=g, dtype=torch.float64)
    B = torch.randn(size, size, generator=g, dtype=torch.float64)
    t = time_call(lambda: A @ B, warmup=1, repeats=repeats)
    return {"size": size, "gflops_best": 2 * size**3 / min(t.times) / 1e9,
            "gflops_median": 2 * size**3 / t.median / 1e9, "times_s": t.times}


def copy_bandwidth(mib: int = 512, repeats: int = 5) -> dict:
    """Large float64 ``copy_`` rate in GB/s (bytes read + bytes written), best of repeats."""
    _pos_int(mib, "mib")
    _pos_int(repeats, "repeats")
    n = mib * 2**20 // 8
    src = torch.ones(n, dtype=torch.float64)
    dst = torch.empty_like(src)
    t = time_call(lambda: dst.copy_(src), warmup=1, repeats=repeats)
    nbytes = 2 * 8 * n
    return {"mib": mib, "gbs_best": nbytes / min(t.times) / 1e9,
            "gbs_median": nbytes / t.median / 1e9, "times_s": t.times}


# ------------------------------------------------------------------------ cost models
def hessian_flops(n: int, d: int, q: int) -> int:
    """GEMM flops of ``KRR.input_hessian`` (Gaussian) for ``q`` queries, ``n`` training
    points, ``d`` inputs: squared distances ``2qnd``, the two coefficient GEMMs against
    ``[w, w y, 1]`` (``2 * 2qn(d + 2)``), the value GEMM (``4qn``) and the outer-product
    GEMM ``(q, n) @ (n, d^2)`` (``2qnd^2``), i.e. ``2qn(d^2 + 3d + 6)``.  Element-wise
    work (``O(qn)`` exponentials, the rank-two update ``O(qd^2)``) is not counted."""
    for nm, v in (("n", n), ("d", d), ("q", q)):
        _pos_int(v, nm)
    return 2 * q * n * (d * d + 3 * d + 6)


def gradient_flops(n: int, d: int, q: int) -> int:
    """GEMM flops of ``KRR.input_gradient``: distances ``2qnd``, value ``4qn``, one
    coefficient GEMM ``2qn(d + 2)``: ``2qn(2d + 4)``."""
    for nm, v in (("n", n), ("d", d), ("q", q)):
        _pos_int(v, nm)
    return 2 * q * n * (2 * d + 4)


def fit_flops(n: int, d: int) -> int:
    """Flops of a Gaussian KRR fit: Gram by direct differences ``3n^2 d`` (subtract,
    square, add), Cholesky ``n^3 / 3``, two triangular solves ``2n^2``."""
    _pos_int(n, "n")
    _pos_int(d, "d")
    return n**3 // 3 + 3 * n * n * d + 2 * n * n


def hessian_bytes(n: int, d: int, q: int, chunks: int = 1) -> int:
    """Minimal float64 traffic of the closed-form Hessian: the folded outer products
    ``(n, d^2)`` read once per query chunk, the ``(q, n)`` coefficient matrices (written
    and read, ~6 passes), the output ``(q, d^2)`` written once, the inputs read once."""
    for nm, v in (("n", n), ("d", d), ("q", q), ("chunks", chunks)):
        _pos_int(v, nm)
    return 8 * (chunks * n * d * d + 6 * q * n + q * d * d + (n + q) * d)


def fit_bytes(n: int, d: int) -> int:
    """Minimal float64 traffic of a fit: the Gram written once, read and overwritten by
    the factorisation (each ``n x n`` matrix written once and read once: ``4 * 8 n^2``),
    plus the inputs ``8nd``."""
    _pos_int(n, "n")
    _pos_int(d, "d")
    return 8 * (4 * n * n + n * d)


def _real(v: Any) -> float:
    if isinstance(v, (bool, str, bytes, complex)):
        raise TypeError(f"not a real number: {v!r}")
    return float(v)


def fit_loglog(x, y) -> dict[str, float]:
    """Least-squares fit ``log y = p log x + c``: ``{"exponent": p, "log_const": c, "r2": R^2}``."""
    try:
        xs, ys = [_real(v) for v in x], [_real(v) for v in y]
    except (TypeError, ValueError, OverflowError) as err:
        raise BenchmarkInputError(f"fit_loglog needs sequences of real numbers: {err}") \
            from None
    if len(xs) != len(ys) or len(xs) < 2:
        raise BenchmarkInputError("fit_loglog needs x and y of equal length >= 2")
    if any(not (v > 0 and math.isfinite(v)) for v in xs + ys):
        raise BenchmarkInputError("fit_loglog needs positive finite x and y")
    if len(set(xs)) < 2:
        raise BenchmarkInputError("fit_loglog needs at least two distinct x")
    lx, ly = [math.log(v) for v in xs], [math.log(v) for v in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    p = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True)) / sxx
    c = my - p * mx
    ss_res = sum((b - (p * a + c)) ** 2 for a, b in zip(lx, ly, strict=True))
    ss_tot = sum((b - my) ** 2 for b in ly)
    return {"exponent": p, "log_const": c, "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else 1.0}


# ------------------------------------------------------------------------------ peers
def krr_problem(n: int, d: int, q: int, *, seed: int = 0, ridge: float = 1e-2):
    """A seeded Gaussian-KRR problem: ``(X, y, Xq, ell, ridge)`` with ``ell = sqrt(d)``
    (typical distances ~ sqrt(2d), so the kernel is neither ~0 nor ~1)."""
    for nm, v in (("n", n), ("d", d), ("q", q)):
        _pos_int(v, nm)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, generator=g, dtype=torch.float64)
    Xq = torch.randn(q, d, generator=g, dtype=torch.float64)
    return X, y, Xq, float(d) ** 0.5, ridge


def gaussian_predictor(X: torch.Tensor, alpha: torch.Tensor, ell: float) -> Callable:
    """``x (d,) -> sum_i alpha_i exp(-|x - X_i|^2 / (2 ell^2))`` written out for autograd."""
    s = 1.0 / (2.0 * ell * ell)

    def f(x: torch.Tensor) -> torch.Tensor:
        diff = x - X
        return (alpha * torch.exp(-s * (diff * diff).sum(-1))).sum()

    return f


def _chunk(value: int) -> int:
    return _pos_int(value, "chunk")


def plain_closed_form(Xq: torch.Tensor, X: torch.Tensor, alpha: torch.Tensor, ell: float,
                      *, chunk: int = 16, order: int = 2):
    """Independent written-out Gaussian formula, batched over ``chunk`` queries:
    ``W_i = x - x_i``, ``k_i = exp(-|W_i|^2 / (2 l^2))``,
    ``grad = -sum_i a_i k_i W_i / l^2``, ``H = sum_i a_i k_i (W_i W_i^T / l^4 - I / l^2)``.
    Returns ``grad (q, d)`` for ``order=1``, ``hess (q, d, d)`` for ``order=2``."""
    _chunk(chunk)
    if order not in (1, 2):
        raise BenchmarkInputError(f"order must be 1 or 2, got {order!r}")
    d = X.shape[1]
    out = []
    eye = torch.eye(d, dtype=X.dtype)
    for s in range(0, Xq.shape[0], chunk):
        W = Xq[s : s + chunk, None, :] - X[None]  # (c, n, d)
        c = alpha * torch.exp(-(W * W).sum(-1) / (2 * ell * ell))  # (c, n)
        if order == 1:
            out.append(-torch.einsum("qn,qnd->qd", c, W) / ell**2)
        else:
            H = torch.einsum("qn,qnd,qne->qde", c, W, W) / ell**4
            out.append(H - c.sum(1)[:, None, None] * eye / ell**2)
    return torch.cat(out)


def vmap_hessian(f: Callable, Xq: torch.Tensor, *, chunk: int = 8) -> torch.Tensor:
    """``torch.func.vmap(torch.func.hessian(f), chunk_size=chunk)(Xq)``."""
    return torch.func.vmap(torch.func.hessian(f), chunk_size=_chunk(chunk))(Xq)


def vmap_jacfwd_jacrev(f: Callable, Xq: torch.Tensor, *, chunk: int = 8) -> torch.Tensor:
    """``torch.func.vmap(jacfwd(jacrev(f)), chunk_size=chunk)(Xq)``."""
    fn = torch.func.jacfwd(torch.func.jacrev(f))
    return torch.func.vmap(fn, chunk_size=_chunk(chunk))(Xq)


def vmap_grad(f: Callable, Xq: torch.Tensor, *, chunk: int = 64) -> torch.Tensor:
    """``torch.func.vmap(torch.func.grad(f), chunk_size=chunk)(Xq)``."""
    return torch.func.vmap(torch.func.grad(f), chunk_size=_chunk(chunk))(Xq)


def bare_cholesky_fit(K: torch.Tensor, y: torch.Tensor, ridge: float) -> torch.Tensor:
    """``(K + ridge I)^{-1} y`` by ``torch.linalg.cholesky`` + ``cholesky_solve``, with the
    ridge added to ``K``'s diagonal in place (``K`` is overwritten)."""
    if K.ndim != 2 or K.shape[0] != K.shape[1] or y.shape[0] != K.shape[0]:
        raise BenchmarkInputError(f"need square K and matching y, got {tuple(K.shape)}, "
                                  f"{tuple(y.shape)}")
    K.diagonal().add_(ridge)
    L = torch.linalg.cholesky(K)
    return torch.cholesky_solve(y[:, None] if y.ndim == 1 else y, L).reshape(y.shape)


# ----------------------------------------------------------------------- environment
def environment(*, shared: bool, threads: int | None = None) -> dict[str, Any]:
    """Cores, threads, versions, date and git commit of this run (``shared``: other jobs ran
    on the machine at the same time)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, timeout=10).stdout.strip() or None
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                    cwd=ROOT, capture_output=True, text=True,
                                    timeout=10).stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit, dirty = None, None
    try:
        import numpy
        import scipy
        import sklearn
        versions = {"numpy": numpy.__version__, "scipy": scipy.__version__,
                    "scikit-learn": sklearn.__version__}
    except ImportError:  # pragma: no cover - all are dependencies
        versions = {}
    return {
        "cores": os.cpu_count(),
        "affinity_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "torch_threads": threads if threads else torch.get_num_threads(),
        "torch": torch.__version__,
        **versions,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "git_commit": commit,
        "git_dirty": dirty,
        "load_average_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "shared_machine": shared,
        "dtype": "float64",
        "device": "cpu",
    }


# ------------------------------------------------------------------ isolated tasks
def _task_hessian_peer(peer: str, n: int, d: int, q: int, repeats: int, chunk: int,
                       order: int = 2) -> dict:
    """One input-derivative peer on the standard problem, timed and memory-measured."""
    from numerics.krr import KRR

    X, y, Xq, ell, ridge = krr_problem(n, d, q)
    model = KRR("gaussian", ridge, ell=ell).fit(X, y)
    alpha = model.alpha
    f = gaussian_predictor(X, alpha, ell)
    if peer == "ours":
        fn = (lambda Z: model.input_hessian(Z)) if order == 2 else (
            lambda Z: model.input_gradient(Z))
    elif peer == "plain":
        def fn(Z):
            return plain_closed_form(Z, X, alpha, ell, chunk=chunk, order=order)
    elif peer == "vmap_hessian":
        def fn(Z):
            return vmap_hessian(f, Z, chunk=chunk)
    elif peer == "vmap_jacfwd_jacrev":
        def fn(Z):
            return vmap_jacfwd_jacrev(f, Z, chunk=chunk)
    elif peer == "vmap_grad":
        def fn(Z):
            return vmap_grad(f, Z, chunk=chunk)
    else:
        raise BenchmarkInputError(f"unknown peer {peer!r}")
    fn(Xq[: min(q, chunk)])  # warm-up on one chunk
    with MemoryWindow() as mw:
        out = fn(Xq)
    t = time_call(lambda: fn(Xq), warmup=0, repeats=repeats)
    return {"timing": t.as_dict(), "extra_mib": mw.extra_mib, "peak_reset": mw.reset,
            "result": out.detach().numpy()}


def _task_fit_peer(peer: str, n: int, d: int, q: int, repeats: int) -> dict:
    """KRR fit + predict by ``ours`` (KRR), ``bare`` (kernel.gram + Cholesky) or
    ``sklearn`` (KernelRidge(kernel="rbf")), timed and memory-measured."""
    from numerics.kernels import get_kernel
    from numerics.krr import KRR

    X, y, Xq, ell, ridge = krr_problem(n, d, q)
    gamma = 1.0 / (2 * ell * ell)
    if peer == "ours":
        model0 = KRR("gaussian", ridge, ell=ell)  # construction (kernel set-up) not timed

        def fit():
            return model0.fit(X, y)

        def predict(m):
            return m.predict(Xq)
    elif peer == "bare":
        kern = get_kernel("gaussian", ell=ell)

        def fit():
            return kern.gram(X), bare_cholesky_fit(kern.gram(X), y, ridge)

        def fit_only():
            return bare_cholesky_fit(kern.gram(X), y, ridge)

        def predict(m):
            return kern.gram(Xq, X) @ m[1]
    elif peer == "sklearn":
        from sklearn.kernel_ridge import KernelRidge
        from threadpoolctl import threadpool_limits

        threadpool_limits(torch.get_num_threads())
        Xn, yn, Xqn = X.numpy(), y.numpy(), Xq.numpy()

        def fit():
            return KernelRidge(kernel="rbf", gamma=gamma, alpha=ridge).fit(Xn, yn)

        def predict(m):
            return torch.as_tensor(m.predict(Xqn))
    else:
        raise BenchmarkInputError(f"unknown peer {peer!r}")
    timed_fit = fit_only if peer == "bare" else fit
    timed_fit()  # warm-up
    with MemoryWindow() as mw:
        model = timed_fit()
    del model
    tf = time_call(timed_fit, warmup=0, repeats=repeats)
    model = fit()
    tp = time_call(lambda: predict(model), warmup=1, repeats=repeats)
    return {"fit": tf.as_dict(), "predict": tp.as_dict(), "fit_extra_mib": mw.extra_mib,
            "peak_reset": mw.reset, "prediction": predict(model).numpy()}


def _task_curve_point(kind: str, n: int, d: int, q: int, repeats: int) -> dict:
    """One point of a cost curve: ``kind="fit"`` (KRR.fit: Gram + Cholesky) or
    ``"hessian"`` (KRR.input_hessian of q queries), time and extra memory."""
    from numerics.kernels import get_kernel
    from numerics.krr import KRR

    X, y, Xq, ell, ridge = krr_problem(n, d, q)
    if kind == "fit":
        model = KRR("gaussian", ridge, ell=ell)  # construction (kernel set-up) not timed
        model.fit(X[:8], y[:8])  # warm-up of the generated kernel functions
        with MemoryWindow() as mw:
            t0 = time.perf_counter()
            model.fit(X, y)
            first = time.perf_counter() - t0
        times = [first]
        if repeats > 1:
            times += time_call(lambda: model.fit(X, y), warmup=0, repeats=repeats - 1).times
        gram_s = None
        if n <= 5000:  # the Gram's share of the fit (skipped where it would double the cost)
            kern = get_kernel("gaussian", ell=ell)
            gram_s = time_call(lambda: kern.gram(X), warmup=0, repeats=1).median
        return {"timing": {"median_s": statistics.median(times), "times_s": times},
                "gram_s": gram_s, "extra_mib": mw.extra_mib, "peak_reset": mw.reset,
                "first_call_included": True}
    if kind == "hessian":
        # the closed form KRR.input_hessian evaluates (TorchKernel.derivatives at the training
        # points with weights alpha), called directly with seeded random weights: its cost does
        # not depend on their values, and no n x n fit is needed to time it at large n
        kern = get_kernel("gaussian", ell=ell)
        alpha = torch.randn(n, generator=torch.Generator().manual_seed(1), dtype=X.dtype)

        def hess():
            return kern.derivatives(Xq, X, alpha, order=2)[2]

        hess_small = kern.derivatives(Xq[:2], X, alpha, order=2)[2]  # warm-up
        del hess_small
        with MemoryWindow() as mw:
            hess()
        t = time_call(hess, warmup=0, repeats=repeats)
        return {"timing": t.as_dict(), "extra_mib": mw.extra_mib, "peak_reset": mw.reset,
                "alpha": "seeded random (no fit)"}
    raise BenchmarkInputError(f"unknown curve kind {kind!r}")


#: tasks :func:`run_isolated` can run in a fresh process
TASKS: dict[str, Callable[..., dict]] = {
    "hessian_peer": _task_hessian_peer,
    "fit_peer": _task_fit_peer,
    "curve_point": _task_curve_point,
}


def _child(task: str, kwargs: dict, threads: int | None, queue) -> None:
    try:
        if threads:
            torch.set_num_threads(threads)
        torch.set_default_dtype(torch.float64)
        out = TASKS[task](**kwargs)
        out["threads"] = torch.get_num_threads()
        queue.put(("ok", out))
    except BaseException as exc:  # reported to the parent, never swallowed
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_isolated(task: str, *, threads: int | None = None, timeout: float = 900.0,
                 **kwargs: Any) -> dict:
    """Run ``TASKS[task](**kwargs)`` in a fresh spawned process; its result dict.

    A task that fails returns ``{"error": message}``; one killed (e.g. out of memory)
    returns ``{"error": "... exit code ..."}``; neither raises, so a driver can record
    that a size did not run."""
    if task not in TASKS:
        raise BenchmarkInputError(f"unknown task {task!r}; use one of {sorted(TASKS)}")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    p = ctx.Process(target=_child, args=(task, kwargs, threads, queue))
    p.start()
    import queue as _queue

    deadline = time.monotonic() + timeout
    while True:
        try:
            status, out = queue.get(timeout=1.0)
            break
        except _queue.Empty:
            if not p.is_alive() or time.monotonic() > deadline:
                try:  # a result put just before exiting
                    status, out = queue.get(timeout=2.0)
                    break
                except _queue.Empty:
                    pass
                if p.is_alive():
                    p.kill()
                p.join()
                why = "timed out" if p.exitcode is None or p.exitcode < 0 and \
                    time.monotonic() > deadline else "ended without a result"
                return {"error": f"process {why} (exit code {p.exitcode})"}
    p.join()
    return out if status == "ok" else {"error": out}
