"""C1 -- scalar gain S(m; c) = m / (c + m k_zeta): the inverse identity and the claimed
properties, proved symbolically for symbolic m (the (I, J) algebra and SymPy matrix
expressions of symbolic size m), confirmed with explicit matrices for a few fixed m, and
checked against refits of KRR on a clone cluster for every registered kernel."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from derivations import scalar_gain as sg
from derivations.conventions import c, k_zeta, m
from numerics.krr import KRR
from numerics.poisons import clone_cluster
from numerics.strategies import kernel_for, kernels_for_param, seeds
from numerics.tolerances import assert_close
from proofs_check.evidence import asserted_for

S_NUM = sp.lambdify((m, c, k_zeta), sg.gain())


# ----------------------------------------------------------------------------- symbolic
@pytest.mark.claim("C1", "symbolic", scope="general")
def test_inverse_identity_symbolic_m():
    """Sherman-Morrison in the algebra {I, J = 11^T}, J^2 = m J (m a symbol): both
    products are I, so cI + kJ is invertible and its inverse maps 1 to 1/(c + m k) 1."""
    proof = sg.inverse_identity()
    assert proof == {"left_I": 1, "left_J": 0, "right_I": 1, "right_J": 0}
    assert sp.simplify(sg.inverse_times_ones() - 1 / (c + m * k_zeta)) == 0


@pytest.mark.claim("C1", "symbolic", scope="general")
def test_inverse_identity_matrix_symbols():
    """Matrix expressions of symbolic size m (1 a MatrixSymbol m x 1), reduced with the one
    rule 1^T 1 = m: M v = 1 for v = 1/(c + m k) 1, and the Sherman-Morrison W is a
    two-sided inverse of M (so v = M^{-1} 1)."""
    p = sg.matrix_symbol_proof()
    one = next(iter(p["Mv_minus_1"]))[0]
    assert p["Mv_minus_1"] == {(one,): 0}
    for side in ("MW", "WM"):
        assert p[side] == {(): 1, (one, one.T): 0}, f"{side}: {p[side]}"


@pytest.mark.claim("C1", "symbolic", scope="explicit m x m matrices, m = 1, 2, 3, 5, 8")
@pytest.mark.parametrize("mm", [1, 2, 3, 5, 8])
def test_inverse_identity_explicit_matrices(mm):
    chk = sg.explicit_inverse_check(mm)
    assert chk["residual"] == sp.zeros(mm, 1)
    assert sp.simplify(chk["det"] - c ** (mm - 1) * (c + mm * k_zeta)) == 0


@pytest.mark.claim("C1", "symbolic", scope="general")
def test_gain_properties_proved():
    """Signs decided by SymPy from c > 0, k_zeta > 0, m >= 0 (m > 0 for strict ones)."""
    p = sg.gain_properties()
    assert p["dS_dm"].is_positive is True  # increasing in m
    assert p["d2S_dm2"].is_negative is True  # concave in m
    assert p["dS_dc"].is_negative is True  # decreasing in c (m > 0)
    assert sp.simplify(p["limit_m_inf"] - 1 / k_zeta) == 0
    assert p["value_m0"] == 0
    # S = m/c - k m^2/c^2 + O(m^3): S ~ m/c to first order ...
    assert sp.simplify(p["series_m0"].removeO() - (m / c - k_zeta * m**2 / c**2)) == 0
    # ... with relative error m k / (c + m k): "few poisons" means m k_zeta << c
    assert sp.simplify(p["rel_error_m_over_c"] - sg.m_pos * k_zeta / (c + sg.m_pos * k_zeta)) == 0
    assert p["rel_error_m_over_c"].is_positive is True


# ------------------------------------------------------------------------------ numeric
@pytest.mark.claim("C1", "numeric")
@given(data=st.data())
def test_gain_matches_refit_on_clone_cluster(kernel_name, data):
    """KRR on m exact clones alone: every dual weight is y_t / (c + m k_zeta), so
    sum(alpha) = y_t S(m; c); refit by Cholesky vs closed form at 1e-8."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        d = data.draw(st.integers(1, 6))
        zeta = torch.as_tensor(np.random.default_rng(data.draw(seeds)).standard_normal(d))
        kz = float(k.gram(zeta, zeta)[0, 0])
        if not kz > 0:  # k(zeta, zeta) = 0 (e.g. linear kernel at the origin): S = m / c
            kz = 0.0
        mm = data.draw(st.integers(1, 200))
        cc = 10 ** data.draw(st.floats(-3, 2)) * max(kz, 1e-12)
        yt = data.draw(st.floats(-3, 3).filter(lambda v: abs(v) > 1e-3))
        Xp, yp = clone_cluster(zeta, mm, yt)
        model = KRR(k, cc).fit(Xp, yp)
        assert_close(model.alpha, torch.full((mm,), yt / (cc + mm * kz), dtype=torch.float64),
                     "refit", f"{k}: alpha of m={mm} clones")
        assert_close(float(model.alpha.sum()) / yt, S_NUM(mm, cc, kz), "refit",
                     f"{k}: S(m;c), m={mm}, c={cc:.3g}")
        asserted_for(name)


@pytest.mark.claim("C1", "numeric")
@settings(max_examples=10)
@given(data=st.data())
def test_gain_properties_on_refits(kernel_name, data):
    """Monotone, concave in m; decreasing in c; -> 1/k_zeta, measured on refitted dual
    weights (m = 1 ... 400) for every kernel."""
    for name in kernels_for_param(kernel_name):
        k = data.draw(kernel_for(name))
        zeta = torch.as_tensor(np.random.default_rng(data.draw(seeds)).standard_normal(3))
        kz = float(k.gram(zeta, zeta)[0, 0])
        cc = 10 ** data.draw(st.floats(-2, 1)) * kz

        def S_refit(mm, ridge, zeta=zeta, k=k):
            Xp, yp = clone_cluster(zeta, mm, 1.0)
            return float(KRR(k, ridge).fit(Xp, yp).alpha.sum())

        ms = [1, 2, 3, 4, 6, 8, 12, 16]
        S = np.array([S_refit(mm, cc) for mm in ms])
        assert np.all(np.diff(S) > 0), f"{k}: S not increasing in m: {S}"
        slopes = np.diff(S) / np.diff(ms)
        assert np.all(np.diff(slopes) < 0), f"{k}: S not concave in m: {slopes}"
        assert S_refit(4, 2 * cc) < S_refit(4, cc), f"{k}: S not decreasing in c"
        big = S_refit(400, cc)
        assert big < 1 / kz
        assert_close(big, S_NUM(400, cc, kz), "refit", f"{k}: S(400) (-> 1/k)")
        asserted_for(name)
