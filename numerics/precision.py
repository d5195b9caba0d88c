"""Measurements behind the determinism and precision contracts (book page ``precision``).

One job: MEASURE how many digits the project's float64 linear solves keep, and how
reproducible its results are.  The contracts themselves are stated in the book page and
asserted by ``tests/test_precision.py`` and ``tests/test_determinism.py``.

Digits lost in a solve
    :func:`spd_with_condition` builds a symmetric positive-definite matrix with a prescribed
    2-norm condition number (a Haar-random orthogonal ``Q`` and log-spaced eigenvalues from
    1 down to ``1/cond``).  :func:`solve_digits_lost` solves it with the project's own solver
    (:func:`numerics.krr.solve_spd`, the Cholesky path that enforces
    :data:`~numerics.krr.MAX_CONDITION`) and, independently, in ``mpmath`` at
    :data:`MP_DPS` decimal digits on the SAME float64 entries (a float64 number converts to
    an ``mpf`` exactly), so the difference is the solver's error alone, not the rounding of
    the data.  :func:`cholesky_error_bound` gives the worst-case and the typical
    forward-error bounds the measurement is held to; :func:`condition_digits_table`
    tabulates measurement and bounds.

Determinism
    :func:`pipeline` runs a representative chain from one seed (data; poisons from
    :mod:`numerics.poisons`; clean and poisoned KRR fits, predictions, input derivatives and
    loss Hessians from :mod:`numerics.krr`; Hessian spectra (``torch.linalg.eigh`` through
    :func:`numerics.poisons.top_eigenpairs`, and ARPACK through
    :func:`numerics.hessian_eig.top_eigenpairs`); the closed-form shift and spike of
    :mod:`numerics.closed_forms`; a short full-batch training of two networks from
    :mod:`numerics.networks` or :mod:`numerics.batched_training`) and returns every
    quantity as a float64 tensor.  :func:`fingerprint` is the SHA-256 of their bytes.
    :func:`thread_and_chunk_deviation` reruns the pipeline under other torch thread counts
    and other chunkings (KRR ``block_elements``, the in-place large-``n`` fit, queries in
    slices, batched against sequential training) and reports the largest relative deviation
    of each quantity from the reference run, next to the bound
    :func:`reordering_bound` derives.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import mpmath
import numpy as np
import torch

from numerics import closed_forms as cf
from numerics import hessian_eig, poisons
from numerics.batched_training import train_depth1_batched
from numerics.kernels import CHUNK_ELEMENTS, get_kernel
from numerics.krr import KRR, MAX_CONDITION, solve_spd
from numerics.networks import FCNet, train
from numerics.validation import DEFAULT_DTYPE, SingularSystemError, as_tensor

__all__ = [
    "EPS",
    "UNIT_ROUNDOFF",
    "MP_DPS",
    "REORDER_C",
    "spd_with_condition",
    "cholesky_condition_estimate",
    "cholesky_error_bound",
    "mp_solve",
    "solve_digits_lost",
    "condition_digits_table",
    "krr_condition_estimates",
    "PipelineConfig",
    "pipeline",
    "fingerprint",
    "pipeline_fingerprint",
    "relative_deviation",
    "reordering_bound",
    "pipeline_bounds",
    "thread_and_chunk_deviation",
    "DEFAULT_VARIANTS",
    "PIPELINE_N",
]

#: float64 machine epsilon (spacing of floats at 1), ``2^-52``
EPS = float(torch.finfo(torch.float64).eps)
#: float64 unit roundoff ``u = eps / 2`` (the bound on the relative error of one operation)
UNIT_ROUNDOFF = EPS / 2
#: decimal digits of the mpmath reference solve: the reference itself then carries
#: ``MP_DPS - log10(cond)`` correct digits, far more than float64's ~16 for cond <= 1e16
MP_DPS = 50


# ---------------------------------------------------------------------------
# digits lost in a solve
# ---------------------------------------------------------------------------


def _check_cond(cond: float) -> None:
    ok = not isinstance(cond, bool) and isinstance(cond, (int, float))
    try:
        ok = ok and math.isfinite(float(cond)) and cond >= 1
    except OverflowError:  # an int beyond float64
        ok = False
    if not ok:
        raise ValueError(f"cond must be a finite real number >= 1, got {cond!r:.40}")


def _check_n(n: int, least: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or not least <= n <= 10**6:
        raise ValueError(f"n must be an integer in [{least}, 10**6], got {n!r}")


def _square(A: torch.Tensor, name: str) -> torch.Tensor:
    A = as_tensor(A, name=name)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise ValueError(f"{name} must be a non-empty square matrix, got shape {tuple(A.shape)}")
    return A


def spd_with_condition(cond: float, n: int, seed: int) -> torch.Tensor:
    """A symmetric positive-definite ``(n, n)`` float64 matrix ``Q diag(lam) Q^T`` with
    ``lam`` log-spaced from 1 to ``1/cond`` (2-norm condition number ``cond``, up to the
    rounding of the product) and ``Q`` Haar-random orthogonal (QR of a Gaussian matrix,
    signs fixed by ``diag(R)``), drawn from ``seed``."""
    _check_cond(cond)
    _check_n(n, 2)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    rng = np.random.default_rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    Q = Q * np.sign(np.diag(R))
    lam = np.logspace(0.0, -math.log10(cond), n)
    A = (Q * lam) @ Q.T
    return torch.as_tensor(0.5 * (A + A.T), dtype=DEFAULT_DTYPE)


def cholesky_condition_estimate(A: torch.Tensor) -> float:
    """The condition estimate :func:`numerics.krr.solve_spd` compares with
    :data:`~numerics.krr.MAX_CONDITION`: ``(max_i L_ii / min_i L_ii)^2`` of the Cholesky
    factor ``L`` (``inf`` when the factorisation breaks down).  It is a LOWER bound of the
    2-norm condition number (``|A| = |L|^2 >= max L_ii^2`` and
    ``|A^-1| = |L^-1|^2 >= 1 / min L_ii^2``)."""
    A = _square(A, "A")
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) != 0:
        return math.inf
    d = L.diagonal()
    return float((d.max() / d.min()) ** 2)


def cholesky_error_bound(n: int, cond: float, *, typical: bool = False) -> float:
    """Relative forward error ``|x^ - x| / |x|`` (2-norm) allowed for a Cholesky solve of an
    ``n x n`` SPD system with 2-norm condition number ``cond`` in float64.

    Worst case (``typical=False``; Higham, *Accuracy and Stability of Numerical Algorithms*,
    2nd ed., Thm 10.4 and its normwise corollary): the computed solution satisfies
    ``(A + dA) x^ = b`` with ``|dA| <= gamma_{3n+1} |L| |L^T|`` elementwise and
    ``| |L| |L^T| |_2 <= n |A|_2``, so the normwise backward error is
    ``eta <= n gamma_{3n+1}``, ``gamma_k = k u / (1 - k u)``; perturbation theory then gives
    ``|x^ - x| / |x| <= cond eta / (1 - cond eta)``; ``inf`` where ``cond eta >= 1`` (no
    bound).  In digits lost (``log10(err / eps)``, ``u = eps / 2``) this is
    ``log10(cond) + c(n)`` with ``c(n) = log10(n (3n + 1) / 2) - log10(1 - cond eta)``.

    Typical (``typical=True``): the same first-order bound with the constant ``n (3n + 1)``
    replaced by its square root (Higham, section 2.8: rounding errors of independent signs
    add like a random walk, so a worst-case constant ``k`` behaves like ``sqrt(k)``):
    ``cond sqrt(n (3n + 1)) u``, i.e. ``c(n) = log10(sqrt(n (3n + 1)) / 2)``.  A model, not a
    theorem: it is the statement "a solve loses about ``log10(cond)`` digits (plus
    ``c(n)``)" that the tests hold the measured errors to."""
    _check_n(n, 1)
    _check_cond(cond)
    if typical:
        return cond * math.sqrt(n * (3 * n + 1)) * UNIT_ROUNDOFF
    k = 3 * n + 1
    gamma = k * UNIT_ROUNDOFF / (1.0 - k * UNIT_ROUNDOFF)
    ce = cond * n * gamma
    return math.inf if ce >= 1.0 else ce / (1.0 - ce)


def _mp(values: Iterable[float]) -> list:
    # mpf(float) is exact: the reference sees the very float64 numbers the solver saw
    return [mpmath.mpf(float(v)) for v in values]


def mp_solve(A: torch.Tensor, b: torch.Tensor, dps: int = MP_DPS) -> mpmath.matrix:
    """The solution of ``A x = b`` for the float64 ``A`` (``(n, n)``) and ``b`` (``(n,)``),
    their entries converted exactly, by ``mpmath.lu_solve`` at ``dps`` decimal digits."""
    A = _square(A, "A")
    b = as_tensor(b, name="b")
    if b.shape != (A.shape[0],):
        raise ValueError(f"b must have shape ({A.shape[0]},), got {tuple(b.shape)}")
    if isinstance(dps, bool) or not isinstance(dps, int) or not 15 <= dps <= 1000:
        raise ValueError(f"dps must be an integer in [15, 1000], got {dps!r}")
    with mpmath.workdps(dps):
        Am = mpmath.matrix([_mp(row) for row in A.tolist()])
        try:
            return mpmath.lu_solve(Am, mpmath.matrix(_mp(b.tolist())))
        except ZeroDivisionError:
            raise SingularSystemError(f"A is singular at {dps} digits (mpmath.lu_solve)") \
                from None


def _digits(err: float) -> float:
    """A relative error in digits lost, ``log10(err / eps)``."""
    if not math.isfinite(err):
        return math.inf
    return math.log10(err / EPS) if err > 0 else -math.inf


def solve_digits_lost(cond: float, n: int = 32, seed: int = 0) -> dict:
    """Solve ``A x = b`` (``A`` from :func:`spd_with_condition`, ``b`` standard normal from
    ``seed``) with :func:`numerics.krr.solve_spd` and exactly (:func:`mp_solve` on the same
    float64 entries); compare.

    Returns a dict: ``cond`` (the requested condition number), ``cond_2`` (the 2-norm
    condition of the float64 matrix, ``numpy.linalg.cond``), ``estimate`` (the Cholesky
    estimate the solver checks, :func:`cholesky_condition_estimate`), ``accepted``
    (``False`` when the solver raised :class:`~numerics.validation.SingularSystemError`),
    ``rel_error`` (``|x^ - x| / |x|``, 2-norm; NaN when refused), ``correct_digits``
    (``-log10 rel_error``), ``digits_lost`` (``log10(rel_error / eps)``: 0 means the
    solution is as accurate as one float64 rounding of it), ``bound_digits`` and
    ``typical_digits`` (:func:`cholesky_error_bound`, worst case and typical, in the same
    units, at ``cond_2``), ``n`` and ``seed``."""
    A = spd_with_condition(cond, n, seed)
    b = torch.as_tensor(np.random.default_rng([seed, 1]).standard_normal(n), dtype=A.dtype)
    cond_2 = float(np.linalg.cond(A.numpy(), 2))
    row = {"cond": float(cond), "cond_2": cond_2, "estimate": cholesky_condition_estimate(A),
           "n": n, "seed": seed}
    try:
        x = solve_spd(A, b[:, None], name=f"test system (cond {cond:.0e})")[:, 0]
    except SingularSystemError:
        row.update(accepted=False, rel_error=math.nan, correct_digits=math.nan,
                   digits_lost=math.nan)
    else:
        xm = mp_solve(A, b)
        with mpmath.workdps(MP_DPS):
            rel = float(mpmath.norm(mpmath.matrix(_mp(x.tolist())) - xm, 2)
                        / mpmath.norm(xm, 2))
        row.update(accepted=True, rel_error=rel,
                   correct_digits=-math.log10(rel) if rel > 0 else math.inf,
                   digits_lost=_digits(rel))
    row["bound_digits"] = _digits(cholesky_error_bound(n, cond_2))
    row["typical_digits"] = _digits(cholesky_error_bound(n, cond_2, typical=True))
    return row


def condition_digits_table(conds: Iterable[float] = (1e2, 1e4, 1e6, 1e8, 1e10, 1e12),
                           n: int = 32, seeds: Sequence[int] = (0, 1, 2)) -> list[dict]:
    """:func:`solve_digits_lost` for each condition number and seed, summarised per
    condition number: ``cond``, ``n``, ``seeds``, the number of seeds whose system the solver
    ``accepted``, the worst (``max``) and the median ``digits_lost`` over the accepted
    seeds, the smallest ``correct_digits``, ``bound_digits`` and ``typical_digits`` (the
    largest over the seeds), the smallest and largest ratio ``estimate / cond_2``; ``rows``
    holds the per-seed dicts."""
    out = []
    for cond in conds:
        rows = [solve_digits_lost(cond, n, s) for s in seeds]
        acc = [r for r in rows if r["accepted"]]
        lost = [r["digits_lost"] for r in acc]
        ratios = [r["estimate"] / r["cond_2"] for r in rows]
        out.append({
            "cond": float(cond), "n": n, "seeds": list(seeds), "accepted": len(acc),
            "digits_lost_max": max(lost) if lost else math.nan,
            "digits_lost_median": float(np.median(lost)) if lost else math.nan,
            "correct_digits_min": min(r["correct_digits"] for r in acc) if acc else math.nan,
            "bound_digits": max(r["bound_digits"] for r in rows),
            "typical_digits": max(r["typical_digits"] for r in rows),
            "estimate_ratio_min": min(ratios), "estimate_ratio_max": max(ratios),
            "max_condition": MAX_CONDITION, "rows": rows})
    return out

def krr_condition_estimates(kernels: Sequence[tuple[str, Mapping]] = (
                                ("gaussian", {"ell": 1.0}), ("matern52", {"ell": 1.0})),
                            ridges: Sequence[float] = (1e-2, 1e-4, 1e-6, 1e-8),
                            n: int = 200, d: int = 3, seed: int = 0) -> list[dict]:
    """The condition estimate of :func:`cholesky_condition_estimate` against the 2-norm
    condition number (``torch.linalg.cond``) of KRR systems ``K + cI``: ``n`` standard
    normal points in ``R^d`` from ``seed``, each kernel (registry name, hyper-parameters)
    and ridge ``c``.  One dict per pair: ``kernel``, ``ridge``, ``cond_2``, ``estimate``,
    ``ratio`` (``estimate / cond_2``)."""
    X = torch.randn(n, d, generator=torch.Generator().manual_seed(int(seed)),
                    dtype=DEFAULT_DTYPE)
    out = []
    for name, params in kernels:
        K = get_kernel(name, **dict(params)).gram(X)
        for c in ridges:
            A = K + c * torch.eye(n, dtype=K.dtype)
            cond_2, est = float(torch.linalg.cond(A)), cholesky_condition_estimate(A)
            out.append({"kernel": name, "ridge": float(c), "cond_2": cond_2, "estimate": est,
                        "ratio": est / cond_2})
    return out


# ---------------------------------------------------------------------------
# determinism: a representative pipeline, its fingerprint and its deviations
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineConfig:
    """The knobs that may change rounding but not the mathematics of :func:`pipeline`.

    threads: torch intra-op threads while the pipeline runs (``None``: leave the setting).
    block_elements: the KRR fits' ``block_elements`` (Gram rows, query blocks, training-point
        blocks of the input derivatives; see :mod:`numerics.krr`).
    keep_gram: the KRR fits' ``keep_gram`` (``False``: the in-place large-``n`` path).
    query_chunk: evaluate every query-wise KRR quantity on slices of this many queries and
        concatenate (``None``: all queries in one call).
    batched: train the two networks together (:func:`~numerics.batched_training.
        train_depth1_batched`) instead of one by one (:func:`~numerics.networks.train`).
    """

    threads: int | None = None
    block_elements: int = CHUNK_ELEMENTS
    keep_gram: bool | None = None
    query_chunk: int | None = None
    batched: bool = False

    def __post_init__(self) -> None:
        for name in ("threads", "query_chunk"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if isinstance(self.block_elements, bool) or not isinstance(self.block_elements, int) \
                or self.block_elements < 1:
            raise ValueError(f"block_elements must be a positive integer, got "
                             f"{self.block_elements!r}")

    def label(self, relative_to: PipelineConfig | None = None) -> str:
        """The knobs set differently from ``relative_to`` (default: all defaults), in words."""
        base = PipelineConfig() if relative_to is None else relative_to
        parts = []
        if self.threads != base.threads:
            parts.append("torch default threads" if self.threads is None else
                         f"{self.threads} thread{'s' if self.threads > 1 else ''}")
        if self.block_elements != base.block_elements:
            parts.append(f"block_elements={self.block_elements}")
        if self.keep_gram != base.keep_gram:
            parts.append({False: "in-place fit", True: "dense fit kept",
                          None: "automatic fit path"}[self.keep_gram])
        if self.query_chunk != base.query_chunk:
            parts.append("queries in one call" if self.query_chunk is None else
                         f"queries in slices of {self.query_chunk}")
        if self.batched != base.batched:
            parts.append("batched training" if self.batched else "sequential training")
        return ", ".join(parts) or "reference"


#: sizes of the pipeline: clean training points by default (``n`` of :func:`pipeline`), input
#: dimension, poisons, queries (small: the whole pipeline runs in well under a second)
PIPELINE_N = 40
_D, _M, _Q = 3, 4, 12
_KERNEL = ("gaussian", {"ell": 1.0})
_RIDGE = 1e-2
_Y_T = 2.0
_WIDTH, _STEPS, _NET_RIDGE = 32, 60, 0.5


@contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _sliced(fn, Xq: torch.Tensor, chunk: int | None):
    """``fn(Xq)`` evaluated on slices of ``chunk`` queries, concatenated along dim 0."""
    if chunk is None:
        return fn(Xq)
    parts = [fn(Xq[s : s + chunk]) for s in range(0, Xq.shape[0], chunk)]
    if isinstance(parts[0], tuple):
        return tuple(torch.cat([p[i] for p in parts]) for i in range(len(parts[0])))
    return torch.cat(parts)


def _t(x) -> torch.Tensor:
    """A float64 CPU tensor of ``x`` (a tensor, an array or a number: then shape ``(1,)``)."""
    if isinstance(x, torch.Tensor):
        return x.detach().to("cpu", DEFAULT_DTYPE)
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=DEFAULT_DTYPE).reshape(-1)


def pipeline(seed: int, config: PipelineConfig = PipelineConfig(), *,
             n: int = PIPELINE_N) -> dict[str, torch.Tensor]:
    """Run the representative pipeline (module docstring) from ``seed`` under ``config``,
    with ``n`` clean training points; returns ``{name: float64 CPU tensor}`` in a fixed
    order.  Also returned: ``cond_clean`` and ``cond_poisoned``, the 2-norm condition numbers
    of the two KRR systems (inputs of :func:`reordering_bound`).  (Torch and the BLAS split
    work between threads only above some size: a few hundred points make the thread count
    matter, the default ``n`` mostly does not.)"""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    with _torch_threads(config.threads):
        g = torch.Generator().manual_seed(int(seed))
        X = torch.randn(n, _D, generator=g, dtype=DEFAULT_DTYPE)
        y = torch.sin(X @ torch.randn(_D, generator=g, dtype=DEFAULT_DTYPE))
        zeta = torch.randn(_D, generator=g, dtype=DEFAULT_DTYPE)
        Xq = torch.randn(_Q, _D, generator=g, dtype=DEFAULT_DTYPE)
        Xp, yp = poisons.spread_cluster(zeta, _M, 0.1, _Y_T, seed=int(seed))
        x0 = poisons.triggered_point(zeta, 0.5, seed=int(seed) + 1)
        Xq = torch.cat([Xq, x0[None]])
        yq = torch.zeros(Xq.shape[0], dtype=DEFAULT_DTYPE)
        Xa, ya = poisons.with_poisons(X, y, Xp, yp)
        kern = get_kernel(_KERNEL[0], **_KERNEL[1])
        kw = dict(keep_gram=config.keep_gram, block_elements=config.block_elements)
        clean = KRR(kern, _RIDGE, **kw).fit(X, y)
        poisoned = KRR(kern, _RIDGE, **kw).fit(Xa, ya)
        qc = config.query_chunk
        out: dict[str, torch.Tensor] = {
            "alpha_clean": clean.alpha,
            "alpha_poisoned": poisoned.alpha,
            "shift": _sliced(lambda Z: poisons.measured_shift(clean, poisoned, Z), Xq, qc),
            "shift_gradient": _sliced(
                lambda Z: poisons.measured_shift_gradient(clean, poisoned, Z), Xq, qc),
            "gauss_newton_term": _sliced(
                lambda Z: poisons.measured_gn_term(clean, poisoned, Z), Xq, qc),
        }
        H = _sliced(lambda Z: poisoned.loss_hessian(Z, yq[: Z.shape[0]]).total, Xq, qc)
        out["loss_hessian"] = H
        out["loss_hessian_spectrum"] = poisons.top_eigenpairs(H, k=_D)[0]
        q = cf.clean_quantities_from_fit(clean, zeta.numpy(), x0.numpy())
        out["closed_form_shift"] = _t(cf.exact_shift(q, _M, _Y_T))
        out["closed_form_spike"] = _t(cf.spike(q, _M, _Y_T)[0])
        # two networks (clean and poisoned data), trained by full-batch GD
        nets = [FCNet(_D, _WIDTH, 1, "erf", seed=int(seed) + i) for i in range(2)]
        data = [(X, y), (Xa, ya)]
        tk = dict(ridge=_NET_RIDGE, steps=_STEPS, tol=0.0)
        if config.batched:
            train_depth1_batched(nets, data, threads=None, **tk)
        else:
            for net, (Xi, yi) in zip(nets, data, strict=True):
                train(net, Xi, yi, progress=False, **tk)
        out["network_params"] = torch.cat([torch.cat([p.reshape(-1) for p in net.params.values()])
                                           for net in nets])
        out["network_predictions"] = torch.stack([net(Xq) for net in nets])
        out["network_hessian_top"] = hessian_eig.top_eigenpairs(
            hessian_eig.loss_fn(nets[1], _Y_T), Xq[-4:], k=1)[0]
        out["cond_clean"] = _t(torch.linalg.cond(clean.K + _RIDGE * torch.eye(n,
                                                                               dtype=X.dtype)))
        out["cond_poisoned"] = _t(torch.linalg.cond(
            poisoned.K + _RIDGE * torch.eye(n + _M, dtype=X.dtype)))
    return {k: _t(v) for k, v in out.items()}


def fingerprint(quantities: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of the quantities' names, shapes and float64 bytes, names sorted (so
    the digest does not depend on insertion order)."""
    h = hashlib.sha256()
    for name in sorted(quantities):
        t = quantities[name].detach().to("cpu", torch.float64).contiguous()
        h.update(name.encode())
        h.update(repr(tuple(t.shape)).encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def pipeline_fingerprint(seed: int, config: PipelineConfig = PipelineConfig(), *,
                         n: int = PIPELINE_N) -> str:
    """:func:`fingerprint` of :func:`pipeline`."""
    return fingerprint(pipeline(seed, config, n=n))


def _real(x: torch.Tensor, name: str) -> torch.Tensor:
    """A real floating tensor (non-finite entries allowed: they give ``inf``)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if x.dtype.is_complex or not x.dtype.is_floating_point:
        raise TypeError(f"{name} must be a real floating tensor, got dtype {x.dtype}")
    return x.to(DEFAULT_DTYPE)


def relative_deviation(a: torch.Tensor, b: torch.Tensor) -> float:
    """Normwise relative deviation ``max |a - b| / max |b|`` (0 for identical tensors, ``inf``
    for a shape mismatch or a non-finite entry)."""
    a, b = _real(a, "a"), _real(b, "b")
    if a.shape != b.shape or not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return math.inf
    diff = float((a - b).abs().max()) if a.numel() else 0.0
    if diff == 0.0:
        return 0.0
    scale = float(b.abs().max())
    return diff / scale if scale > 0 else math.inf


#: constant of :func:`reordering_bound` (derivation there)
REORDER_C = 1.0


def reordering_bound(n: int, amplification: float) -> float:
    """Bound on the normwise relative deviation (:func:`relative_deviation`) between two
    runs of the same float64 computation that differ only in the ORDER of their floating-point
    operations (thread count, blocking, batching): ``REORDER_C * n * eps * amplification``.

    Derivation.  Every quantity of :func:`pipeline` is a backward-stable computation (dot
    products and GEMMs of length at most ``n``, a Cholesky solve of an ``n x n`` system, a
    symmetric eigen-decomposition), followed by the amplification of the problem.  A dot
    product of length ``n`` in any order has backward error at most
    ``gamma_n = n u / (1 - n u) ~ n u`` (Higham, Thm 3.1 / (3.4)), whatever the order; two
    runs are each within that of the exact result, so they differ by at most
    ``2 n u = n eps`` in backward-error terms, and by ``n eps`` times the amplification in
    forward terms:

    * KRR quantities (``alpha``, predictions, derivatives, loss Hessians and their spectra,
      the closed-form shift and spike, the conditions themselves): amplification = the
      2-norm condition number of ``K + cI`` (first-order perturbation theory of a linear
      solve; Weyl's inequality carries a Hessian's deviation to its eigenvalues unamplified);
    * trained networks (parameters, predictions, input-Hessian eigenvalue): amplification =
      the number of gradient steps (a step with ``lr <= 1 / lambda_max`` of a ridge-regularised,
      locally convex objective is non-expansive, so each step's rounding is carried, not
      amplified, and at most ``steps`` of them add up).

    ``n`` is the length of the longest sum behind the quantity: the poisoned training-set
    size for the KRR quantities; for the networks the larger of that and the number of
    parameters (the empirical NTK that sets the learning rate sums over parameters).
    ``REORDER_C = 1`` keeps the first-order constant as derived, with no factor fitted to
    measurements (which the book page ``precision`` tabulates next to the bound)."""
    return REORDER_C * n * EPS * amplification


#: the variants :func:`thread_and_chunk_deviation` runs by default: each overrides ONE knob
#: of the reference configuration
DEFAULT_VARIANTS: tuple[dict, ...] = (
    {"threads": 2}, {"threads": 4},
    {"block_elements": 1000}, {"block_elements": 100},
    {"keep_gram": False}, {"keep_gram": False, "block_elements": 100},
    {"query_chunk": 1}, {"query_chunk": 5},
    {"batched": True},
)

#: the network quantities of :func:`pipeline` (amplification: the number of steps)
_NETWORK_KEYS = ("network_params", "network_predictions", "network_hessian_top")


def pipeline_bounds(quantities: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """:func:`reordering_bound` for each quantity of a :func:`pipeline` result."""
    cond = max(float(quantities["cond_clean"]), float(quantities["cond_poisoned"]))
    n = quantities["alpha_poisoned"].shape[0]  # the poisoned training set
    n_net = max(n, quantities["network_params"].shape[0] // 2)  # parameters of one network
    return {k: reordering_bound(n_net, _STEPS) if k in _NETWORK_KEYS
            else reordering_bound(n, cond) for k in quantities}


def thread_and_chunk_deviation(seed: int = 0,
                               variants: Iterable[Mapping] = DEFAULT_VARIANTS,
                               reference: PipelineConfig = PipelineConfig(threads=1),
                               *, n: int = PIPELINE_N) -> list[dict]:
    """Run :func:`pipeline` (``n`` clean points) from ``seed`` under ``reference`` and under
    each variant (the reference with the variant's fields replaced); per variant a dict:
    ``variant`` (its label), ``config``, ``n``, ``deviations`` (per quantity,
    :func:`relative_deviation` from the reference run), ``bounds`` (:func:`pipeline_bounds`
    of the reference), ``max_deviation`` and its ``worst_quantity``, ``max_ratio`` (largest
    deviation / bound), ``bit_identical`` (same :func:`fingerprint`) and ``within_bound``."""

    ref = pipeline(seed, reference, n=n)
    bounds = pipeline_bounds(ref)
    fp = fingerprint(ref)
    out = []
    for over in variants:
        cfg = replace(reference, **dict(over))
        res = pipeline(seed, cfg, n=n)
        dev = {k: relative_deviation(res[k], ref[k]) for k in ref}
        worst = max(dev, key=lambda k: dev[k])
        ratio = max(dev[k] / bounds[k] for k in dev)
        out.append({"variant": cfg.label(reference), "config": cfg, "n": n, "deviations": dev,
                    "bounds": bounds,
                    "max_deviation": dev[worst], "worst_quantity": worst, "max_ratio": ratio,
                    "bit_identical": fingerprint(res) == fp, "within_bound": ratio <= 1.0})
    return out
