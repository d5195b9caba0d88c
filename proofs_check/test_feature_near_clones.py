"""C7 -- feature-space near-clones, measured on scikit-learn digits (experiment).

A 64-128-64-10 ReLU MLP (float64, Adam, full batch, squared loss on one-hot targets) is
trained on digits with 5% of the non-target training images patched (2x2 white patch,
bottom right) and relabelled 0.  Over training we measure, in the 64-d penultimate
features, ``rho = D_PT / D_within`` (mean distance of triggered test features to the
poison centroid over the clean target-class spread; see
:mod:`derivations.feature_near_clones`), its nearest-neighbour version ``rho_nn``,
``rho_true`` (distance to the poison centroid over distance to the own true-class
centroid), the attack success rate (ASR) and clean accuracy.
"""

from __future__ import annotations

import functools

import pytest
import sympy as sp

from derivations import feature_near_clones as fnc
from numerics.networks import feature_near_clone_run


@functools.lru_cache(maxsize=1)
def _run():
    return feature_near_clone_run(epochs=150, record_every=25)


@pytest.mark.claim("C7", "symbolic")
def test_measured_quantity_and_lazy_limit():
    assert fnc.ratio_expr() == fnc.D_PT / fnc.D_within
    st = fnc.lazy_limit_statement()
    assert st.rhs == sp.O(fnc.h ** sp.Rational(-1, 2), (fnc.h, sp.oo))


@pytest.mark.claim("C7", "experiment")
def test_attack_succeeds_and_triggered_features_leave_their_class():
    """The backdoor works (ASR > 0.9 at the end) and triggered test features end nearer
    the poison centroid than their own class centroid (rho_true < 1) with rho_true falling."""
    rows = _run()["rows"]
    print(rows)
    assert rows[-1]["asr"] > 0.9
    assert rows[-1]["clean_acc"] > 0.9
    assert rows[-1]["rho_true"] < rows[0]["rho_true"]


@pytest.mark.claim("C7", "as_stated")
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="digits MLP 64-128-64-10, 5% patched poisons, seed 0: "
                   "rho = D_PT/D_within is 1.74 at init, 1.98 at epoch 150 (ASR 1.0; 2.37 at 300): "
                   "triggered test features do not become closer than a typical target-class "
                   "sample")
def test_near_clones_as_stated():
    """As stated: rho decreases during training and ends at near-clone distance (<= 1)."""
    rows = _run()["rows"]
    assert rows[-1]["rho"] < rows[0]["rho"]
    assert rows[-1]["rho"] <= 1.0


@pytest.mark.gpu
@pytest.mark.claim("C7", "experiment")
def test_feature_run_on_cuda():
    rows = feature_near_clone_run(epochs=100, record_every=50, device="cuda")["rows"]
    assert rows[-1]["asr"] > 0.9
