"""C4 -- the quadratic efficacy law Lambda_GN = R Delta f^2 (log-log slope 2) as the
poison count varies: the law at a fixed ridge derived from C2's block elimination and C3's
general spike, refits over m with autograd GN terms, the paper's ridge convention
c = (n0 + m) lambda, and the stated raw-kernel constant R_k refuted."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from derivations import quadratic_law as ql
from derivations.claims import Refuted
from derivations.conventions import m
from numerics.claim_cases import law_over_m, paper_ridge_law, spread_slopes, stated_law_comparison
from numerics.poisons import clone_cluster, conditional_kernel, fit_clean_and_poisoned
from numerics.strategies import kernels_for_param
from numerics.tolerances import assert_close
from proofs_check.evidence import asserted_for, refute_unless_close
from proofs_check.test_prediction_shift import (
    COUNTER,
    PIN_RTOL,
    REFUTE_MARGIN,
    _case,
    cases,
    instance_args,
    pinned_kernels,
)


# ----------------------------------------------------------------------------- symbolic
@pytest.mark.claim("C4", "symbolic", scope="fixed ridge c; symbolic n, d, m")
def test_law_from_the_derivations():
    """From C2's block elimination and C3's general spike (symbolic n, d, m): m enters the
    shift only through the x-free factor b_m, so Lambda / Delta f^2 = |grad k~|^2 / k~^2 is
    m-free at a fixed ridge and d log Lambda / d log Delta f = 2 wherever b_m moves."""
    p = ql.law_proof()
    assert p["m_enters"] == {m}
    assert p["m_outside_b"] is False
    assert p["ratio_has_m"] is False
    assert sp.simplify(p["db_dm"]) != 0
    assert p["slope"] == 2


@pytest.mark.claim("C4", "sanity")
def test_slope_algebra_sanity():
    """Sanity, true by construction: slopes of expressions modelled as R Delta f^2 (or
    with m-free k~ and |grad k~| symbols) are 2.  Also the paper's ridge c = (n0 + m)
    lambda: the slope is 2 + lambda R'(c) Delta f / (R Delta f') -- 2 only when R_k~ does
    not depend on c (dominance), not in general."""
    assert ql.slope_dominance() == 2
    assert ql.slope_exact() == 2
    assert ql.ratio_is_m_free()
    assert sp.simplify(sp.diff(ql.ratio_exact(), m)) == 0
    assert ql.slope_paper_ridge_dominance() == 2
    general = ql.slope_exact_paper_ridge()
    assert sp.simplify(general - 2) != 0
    const, t = sp.Symbol("R_const", positive=True), sp.Symbol("t")
    assert sp.simplify(general.replace(ql.R_of_c, sp.Lambda(t, const)).doit()) == 2


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
        asserted_for(name)
        spread = np.log(abs(shifts[-1] / shifts[0]))
        assume(abs(spread) >= 0.1)
        slope = np.log(lams[-1] / lams[0]) / (2 * spread)
        assert_close(2 * slope, 2.0, "refit", f"{case.kernel}: log-log slope / 2")


@pytest.mark.claim("C4", "corrected")
@settings(max_examples=8)
@given(data=st.data())
def test_paper_ridge_pointwise_law(kernel_name, data):
    """The paper's ridge convention c = (n0 + m) lambda (the ridge grows with m): at every
    m in {1, 10, 100} the autograd GN eigenvalue is R_k~ Delta f^2 with the conditional
    kernel *at that ridge* (closed form, 1e-8) -- the law holds pointwise, with a constant
    that moves with c when clean data are present (the slopes are measured in the book)."""
    for name in kernels_for_param(kernel_name):
        case = data.draw(cases(name, n_clean=st.integers(1, 12)))
        n0 = case.X.shape[0]
        lam_ridge = case.c / (n0 + 1)  # the drawn ridge is the paper's c at m = 1
        clean, _ = case.fit()
        # the same forward-error precondition as C2's exact check, at the smallest ridge
        # (k~(zeta, zeta) by subtraction; see test_exact_shift_matches_refit)
        ev = np.linalg.eigvalsh(clean.K.numpy())
        cond_a = float((ev.max() + case.c) / (max(ev.min(), 0.0) + case.c))
        kz = float(case.kernel.gram(case.zeta)[0, 0])
        ktz = float(conditional_kernel(clean, case.zeta, case.zeta)[0, 0])
        assume(2.2e-16 * cond_a * kz / max(ktz, 1e-300) < 1e-9)
        res = paper_ridge_law(case, lam_ridge)
        assert_close(res["lams"], res["exact"], "refit",
                     f"{case.kernel}: Lambda vs R_k~(c) Delta f^2, c = (n0 + m) lambda")
        asserted_for(name)


def refute_stated_law(name: str, case) -> dict:
    """C4 as stated on one instance: raise :class:`Refuted` unless Lambda_GN = R_k Delta f^2
    (raw-kernel constant, refitted shifts, autograd GN) at m = 1, 10, 100."""
    cmp = stated_law_comparison(case)
    refute_unless_close("C4", cmp["lams"], cmp["stated"], "refit",
                        "Lambda_GN (autograd) vs the stated R_k Delta f^2 over m",
                        kernel=name, n_clean=int(case.X.shape[0]), d=int(case.x0.shape[0]),
                        c=case.c, ratio_min=float(cmp["ratio"].min()),
                        ratio_max=float(cmp["ratio"].max()))
    return cmp


@pytest.mark.claim("C4", "as_stated")
@pytest.mark.xfail(strict=True, raises=Refuted,
                   reason="the stated law names the constant R_k of the raw kernel: with "
                   "clean data near the trigger the m-independent constant is R_k~ (the "
                   "conditional kernel) (pinned counterexample COUNTER; its numbers are "
                   "asserted for every built-in kernel)")
@example(**COUNTER)
@given(**instance_args)
def test_stated_law_as_stated(kernel_name, pexp, d, n_clean, m, y_t, rel_ridge, r_rel, seed,
                              near_clean):
    """Stated: Lambda_GN = R_k Delta f^2 over m, R_k the raw-kernel constant."""
    for name in kernels_for_param(kernel_name):
        case = _case(name, pexp, d, n_clean, m, y_t, rel_ridge, r_rel, seed, near_clean)
        refute_stated_law(name, case)
        asserted_for(name)


#: C4 at COUNTER (m = 1, 10, 100), per built-in kernel: autograd Lambda_GN and the stated
#: R_k Delta f^2 (pinned from a run; recomputed by test_counterexample_stated_law)
COUNTER_LAW = {
    "linear": ((0.13936705682441605, 2.297995975921409, 4.772110811962767),
               (0.17785885330876408, 2.9326796338998364, 6.090120407345395)),
    "polynomial": ((2.1188990505157266, 12.801951161857911, 17.545172741816767),
                   (1.0565021560155554, 6.383168183692671, 8.74818119574069)),
    "gaussian": ((5.675913135757, 18.465458047632126, 21.833984003832974),
                 (0.23390931822283484, 0.7609775906159798, 0.8997974758018769)),
    "laplace": ((3.7577682849691234, 5.574646723450938, 5.825874624382484),
                (0.5654239844189028, 0.8388061006074795, 0.8766078674993106)),
    "matern32": ((8.58135983441035, 18.271021947025645, 20.071958505616124),
                 (0.7536103636770322, 1.6045512319662714, 1.7627085031992447)),
    "matern52": ((8.33464146066419, 20.55593827544649, 23.118291126791462),
                 (0.5758397866685984, 1.420208315759111, 1.5972410923040927)),
    "rational_quadratic": ((6.03167989586842, 18.455154810702233, 21.565483427632905),
                           (0.20281455329809128, 0.6205524901186401, 0.7251369375600915)),
    "ntk_relu": ((1.4339199367443856, 5.6619196331333015, 6.97002687147745),
                 (0.1664624966772387, 0.6572872403581458, 0.8091442522013153)),
    "ntk_erf": ((2.953002110884468, 11.491518043945398, 14.1013212777457),
                (0.08469361557660568, 0.32958263321865444, 0.404433128922445)),
    "ntk_relu_d2": ((1.5527012265917004, 5.273135041301773, 6.288519947784976),
                    (0.07010359763990505, 0.2380791171574889, 0.28392318149817597)),
    "ntk_erf_d2": ((2.090153920379926, 9.513041136582764, 12.100527566381515),
                   (0.036755152822871145, 0.1672859005148309, 0.2127865970075907)),
}


@pytest.mark.claim("C4", "counterexample")
def test_counterexample_stated_law(kernel_name):
    """The pinned COUNTER instance refutes C4 as stated with these numbers: Lambda_GN and
    R_k Delta f^2 at m = 1, 10, 100 as pinned (rtol 1e-6); their ratio is the same for
    every m (the law's shape holds, refit tolerance) but differs from 1 by more than 1e5
    times the refit tolerance (the constant is wrong)."""
    for name in pinned_kernels(kernel_name, COUNTER_LAW):
        case = _case(name, **COUNTER)
        with pytest.raises(Refuted) as exc:
            refute_stated_law(name, case)
        assert exc.value.kernel == name
        cmp = stated_law_comparison(case)
        lams_pin, stated_pin = COUNTER_LAW[name]
        for got, pin, what in ((cmp["lams"], lams_pin, "Lambda_GN"),
                               (cmp["stated"], stated_pin, "R_k Delta f^2")):
            assert np.all(np.abs(got - np.array(pin)) <= PIN_RTOL * np.abs(pin)), \
                f"{name}: {what} at COUNTER = {got.tolist()}, pinned {pin}"
        ratio = cmp["ratio"]
        assert_close(ratio, np.full_like(ratio, ratio[0]), "refit",
                     f"{name}: Lambda / (R_k Delta f^2) over m at COUNTER")
        assert abs(ratio[0] - 1) > REFUTE_MARGIN, f"{name}: ratio {ratio[0]}"
        nums = exc.value.numbers
        assert nums["rel_error"] > REFUTE_MARGIN
        assert abs(nums["ratio_max"] - float(ratio.max())) <= PIN_RTOL * float(ratio.max())
        asserted_for(name)


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
        asserted_for(name)
