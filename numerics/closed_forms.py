"""The derived closed forms of C1-C3 evaluated on a user's data (library).

One job: given a kernel, clean data ``(X, y)``, a trigger ``zeta``, a triggered input
``x0`` and a ridge ``c``, compute the clean-data quantities the closed forms need
(:func:`clean_quantities`) and evaluate, with validated inputs,

* the **stated** prediction shift (the paper's dominance formula,
  :func:`derivations.prediction_shift.dominance_shift`) and gain ``S(m; c)``;
* the **exact** shift (conditional kernel, :func:`derivations.prediction_shift.exact_shift`)
  and gain ``S~(m; c)``;
* ``R_k`` (:func:`derivations.rank_one_spike.R_k`, in the kernel family's own variables)
  and ``R_k~ = |grad_x k~(x0, zeta)|^2 / k~(x0, zeta)^2`` (its definition);
* the exact rank-one spike of the poison Gauss-Newton term
  (:func:`derivations.rank_one_spike.spike_eigen`): eigenvalue ``b_m^2 |grad k~|^2`` with
  ``b_m = d Delta f / d k~(x0, zeta)`` (``= R_k~ Delta f^2`` whenever ``k~ != 0``) and unit
  eigenvector ``grad k~ / |grad k~|``.

Every formula is a SymPy expression of ``derivations/``, lambdified here (never
re-typed).  The clean quantities are computed once with the ridge ``c`` stored in them, so
the conditional kernel and the shift always use the *same* ridge.

Conventions
    ``y_t`` is a scalar (scalar KRR) or a vector (multi-output / one-hot KRR, ``y`` of shape
    ``(n, o)``): the shifts are then vectors ``(o,)`` and the spike eigenvalue is
    ``sum_o b_o^2 |grad k~|^2 = R_k~ |Delta f|^2`` (every output shares ``grad k~``).
Degenerate cases (documented, never an exception or a NaN spike)
    When ``grad k~(x0, zeta) = 0`` -- in particular when the kernel underflows to 0 far from
    the trigger -- the Gauss-Newton term is the zero matrix: the spike eigenvalue is ``0.0``
    and the returned eigenvector is the **zero vector** (no direction is distinguished).
    ``R_k~`` is then ``nan`` if ``k~ = 0`` too (``0 / 0``), and ``inf`` when ``k~ = 0`` but
    ``grad k~ != 0`` (e.g. the linear kernel with ``x0`` orthogonal to ``zeta``; the spike
    eigenvalue ``b_m^2 |grad k~|^2`` is still finite there).

Errors
    :class:`InputValueError` (a ``ValueError``: bad shape, NaN/inf, out of range),
    :class:`InputTypeError` (a ``TypeError``: complex, non-numeric, wrong kind of object),
    :class:`UnknownKernelNameError` (both a ``ValueError`` and the registry's
    :class:`~derivations.kernels.UnknownKernelError`); every message names the argument.
    :class:`NonFiniteResultError` (a ``ValueError``) when a shift, gain or spike
    overflows float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
import sympy as sp
import torch

from derivations import prediction_shift as ps
from derivations import rank_one_spike as ros
from derivations import scalar_gain as sg
from derivations.conventions import c as c_sym
from derivations.conventions import k_zeta
from derivations.conventions import m as m_sym
from derivations.conventions import y_t as y_t_sym
from derivations.kernels import KernelSpec, UnknownKernelError, a, b, get_spec, r, u
from numerics.kernels import TorchKernel, lambdify_torch
from numerics.krr import KRR
from numerics.poisons import clean_conditionals
from numerics.validation import DEFAULT_DTYPE, warn_narrow_input

__all__ = [
    "InputValueError",
    "InputTypeError",
    "UnknownKernelNameError",
    "NonFiniteResultError",
    "CleanQuantities",
    "clean_quantities_from_fit",
    "resolve_kernel",
    "as_real_array",
    "check_ridge",
    "check_count",
    "check_label",
    "clean_quantities",
    "stated_shift",
    "exact_shift",
    "stated_gain",
    "exact_gain",
    "R_k",
    "R_k_tilde",
    "spike",
    "stated_spike",
]


class InputValueError(ValueError):
    """An argument has a bad value: shape, NaN or infinity, or out of its range."""


class InputTypeError(TypeError):
    """An argument has a bad type: complex, non-numeric, or the wrong kind of object."""


class UnknownKernelNameError(UnknownKernelError, InputValueError):
    """A kernel name that is not registered (also a ``ValueError``)."""


class NonFiniteResultError(ValueError):
    """A shift, gain or spike overflowed float64 (inputs of extreme magnitude, e.g.
    ``|y_t| ~ 1e200``): refused rather than returned as ``inf`` or ``nan``."""


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------


def as_real_array(x: Any, name: str) -> np.ndarray:
    """``x`` (number, list, NumPy array or torch tensor) as a finite float64 NumPy array.

    Raises :class:`InputTypeError` for complex, boolean and non-numeric input (strings,
    objects, ``None``) and :class:`InputValueError` for NaN or infinite entries; float32
    (or narrower) input is upcast with a
    :class:`~numerics.validation.Float32InputWarning`.
    """
    if x is None:
        raise InputTypeError(f"{name} is required, got None")
    if isinstance(x, torch.Tensor):
        if x.is_complex():
            raise InputTypeError(f"{name} must be real, got a complex tensor")
        if x.dtype in (torch.float16, torch.bfloat16):  # no NumPy bfloat16: upcast here
            warn_narrow_input(x.dtype, name)
            x = x.to(torch.float64)
        arr = x.detach().cpu().numpy()
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:  # ragged lists
            raise InputValueError(f"{name} is not a rectangular array: {err}") from None
    if np.iscomplexobj(arr):
        raise InputTypeError(f"{name} must be real, got complex values")
    if arr.dtype.kind == "b":
        raise InputTypeError(f"{name} is boolean ({arr.dtype}); pass real numbers")
    if arr.dtype.kind not in "iuf":
        raise InputTypeError(f"{name} must be numeric, got an array of dtype {arr.dtype}")
    warn_narrow_input(arr.dtype, name)
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).sum())
        raise InputValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return arr


def _real_scalar(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise InputTypeError(f"{name} must be a real number, got {value!r}")
    arr = as_real_array(value, name)
    if arr.ndim != 0 and arr.size != 1:
        raise InputValueError(f"{name} must be a single number, got shape {arr.shape}")
    return float(arr.reshape(()))


def check_ridge(c: Any) -> float:
    """The ridge ``c``: a finite real number ``> 0``."""
    v = _real_scalar(c, "ridge c")
    if not v > 0:
        raise InputValueError(f"ridge c must be positive, got {c!r}")
    return v


def check_count(m: Any, name: str = "m (number of poisons)") -> int:
    """A poison count: an integer ``>= 0`` (an integral float such as ``5.0`` is accepted)."""
    if isinstance(m, bool):
        raise InputTypeError(f"{name} must be an integer, got {m!r}")
    if isinstance(m, (int, np.integer)):
        v = int(m)
    elif isinstance(m, (float, np.floating)):
        if not (math.isfinite(m) and float(m).is_integer()):
            raise InputValueError(f"{name} must be a non-negative integer, got {m!r}")
        v = int(m)
    elif isinstance(m, torch.Tensor) and m.ndim == 0 and not m.is_complex():
        return check_count(m.item(), name)
    else:
        raise InputTypeError(f"{name} must be an integer, got {m!r}")
    if v < 0:
        raise InputValueError(f"{name} must be non-negative, got {m!r}")
    return v


def check_label(y_t: Any, outputs: int | None) -> float | np.ndarray:
    """The attacker's label: a scalar when ``outputs`` is ``None``, else a vector ``(o,)``."""
    arr = as_real_array(y_t, "attacker label y_t")
    if outputs is None:
        if arr.size != 1 or arr.ndim > 1:
            raise InputValueError(
                f"attacker label y_t must be a scalar for scalar targets y, got shape "
                f"{arr.shape} (give y of shape (n, outputs) for a vector label)")
        return float(arr.reshape(()))
    if arr.ndim != 1 or arr.shape[0] != outputs:
        raise InputValueError(f"attacker label y_t must be a vector of length {outputs} "
                              f"(the outputs of y), got shape {arr.shape}")
    return arr


def resolve_kernel(kernel: TorchKernel | KernelSpec | str, **params: Any) -> TorchKernel:
    """A :class:`~numerics.kernels.TorchKernel` from a registered name (with ``params``), a
    :class:`~derivations.kernels.KernelSpec` (with ``params``) or a ``TorchKernel`` (then no
    ``params``), with named errors for unknown names, unknown or invalid parameters."""
    if isinstance(kernel, TorchKernel):
        if params:
            raise InputTypeError("kernel parameters were given both in the TorchKernel and as "
                                 f"keywords ({sorted(params)}); give them in one place")
        return kernel
    if isinstance(kernel, str):
        try:
            spec = get_spec(kernel)
        except UnknownKernelError as err:
            raise UnknownKernelNameError(str(err)) from None
    elif isinstance(kernel, KernelSpec):
        spec = kernel
    else:
        raise InputTypeError(f"kernel must be a registered name, a KernelSpec or a "
                             f"TorchKernel, got {kernel!r}")
    try:
        return TorchKernel(spec, **params)
    except TypeError as err:  # unknown parameter / non-number
        raise InputTypeError(f"kernel {spec.name!r}: {err}") from None
    except ValueError as err:  # out of range, NaN, non-integer degree
        raise InputValueError(f"kernel {spec.name!r}: {err}") from None


def _point(x: Any, name: str) -> np.ndarray:
    arr = as_real_array(x, name)
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InputValueError(f"{name} must be one point of shape (d,), got shape {arr.shape}")
    return arr


# ---------------------------------------------------------------------------
# clean-data quantities
# ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class CleanQuantities:
    """The clean-data quantities at ``(x0, zeta)`` of a clean KRR fit with ridge ``c``.

    Attributes
    ----------
    kernel : TorchKernel
        The kernel (with its hyper-parameters).
    c : float
        The ridge of the clean fit; every evaluator uses this same ``c``.
    n_clean : int
        Number of clean points (``0``: no clean data, ``k~ = k`` and ``f_C = 0``).
    outputs : int or None
        Number of outputs of ``y`` (``None`` for scalar targets).
    x0, zeta : numpy.ndarray
        The triggered input and the trigger, shape ``(d,)``.
    k0, k_zeta : float
        ``k(x0, zeta)`` and ``k(zeta, zeta)``.
    kt0, ktz : float
        The conditional kernel ``k~(x0, zeta)`` and ``k~(zeta, zeta)``, with
        ``k~(x, x') = k(x, x') - k_C(x)^T (K_CC + cI)^{-1} k_C(x')``.
    f_Cz : float or numpy.ndarray
        The clean fit at the trigger, ``f_C(zeta)`` (``(o,)`` for multi-output ``y``).
    grad_k, grad_kt : numpy.ndarray
        ``grad_x k(x0, zeta)`` and ``grad_x k~(x0, zeta)``, shape ``(d,)``.
    """

    kernel: TorchKernel
    c: float
    n_clean: int
    outputs: int | None
    x0: np.ndarray
    zeta: np.ndarray
    k0: float
    k_zeta: float
    kt0: float
    ktz: float
    f_Cz: float | np.ndarray
    grad_k: np.ndarray
    grad_kt: np.ndarray


def _clean_data(X: Any, y: Any, d: int) -> tuple[np.ndarray, np.ndarray | None]:
    if X is None:
        Xa = np.zeros((0, d))
    else:
        Xa = as_real_array(X, "clean inputs X")
        if Xa.ndim != 2:
            raise InputValueError(f"clean inputs X must have shape (n, d), got {Xa.shape}")
        if Xa.shape[0] == 0:
            Xa = np.zeros((0, d))
        elif Xa.shape[1] != d:
            raise InputValueError(f"clean inputs X have {Xa.shape[1]} input dimensions but the "
                                  f"trigger zeta has {d}")
    n = Xa.shape[0]
    if y is None:
        if n:
            raise InputTypeError("clean targets y are required when X has rows")
        return Xa, None
    ya = as_real_array(y, "clean targets y")
    if ya.ndim not in (1, 2):
        raise InputValueError(f"clean targets y must have shape (n,) or (n, outputs), got "
                              f"{ya.shape}")
    if ya.shape[0] != n:
        raise InputValueError(f"clean targets y have {ya.shape[0]} rows but X has {n}")
    if ya.ndim == 2 and ya.shape[1] == 0:
        raise InputValueError("clean targets y have zero outputs")
    return Xa, ya


def clean_quantities(kernel: TorchKernel | KernelSpec | str, X: Any, y: Any, zeta: Any,
                     x0: Any, c: float, **kernel_params: Any) -> CleanQuantities:
    """Fit KRR with ridge ``c`` on the clean data and compute ``k``, ``k~``, ``f_C(zeta)``
    and the gradients at ``(x0, zeta)``.

    Parameters
    ----------
    kernel : str, KernelSpec or TorchKernel
        A registered kernel name (hyper-parameters in ``kernel_params``) or a kernel object.
    X : array_like, shape (n, d)
        Clean inputs; ``n = 0`` (or ``None``) means no clean data.
    y : array_like, shape (n,) or (n, o)
        Clean targets (``None`` allowed when ``n = 0``; a ``(0, o)`` array then fixes the
        number of outputs).
    zeta, x0 : array_like, shape (d,)
        The trigger and the triggered input.
    c : float
        The ridge ``c > 0`` (``alpha = (K + cI)^{-1} y``).

    Returns
    -------
    CleanQuantities
    """
    kern = resolve_kernel(kernel, **kernel_params)
    cc = check_ridge(c)
    z = _point(zeta, "trigger zeta")
    xq = _point(x0, "triggered input x0")
    if xq.shape != z.shape:
        raise InputValueError(f"triggered input x0 has shape {xq.shape} but trigger zeta has "
                              f"{z.shape}")
    Xa, ya = _clean_data(X, y, z.shape[0])
    outputs = int(ya.shape[1]) if ya is not None and ya.ndim == 2 else None
    t = lambda arr: torch.as_tensor(arr, dtype=DEFAULT_DTYPE)  # noqa: E731
    zt, xt = t(z)[None], t(xq)[None]
    k0 = float(kern.gram(xt, zt)[0, 0])
    kz = float(kern.gram(zt, zt)[0, 0])
    g = kern.grad(xt, zt)[0, 0]
    if Xa.shape[0]:
        return clean_quantities_from_fit(KRR(kern, cc).fit(t(Xa), t(ya)), z, xq)
    f_Cz: float | np.ndarray = 0.0 if outputs is None else np.zeros(outputs)
    return CleanQuantities(kernel=kern, c=cc, n_clean=0, outputs=outputs,
                           x0=xq, zeta=z, k0=k0, k_zeta=kz, kt0=k0, ktz=kz, f_Cz=f_Cz,
                           grad_k=g.numpy().copy(), grad_kt=g.numpy().copy())


def clean_quantities_from_fit(clean: KRR, zeta: Any, x0: Any) -> CleanQuantities:
    """:class:`CleanQuantities` of an already fitted clean model (its kernel and ridge; the
    dense fit, the in-place large-``n`` fit of :class:`~numerics.krr.KRR`, or
    :class:`numerics.large_krr.CGKRR`) at ``(x0, zeta)``: what :func:`clean_quantities`
    computes after its own fit, with the clean-data conditionals from their one computation
    (:func:`numerics.poisons.clean_conditionals`)."""
    if getattr(clean, "alpha", None) is None:
        raise InputValueError("clean_quantities_from_fit needs a fitted clean model")
    z, xq = _point(zeta, "trigger zeta"), _point(x0, "triggered input x0")
    if xq.shape != z.shape or z.shape[0] != clean.X.shape[1]:
        raise InputValueError(f"x0 {xq.shape} and zeta {z.shape} must both be points of the "
                              f"fit's dimension {clean.X.shape[1]}")
    dev = clean.device
    zt = torch.as_tensor(z, dtype=DEFAULT_DTYPE, device=dev)[None]
    xt = torch.as_tensor(xq, dtype=DEFAULT_DTYPE, device=dev)[None]
    kern = clean.kernel
    outputs = None if clean.alpha.ndim == 1 else int(clean.alpha.shape[1])
    cond = clean_conditionals(clean, xt, zt)
    f_Cz = cond.fCz if outputs is None else cond.fCz.cpu().numpy().copy()
    return CleanQuantities(
        kernel=kern, c=clean.ridge, n_clean=int(clean.X.shape[0]), outputs=outputs,
        x0=xq, zeta=z, k0=float(kern.gram(xt, zt)[0, 0]), k_zeta=float(kern.gram(zt, zt)[0, 0]),
        kt0=cond.kt0, ktz=cond.ktz, f_Cz=f_Cz,
        grad_k=kern.grad(xt, zt)[0, 0].cpu().numpy().copy(),
        grad_kt=cond.grad.cpu().numpy().copy())


# ---------------------------------------------------------------------------
# the lambdified closed forms (built on first use: SymPy work is not free)
# ---------------------------------------------------------------------------


def _quiet(fn: Any) -> Any:
    """``fn`` with NumPy's overflow / invalid warnings off: a non-finite result is refused
    with :class:`NonFiniteResultError` by the caller instead."""

    def call(*args: Any) -> Any:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return fn(*args)

    return call


@cache
def _forms() -> dict[str, Any]:
    spike1 = ros.spike_eigen(1)
    g_sym = spike1["eigenvector"][0]  # the gradient symbol of the d = 1 spike
    exact = ps.exact_shift()
    stated = ps.dominance_shift()
    forms = {
        "stated": sp.lambdify((ps.k0, k_zeta, y_t_sym, m_sym, c_sym), stated, "numpy"),
        "exact": sp.lambdify((ps.kt0, ps.ktz, ps.f_Cz, y_t_sym, m_sym, c_sym), exact, "numpy"),
        "stated_gain": sp.lambdify((k_zeta, m_sym, c_sym), sg.gain(), "numpy"),
        "exact_gain": sp.lambdify((ps.ktz, m_sym, c_sym), ps.exact_gain(), "numpy"),
        # b_m = d Delta f / d k~(x0, zeta): the shift is linear in k~ (C3's derivation)
        "b_exact": sp.lambdify((ps.ktz, ps.f_Cz, y_t_sym, m_sym, c_sym),
                               sp.diff(exact, ps.kt0), "numpy"),
        "b_stated": sp.lambdify((k_zeta, y_t_sym, m_sym, c_sym),
                                sp.diff(stated, ps.k0), "numpy"),
        # the eigenvalue b^2 |g|^2 of b^2 g g^T (only |g| enters; d = 1 is the generic form)
        "eigenvalue": sp.lambdify((ros.bm, g_sym), spike1["eigenvalue"], "numpy"),
    }
    return {key: _quiet(fn) for key, fn in forms.items()}


@cache
def _R_k_function(spec: KernelSpec):
    args = ((r,) if spec.family == "isotropic" else (a, b, u)) + spec.param_symbols
    return lambdify_torch(args, ros.R_k(spec))


def _as_out(v: Any, what: str) -> float | np.ndarray:
    arr = np.asarray(v, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise NonFiniteResultError(f"the {what} is not finite in float64 ({arr}): the inputs "
                                   "(y_t, m, c, the data) are of extreme magnitude")
    return float(arr) if arr.ndim == 0 else arr.copy()


def _check_q(q: Any) -> CleanQuantities:
    if not isinstance(q, CleanQuantities):
        raise InputTypeError(f"expected the CleanQuantities of clean_quantities(), got {q!r}")
    return q


def stated_shift(q: CleanQuantities, m: int, y_t: Any) -> float | np.ndarray:
    """The paper's ``Delta f(x0) = k(x0, zeta) y_t S(m; c)`` (dominance assumption).

    Parameters
    ----------
    q : CleanQuantities
        From :func:`clean_quantities` (it fixes the kernel, the data and the ridge ``c``).
    m : int
        The number of clones, ``>= 0``.
    y_t : float or array_like, shape (o,)
        The attacker's label (a vector for multi-output ``y``).

    Returns
    -------
    float or numpy.ndarray
        The shift at ``x0`` (shape ``(o,)`` for a vector label).
    """
    q = _check_q(q)
    mm, yt = check_count(m), check_label(y_t, q.outputs)
    return _as_out(_forms()["stated"](q.k0, q.k_zeta, yt, mm, q.c), "stated shift")


def exact_shift(q: CleanQuantities, m: int, y_t: Any) -> float | np.ndarray:
    """``Delta f(x0) = k~(x0, zeta) (y_t - f_C(zeta)) m / (c + m k~(zeta, zeta))`` (exact
    for ``m`` exact clones of ``zeta``); parameters and return as :func:`stated_shift`."""
    q = _check_q(q)
    mm, yt = check_count(m), check_label(y_t, q.outputs)
    return _as_out(_forms()["exact"](q.kt0, q.ktz, q.f_Cz, yt, mm, q.c), "exact shift")


def stated_gain(q: CleanQuantities, m: int) -> float:
    """``S(m; c) = m / (c + m k(zeta, zeta))``."""
    q = _check_q(q)
    return float(_as_out(_forms()["stated_gain"](q.k_zeta, check_count(m), q.c), "stated gain"))


def exact_gain(q: CleanQuantities, m: int) -> float:
    """``S~(m; c) = m / (c + m k~(zeta, zeta))``."""
    q = _check_q(q)
    return float(_as_out(_forms()["exact_gain"](q.ktz, check_count(m), q.c), "exact gain"))


def R_k(q: CleanQuantities) -> float:
    """``R_k = |grad_x k(x0, zeta)|^2 / k(x0, zeta)^2``, the derived expression of
    :func:`derivations.rank_one_spike.R_k` in the family's variables (finite even where
    ``k`` underflows, e.g. ``r^2 / ell^4`` for the Gaussian)."""
    q = _check_q(q)
    spec, kern = q.kernel.spec, q.kernel
    params = [torch.tensor(float(kern.params[p.name]), dtype=DEFAULT_DTYPE)
              for p in spec.params]
    x0, z = torch.as_tensor(q.x0), torch.as_tensor(q.zeta)
    if spec.family == "isotropic":
        inv = (torch.linalg.vector_norm(x0 - z)[None],)
    else:
        inv = ((x0 @ x0)[None], (z @ z)[None], (x0 @ z)[None])
    return float(_R_k_function(spec)(*inv, *params)[0])


def R_k_tilde(q: CleanQuantities) -> float:
    """``R_k~ = |grad_x k~(x0, zeta)|^2 / k~(x0, zeta)^2`` (its definition); ``inf`` when
    ``k~ = 0 != grad k~``, ``nan`` when both vanish (see the module docstring)."""
    q = _check_q(q)
    g2 = float(q.grad_kt @ q.grad_kt)
    if q.kt0 == 0.0:
        return math.inf if bool(np.any(q.grad_kt != 0)) else math.nan
    if q.kt0**2 == 0.0 or g2 == 0.0:  # a square underflows: |grad k~| / |k~|, squared
        s = float(np.abs(q.grad_kt).max())
        gnorm = s * float(np.linalg.norm(q.grad_kt / s)) if s > 0 else 0.0
        ratio = gnorm / abs(q.kt0)
        return ratio * ratio  # inf past float64 (a float product does not raise)
    return g2 / q.kt0**2


def _unit(g: np.ndarray) -> np.ndarray:
    s = float(np.max(np.abs(g))) if g.size else 0.0
    if s == 0.0:
        return np.zeros_like(g)
    gs = g / s  # scaled first: |g| of a subnormal gradient is exact this way
    return gs / np.linalg.norm(gs)


def _eigenvalue(bm: Any, g: np.ndarray) -> float:
    s = float(np.max(np.abs(g))) if g.size else 0.0
    if s == 0.0:
        return 0.0
    gnorm = s * float(np.linalg.norm(g / s))
    lam = _forms()["eigenvalue"](np.asarray(bm, dtype=np.float64), gnorm)
    # one-hot: sum over outputs of b_o^2 |g|^2
    return _as_out(np.sum(lam), "spike eigenvalue")


def spike(q: CleanQuantities, m: int, y_t: Any) -> tuple[float, np.ndarray]:
    """The exact rank-one spike of ``sum_o grad Delta f_o grad Delta f_o^T`` at ``x0``.

    Parameters
    ----------
    q : CleanQuantities
        From :func:`clean_quantities`.
    m : int
        The number of clones, ``>= 0``.
    y_t : float or array_like, shape (o,)
        The attacker's label.

    Returns
    -------
    eigenvalue : float
        ``b_m^2 |grad k~|^2`` (summed over outputs; ``= R_k~ |Delta f|^2`` when ``k~ != 0``).
    eigenvector : numpy.ndarray, shape (d,)
        ``grad k~ / |grad k~|``, or the zero vector when the eigenvalue is 0 (``grad k~ = 0``,
        e.g. ``k~`` underflowed far from ``zeta``, or ``m = 0``).
    """
    q = _check_q(q)
    mm, yt = check_count(m), check_label(y_t, q.outputs)
    bm = _forms()["b_exact"](q.ktz, q.f_Cz, yt, mm, q.c)
    lam = _eigenvalue(bm, q.grad_kt)
    return lam, (_unit(q.grad_kt) if lam > 0 else np.zeros_like(q.grad_kt))


def stated_spike(q: CleanQuantities, m: int, y_t: Any) -> tuple[float, np.ndarray]:
    """The spike as stated (dominance: ``k~ = k``): eigenvalue ``R_k Delta f_stated^2``
    (evaluated as ``b^2 |grad k|^2``), eigenvector ``grad k / |grad k|``; zero as in
    :func:`spike`."""
    q = _check_q(q)
    mm, yt = check_count(m), check_label(y_t, q.outputs)
    bm = _forms()["b_stated"](q.k_zeta, yt, mm, q.c)
    lam = _eigenvalue(bm, q.grad_k)
    return lam, (_unit(q.grad_k) if lam > 0 else np.zeros_like(q.grad_k))
