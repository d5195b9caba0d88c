"""poisoncurv's numerics: float64 torch evaluation of the derived closed forms.

The public API (documented in the book's API reference page) is importable from here::

    from numerics import shift_and_spike, classify_near_clone, lag_numbers, list_kernels

The names are resolved lazily (module ``__getattr__``): ``import numerics`` itself imports
neither torch nor SymPy; the first access of a name imports its module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # the closed forms on data (numerics.api)
    "shift_and_spike": "numerics.api",
    "ShiftSpikeResult": "numerics.api",
    "classify_near_clone": "numerics.api",
    "lag_numbers": "numerics.api",
    "list_kernels": "numerics.api",
    "KernelInfo": "numerics.api",
    "ParamInfo": "numerics.api",
    # the lower-level evaluators (numerics.closed_forms)
    "clean_quantities": "numerics.closed_forms",
    "CleanQuantities": "numerics.closed_forms",
    # named input errors
    "InputValueError": "numerics.closed_forms",
    "InputTypeError": "numerics.closed_forms",
    "UnknownKernelNameError": "numerics.closed_forms",
    "NonFiniteResultError": "numerics.closed_forms",
    # kernels and fits
    "TorchKernel": "numerics.kernels",
    "get_kernel": "numerics.kernels",
    # safe registration of user kernels (numerical PSD probe, symbolic time budget)
    "register_kernel": "numerics.registration",
    "load_user_kernels": "numerics.registration",
    "KRR": "numerics.krr",
    "RegularisedKRR": "numerics.regularised",
    "fit_loss_gradient_penalty": "numerics.regularised",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from numerics.api import (  # noqa: F401
        KernelInfo,
        ParamInfo,
        ShiftSpikeResult,
        classify_near_clone,
        lag_numbers,
        list_kernels,
        shift_and_spike,
    )
    from numerics.closed_forms import (  # noqa: F401
        CleanQuantities,
        InputTypeError,
        InputValueError,
        NonFiniteResultError,
        UnknownKernelNameError,
        clean_quantities,
    )
    from numerics.kernels import TorchKernel, get_kernel  # noqa: F401
    from numerics.krr import KRR  # noqa: F401
    from numerics.regularised import RegularisedKRR, fit_loss_gradient_penalty  # noqa: F401


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'numerics' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # cache: later accesses skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
