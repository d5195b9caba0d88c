"""The documented public API of poisoncurv: the derived closed forms on your own data.

Entry points (all re-exported by :mod:`numerics`)

:func:`shift_and_spike`
    For a kernel, clean data ``(X, y)``, ``m`` clones of a trigger ``zeta`` labelled ``y_t``,
    a triggered input ``x0`` and a ridge ``c``: the stated and the exact prediction shift,
    the gain, ``R_k``, ``R_k~`` and the exact rank-one spike (eigenvalue and eigenvector),
    optionally measured independently by refitting the poisoned KRR (``measure=True``).
:func:`classify_near_clone`
    Is a kernel's spike invisible for near-clone triggers (``R_k -> 0`` as ``x0 -> zeta``)?
:func:`lag_numbers`
    The poison counts at which the attack succeeds and becomes detectable (C5).
:func:`list_kernels`
    The registered kernels: name, family, title and hyper-parameters with their ranges.
Penalised KRR
    :class:`~numerics.regularised.RegularisedKRR` and
    :func:`~numerics.regularised.fit_loss_gradient_penalty` (input-gradient penalties,
    C8-C12), re-exported unchanged.

Inputs may be NumPy arrays, nested lists or torch tensors; computations are float64 on
the CPU.  Every function validates its inputs and raises
:class:`~numerics.closed_forms.InputValueError` (a ``ValueError``),
:class:`~numerics.closed_forms.InputTypeError` (a ``TypeError``) or
:class:`~numerics.closed_forms.UnknownKernelNameError` with a message naming the argument;
numerical failures of the fit raise the errors of :mod:`numerics.validation`
(``SingularSystemError``, ``NotPSDError``, ``NonDifferentiableError``, all ``ValueError`` s).
float32 (or narrower) input is upcast to float64 with a
:class:`~numerics.validation.Float32InputWarning` (it carries only ~7 significant digits;
every claim is checked in float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from derivations import detectability_lag as _lag
from derivations import near_clone as _near_clone
from derivations.kernels import KernelSpec, iter_specs
from numerics import closed_forms as cf
from numerics.closed_forms import (
    InputTypeError,
    InputValueError,
    NonFiniteResultError,
    UnknownKernelNameError,
)
from numerics.kernels import TorchKernel
from numerics.regularised import RegularisedKRR, fit_loss_gradient_penalty
from numerics.validation import DEFAULT_DTYPE, Float32InputWarning

__all__ = [
    "ShiftSpikeResult",
    "shift_and_spike",
    "classify_near_clone",
    "lag_numbers",
    "list_kernels",
    "KernelInfo",
    "ParamInfo",
    "RegularisedKRR",
    "fit_loss_gradient_penalty",
    "InputValueError",
    "InputTypeError",
    "UnknownKernelNameError",
    "NonFiniteResultError",
    "Float32InputWarning",
]


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (float, np.floating)):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, np.integer):
        return int(v)
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, np.ndarray):
        return "[" + ", ".join(f"{x:.6g}" for x in v.tolist()) + "]"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


@dataclass(frozen=True, eq=False)
class ShiftSpikeResult:
    """The closed forms of C1-C3 on one instance (see :func:`shift_and_spike`).

    Shifts are floats for scalar targets and arrays ``(o,)`` for multi-output targets;
    vectors are NumPy arrays.

    Attributes
    ----------
    stated_shift : float or numpy.ndarray
        The paper's ``k(x0, zeta) y_t S(m; c)`` (dominance assumption).
    exact_shift : float or numpy.ndarray
        ``k~(x0, zeta) (y_t - f_C(zeta)) S~(m; c)`` (exact for exact clones).
    gain : float
        The exact gain ``S~(m; c) = m / (c + m k~(zeta, zeta))``.
    stated_gain : float
        The stated gain ``S(m; c) = m / (c + m k(zeta, zeta))``.
    spike_eigenvalue : float
        Top eigenvalue of the poison Gauss-Newton term ``sum_o grad Delta f_o grad
        Delta f_o^T`` at ``x0`` (``R_k~ |Delta f|^2``); ``0.0`` when ``grad k~ = 0``.
    spike_eigenvector : numpy.ndarray
        ``grad k~ / |grad k~|`` (shape ``(d,)``); the zero vector when the eigenvalue is 0.
    stated_spike_eigenvalue : float
        ``R_k Delta f_stated^2`` (dominance), with eigenvector ``stated_spike_eigenvector``
        ``= grad k / |grad k|``.
    R_k, R_k_tilde : float
        ``|grad k|^2 / k^2`` and ``|grad k~|^2 / k~^2`` at ``(x0, zeta)`` (``R_k_tilde``
        is ``inf`` or ``nan`` when ``k~ = 0``; see :mod:`numerics.closed_forms`).
    k0, k_zeta, kt0, ktz : float
        ``k(x0, zeta)``, ``k(zeta, zeta)``, ``k~(x0, zeta)``, ``k~(zeta, zeta)``.
    f_C_zeta : float or numpy.ndarray
        The clean fit at the trigger.
    kernel, kernel_params : str, dict
        The kernel's registry name and hyper-parameters.
    c, m, y_t, n_clean, d :
        The ridge, the poison count, the attacker's label, the number of clean points and
        the input dimension.
    measured : dict or None
        With ``measure=True``: ``shift`` (refitted ``f_poisoned(x0) - f_clean(x0)``),
        ``spike_eigenvalue`` and ``spike_eigenvector`` (top eigenpair of the autograd
        poison Gauss-Newton term of the refits; the eigenvector's sign is chosen to agree
        with ``spike_eigenvector``, and it is the zero vector when the measured term is the
        zero matrix); ``None`` otherwise.
    """

    stated_shift: float | np.ndarray
    exact_shift: float | np.ndarray
    gain: float
    stated_gain: float
    spike_eigenvalue: float
    spike_eigenvector: np.ndarray
    stated_spike_eigenvalue: float
    stated_spike_eigenvector: np.ndarray
    R_k: float
    R_k_tilde: float
    k0: float
    k_zeta: float
    kt0: float
    ktz: float
    f_C_zeta: float | np.ndarray
    kernel: str
    kernel_params: dict[str, float | int]
    c: float
    m: int
    y_t: float | np.ndarray
    n_clean: int
    d: int
    measured: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready ``dict`` (arrays as lists; ``inf``/``nan`` as ``None``)."""
        out = {k: getattr(self, k) for k in self.__dataclass_fields__}
        return _jsonable(out)

    def summary(self) -> str:
        """A short human-readable report."""
        ps = ", ".join(f"{k}={v}" for k, v in self.kernel_params.items())
        lines = [
            f"kernel {self.kernel}({ps}), ridge c = {self.c:g}, m = {self.m} clones, "
            f"y_t = {_fmt(self.y_t)}, {self.n_clean} clean points in d = {self.d}",
            f"  prediction shift at x0: stated {_fmt(self.stated_shift)}, "
            f"exact {_fmt(self.exact_shift)}",
            f"  gain: stated S = {self.stated_gain:.6g}, exact S~ = {self.gain:.6g}",
            f"  R_k = {self.R_k:.6g}, R_k~ = {self.R_k_tilde:.6g}",
            f"  spike eigenvalue: stated {self.stated_spike_eigenvalue:.6g}, "
            f"exact {self.spike_eigenvalue:.6g}",
        ]
        if self.measured is not None:
            lines.append(f"  measured by refit: shift {_fmt(self.measured['shift'])}, "
                         f"spike eigenvalue {self.measured['spike_eigenvalue']:.6g}")
        return "\n".join(lines)


def _measure(q: cf.CleanQuantities, X: Any, y: Any, m: int, y_t: Any,
             predicted: np.ndarray) -> dict[str, Any]:
    """Refit with and without ``m`` clones and measure the shift and the GN spike."""
    from numerics.poisons import (
        autograd_gn_term,
        clone_cluster,
        fit_clean_and_poisoned,
        measured_shift,
        top_eigenpairs,
    )

    d = q.zeta.shape[0]
    if m == 0:  # the poisoned fit is the clean fit: nothing moves
        zero = 0.0 if q.outputs is None else np.zeros(q.outputs)
        return {"shift": zero, "spike_eigenvalue": 0.0, "spike_eigenvector": np.zeros(d)}
    t = lambda a: torch.as_tensor(a, dtype=DEFAULT_DTYPE)  # noqa: E731
    zt, xt = t(q.zeta), t(q.x0)[None]
    Xp, yp = clone_cluster(zt, m, t(y_t))
    Xc = t(np.zeros((0, d)) if q.n_clean == 0 else cf.as_real_array(X, "clean inputs X"))
    yc = (t(np.zeros((0,) if q.outputs is None else (0, q.outputs))) if q.n_clean == 0
          else t(cf.as_real_array(y, "clean targets y")))
    clean, poisoned = fit_clean_and_poisoned(q.kernel, q.c, Xc, yc, Xp, yp)
    shift = measured_shift(clean, poisoned, xt)[0].numpy()
    vals, vecs = top_eigenpairs(autograd_gn_term(clean, poisoned, xt)[0], 1)
    v = vecs[:, 0].numpy().copy()
    if float(vals[0]) == 0.0:  # the zero matrix: no direction (as in the closed form)
        v = np.zeros(d)
    elif float(v @ predicted) < 0:
        v = -v
    return {"shift": float(shift) if q.outputs is None else shift.copy(),
            "spike_eigenvalue": float(vals[0]), "spike_eigenvector": v}


def shift_and_spike(kernel: str | TorchKernel, X: Any, y: Any, zeta: Any, m: int, y_t: Any,
                    x0: Any, c: float, *, measure: bool = False,
                    **kernel_params: float | int) -> ShiftSpikeResult:
    """Prediction shift and input-Hessian spike of ``m`` clones of a trigger, in closed form.

    Parameters
    ----------
    kernel : str or TorchKernel
        A registered kernel name (see :func:`list_kernels`), its hyper-parameters given as
        keywords (``ell=0.5``), or a :class:`~numerics.kernels.TorchKernel`.
    X : array_like, shape (n, d)
        Clean training inputs; ``n = 0`` (an empty ``(0, d)`` array or ``None``) means no
        clean data.
    y : array_like, shape (n,) or (n, o)
        Clean targets; ``(n, o)`` (e.g. one-hot) for a multi-output fit.  ``None`` is
        accepted when ``n = 0`` (scalar outputs).
    zeta : array_like, shape (d,)
        The trigger: the ``m`` poisons are exact copies of it.
    m : int
        The number of poisons, ``>= 0``.
    y_t : float or array_like, shape (o,)
        The attacker's label (a vector of length ``o`` for multi-output ``y``).
    x0 : array_like, shape (d,)
        The triggered input at which the shift and the spike are evaluated.
    c : float
        The ridge ``c > 0`` of ``alpha = (K + cI)^{-1} y``, the same for the clean and the
        poisoned fit (the paper's ``n lambda``: see
        :func:`derivations.conventions.ridge_from_lambda`).
    measure : bool, default False
        Also refit the clean and the poisoned KRR and measure the shift and the top
        eigenpair of the poison Gauss-Newton term by autograd (an independent check of the
        closed forms; costs two fits).
    **kernel_params
        Hyper-parameters of a kernel given by name.

    Returns
    -------
    ShiftSpikeResult

    Raises
    ------
    InputValueError, InputTypeError, UnknownKernelNameError
        Bad inputs (the message names the argument).
    NonFiniteResultError
        A shift, gain or spike overflows float64 (inputs of extreme magnitude).
    numerics.validation.SingularSystemError, numerics.validation.NonDifferentiableError
        The clean system is singular to working precision (increase ``c``), or the kernel
        has no gradient at ``(x0, zeta)`` (e.g. Laplace at ``x0 = zeta``).

    Examples
    --------
    >>> import numpy as np
    >>> from numerics import shift_and_spike
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    >>> zeta = np.array([1.0, 0.0, 0.0]); x0 = zeta + 0.2
    >>> res = shift_and_spike("gaussian", X, y, zeta, m=5, y_t=2.0, x0=x0, c=0.1, ell=1.0)
    >>> res.spike_eigenvalue >= 0
    True
    """
    if not isinstance(measure, bool):
        raise InputTypeError(f"measure must be True or False, got {measure!r}")
    q = cf.clean_quantities(kernel, X, y, zeta, x0, c, **kernel_params)
    mm = cf.check_count(m)
    yt = cf.check_label(y_t, q.outputs)
    shifts = cf.stated_shift(q, mm, yt), cf.exact_shift(q, mm, yt)
    lam, vec = cf.spike(q, mm, yt)
    lam_s, vec_s = cf.stated_spike(q, mm, yt)
    measured = _measure(q, X, y, mm, yt, vec) if measure else None
    return ShiftSpikeResult(
        stated_shift=shifts[0], exact_shift=shifts[1],
        gain=cf.exact_gain(q, mm), stated_gain=cf.stated_gain(q, mm),
        spike_eigenvalue=lam, spike_eigenvector=vec,
        stated_spike_eigenvalue=lam_s, stated_spike_eigenvector=vec_s,
        R_k=cf.R_k(q), R_k_tilde=cf.R_k_tilde(q),
        k0=q.k0, k_zeta=q.k_zeta, kt0=q.kt0, ktz=q.ktz, f_C_zeta=q.f_Cz,
        kernel=q.kernel.name, kernel_params=dict(q.kernel.params), c=q.c, m=mm,
        y_t=yt if isinstance(yt, float) else yt.copy(), n_clean=q.n_clean,
        d=int(q.zeta.shape[0]), measured=measured,
    )


def classify_near_clone(kernel: str | KernelSpec | TorchKernel) -> _near_clone.NearCloneClass:
    """Classify a kernel for near-clone triggers (C6): does ``R_k -> 0`` as ``x0 -> zeta``?

    Parameters
    ----------
    kernel : str, KernelSpec or TorchKernel
        A registered name, a spec, or a kernel object (its spec is classified; the
        classification is symbolic, over all hyper-parameter values).

    Returns
    -------
    derivations.near_clone.NearCloneClass
        ``verdict`` (``"invisible"`` or ``"visible"``), the limit of ``R_k``, its order in
        ``r`` and the reason.
    """
    if isinstance(kernel, TorchKernel):
        spec = kernel.spec
    elif isinstance(kernel, (str, KernelSpec)):
        spec = cf.resolve_kernel(kernel).spec
    else:
        raise InputTypeError(f"kernel must be a registered name, a KernelSpec or a "
                             f"TorchKernel, got {kernel!r}")
    return _near_clone.classify_near_clone(spec)


def lag_numbers(k0: float, k_zeta: float, y_t: float, R_k: float, c: float, tau: float,
                delta: float) -> _lag.LagNumbers:
    """Poison counts for success and for detection of a clone attack (C5, stated form).

    Parameters
    ----------
    k0 : float
        ``k(x0, zeta)``, non-zero.
    k_zeta : float
        ``k(zeta, zeta) > 0``.
    y_t : float
        The attacker's label, non-zero.
    R_k : float
        ``R_k(x0, zeta) >= 0`` (e.g. the ``R_k`` of a :class:`ShiftSpikeResult`).
    c : float
        The ridge, ``> 0``.
    tau : float
        Success threshold on ``|Delta f(x0)|``, ``> 0``.
    delta : float
        Detection threshold on the spike eigenvalue, ``> 0``.

    Returns
    -------
    derivations.detectability_lag.LagNumbers
        A ``dict`` with ``m_succ``, ``m_det`` (real, ``inf`` when never reached), their
        ceilings ``m_succ_int``, ``m_det_int``, ``lag``, ``max_shift``, ``max_spike``,
        ``never_successful`` and ``never_detectable``.
    """
    vals = {name: cf._real_scalar(v, name) for name, v in (
        ("k0", k0), ("k_zeta", k_zeta), ("y_t", y_t), ("R_k", R_k), ("c", c), ("tau", tau),
        ("delta", delta))}
    for name in ("k_zeta", "c", "tau", "delta"):
        if not vals[name] > 0:
            raise InputValueError(f"{name} must be positive, got {vals[name]!r}")
    if not vals["R_k"] >= 0:
        raise InputValueError(f"R_k must be non-negative, got {vals['R_k']!r}")
    if vals["k0"] * vals["y_t"] == 0:
        raise InputValueError("k0 * y_t = 0: the clones cannot move f(x0) (k0 and y_t must be "
                              "non-zero)")
    return _lag.lag_numbers(vals["k0"], vals["k_zeta"], vals["y_t"], vals["R_k"], vals["c"],
                            vals["tau"], vals["delta"])


@dataclass(frozen=True)
class ParamInfo:
    """A kernel hyper-parameter: name, default, declared inclusive ``bounds`` (``None`` for
    an open end, or ``None`` when only the sign constraint applies), ``positive`` /
    ``nonnegative`` / ``integer`` constraints, and a description."""

    name: str
    default: float | int
    bounds: tuple[float | int | None, float | int | None] | None
    positive: bool
    nonnegative: bool
    integer: bool
    doc: str


@dataclass(frozen=True)
class KernelInfo:
    """A registered kernel: ``name``, ``family``, ``title`` and its hyper-parameters."""

    name: str
    family: str
    title: str
    params: tuple[ParamInfo, ...]


def list_kernels() -> list[KernelInfo]:
    """The registered kernels (built-in and user-registered), in registration order."""
    out = []
    for spec in iter_specs():
        params = tuple(ParamInfo(
            name=p.name, default=p.default, bounds=p.bounds,
            positive=bool(p.symbol.is_positive), nonnegative=bool(p.symbol.is_nonnegative),
            integer=bool(p.symbol.is_integer), doc=p.doc) for p in spec.params)
        out.append(KernelInfo(name=spec.name, family=spec.family, title=spec.title or spec.name,
                              params=params))
    return out
