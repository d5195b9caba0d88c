"""poisoncurv's derivations: the claims' closed forms as SymPy expressions (symbolic only).

The symbolic entry points are importable from here, resolved lazily (module
``__getattr__``, so ``import derivations`` itself imports nothing heavy)::

    from derivations import KernelSpec, Param, get_spec, CLAIMS, c, m, y_t

* kernels (``derivations.kernels``): ``KernelSpec``, ``Param``, ``add_to_registry``
  (unchecked; the checked entry point is ``numerics.registration.register_kernel``),
  ``unregister``, ``get_spec``, ``kernel_names``, ``iter_specs``, ``UnknownKernelError``,
  ``BUILTIN_NAMES`` and the family variables ``r, a, b, u``;
* conventions (``derivations.conventions``): the symbols ``c, n, lam, m, y_t, k_zeta,
  kappa`` and ``ridge_from_lambda``;
* claims (``derivations.claims``): ``CLAIMS``, ``Claim``, ``claim_by_id``, ``claim_by_slug``.

Nothing here (or anywhere in ``derivations``) imports torch or ``numerics``.
"""

from __future__ import annotations

import importlib
from typing import Any

_KERNELS = ("KernelSpec", "Param", "add_to_registry", "unregister", "get_spec",
            "kernel_names",
            "iter_specs", "UnknownKernelError", "BUILTIN_NAMES", "r", "a", "b", "u")
_CONVENTIONS = ("c", "n", "lam", "m", "y_t", "k_zeta", "kappa", "ridge_from_lambda")
_CLAIMS = ("Claim", "CLAIMS", "claim_by_id", "claim_by_slug")

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    **{name: "derivations.kernels" for name in _KERNELS},
    **{name: "derivations.conventions" for name in _CONVENTIONS},
    **{name: "derivations.claims" for name in _CLAIMS},
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'derivations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
