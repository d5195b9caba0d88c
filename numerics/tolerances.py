"""The one tolerance table of the suite (float64), with named tolerance kinds.

Every comparison in ``tests/`` and ``proofs_check/`` goes through :func:`assert_close`
or :func:`is_close` with one of these kinds; NaN is never close to anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Tolerance", "TOL", "is_close", "assert_close", "max_rel_error",
           "UnknownToleranceKind", "ShapeMismatchError"]


class ShapeMismatchError(AssertionError, ValueError):
    """:func:`max_rel_error` of arrays of different shapes (an ``AssertionError`` in a
    test, a ``ValueError`` for the arguments)."""


class UnknownToleranceKind(KeyError, ValueError):
    """A tolerance ``kind`` that is not in :data:`TOL` (a ``KeyError`` for the look-up, a
    ``ValueError`` for the argument)."""


def _tolerance(kind: str) -> Tolerance:
    if not isinstance(kind, str) or kind not in TOL:
        raise UnknownToleranceKind(f"unknown tolerance kind {kind!r}; known: {sorted(TOL)}")
    return TOL[kind]


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    why: str


TOL: dict[str, Tolerance] = {
    # two routes through the same float64 arithmetic (e.g. SymPy value vs torch value)
    "exact": Tolerance(1e-12, 1e-13, "same quantity, same precision, different code path"),
    # closed-form derivative vs torch.func autograd of the kernel value
    "autograd": Tolerance(1e-9, 1e-11, "closed form vs reverse-mode autograd, float64"),
    # the same float64 computation on CPU and on CUDA (different reduction orders)
    "device": Tolerance(1e-8, 1e-12, "same float64 computation, CPU vs CUDA"),
    # closed form vs a float64 refit of the KRR (linear solves, conditioning <= 1e12)
    "refit": Tolerance(1e-8, 1e-10, "closed form vs refitted KRR (issue: 1e-8 relative)"),
    # our KRR vs scikit-learn KernelRidge on the same precomputed Gram
    "sklearn": Tolerance(1e-8, 1e-10, "two independent dense solvers on the same system"),
    # central finite differences with step h ~ eps^(1/3): truncation + rounding ~ 1e-6
    "finite_difference": Tolerance(1e-5, 1e-7, "central differences, step ~ 6e-6 * scale"),
    # eigenvalues / eigenvectors from iterative solvers (Lanczos, lobpcg) vs dense eigh
    "iterative_eig": Tolerance(1e-7, 1e-9, "iterative eigensolver vs dense eigh"),
    # values computed through acos / sqrt of a rounded argument at a branch point (arc-cosine
    # kernels at (anti)parallel inputs): an O(eps) argument error becomes O(sqrt(eps))
    "branch_point": Tolerance(1e-7, 1e-8, "acos/sqrt at a branch point: error ~ sqrt(eps)"),
    # asymptotic series truncated at the stated order, evaluated where the next term is small
    "series": Tolerance(1e-3, 1e-12, "truncated series vs exact value at small parameter"),
    # scipy solve_ivp (DOP853, rtol=1e-12, atol=1e-14) vs the closed-form solution of the ODE
    "ode": Tolerance(1e-8, 1e-12, "ODE integrated at rtol <= 1e-12; global error <~ 1e-10"),
    # adaptive quadrature (scipy.integrate.quad, epsabs/epsrel ~1e-12) vs a closed form
    "quadrature": Tolerance(1e-8, 1e-11, "adaptive quadrature of smooth integrands at 1e-12"),
}


def _to_numpy(x) -> np.ndarray:
    """Real numbers as a float64 array (NaN allowed: it is never close); complex, strings
    and other non-numbers raise ``TypeError`` (a cast would drop or invent values)."""
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise TypeError("tolerance checks compare real numbers, got a complex tensor")
        return x.detach().cpu().to(torch.float64).numpy()
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as err:
        raise TypeError(f"tolerance checks compare arrays of real numbers: {err}") from None
    if arr.dtype == object:  # e.g. a list of 0-d tensors
        try:
            arr = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"tolerance checks compare real numbers: {err}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tolerance checks compare real numbers, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def max_rel_error(actual, expected, atol: float = 0.0) -> float:
    """max |a - e| / (atol + |e|) (inf when ``atol = 0`` and ``e = 0`` with ``a != e``);
    NaN anywhere gives ``inf``."""
    a, e = _to_numpy(actual), _to_numpy(expected)
    if a.shape != e.shape:
        raise ShapeMismatchError(f"shape mismatch: {a.shape} vs {e.shape}")
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        return float("inf")
    if a.size == 0:
        return 0.0
    # in units of the largest magnitude (>= 1), so that |a - e| cannot overflow
    s = max(1.0, float(np.abs(a).max()), float(np.abs(e).max()))
    diff = np.abs(a / s - e / s)
    # a relative error beyond float64 (|e| tiny next to |a - e|) is inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        rel = np.where(diff == 0, 0.0, diff / (atol / s + np.abs(e / s)))
    return float(rel.max())


def is_close(actual, expected, kind: str) -> bool:
    """``|a - e| <= atol + rtol |e|`` elementwise, for tolerance ``kind``; NaN is never close."""
    tol = _tolerance(kind)
    a, e = _to_numpy(actual), _to_numpy(expected)
    if a.shape != e.shape:
        return False
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        return False
    with np.errstate(over="ignore"):  # |a - e| = inf for finite a, e: far from close
        return bool(np.all(np.abs(a - e) <= tol.atol + tol.rtol * np.abs(e)))


def assert_close(actual, expected, kind: str, what: str = "") -> None:
    """Assert :func:`is_close`; the message gives the worst entry and the tolerance used."""
    _tolerance(kind)
    if is_close(actual, expected, kind):
        return
    tol = TOL[kind]
    a, e = _to_numpy(actual), _to_numpy(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{what}: shape {a.shape} != expected {e.shape}")
    bad = ~np.isfinite(a) | ~np.isfinite(e)
    if bad.any():
        raise AssertionError(f"{what}: {int(bad.sum())} non-finite value(s) (NaN is never close)")
    err = np.abs(a - e) - (tol.atol + tol.rtol * np.abs(e))
    i = np.unravel_index(int(np.argmax(err)), a.shape) if a.ndim else ()
    raise AssertionError(
        f"{what}: not close at {kind!r} tolerance (rtol={tol.rtol:g}, atol={tol.atol:g}); "
        f"worst entry {i}: actual {a[i]!r}, expected {e[i]!r}, "
        f"max rel error {max_rel_error(a, e, tol.atol):.3g}"
    )
