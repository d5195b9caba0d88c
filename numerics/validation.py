"""Input checks shared by every numerical routine: clear errors, never a silent NaN."""

from __future__ import annotations

import numpy as np
import torch

DEFAULT_DTYPE = torch.float64

__all__ = [
    "DEFAULT_DTYPE",
    "NotPSDError",
    "SingularSystemError",
    "NonDifferentiableError",
    "KernelOverflowError",
    "as_tensor",
    "as_points",
    "as_targets",
    "check_finite",
    "check_positive",
    "resolve_device",
]


class NotPSDError(ValueError):
    """A kernel (Gram) matrix is not positive semi-definite."""


class SingularSystemError(ValueError):
    """A linear system is singular or not positive definite to working precision."""


class NonDifferentiableError(ValueError):
    """A derivative was requested where the kernel is not differentiable (e.g. x = x')."""


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return dev


def as_tensor(x, *, name: str = "input", dtype: torch.dtype = DEFAULT_DTYPE,
              device: str | torch.device | None = None) -> torch.Tensor:
    """Convert ``x`` to a floating tensor (float64 by default), checking finiteness.

    Real numbers only: complex input (whose imaginary part a cast would drop), booleans,
    strings and other non-numeric objects raise :class:`TypeError` naming ``name``.
    """
    if isinstance(x, torch.Tensor):
        _check_real_dtype(x.dtype, name)
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
            except (TypeError, ValueError) as err:
                raise TypeError(f"{name} must be an array of real numbers: {err}") from None
        _check_real_dtype(arr.dtype, name)
        t = torch.as_tensor(arr.astype(np.float64), dtype=dtype, device=resolve_device(device))
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
    try:
        v = float(value)
    except (TypeError, ValueError):
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
