"""How users extend the suite: one KernelSpec, one register() call, in any file.

The Cauchy kernel below then receives every contract test of
``tests/test_kernel_contracts.py`` (through its ``user-registered`` slot) and every
claim check that iterates over the registry, with no other edit.
"""

from __future__ import annotations

import pytest
import sympy as sp

from derivations.kernels import REGISTRY, KernelSpec, Param, r, register, unregister
from numerics.kernels import TorchKernel
from numerics.strategies import USER_KERNELS, kernels_for_param
from numerics.validation import NotPSDError

_ell = sp.Symbol("ell", positive=True)

CAUCHY = register(
    KernelSpec(
        "cauchy_user", "isotropic", 1 / (1 + r**2 / _ell**2), (Param(_ell, 1.0, "length scale"),),
        title="Cauchy (user-defined, test)",
    ),
    replace=True,
)


def test_user_kernel_is_covered_by_the_contract_slot():
    assert "cauchy_user" in REGISTRY
    assert "cauchy_user" in kernels_for_param(USER_KERNELS)


def test_user_kernel_derivatives_are_generated():
    spec = REGISTRY["cauchy_user"]
    assert spec.smooth_on_diagonal
    # A(0) = g''(0) = -2 / ell^2, derived by SymPy from the one definition above
    assert sp.simplify(spec.coefficients.diagonal["A"] + 2 / _ell**2) == 0
    assert TorchKernel("cauchy_user", ell=2.0).params == {"ell": 2.0}


def test_register_refuses_a_kernel_that_is_not_psd():
    # exp(+r^2) grows with distance: not a covariance
    bad = KernelSpec("bad_growing", "isotropic", sp.exp(r**2 / 4))
    with pytest.raises(NotPSDError, match="bad_growing"):
        register(bad)
    assert "bad_growing" not in REGISTRY


def test_register_refuses_duplicates_and_bad_definitions():
    with pytest.raises(ValueError, match="already registered"):
        register(CAUCHY)
    with pytest.raises(ValueError, match="neither variables"):
        KernelSpec("bad_symbols", "isotropic", sp.exp(-sp.Symbol("z") * r))
    unregister("never_registered")  # no error
