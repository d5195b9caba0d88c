"""Safe registration of user kernels, and loading them from plugins or configuration.

:func:`register_kernel` is the public way to add a kernel.  In order:

1. **numerical positive semi-definiteness first** (:func:`check_psd`), before any
   symbolic limit or derivation, so that an invalid kernel is refused in seconds: the
   Cauchy-Schwarz bound ``|k(x, y)| <= sqrt(k(x, x) k(y, y))``; Gram matrices in
   dimensions 1, 2, 3, 5, 10 on spread, random, clustered and lattice point sets; for
   isotropic kernels Bochner's theorem (the d-dimensional spectral density, a numerical
   Hankel transform of the kernel times a wide Gaussian, must be non-negative); for
   dot-product kernels Schoenberg's (non-negative Taylor coefficients); all at the default
   parameters and at the ends and middle of each parameter's range (:func:`param_range`).
   A removable singularity at ``r = 0`` (``(1 - exp(-r^2)) / r^2``) is evaluated by its
   symbolic limit;
2. the symbolic derivation (:meth:`~derivations.kernels.KernelSpec.derive`), every step
   under the time budget of :mod:`derivations.budget`;
3. insertion into the registry.

:func:`load_user_kernels` registers the kernels named by the plugin entry points
``poisoncurv.kernels``, the environment variable ``POISONCURV_KERNELS`` and the
``[tool.poisoncurv] kernels`` list of a ``pyproject.toml``; the root ``conftest.py`` calls
it before collection (each user kernel then gets its own test ids) and the book's kernel
tables list the kernels it loaded.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import os
import sys
import tomllib
import types
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import sympy as sp

from derivations.budget import SymbolicTimeout, symbolic_budget
from derivations.kernels import (
    BUILTIN_NAMES,
    REGISTRY,
    DuplicateKernelError,
    KernelSpec,
    KernelSpecError,
    Param,
    a,
    add_to_registry,
    b,
    check_real,
    r,
    u,
)
from numerics.tolerances import TOL
from numerics.validation import KernelOverflowError, NotPSDError

__all__ = [
    "register_kernel",
    "check_psd",
    "param_range",
    "probe_param_sets",
    "scaled_params",
    "load_user_kernels",
    "user_kernel_names",
    "KernelPluginError",
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "PSD_DIMENSIONS",
    "NotPSDError",
    "SymbolicTimeout",
    "KernelSpecError",
    "KernelOverflowError",
]

#: the entry-point group of kernel plugins (``[project.entry-points."poisoncurv.kernels"]``)
ENTRY_POINT_GROUP = "poisoncurv.kernels"
#: environment variable naming kernel modules / files (comma separated)
ENV_VAR = "POISONCURV_KERNELS"
#: input dimensions of the PSD probe
PSD_DIMENSIONS: tuple[int, ...] = (1, 2, 3, 5, 10)

#: the smallest Gram eigenvalue may be this much below zero, relative to max(1, |lambda|max)
_EIG_RTOL = 1e-9
#: |k(x, y)| may exceed k(x, x) by this relative amount (rounding) before it is refused
_CS_RTOL = 1e-6
#: the spectral density may be this much below zero, relative to its maximum (quadrature
#: error; the valid kernels measured at <= 1e-8, the triangle kernel at -5e-3 in d = 10)
_SPECTRAL_RTOL = 1e-4


class KernelPluginError(ValueError):
    """A kernel plugin (entry point, ``POISONCURV_KERNELS`` entry, ``[tool.poisoncurv]``
    entry) could not be loaded; the message names the entry and the cause."""


# ----------------------------------------------------------------------------- parameters
def param_range(p: Param) -> tuple[float, float, bool]:
    """The range ``(lo, hi, log)`` from which checks draw parameter ``p`` (``log``:
    draw log-uniformly).

    The default range follows the symbol's assumptions (positive: ``10**[-1.2, 1.2]``,
    log-uniform; non-negative: ``[0, 3]``; real: ``[-3, 3]``; integer: ``[0 or 1, 4]``),
    intersected with the declared ``p.bounds``; when they do not overlap the declared
    bounds win (an open end then extends by the default's width).  A positive range is
    drawn log-uniformly.
    """
    s = p.symbol
    if s.is_integer:
        lo, hi = (1 if s.is_positive else 0), 4
    elif s.is_positive:
        lo, hi = 10.0**-1.2, 10.0**1.2
    elif s.is_nonnegative:
        lo, hi = 0.0, 3.0
    else:
        lo, hi = -3.0, 3.0
    if p.bounds is not None:
        blo, bhi = p.bounds
        nlo = lo if blo is None else max(lo, blo)
        nhi = hi if bhi is None else min(hi, bhi)
        if nlo > nhi:  # no overlap: the declared range wins
            if blo is not None and bhi is not None:
                nlo, nhi = blo, bhi
            elif blo is not None:
                nlo, nhi = blo, blo * 10**2.4 if blo > 0 else blo + (hi - lo)
            else:
                nlo, nhi = (bhi / 10**2.4 if bhi > 0 and s.is_positive else bhi - (hi - lo)), bhi
        lo, hi = nlo, nhi
    if s.is_integer:
        lo, hi = math.ceil(lo), math.floor(hi)
        if lo > hi:
            lo = hi = int(p.default)
        return int(lo), int(hi), False
    if s.is_positive and lo <= 0:  # (bounds may start at 0 for a positive symbol)
        lo = min(hi, 1e-3)
    return float(lo), float(hi), bool(lo > 0)


def _mid(lo: float, hi: float, log: bool) -> float:
    return math.sqrt(lo * hi) if log else 0.5 * (lo + hi)


def probe_param_sets(spec: KernelSpec) -> list[dict[str, float | int]]:
    """Parameter values at which :func:`check_psd` probes ``spec``: the defaults, then
    each parameter at the ends and the middle of its :func:`param_range` (the others at
    their defaults).  Every set passes :meth:`Param.validate`."""
    base = spec.defaults()
    sets = [dict(base)]
    for p in spec.params:
        lo, hi, log = param_range(p)
        mid = _mid(lo, hi, log)
        for v in (lo, hi, int(round(mid)) if p.symbol.is_integer else mid):
            try:
                v = p.validate(v)
            except (TypeError, ValueError):
                continue
            cand = dict(base, **{p.name: v})
            if cand not in sets:
                sets.append(cand)
    return sets


def scaled_params(spec: KernelSpec, pexp: float) -> dict[str, float | int]:
    """Every real parameter of ``spec`` at ``default * 10**pexp`` (integer ones and zero
    defaults unchanged), clipped into the declared ``bounds``: the pinnable parameter
    family of the ``as_stated`` claim checks, kept inside each parameter's range."""
    out: dict[str, float | int] = {}
    for p in spec.params:
        v = p.default
        if not p.symbol.is_integer and p.default != 0:
            v = p.default * 10**pexp
            if p.bounds is not None:
                lo, hi = p.bounds
                v = v if lo is None else max(v, lo)
                v = v if hi is None else min(v, hi)
        out[p.name] = p.validate(v)
    return out


# ------------------------------------------------------------------------ PSD probing
class _Evaluator:
    """The kernel as a numpy function of its family variables at one parameter set,
    lambdified (``modules="numpy"``, independent of the torch path) from ``spec.expr``
    only, no derivation needed; isotropic ``r = 0`` uses :meth:`KernelSpec.zero_value`
    (the symbolic limit) when plain evaluation gives NaN."""

    def __init__(self, spec: KernelSpec, fn: Callable, params: dict, seconds: float | None):
        self.spec, self.params, self.seconds = spec, params, seconds
        self._fn = fn
        self._mp: Callable | None = None
        self._args = [float(params[p.name]) for p in spec.params]
        self.k0: float | None = None
        if spec.family == "isotropic":
            k0 = self._raw(np.zeros(1))[0]
            if not math.isfinite(k0):
                lim = spec.zero_value(seconds=seconds)
                k0 = float("nan") if lim is None else float(spec.subs_params(lim, **params))
            self.k0 = k0

    def _raw(self, *xs: np.ndarray) -> np.ndarray:
        xs = tuple(np.asarray(x, dtype=np.float64) for x in xs)
        try:
            with np.errstate(all="ignore"):
                out = np.asarray(self._fn(*xs, *self._args))
        except (TypeError, ValueError, NameError, AttributeError) as err:
            raise KernelSpecError(f"kernel {self.spec.name!r} cannot be evaluated "
                                  f"numerically: {type(err).__name__}: {err}") from None
        if np.iscomplexobj(out):
            out = np.where(out.imag == 0, out.real, np.nan)
        return np.array(np.broadcast_to(out.astype(np.float64), xs[0].shape))

    def radial(self, rr: np.ndarray) -> np.ndarray:
        out = self._raw(rr)
        if self.k0 is not None:
            out[rr == 0] = self.k0
        return out

    def gram(self, X: np.ndarray) -> np.ndarray:
        if self.spec.family == "isotropic":
            D = np.sqrt(np.maximum(((X[:, None, :] - X[None, :, :]) ** 2).sum(-1), 0.0))
            np.fill_diagonal(D, 0.0)
            return self.radial(D)
        n2 = (X * X).sum(1)
        U = X @ X.T
        np.fill_diagonal(U, n2)
        A, B = np.broadcast_to(n2[:, None], U.shape), np.broadcast_to(n2[None, :], U.shape)
        if self.spec.family == "dot_product":
            return self._raw(U)
        K = self._raw(A, B, U)
        bad = np.isnan(K)
        if bad.any():
            # a branch point on the diagonal or at parallel inputs (acos(1 + ulp) of an
            # arc-cosine kernel, in float64): evaluate those entries at 50 digits, where
            # the rounding stays below 1e-25 (its real part, as the contract tests do)
            K[bad] = [self._precise(*v) for v in zip(A[bad], B[bad], U[bad], strict=True)]
        return K

    def _precise(self, *xs: float) -> float:
        import mpmath

        if self._mp is None:
            args = FAMILY_ARGS[self.spec.family] + self.spec.param_symbols
            kexpr = self.spec.invariant_expr()
            self._mp = sp.lambdify(args, kexpr, modules="mpmath")
        with mpmath.workdps(50):
            try:
                val = self._mp(*(mpmath.mpf(float(x)) for x in (*xs, *self._args)))
            except (ZeroDivisionError, ValueError):
                return math.nan
            return float(mpmath.re(val))


def _refuse(spec: KernelSpec, params: dict, d: int | None, evidence: str) -> NotPSDError:
    where = f"d = {d}, " if d is not None else ""
    ps = ", ".join(f"{k} = {v:g}" for k, v in params.items()) or "no parameters"
    return NotPSDError(f"kernel {spec.name!r} is not positive semi-definite ({where}{ps}): "
                       f"{evidence}; a kernel must be a valid covariance function")


def _check_gram(spec: KernelSpec, ev: _Evaluator, X: np.ndarray, d: int, what: str) -> None:
    K = ev.gram(X)
    if not np.isfinite(K).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(K))[0])
        val = K[i, j]
        ps = ", ".join(f"{k} = {v:g}" for k, v in ev.params.items()) or "no parameters"
        if np.isnan(val):
            raise KernelSpecError(
                f"kernel {spec.name!r} evaluates to NaN on {what} in d = {d} ({ps}) at the pair "
                f"|x|^2 = {X[i] @ X[i]:.3g}, |x'|^2 = {X[j] @ X[j]:.3g}, x.x' = {X[i] @ X[j]:.3g}: "
                f"it is not defined there (a kernel must be finite on all of R^d)")
        raise KernelOverflowError(
            f"kernel {spec.name!r} overflows float64 on {what} in d = {d} ({ps}) at "
            f"|x|^2 = {X[i] @ X[i]:.3g}, |x'|^2 = {X[j] @ X[j]:.3g}: declare a parameter "
            f"range (Param(..., bounds=(lo, hi))) in which it stays finite")
    K = 0.5 * (K + K.T)
    w = np.linalg.eigvalsh(K)
    lo, hi = float(w[0]), float(np.abs(w).max())
    # a kernel with a declared singular set (arc-cosine kernels) passes through acos/sqrt
    # at a branch point for (anti)parallel inputs: entries there carry ~sqrt(eps) errors
    rtol = TOL["branch_point"].rtol if spec.singular is not None else _EIG_RTOL
    if lo < -rtol * max(1.0, hi):
        raise _refuse(spec, ev.params, d, f"Gram matrix of {len(X)} {what} has smallest "
                      f"eigenvalue {lo:.3g} (largest |eigenvalue| {hi:.3g})")


def _length_scale(ev: _Evaluator) -> float:
    """Where the radial profile first moves by half its value at 0 (1 if it never does)."""
    rr = np.geomspace(1e-4, 1e4, 801)
    g = ev.radial(rr)
    k0 = ev.k0 if ev.k0 is not None else 1.0
    moved = np.abs(g - k0) >= 0.5 * max(abs(k0), 1e-300)
    moved |= ~np.isfinite(g)
    return float(rr[np.argmax(moved)]) if bool(moved.any()) else 1.0


def _spectral_density(ev: _Evaluator, d: int, L: float, taper: float = 8.0,
                      n_r: int = 1601, n_w: int = 80, w_max: float = 40.0
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Up to a positive factor, the d-dimensional spectral density of ``g(r) *
    exp(-(r / (taper L))^2)`` at frequencies ``w``: ``int_0^inf g(r) exp(..) r^(d-1)
    Lambda_nu(w r) dr`` with ``Lambda_nu(x) = J_nu(x) / x^nu``, ``nu = d/2 - 1``
    (Hankel transform; Simpson's rule).  The Gaussian factor is a PSD kernel, so the
    product of a PSD ``g`` with it is PSD and its density is >= 0 (Bochner); it makes the
    integral converge quickly without creating negative values."""
    from scipy.integrate import simpson
    from scipy.special import gamma, jv

    rr = np.linspace(0.0, 3 * taper * L, n_r)
    g = ev.radial(rr) * np.exp(-((rr / (taper * L)) ** 2))
    w = np.linspace(0.0, w_max / L, n_w)
    nu = d / 2 - 1
    x = np.outer(w, rr)
    with np.errstate(all="ignore"):
        lam = jv(nu, x) / x**nu
    lam[x == 0] = 1 / (2**nu * gamma(nu + 1))
    return w, simpson(lam * (g * rr ** (d - 1)), x=rr, axis=1)


def _taylor_coefficients(spec: KernelSpec, params: dict, seconds: float | None,
                         order: int = 10) -> list[sp.Expr] | None:
    """Taylor coefficients at ``u = 0`` of a dot-product kernel at ``params`` (``None``
    when SymPy cannot expand it, e.g. ``|u|``, or runs out of its budget)."""
    expr = spec.subs_params(spec.expr, **params)
    try:
        with symbolic_budget(spec.name, "Taylor expansion at u = 0 (Schoenberg test)", seconds):
            ser = sp.series(expr, u, 0, order).removeO()
            poly = sp.Poly(sp.expand(ser), u)
    except (SymbolicTimeout, sp.PolynomialError, NotImplementedError, ValueError, TypeError):
        return None
    coeffs = poly.all_coeffs()[::-1]
    return coeffs + [sp.Integer(0)] * (order - len(coeffs))


def _point_sets(family: str, d: int, L: float, rng: np.random.Generator):
    """Named point sets for the Gram tests in dimension ``d`` (``L``: length scale)."""
    sets = []
    if family == "isotropic":
        for s in (0.3, 1.0, 3.0):
            sets.append((f"random points (scale {s:g} L)", s * L * rng.standard_normal((60, d))))
        centres = 3 * L * rng.standard_normal((6, d))
        cl = centres[rng.integers(0, 6, 48)] + 0.02 * L * rng.standard_normal((48, d))
        sets.append(("clustered points", cl))
        side = {1: 64, 2: 9, 3: 5, 5: 3, 10: 2}.get(d, 2)
        grid = np.stack(np.meshgrid(*[np.arange(side)] * d, indexing="ij"), -1).reshape(-1, d)
        if len(grid) > 243:
            grid = grid[rng.choice(len(grid), 243, replace=False)]
        for h in (0.3, 1.0):
            sets.append((f"lattice points (spacing {h:g} L)", h * L * grid.astype(float)))
    else:
        for s in (0.5, 1.0, 2.0):  # |x| ~ s
            X = s * rng.standard_normal((60, d)) / math.sqrt(d)
            if family == "dot_product":
                X[0] = 0.0  # the origin: k(0, 0) = phi(0) >= 0
            sets.append((f"random points (|x| ~ {s:g})", X))
        v = rng.standard_normal(d)
        v /= np.linalg.norm(v)
        sets.append(("parallel points", np.outer(np.linspace(-2, 2, 20), v)))  # (not 0)
        centres = rng.standard_normal((5, d)) / math.sqrt(d)
        cl = centres[rng.integers(0, 5, 40)] + 1e-2 * rng.standard_normal((40, d))
        sets.append(("clustered points", cl))
    return sets


def check_psd(spec: KernelSpec, *, seconds: float | None = None, seed: int = 0,
              dims: Sequence[int] = PSD_DIMENSIONS,
              param_sets: Sequence[dict] | None = None) -> None:
    """Check numerically that ``spec`` is positive semi-definite (see the module
    docstring for the tests), before and independently of any symbolic derivation.

    Parameters
    ----------
    spec:
        The kernel (not necessarily registered).
    seconds:
        Budget of each symbolic step the probe needs (a limit at ``r = 0``, a Taylor
        expansion); ``None``: the configured budget.
    seed:
        Seed of the random point sets.
    dims:
        Input dimensions probed.
    param_sets:
        Parameter values probed (default ``probe_param_sets(spec)``: the defaults and
        the ends and middle of each declared range).

    Raises
    ------
    NotPSDError
        Naming the kernel, the dimension, the parameter values and the evidence
        (smallest Gram eigenvalue, negative spectral density at a frequency, a negative
        Taylor coefficient, a violated Cauchy-Schwarz bound).
    KernelOverflowError
        When the kernel overflows float64 on the probe's points (declare bounds).
    KernelSpecError
        When the kernel is NaN (undefined) somewhere, e.g. ``0/0`` without a limit.
    """
    from threadpoolctl import threadpool_limits

    args = FAMILY_ARGS[spec.family] + spec.param_symbols
    kexpr = spec.expr if spec.family != "invariant" else spec.invariant_expr()
    fn = sp.lambdify(args, kexpr, modules=["numpy", "scipy"])
    rng = np.random.default_rng(seed)
    # small matrices: one BLAS thread is several times faster than contended threads
    with threadpool_limits(1):
        for params in (probe_param_sets(spec) if param_sets is None else param_sets):
            _check_at(spec, fn, dict(params), seconds, dims, rng)


def _check_at(spec: KernelSpec, fn: Callable, params: dict, seconds: float | None,
              dims: Sequence[int], rng: np.random.Generator) -> None:
    """All PSD tests of :func:`check_psd` at one parameter set."""
    ev = _Evaluator(spec, fn, params, seconds)
    L = 1.0
    if spec.family == "isotropic":
        _check_radial(spec, ev, dims)
        L = _length_scale(ev)
    elif spec.family == "dot_product":
        coeffs = _taylor_coefficients(spec, params, seconds)
        if coeffs is not None:
            vals = [complex(c.evalf(30)) for c in coeffs]
            top = max((abs(v) for v in vals), default=0.0)
            for n, v in enumerate(vals):
                if v.real < -1e-12 * max(top, 1e-300):
                    raise _refuse(spec, params, None, f"its Taylor coefficient of u^{n} at "
                                  f"u = 0 is {v.real:.4g} < 0 (Schoenberg: a dot-product "
                                  f"kernel valid in every dimension has none)")
    for d in dims:
        for what, X in _point_sets(spec.family, d, L, rng):
            if what in ("parallel points", "clustered points") and spec.singular is not None:
                # at and near the declared branch point (arc-cosine kernels) the expanded
                # expression loses ~sqrt(eps) per layer in float64 (the torch side uses
                # the stable recursion of ``spec.network`` there): random sets only
                continue
            _check_gram(spec, ev, X, d, what)


#: lambdify arguments of the kernel expression per family
FAMILY_ARGS: dict[str, tuple[sp.Symbol, ...]] = {
    "isotropic": (r,), "dot_product": (u,), "invariant": (a, b, u)}


def _check_radial(spec: KernelSpec, ev: _Evaluator, dims: Sequence[int]) -> None:
    """Isotropic kernels: value at 0, Cauchy-Schwarz, far points, Bochner."""
    k0 = ev.k0
    if k0 is None or not math.isfinite(k0):
        raise KernelSpecError(f"kernel {spec.name!r} has no finite value at r = 0 (x = x'), "
                              f"not even as a limit: it is not a kernel on R^d")
    if k0 < 0:
        raise _refuse(spec, ev.params, None, f"k(x, x) = {k0:.4g} < 0")
    rr = np.concatenate([np.geomspace(1e-4, 1e4, 801), np.linspace(0.01, 20.0, 2000)])
    g = ev.radial(rr)
    nan = np.isnan(g)
    if nan.any():
        raise KernelSpecError(f"kernel {spec.name!r} evaluates to NaN at r = "
                              f"{rr[np.argmax(nan)]:.4g}: it is not defined there")
    # (a relative allowance for rounding in the kernel's own evaluation: a removable
    # singularity such as (1 - exp(-r^2)) / r^2 computes 1 + 1e-9 at r = 1e-4)
    over = np.abs(g) > k0 * (1 + _CS_RTOL) + 1e-300
    if over.any():
        i = int(np.argmax(over))
        raise _refuse(spec, ev.params, None, f"|k| = {abs(g[i]):.10g} at r = {rr[i]:.4g} "
                      f"exceeds k(x, x) = {k0:.10g} (Cauchy-Schwarz; the 2 x 2 Gram matrix has "
                      f"eigenvalue {k0 - abs(g[i]):.4g})")
    L = _length_scale(ev)
    # far-apart points: a negative tail (a constant offset such as exp(-r^2) - 0.01) gives
    # the all-ones vector a negative Rayleigh quotient once n |tail| > k(0)
    line = np.arange(256, dtype=float)[:, None] * 10 * L
    _check_gram(spec, ev, line, 1, "far-apart points on a line (spacing 10 L)")
    for d in dims:
        w, S = _spectral_density(ev, d, L)
        top = float(np.abs(S).max())
        if not np.isfinite(S).all():
            raise KernelOverflowError(f"kernel {spec.name!r}: its spectral density is not "
                                      f"finite in d = {d} (overflow); declare parameter bounds")
        i = int(np.argmin(S))
        if S[i] < -_SPECTRAL_RTOL * top:
            raise _refuse(spec, ev.params, d, f"its spectral density (Bochner; Hankel "
                          f"transform, Gaussian-tapered) is negative at frequency "
                          f"|omega| = {w[i]:.4g}: {S[i] / top:.3g} of its maximum")


# ------------------------------------------------------------------------ registration
def register_kernel(spec: KernelSpec, *, replace: bool = False, check: bool = True,
                    seconds: float | None = None) -> KernelSpec:
    """Check, derive and register a kernel; return it.

    Parameters
    ----------
    spec:
        The kernel (:class:`~derivations.kernels.KernelSpec`; malformed ones raise
        :class:`~derivations.kernels.KernelSpecError` when constructed).
    replace:
        Replace a registered kernel of the same name instead of refusing it.
    check:
        Run :func:`check_psd` and the real-valuedness check first (default).  ``False``
        skips them (for a kernel you have verified otherwise); the derivation still runs
        under its budget.
    seconds:
        Time budget of each symbolic step (``None``: ``$POISONCURV_SYMBOLIC_BUDGET`` or
        :data:`derivations.budget.DEFAULT_SECONDS`).

    Raises
    ------
    TypeError
        ``spec`` is not a KernelSpec.
    DuplicateKernelError
        The name is taken and ``replace`` is false.
    KernelSpecError, NotPSDError, KernelOverflowError
        From the checks (see :func:`check_psd`).
    SymbolicTimeout
        A symbolic step ran past its budget (names the kernel and the step).
    """
    if not isinstance(spec, KernelSpec):
        raise TypeError(f"register_kernel expects a KernelSpec, got {type(spec).__name__}")
    if not replace and spec.name in REGISTRY:
        raise DuplicateKernelError(f"a kernel named {spec.name!r} is already registered "
                                   f"(pass replace=True to replace it)")
    if replace and spec.name in BUILTIN_NAMES and REGISTRY.get(spec.name) is not spec:
        raise DuplicateKernelError(f"{spec.name!r} is a built-in kernel; choose another name")
    if check:
        check_real(spec, seconds=seconds)
        check_psd(spec, seconds=seconds)
    spec.derive(seconds=seconds)
    _smoke_test(spec, seconds)
    return add_to_registry(spec, replace=replace)


def _smoke_test(spec: KernelSpec, seconds: float | None) -> None:
    """Build the torch functions (their symbolic steps under the budget) and evaluate the
    Gram matrix and the derivatives once at the default parameters, so that a kernel the
    torch printer cannot handle (e.g. ``Max(0, r)`` with a Python int) fails here with a
    named error rather than in the first test."""
    from numerics.kernels import TorchKernel, prepare_kernel

    prepare_kernel(spec, seconds=seconds)
    X = np.array([[0.0, 0.0], [0.3, -0.2], [0.3, -0.2], [1.1, 0.7]])
    Xq = np.array([[0.2, 0.5], [-0.7, 0.1]])
    try:
        k = TorchKernel(spec)
        k.gram(X)
        k.derivatives(Xq, X, order=2)
    except (TypeError, RuntimeError, AttributeError, NameError) as err:
        raise KernelSpecError(f"kernel {spec.name!r}: its generated torch functions fail "
                              f"({type(err).__name__}: {err}); use SymPy functions that "
                              f"torch supports (e.g. Piecewise instead of Max)") from None
    except ValueError as err:
        raise KernelSpecError(f"kernel {spec.name!r}: its generated torch functions fail at "
                              f"generic points ({err})") from None


# ---------------------------------------------------------------------- plugin loading
#: entries already loaded -> the kernel names they registered (loading is idempotent)
_LOADED: dict[str, list[str]] = {}


def user_kernel_names() -> list[str]:
    """Registered kernels that are not built in, in registration order."""
    return [n for n in REGISTRY if n not in BUILTIN_NAMES]


def _split_entries(raw: str) -> list[str]:
    """Entries of ``POISONCURV_KERNELS``: comma separated (also ``;`` on Windows)."""
    seps = raw.replace(";", ",") if os.pathsep == ";" else raw
    return [p.strip() for p in seps.split(",") if p.strip()]


def _parse_entry(entry: str) -> tuple[str, str]:
    """``"path/file.py:attr"`` / ``"pkg.mod:attr"`` -> ``(target, attr)`` (attr may be "")."""
    if ".py:" in entry:
        target, attr = entry.split(".py:", 1)
        return target + ".py", attr
    if entry.endswith(".py"):
        return entry, ""
    target, _, attr = entry.partition(":")
    return target, attr


def _import_target(entry: str, base: Path) -> object:
    """``path/to/file.py[:attr]`` or ``package.module[:attr]`` -> the module or attribute."""
    target, attr = _parse_entry(entry)
    if target.endswith(".py"):
        path = Path(target)
        path = path if path.is_absolute() else (base / path)
        if not path.is_file():
            raise KernelPluginError(f"kernel plugin {entry!r}: no file {path}")
        name = "poisoncurv_user_kernels_" + "".join(
            c if c.isalnum() else "_" for c in str(path.resolve()))
        module = sys.modules.get(name)
        if module is None:
            mspec = importlib.util.spec_from_file_location(name, path)
            if mspec is None or mspec.loader is None:
                raise KernelPluginError(f"kernel plugin {entry!r}: cannot import {path}")
            module = importlib.util.module_from_spec(mspec)
            sys.modules[name] = module
            try:
                mspec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
    else:
        module = importlib.import_module(target)
    if not attr:
        return module
    try:
        return getattr(module, attr)
    except AttributeError:
        raise KernelPluginError(f"kernel plugin {entry!r}: {target} has no attribute "
                                f"{attr!r}") from None


def _run_plugin(key: str, load: Callable[[], object]) -> list[str]:
    """Load one plugin (idempotent) and return the kernels it registered."""
    if key in _LOADED:
        return _LOADED[key]
    before = list(REGISTRY)
    try:
        obj = load()
        if callable(obj) and not isinstance(obj, (types.ModuleType, KernelSpec)):
            obj = obj()
        specs = [obj] if isinstance(obj, KernelSpec) else (
            list(obj) if isinstance(obj, (list, tuple)) else [])
        for spec in specs:
            if not isinstance(spec, KernelSpec):
                raise KernelPluginError(f"kernel plugin {key!r} returned {spec!r}, not a "
                                        f"KernelSpec")
            if REGISTRY.get(spec.name) is not spec:
                register_kernel(spec)
    except KernelPluginError:
        raise
    except Exception as err:
        raise KernelPluginError(f"kernel plugin {key!r} failed to load: "
                                f"{type(err).__name__}: {err}") from err
    names = [n for n in REGISTRY if n not in before]
    names += [s.name for s in specs if s.name not in names and s.name in REGISTRY]
    _LOADED[key] = names
    return names


def _pyproject_entries(root: Path) -> list[str]:
    path = root / "pyproject.toml"
    if not path.is_file():
        return []
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise KernelPluginError(f"cannot read {path}: {err}") from None
    entries = data.get("tool", {}).get("poisoncurv", {}).get("kernels", [])
    if isinstance(entries, str) or not all(isinstance(e, str) for e in entries):
        raise KernelPluginError(f"{path}: [tool.poisoncurv] kernels must be a list of strings")
    return list(entries)


def load_user_kernels(root: str | Path | None = None, *,
                      entry_points: bool = True) -> list[str]:
    """Register the user kernels named by the plugin entry points, the environment and
    the project configuration; return their names (in a deterministic order: entry
    points by name, then ``POISONCURV_KERNELS`` in order, then ``[tool.poisoncurv]
    kernels`` in order).

    Sources, each entry a module or a file (optionally ``:callable``); a module registers
    its kernels when imported (with :func:`register_kernel`), a callable is called and
    may register kernels or return ``KernelSpec`` objects, which are then registered:

    * entry points of the group ``poisoncurv.kernels`` of installed packages
      (``[project.entry-points."poisoncurv.kernels"] my_kernels = "my_pkg.kernels"``);
    * ``POISONCURV_KERNELS=path/to/my_kernels.py,other_pkg.kernels:register_all``
      (comma separated; relative paths from ``root``);
    * ``[tool.poisoncurv] kernels = ["path/to/my_kernels.py"]`` in ``root/pyproject.toml``.

    Parameters
    ----------
    root:
        Directory of the project (relative paths, ``pyproject.toml``); default the
        current directory.
    entry_points:
        Whether to load installed entry points.

    Raises
    ------
    KernelPluginError
        Naming the entry that failed and why (including a kernel refused by
        :func:`register_kernel`).
    """
    from importlib.metadata import entry_points as _entry_points

    base = Path.cwd() if root is None else Path(root)
    names: list[str] = []

    def add(new: Iterable[str]) -> None:
        names.extend(n for n in new if n not in names)

    if entry_points:
        for ep in sorted(_entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            add(_run_plugin(f"entry point {ep.name} = {ep.value}", ep.load))
    for entry in [*_split_entries(os.environ.get(ENV_VAR, "")), *_pyproject_entries(base)]:
        key = f"{base.resolve()} | {entry}" if _parse_entry(entry)[0].endswith(".py") else entry
        add(_run_plugin(key, lambda entry=entry: _import_target(entry, base)))
    return names
