"""C4 -- the quadratic efficacy law Lambda_GN = R Delta f^2 (log-log slope 2) as the
poison count varies: symbolic slopes (stated and exact conditional-kernel versions,
fixed c and the paper's c = n lambda), and refits over m with autograd GN terms."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from derivations import quadratic_law as ql
from derivations.conventions import m
from numerics.poisons import (
    clone_cluster,
    fit_clean_and_poisoned,
    law_over_m,
    spread_slopes,
)
from numerics.strategies import kernels_for_param
from numerics.tolerances import assert_close
from proofs_check.test_prediction_shift import COUNTER, _case, cases, instance_args
from proofs_check.test_rank_one_spike import R_numeric


# ----------------------------------------------------------------------------- symbolic
@pytest.mark.claim("C4", "symbolic")
def test_slope_is_two_symbolically():
    assert ql.slope_dominance() == 2
    assert ql.slope_exact() == 2  # built from |grad k~| b(m) and k~0 b(m) separately
    assert ql.slope_exact_paper_ridge() == 2  # c = (n0 + m) lambda grows with m
    assert ql.ratio_is_m_free()
    assert sp.simplify(sp.diff(ql.ratio_exact(), m)) == 0


# ------------------------------------------------------------------------------ numeric
@pytest.mark.claim("C4", "corrected")
@settings(max_examples=10)
@given(data=st.data())
def test_ratio_is_m_independent_and_slope_two(kernel_name, data):
    """Refits over m = 1 ... 100: Lambda / Delta f^2 is the same for every m (1e-8), and
    the log-log slope between the extreme m equals 2 where Delta f moves enough to
    define it (|log ratio| >= 0.1; excluded otherwise: the slope is then 0/0-like).

    Precision precondition of the numerical path: the refit shift is a difference of two
    predictions, so its relative rounding error is ~ eps |f_clean(x0)| / |Delta f|;
    instances where that exceeds 1e-10 cannot resolve 1e-8 and are excluded (found by the
    dev profile: polynomial p=3, c0=0, zeta ~ -0.011, x0 ~ -0.022, c ~ 0.0075, where
    Delta f ~ 1e-9 and the ratio scattered by 7e-8)."""
    for name in kernels_for_param(kernel_name):
        case = data.draw(cases(name, n_clean=st.integers(0, 12)))
        shifts, lams = law_over_m(case)
        clean, _ = fit_clean_and_poisoned(case.kernel, case.c, case.X, case.y,
                                          *clone_cluster(case.zeta, 1, case.y_t))
        f_clean = abs(float(clean.predict(case.x0).reshape(-1)[0]))
        assume(np.finfo(float).eps * f_clean <= 1e-10 * float(np.abs(shifts).min()))
        ratio = lams / shifts**2
        assert_close(ratio, np.full_like(ratio, ratio[0]), "refit",
                     f"{case.kernel}: Lambda / Delta f^2 over m")
        spread = np.log(abs(shifts[-1] / shifts[0]))
        assume(abs(spread) >= 0.1)
        slope = np.log(lams[-1] / lams[0]) / (2 * spread)
        assert_close(2 * slope, 2.0, "refit", f"{case.kernel}: log-log slope / 2")


@pytest.mark.claim("C4", "as_stated")
@pytest.mark.xfail(strict=True, raises=AssertionError,
                   reason="C4 as stated names the constant R_k of the raw kernel;"
                   " with clean coupling the m-independent constant is R_k~ (conditional "
                   "kernel): counterexample 10 clean points, d=2, zeta 0.3 from a clean point, "
                   "c=0.1 mean k_ii, seed 7, every kernel")
@example(**COUNTER)
@given(**instance_args)
def test_stated_law_as_stated(kernel_name, pexp, d, n_clean, m, y_t, rel_ridge, r_rel, seed,
                              near_clean):
    """Stated: Lambda_GN = R_k Delta f^2 over m, R_k the raw-kernel constant."""
    for name in kernels_for_param(kernel_name):
        case = _case(name, pexp, d, n_clean, m, y_t, rel_ridge, r_rel, seed, near_clean)
        shifts, lams = law_over_m(case, (1, 10, 100))
        assert_close(lams, R_numeric(case.kernel, case.x0, case.zeta) * shifts**2, "refit",
                     f"{case.kernel}: Lambda vs R_k Delta f^2")




@pytest.mark.claim("C4", "experiment")
def test_spread_cluster_slope_measured(kernel_name):
    """Experiment: for spread clusters the slope is not exactly 2 (no shared gradient
    direction); it returns to 2 as sigma -> 0.  Measured and reported, asserted only in
    the limit sigma = 0 (exact clones)."""
    for name in kernels_for_param(kernel_name):
        sl = spread_slopes(name)
        print(f"{name}: slope by sigma/ell {sl}")
        assert_close(sl[0.0], 2.0, "refit", f"{name}: clone slope")
        assert all(np.isfinite(v) for v in sl.values())
