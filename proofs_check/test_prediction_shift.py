"""C2 -- prediction shift: stated (dominance) form, exact conditional-kernel form, and
the tight-cluster approximation's error for spread clusters.

Closed forms come from :mod:`derivations.prediction_shift` (lambdified); the numerics
refit the KRR with the poisons (:mod:`numerics.poisons`), a route that never uses them.
"""

from __future__ import annotations

import pytest
import sympy as sp
import torch
from hypothesis import assume, example, given
from hypothesis import strategies as st

from derivations import prediction_shift as ps
from derivations.claims import Refuted
from numerics.claim_cases import (
    COUNTER,
    SPREAD_CHECK,
    exact_closed_form,
    loglog_fit,
    make_case,
    spread_errors,
    stated_closed_form,
    stated_shift_comparison,
)
from numerics.claim_cases import case_from as _case
from numerics.poisons import conditional_kernel, measured_shift
from numerics.strategies import kernel_for, kernels_for_param, seeds
from numerics.tolerances import TOL, assert_close
from numerics.validation import NonDifferentiableError
from proofs_check.evidence import (
    NOT_APPLICABLE_PREFIX,
    asserted_for,
    not_applicable,
    note_not_applicable,
    refute_unless_close,
)

_N_CLEAN = st.integers(0, 20)
_NEAR = st.booleans()


@st.composite
def cases(draw, name: str, n_clean=_N_CLEAN, near_clean=_NEAR):
    """Broad clone-cluster instances for kernel ``name`` (see ``make_case``): d 1-6,
    0-20 clean points at scale 0.3-3, m 1-60, |y_t| in [0.1, 3], relative ridge
    1e-4 ... 1e2, x0 at 0.05-2 length scales from zeta."""
    k = draw(kernel_for(name))
    case = make_case(
        k, d=draw(st.integers(1, 6)), n_clean=draw(n_clean), m=draw(st.integers(1, 60)),
        y_t=draw(st.floats(0.1, 3.0)) * draw(st.sampled_from([-1, 1])),
        rel_ridge=10 ** draw(st.floats(-4, 2)), r_rel=draw(st.floats(0.05, 2.0)),
        seed=draw(seeds), scale=10 ** draw(st.floats(-0.5, 0.5)),
        near_clean=draw(near_clean))
    # Stated exclusion: x0 (or zeta) at the origin is where kernels of the invariant family
    # can be undefined (ntk_relu with beta = 0 is 0/0 there: the angle is undefined; the
    # foundation raises a clear error); d = 1 with r = |zeta| toward 0 hits it exactly.
    assume(float(case.x0.norm()) > 1e-6 and float(case.zeta.norm()) > 1e-6)
    # Stated exclusion: pairs where the kernel has no input derivative.  The ReLU NTK with
    # beta = 0 is not differentiable at collinear x0, zeta (arc-cosine angle 0; in d = 1
    # every pair is collinear), which the foundation reports as NonDifferentiableError.
    try:
        case.kernel.grad(case.x0, case.zeta)
    except NonDifferentiableError:
        assume(False)
    # (there the closed-form coefficient can even round to a finite value while autograd of
    # the kernel value is NaN, so both routes are required to be finite)
    g = torch.func.grad(lambda x: case.kernel.pair(x[None], case.zeta[None])[0])(case.x0)
    assume(bool(torch.isfinite(g).all()))
    # Stated exclusion: the arc-cosine (ReLU NTK) formula evaluates arccos near 1 for nearly
    # collinear augmented inputs (x, beta) and then keeps only ~half of float64's digits
    # (an O(eps) cosine error becomes O(sqrt(eps))), below what a 1e-8 comparison needs;
    # pairs x0, zeta whose augmented angle is under 0.05 rad are excluded for it.
    if case.kernel.spec.singular is not None:
        bb = float(case.kernel.params["beta"])
        xa = torch.cat([case.x0, case.x0.new_tensor([bb])])
        za = torch.cat([case.zeta, case.zeta.new_tensor([bb])])
        cosang = float(xa @ za / (xa.norm() * za.norm()))
        assume(abs(cosang) < 0.99875)  # cos(0.05)
    return case


#: rtol of a pinned counterexample number (float64 is deterministic here; the pins were
#: taken from a run)
PIN_RTOL = 1e-6
#: a refutation is qualitative when the stated value misses by far more than the
#: tolerance of the comparison (here 1e5 times the refit tolerance)
REFUTE_MARGIN = 1e5 * TOL["refit"].rtol


def pinned_kernels(kernel_name: str, pins: dict) -> list[str]:
    """The kernels of ``kernel_name`` that have pinned counterexample numbers; the others
    (kernels registered by user code) are recorded as not applicable, and the check is
    skipped when none is left."""
    names = kernels_for_param(kernel_name)
    why = ("no pinned counterexample numbers for a kernel registered by user code (its "
           "as_stated check still runs, on random instances and the pinned one)")
    have = [n for n in names if n in pins]
    if not have:
        if len(names) == 1:
            not_applicable(names[0], why)
        for n in names:
            note_not_applicable(n, why)
        pytest.skip(f"{NOT_APPLICABLE_PREFIX} {', '.join(names)}: {why}")
    for n in names:
        if n not in pins:
            note_not_applicable(n, why)
    return have


def assert_pinned(got: dict, pin: dict, what: str) -> None:
    """Every pinned number of ``pin`` recomputed (``got``) to :data:`PIN_RTOL`."""
    for key, want in pin.items():
        g = got[key]
        assert abs(g - want) <= PIN_RTOL * abs(want), f"{what}: {key} = {g!r}, pinned {want!r}"


# ----------------------------------------------------------------------------- symbolic
@pytest.mark.claim("C2", "symbolic", scope="general")
def test_block_elimination_gives_exact_shift():
    """Block elimination with MatrixSymbols of symbolic size n (clean points) and symbolic
    m: the ansatz alpha_P = beta 1 (permutation symmetry of the clones) solves every row of
    the poisoned system (clean rows: zero residual; poison row: beta solved from it), and
    the system is positive definite, so this is its solution; the resulting shift is the
    exact conditional-kernel formula."""
    d = ps.block_elimination()
    assert d["clean_residual"] == 0 or d["clean_residual"].is_ZeroMatrix
    assert sp.simplify(d["shift"] - ps.exact_shift()) == 0


@pytest.mark.claim("C2", "symbolic", scope="explicit systems: 1 clean + 1 or 2 clones "
                   "(symbolic entries), 3 + 4, 6 + 9, 4 + 25 (random exact rationals)")
@pytest.mark.parametrize("n_clean,n_poison,seed", [(1, 1, None), (1, 2, None),
                                                   (3, 4, 0), (6, 9, 1), (4, 25, 2)])
def test_explicit_block_solve(n_clean, n_poison, seed):
    """Explicit LU solve of the full poisoned system (symbols or exact rationals)."""
    assert ps.explicit_block_check(n_clean, n_poison, seed) == sp.zeros(1, 1)


@pytest.mark.claim("C2", "sanity")
def test_dominance_is_the_zero_coupling_limit():
    """Sanity, true by construction: the exact and the stated formulas are both built from
    C1's gain, so switching the coupling off (k~ = k, f_C(zeta) = 0) in one gives the other.
    (That the stated formula is exact without clean data is checked against refits by
    test_stated_shift_without_clean_coupling.)"""
    assert ps.dominance_limit() == 0
    err = ps.exact_minus_dominance()
    assert sp.simplify(err.subs({ps.p0: 0, ps.q_z: 0, ps.f_Cz: 0})) == 0
    assert sp.simplify(err) != 0  # the coupling terms do matter in general


# ------------------------------------------------------------------ exact form vs refit
@pytest.mark.claim("C2", "corrected")
@given(data=st.data())
def test_exact_shift_matches_refit(kernel_name, data):
    """Exact clones: conditional-kernel closed form = refit, relative error <= 1e-8."""
    for name in kernels_for_param(kernel_name):
        case = data.draw(cases(name))
        clean, poisoned = case.fit()
        # Stated exclusion (forward-error bound, not a tolerance change): the closed form
        # needs k~(zeta, zeta) = k_zeta - k_C^T A^{-1} k_C by subtraction, whose relative
        # error is ~ eps cond(A) k_zeta / k~_zeta.  Instances where that bound exceeds 1e-9
        # cannot be checked at 1e-8 by any float64 route (seen with ntk_relu, whose own
        # diagonal values are only accurate to ~4e-9: arccos near 1).
        if case.X.shape[0]:
            ev = torch.linalg.eigvalsh(clean.K)
            cond_a = float((ev.max() + case.c) / (ev.min().clamp(min=0) + case.c))
            kz = float(case.kernel.gram(case.zeta)[0, 0])
            ktz = float(conditional_kernel(clean, case.zeta, case.zeta)[0, 0])
            assume(2.2e-16 * cond_a * kz / max(ktz, 1e-300) < 1e-9)
        meas = float(measured_shift(clean, poisoned, case.x0)[0])
        assert_close(meas, exact_closed_form(case, clean), "refit",
                     f"{case.kernel} m={case.m} c={case.c:.3g} n={case.X.shape[0]}")
        asserted_for(name)


instance_args = dict(
    pexp=st.floats(-1.0, 1.0), d=st.integers(1, 6), n_clean=st.integers(1, 20),
    m=st.integers(1, 60), y_t=st.floats(0.1, 3.0), rel_ridge=st.floats(-4, 2),
    r_rel=st.floats(0.05, 2.0), seed=seeds, near_clean=st.booleans())


def refute_stated_shift(name: str, case) -> dict:
    """C2 as stated on one instance: raise :class:`Refuted` unless the refitted shift is
    the stated ``k(x0, zeta) y_t S(m; c)`` at the refit tolerance; returns the numbers."""
    cmp = stated_shift_comparison(case)
    refute_unless_close("C2", cmp["measured"], cmp["stated"], "refit",
                        "refitted shift vs the stated k(x0, zeta) y_t S(m; c)", kernel=name,
                        exact_closed_form=cmp["exact"], n_clean=int(case.X.shape[0]),
                        d=int(case.x0.shape[0]), m=case.m, c=case.c)
    return cmp


@pytest.mark.claim("C2", "as_stated")
@pytest.mark.xfail(strict=True, raises=Refuted,
                   reason="the stated prediction shift neglects the clean-poison coupling: "
                   "with clean data near the trigger the refitted shift is not "
                   "k(x0, zeta) y_t S(m; c) (pinned counterexample COUNTER; its numbers are "
                   "asserted for every built-in kernel)")
@example(**COUNTER)
@given(**instance_args)
def test_stated_shift_as_stated(kernel_name, pexp, d, n_clean, m, y_t, rel_ridge, r_rel,
                                seed, near_clean):
    """The stated Delta f = k(x0, zeta) y_t S(m; c) against refits, with clean data."""
    for name in kernels_for_param(kernel_name):
        case = _case(name, pexp, d, n_clean, m, y_t, rel_ridge, r_rel, seed, near_clean)
        refute_stated_shift(name, case)
        asserted_for(name)


#: C2 at COUNTER, per built-in kernel: refitted shift, stated formula, relative error
#: (pinned from a run; recomputed by test_counterexample_stated_shift)
COUNTER_SHIFT = {
    "linear": dict(measured=1.5481553703462048, stated=1.8041731812176771,
                   rel_error=0.1419031241217543),
    "polynomial": dict(measured=2.1394494766323833, stated=1.7577875062741264,
                       rel_error=0.21712634149234694),
    "gaussian": dict(measured=1.6016544265533064, stated=1.7303860834992069,
                     rel_error=0.07439475974377802),
    "laplace": dict(measured=0.8942049570087688, stated=1.1892758033581048,
                    rel_error=0.24810968617721615),
    "matern32": dict(measured=1.49931524143726, stated=1.53899539991657,
                     rel_error=0.02578315599998619),
    "matern52": dict(measured=1.6093888852192506, stated=1.6248022400355404,
                     rel_error=0.009486295892817489),
    "rational_quadratic": dict(measured=1.6362334502885205, stated=1.7429193899782136,
                               rel_error=0.06121105789696141),
    "ntk_relu": dict(measured=1.344779033386098, stated=1.7507052687493276,
                     rel_error=0.23186440493962526),
    "ntk_erf": dict(measured=1.0113639770443124, stated=1.6369478661911956,
                    rel_error=0.3821648215361154),
    "ntk_relu_d2": dict(measured=1.1935188392199003, stated=1.7474542365013224,
                        rel_error=0.3169956532827364),
    "ntk_erf_d2": dict(measured=1.0584317044036617, stated=1.7170953442629173,
                       rel_error=0.38359176854095683),
}


@pytest.mark.claim("C2", "counterexample")
def test_counterexample_stated_shift(kernel_name):
    """The pinned COUNTER instance refutes C2 as stated with these numbers: the refitted
    shift and the stated formula as pinned (rtol 1e-6), the stated formula off by more
    than 1e5 times the refit tolerance, while the exact conditional-kernel formula matches
    the refit at the refit tolerance."""
    for name in pinned_kernels(kernel_name, COUNTER_SHIFT):
        case = _case(name, **COUNTER)
        with pytest.raises(Refuted) as exc:
            refute_stated_shift(name, case)
        got = exc.value.numbers
        assert exc.value.kernel == name
        assert_pinned(got, COUNTER_SHIFT[name], f"{name}: C2 at COUNTER")
        assert got["rel_error"] > REFUTE_MARGIN, f"{name}: {got}"
        assert_close(got["measured"], got["exact_closed_form"], "refit",
                     f"{name}: exact formula at COUNTER")
        asserted_for(name)


@pytest.mark.claim("C2", "corrected")
@given(data=st.data())
def test_stated_shift_without_clean_coupling(kernel_name, data):
    """Corrected reading of Thm 3.3: with no clean-poison coupling (here: no clean data,
    k_C = 0) the stated formula is exact; refit vs closed form at 1e-8."""
    for name in kernels_for_param(kernel_name):
        case = data.draw(cases(name, n_clean=st.just(0)))
        clean, poisoned = case.fit()
        assert_close(float(measured_shift(clean, poisoned, case.x0)[0]),
                     stated_closed_form(case), "refit", f"{case.kernel} (no clean data)")
        asserted_for(name)


@pytest.mark.claim("C2", "corrected")
def test_tight_cluster_error_vanishes_with_sigma(kernel_name):
    """Quantified tight-cluster statement: for a spread cluster the exact-clone formula's
    relative error vanishes as sigma / ell -> 0, at least linearly near 0 (log-log slope
    over the window SPREAD_CHECK["window"] of sigma/ell at least SPREAD_CHECK["slope_min"]),
    and is below SPREAD_CHECK["err_max"] at sigma = SPREAD_CHECK["sigma"] ell.  The measured
    errors are printed and tabulated in the book."""
    chk = SPREAD_CHECK
    for name in kernels_for_param(kernel_name):
        errs = spread_errors(name)
        near = list(chk["window"])
        slope = loglog_fit(near, [errs[s][0] for s in near])
        print(f"{name}: slope {slope:.3f}; errors " +
              ", ".join(f"{s:g}: {e[0]:.2e}" for s, e in errs.items()))
        assert slope >= chk["slope_min"], \
            f"{name}: error does not vanish linearly in sigma ({slope:.3f})"
        err = errs[chk["sigma"]][0]
        assert err < chk["err_max"], f"{name}: error {err:.3g} at sigma = {chk['sigma']} ell"
        asserted_for(name)
