"""How users extend the suite: one KernelSpec, one ``register_kernel`` call.

A kernel registered in user code is checked (positive semi-definite, real, derivable in
time) and then usable by name everywhere.  To run the contract tests and claim checks
for it under its own test ids, load it before collection (``POISONCURV_KERNELS``, the
``[tool.poisoncurv] kernels`` list or a ``poisoncurv.kernels`` entry point; see
``tests/test_registration.py`` for that path, run in a subprocess).
"""

from __future__ import annotations

import pytest
import sympy as sp
import torch

from derivations.kernels import (
    REGISTRY,
    DuplicateKernelError,
    KernelSpec,
    KernelSpecError,
    Param,
    r,
    unregister,
)
from numerics.kernels import TorchKernel
from numerics.registration import register_kernel
from numerics.strategies import kernels_for_param
from numerics.tolerances import assert_close
from numerics.validation import NotPSDError

_ell = sp.Symbol("ell", positive=True)


@pytest.fixture(scope="module")
def cauchy():
    spec = register_kernel(
        KernelSpec("cauchy_user", "isotropic", 1 / (1 + r**2 / _ell**2),
                   (Param(_ell, 1.0, "length scale"),), title="Cauchy (user-defined, test)"),
        replace=True,
    )
    yield spec
    unregister("cauchy_user")


def test_user_kernel_is_registered_under_its_own_name(cauchy):
    assert REGISTRY["cauchy_user"] is cauchy
    assert kernels_for_param("cauchy_user") == ["cauchy_user"]


def test_user_kernel_derivatives_are_generated(cauchy):
    assert cauchy.smooth_on_diagonal
    # A(0) = g''(0) = -2 / ell^2 for g = 1 / (1 + r^2 / ell^2) (Taylor: 1 - r^2/ell^2 + ...)
    assert sp.simplify(cauchy.coefficients.diagonal["A"] + 2 / _ell**2) == 0
    k = TorchKernel("cauchy_user", ell=2.0)
    assert k.params == {"ell": 2.0}
    X = torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    # k(x, x') = 1 / (1 + |x - x'|^2 / 4) = 1 / (1 + 2/4)
    assert_close(k.gram(X)[0, 1], torch.tensor(2.0 / 3.0, dtype=torch.float64), "exact",
                 "Cauchy value")


def test_register_refuses_a_kernel_that_is_not_psd():
    # exp(+r^2) grows with distance: not a covariance
    bad = KernelSpec("bad_growing", "isotropic", sp.exp(r**2 / 4))
    with pytest.raises(NotPSDError, match="bad_growing"):
        register_kernel(bad)
    assert "bad_growing" not in REGISTRY


def test_register_refuses_duplicates_and_bad_definitions(cauchy):
    with pytest.raises(DuplicateKernelError, match="already registered"):
        register_kernel(cauchy)
    with pytest.raises(KernelSpecError, match="neither variables"):
        KernelSpec("bad_symbols", "isotropic", sp.exp(-sp.Symbol("z") * r))
    with pytest.raises(DuplicateKernelError, match="built-in"):
        register_kernel(KernelSpec("gaussian", "isotropic", sp.exp(-r**2)), replace=True)
    unregister("never_registered")  # no error
