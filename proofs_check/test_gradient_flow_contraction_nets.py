"""C12 (network part) -- Fisher-energy contraction measured in finite-width networks.

A tanh network (width 128, one hidden layer, not centred so that g_w != 0 at init) on 8
random points in R^3 is trained by GD (step 0.02, 300 steps, t = step * lr) on
``J = w_L E[L] + kappa/2 E|grad_x L|^2`` by double backprop.  Along the top two
eigenvectors ``v`` of ``M(w0) = E[d_w g d_w g^T]`` (Fisher modes) and of the mean input
Hessian of the loss (Hessian modes) we record ``E_v(t) = E[(v.g)^2]`` and
``q_v(t) = v^T M(w_t) v`` and compare with the bound ``E_v(0) exp(-2 kappa alpha t)``,
``alpha = min_{s<=t} q_v(s)`` (:func:`numerics.networks.fisher_contraction_run`).
``ratio <= 1`` means the bound holds.  This is a measurement (role experiment); where
the bound fails, the as-stated test is a strict xfail naming the case.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from numerics.networks import fisher_contraction_run
from numerics.tolerances import assert_close

_RNG = np.random.default_rng(0)
X = torch.as_tensor(_RNG.standard_normal((8, 3)))
Y = torch.as_tensor(_RNG.standard_normal(8))
SLACK = 1e-9  # rounding of the recorded energies


def _run(kappa, loss_weight, device=None):
    return fisher_contraction_run(X, Y, width=128, kappa=kappa, loss_weight=loss_weight,
                                  steps=300, lr=0.02, record_every=30, device=device)


@pytest.mark.claim("C12", "experiment")
def test_bound_holds_when_loss_dominates():
    """kappa = 0.1 with the data loss: every recorded E_v(t) is below the bound."""
    res = _run(0.1, 1.0)
    for key in ("fisher", "hessian"):
        print(key, "max ratio", res[key]["max_ratio"])
        assert (res[key]["max_ratio"] <= 1 + SLACK).all()
        assert (res[key]["E"][-1] < res[key]["E"][0]).all()  # the modes do decay


@pytest.mark.claim("C12", "as_stated")
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="counterexample: tanh net width 128, 8 points in R^3, "
                   "kappa=1, gradient flow on J (loss + penalty), t=6: E_v(t) exceeds "
                   "E_v(0) exp(-2 kappa alpha t) by up to ~3-4x (Fisher modes), ~15x (Hessian)")
def test_bound_as_stated_kappa_1():
    res = _run(1.0, 1.0)
    for key in ("fisher", "hessian"):
        assert (res[key]["max_ratio"] <= 1 + SLACK).all(), (key, res[key]["max_ratio"])


@pytest.mark.claim("C12", "experiment")
def test_pure_penalty_flow_decays_slower_than_bound():
    """Without the loss term (only the penalty), the energy along the top Fisher mode
    decays, but slower than exp(-2 kappa alpha t): the bound is violated for both kappa."""
    for kappa in (0.1, 1.0):
        res = _run(kappa, 0.0)
        fisher = res["fisher"]
        print(kappa, fisher["max_ratio"], fisher["E"][-1] / fisher["E"][0])
        assert (fisher["E"][-1] < fisher["E"][0]).all()
        assert fisher["max_ratio"][0] > 1.5


@pytest.mark.gpu
@pytest.mark.claim("C12", "experiment")
def test_contraction_run_on_cuda_matches_cpu():
    a = _run(0.1, 1.0, device="cuda")
    b = _run(0.1, 1.0)
    assert_close(a["fisher"]["E"], b["fisher"]["E"], "device", "Fisher energies, CUDA vs CPU")
