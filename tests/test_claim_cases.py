"""Unit tests of numerics/claim_cases.py, the claim harness: the closed forms evaluated on
an instance use the instance's ridge and kernel (a clean fit with others is refused), the
spike closed form far from the trigger, and the validated closed forms EXACT / STATED."""

from __future__ import annotations

import math

import pytest
import torch

from numerics.claim_cases import (
    EXACT,
    STATED,
    CaseMismatchError,
    ClosedFormInputError,
    exact_closed_form,
    kernel_length,
    make_case,
    spike_closed_form,
)
from numerics.kernels import get_kernel
from numerics.krr import KRR
from numerics.poisons import autograd_gn_term, measured_shift, top_eigenpairs
from numerics.tolerances import assert_close


def _case(c: float | None = None, **kw):
    args = dict(d=2, n_clean=10, m=5, y_t=2.0, rel_ridge=0.1, r_rel=0.5, seed=7,
                near_clean=True)
    args.update(kw)
    case = make_case(get_kernel("gaussian"), **args)
    return case if c is None else case._replace(c=c)


def test_exact_closed_form_uses_the_case_ridge():
    """A case with c = 5 and a clean fit with ridge 0.1 used to be mixed silently (the
    shift's gain with c = 5, the conditional kernel with c = 0.1: a wrong number).  Now the
    clean fit must be the case's own; with it the closed form equals the refit at c = 5."""
    case = _case(c=5.0)
    wrong_clean = KRR(case.kernel, 0.1).fit(case.X, case.y)
    with pytest.raises(CaseMismatchError, match=r"ridge c = 0.1 .*case's c = 5"):
        exact_closed_form(case, wrong_clean)
    with pytest.raises(CaseMismatchError, match="ridge"):
        spike_closed_form(case, wrong_clean)
    clean, poisoned = case.fit()
    assert clean.ridge == 5.0
    assert_close(exact_closed_form(case, clean),
                 float(measured_shift(clean, poisoned, case.x0)[0]), "refit",
                 "exact closed form at the case's ridge vs the refit")


def test_exact_closed_form_refuses_another_kernel():
    case = _case()
    for kern in (get_kernel("gaussian", ell=2.0), get_kernel("laplace")):
        with pytest.raises(CaseMismatchError, match="kernel"):
            exact_closed_form(case, KRR(kern, case.c).fit(case.X, case.y))


def test_spike_closed_form_far_from_the_trigger():
    """Gaussian, x0 at 60 length scales from zeta: k~(x0, zeta) underflows to 0 and the
    spike closed form used to divide by it (ZeroDivisionError).  The true spike is 0
    there; the refits' autograd GN term agrees."""
    case = _case(r_rel=60.0)
    assert math.isclose(float(torch.linalg.vector_norm(case.x0 - case.zeta)),
                        60.0 * kernel_length(case.kernel, case.zeta))
    clean, poisoned = case.fit()
    lam, vec, shift = spike_closed_form(case, clean)
    assert lam == 0.0 and shift == 0.0
    assert vec.shape == (2,) and bool((vec == 0).all())  # undefined: the zero vector
    measured = float(top_eigenpairs(autograd_gn_term(clean, poisoned, case.x0))[0][0, 0])
    assert measured == 0.0


def test_spike_closed_form_near_the_trigger_matches_the_refits():
    """The same formula near the trigger (no underflow) against the autograd route."""
    case = _case()
    clean, poisoned = case.fit()
    lam, vec, shift = spike_closed_form(case, clean)
    vals, vecs = top_eigenpairs(autograd_gn_term(clean, poisoned, case.x0))
    assert_close(lam, float(vals[0, 0]), "refit", "spike eigenvalue")
    assert_close(float((vecs[0, :, 0] @ vec) ** 2), 1.0, "refit", "spike direction")


@pytest.mark.parametrize("fn, args", [
    (EXACT, (0.3, 0.8, 0.1, 2.0, 5, 0.1)),
    (STATED, (0.3, 1.0, 2.0, 5, 0.1)),
])
def test_closed_forms_refuse_bad_inputs(fn, args):
    """EXACT / STATED were raw lambdified SymPy: c <= 0, NaN, infinities or a fractional
    or negative m gave numbers (or a ZeroDivisionError) instead of an error."""
    *vals, m, c = args
    for bad_c in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(ClosedFormInputError, match="ridge c"):
            fn(*vals, m, bad_c)
    for bad_m in (-1, 2.5, math.nan, True, "5"):
        with pytest.raises(ClosedFormInputError, match="m \\(number of poisons\\)"):
            fn(*vals, bad_m, c)
    for i in range(len(vals)):
        for bad in (math.nan, math.inf):
            bad_vals = list(vals)
            bad_vals[i] = bad
            with pytest.raises(ClosedFormInputError, match="finite|NaN"):
                fn(*bad_vals, m, c)
    assert issubclass(ClosedFormInputError, ValueError)
    assert fn(*vals, 0, c) == 0.0  # no poisons, no shift


def test_closed_forms_values():
    """The documented formulas, evaluated by hand."""
    kt0, ktz, fcz, yt, m, c = 0.3, 0.8, 0.1, 2.0, 5, 0.1
    assert_close(EXACT(kt0, ktz, fcz, yt, m, c), kt0 * (yt - fcz) * m / (c + m * ktz), "exact")
    assert_close(STATED(kt0, 1.0, yt, m, c), kt0 * yt * m / (c + m * 1.0), "exact")
    assert_close(EXACT(kt0, ktz, fcz, yt, 5.0, c), EXACT(kt0, ktz, fcz, yt, 5, c), "exact")
