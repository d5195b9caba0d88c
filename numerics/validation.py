"""Input checks shared by every numerical routine: clear errors, never a silent NaN."""

from __future__ import annotations

import warnings

import numpy as np
import torch

DEFAULT_DTYPE = torch.float64

__all__ = [
    "DEFAULT_DTYPE",
    "NotPSDError",
    "SingularSystemError",
    "NonDifferentiableError",
    "KernelOverflowError",
    "NotFittedError",
    "Float32InputWarning",
    "warn_narrow_input",
    "warn_narrow_dtype",
    "as_tensor",
    "as_points",
    "as_targets",
    "check_finite",
    "real_matrix",
    "check_positive",
    "resolve_device",
]


class NotPSDError(ValueError):
    """A kernel (Gram) matrix is not positive semi-definite."""


class SingularSystemError(ValueError):
    """A linear system is singular or not positive definite to working precision."""


class NotFittedError(RuntimeError):
    """A model was used (predicted with, differentiated, compared) before ``fit``."""


class NonDifferentiableError(ValueError):
    """A derivative was requested where the kernel is not differentiable (e.g. x = x')."""


class Float32InputWarning(UserWarning):
    """Input in a floating dtype narrower than float64 (float32, float16, bfloat16), or a
    computation dtype below float64 requested.

    Every claim of the suite is checked in float64: a float32 input is upcast to float64
    (exactly: no digits are lost by the cast), but it carries only ~7 significant digits
    (float16 ~3, bfloat16 ~2), so results agree with the float64 computation on exactly
    representable data only to those digits.  Convert to float64 yourself (``x.double()``,
    ``np.asarray(x, dtype=np.float64)``) to silence it knowingly."""


#: significant decimal digits of the narrow floating dtypes (for the warning's message)
_NARROW_DIGITS = {torch.float32: 7, torch.float16: 3, torch.bfloat16: 2,
                  np.dtype(np.float32): 7, np.dtype(np.float16): 3}


def _narrow_digits(dt) -> int | None:
    """Significant digits of a floating dtype narrower than float64; ``None`` otherwise."""
    if isinstance(dt, torch.dtype):
        return _NARROW_DIGITS.get(dt)
    try:
        return _NARROW_DIGITS.get(np.dtype(dt))
    except TypeError:
        return None


def warn_narrow_input(dt, name: str) -> None:
    """Issue :class:`Float32InputWarning` when ``dt`` is a floating dtype narrower than
    float64 (``name`` names the input)."""
    digits = _narrow_digits(dt)
    if digits is not None:
        warnings.warn(
            f"{name} is {dt}: it is upcast to float64, but carries only ~{digits} "
            "significant digits (every claim is checked in float64; pass float64 input)",
            Float32InputWarning, stacklevel=4)


def warn_narrow_dtype(dtype: torch.dtype, name: str) -> None:
    """Issue :class:`Float32InputWarning` when the computation ``dtype`` is below float64."""
    if dtype.is_floating_point and torch.finfo(dtype).bits < 64:
        warnings.warn(
            f"{name}: computation dtype {dtype} requested; results carry only "
            f"~{_NARROW_DIGITS.get(dtype, 7)} significant digits (every claim is checked in "
            "float64)", Float32InputWarning, stacklevel=4)


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cpu")
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {device!r}")
    try:
        dev = torch.device(device)
    except RuntimeError as err:  # e.g. "nope", "cpu "
        raise ValueError(f"invalid device {device!r}: {err}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def as_tensor(x, *, name: str = "input", dtype: torch.dtype = DEFAULT_DTYPE,
              device: str | torch.device | None = None) -> torch.Tensor:
    """Convert ``x`` to a floating tensor (float64 by default), checking finiteness.

    Real numbers only: complex input (whose imaginary part a cast would drop), booleans,
    strings and other non-numeric objects raise :class:`TypeError` naming ``name``.

    Float32 policy: input in a narrower floating dtype (float32, float16, bfloat16) is
    accepted, upcast to float64, with a :class:`Float32InputWarning` naming ``name``; a
    computation ``dtype`` below float64 is honoured with the same warning (every claim is
    checked in float64).  A ``dtype`` that is not floating raises :class:`TypeError`.
    """
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype for {name} must be a torch floating dtype, got {dtype!r}")
    warn_narrow_dtype(dtype, name)
    if isinstance(x, torch.Tensor):
        _check_real_dtype(x.dtype, name)
        warn_narrow_input(x.dtype, name)
        t = x.to(dtype=dtype, device=device if device is not None else x.device)
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:  # ragged nested sequences, ...
            raise TypeError(f"{name} must be an array of real numbers: {err}") from None
        if arr.dtype == object:  # e.g. a list of tensors, or of mixed objects
            for v in arr.ravel():
                if (v is None or isinstance(v, (str, bytes, bool, np.bool_))
                        or np.iscomplexobj(v) or (isinstance(v, torch.Tensor) and (
                            v.dtype.is_complex or v.dtype == torch.bool))):
                    raise TypeError(f"{name} must hold real numbers only, got {v!r}")
            try:
                arr = np.asarray(x, dtype=np.float64)
            except OverflowError:  # a Python int beyond float64
                raise ValueError(f"{name} holds a number beyond the float64 range") from None
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must be an array of real numbers: {err}") from None
        _check_real_dtype(arr.dtype, name)
        warn_narrow_input(arr.dtype, name)
        t = torch.as_tensor(arr.astype(np.float64), dtype=dtype, device=resolve_device(device))
    check_finite(t, name)
    return t


def real_matrix(t, name: str, *, finite: bool = True) -> torch.Tensor:
    """``t`` if it is a real floating ``torch.Tensor`` (with finite entries when ``finite``)
    -- the check of the low-level routines that take tensors as they are (no copy, no
    cast); ``TypeError``/``ValueError`` naming ``name`` otherwise."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.dtype.is_floating_point:
        raise TypeError(f"{name} must be a real floating tensor, got {t.dtype}")
    if finite:
        check_finite(t, name)
    return t


def _check_real_dtype(dt, name: str) -> None:
    """Refuse dtypes that are not real numbers (see :func:`as_tensor`)."""
    if isinstance(dt, torch.dtype):
        if dt.is_complex:
            raise TypeError(f"{name} is complex ({dt}); only real inputs are accepted (the "
                            "imaginary part would be dropped)")
        if dt == torch.bool:
            raise TypeError(f"{name} is boolean ({dt}); pass real numbers")
        return
    kind = np.dtype(dt).kind
    if kind == "c":
        raise TypeError(f"{name} is complex ({dt}); only real inputs are accepted (the "
                        "imaginary part would be dropped)")
    if kind == "b":
        raise TypeError(f"{name} is boolean ({dt}); pass real numbers")
    if kind not in "iuf":
        raise TypeError(f"{name} must be an array of real numbers, got dtype {dt}")


def check_finite(t: torch.Tensor, name: str) -> torch.Tensor:
    """``t`` unchanged if it is a real tensor with finite entries; ``ValueError`` naming
    ``name`` for NaN/inf, ``TypeError`` for a non-tensor or a complex/bool tensor."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    _check_real_dtype(t.dtype, name)
    if not bool(torch.isfinite(t).all()):
        bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return t


def as_points(x, *, name: str = "X", d: int | None = None, dtype: torch.dtype = DEFAULT_DTYPE,
              device: str | torch.device | None = None) -> torch.Tensor:
    """A 2-D ``(n, d)`` float tensor of points; a 1-D input is one point."""
    t = as_tensor(x, name=name, dtype=dtype, device=device)
    if t.ndim == 1:
        t = t[None, :]
    if t.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (n, d); got shape {tuple(t.shape)}")
    if t.shape[1] == 0:
        raise ValueError(f"{name} has zero input dimensions")
    if d is not None and t.shape[1] != d:
        raise ValueError(
            f"{name} has {t.shape[1]} input dimensions but {d} were expected "
            f"(shape {tuple(t.shape)})"
        )
    return t


def as_targets(y, n: int, *, name: str = "y", dtype: torch.dtype = DEFAULT_DTYPE,
               device: str | torch.device | None = None) -> torch.Tensor:
    """Targets of shape ``(n,)`` or ``(n, outputs)`` matching ``n`` points."""
    t = as_tensor(y, name=name, dtype=dtype, device=device)
    if t.ndim not in (1, 2):
        raise ValueError(f"{name} must have shape (n,) or (n, outputs); got {tuple(t.shape)}")
    if t.shape[0] != n:
        raise ValueError(f"{name} has {t.shape[0]} rows but there are {n} points")
    return t


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> float:
    """``value`` as a finite float ``> 0`` (``>= 0`` with ``allow_zero``); ``TypeError``
    for a non-number (``bool``, complex, strings, arrays of several values), ``ValueError``
    otherwise, naming ``name``."""
    if isinstance(value, (bool, np.bool_)) or (
            isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        v = float(value)
    except OverflowError:
        raise ValueError(f"{name} = {value!r} is beyond the float64 range") from None
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a real number, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if not (v > 0 or (allow_zero and v == 0)):
        need = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be {need}, got {value!r}")
    return v


class KernelOverflowError(ValueError):
    """A kernel value or derivative coefficient overflowed float64 (e.g. ``exp(u / s^2)``
    at small ``s``): the kernel is fine there mathematically, the evaluation is not.
    Distinct from :class:`NonDifferentiableError` (no derivative exists)."""
