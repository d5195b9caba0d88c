"""Precision contract of the SPD solves (:data:`numerics.krr.MAX_CONDITION`).

* Digits lost: the project's Cholesky solve (:func:`numerics.krr.solve_spd`) of SPD systems
  with prescribed condition numbers, against an exact solve of the same float64 system in
  mpmath (:func:`numerics.precision.solve_digits_lost`).  Held to
  ``digits_lost <= log10(cond) + c`` with two constants, each derived in
  :func:`numerics.precision.cholesky_error_bound`: the worst case
  ``c_w(n) = log10(n (3n + 1) / 2) - log10(1 - cond eta)`` (Higham Thm 10.4, a theorem) and
  the typical ``c_t(n) = log10(sqrt(n (3n + 1)) / 2)`` (the rounding-errors-as-a-random-walk
  model of Higham section 2.8: the statement "a solve loses about log10(cond) digits").
  Both constants are recomputed here from their formulas, not read from the library.
* Refusal: the solver compares the Cholesky estimate ``(max L_ii / min L_ii)^2`` with
  ``MAX_CONDITION``; on a diagonal system the estimate is the condition number itself, so a
  system just above the limit is refused with ``SingularSystemError`` and one just below is
  accepted, on every path (``solve_spd``, ``factor_in_place``, a dense and an in-place KRR
  fit).  The estimate is a lower bound of the 2-norm condition number (so every system
  below the limit is accepted), and acceptance is decided by it.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import torch

from numerics.krr import KRR, MAX_CONDITION, factor_in_place, solve_spd
from numerics.precision import (
    EPS,
    MP_DPS,
    cholesky_condition_estimate,
    cholesky_error_bound,
    condition_digits_table,
    krr_condition_estimates,
    mp_solve,
    spd_with_condition,
)
from numerics.validation import SingularSystemError

CONDS = (1e2, 1e4, 1e6, 1e8, 1e10, 1e12)
N = 32
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def table() -> list[dict]:
    return condition_digits_table(CONDS, N, SEEDS)


def _rows(table):
    return [r for t in table for r in t["rows"]]


def test_test_matrices_have_the_requested_condition():
    for cond in (1e2, 1e8, 1e12):
        A = spd_with_condition(cond, N, 0)
        assert torch.equal(A, A.T)
        ev = np.linalg.eigvalsh(A.numpy())
        assert ev.min() > 0
        # rounding Q diag(lam) Q^T perturbs A by about n u |A| = 3.6e-15 in norm (n = 32; in
        # practice far less), moving lam_min = 1/cond >= 1e-12 by under 1e-2 relative
        assert abs(ev.max() / ev.min() / cond - 1) < 1e-2


def test_reference_solve_is_exact_to_far_beyond_float64():
    """The mpmath reference at MP_DPS digits agrees with one at MP_DPS + 30 digits to
    ``cond * 10^-MP_DPS`` (its own error), so it is exact for a float64 comparison."""
    A = spd_with_condition(1e12, N, 0)
    b = torch.as_tensor(np.random.default_rng(5).standard_normal(N))
    x1, x2 = mp_solve(A, b), mp_solve(A, b, dps=MP_DPS + 30)
    with mpmath.workdps(MP_DPS + 30):
        rel = mpmath.norm(x1 - x2, 2) / mpmath.norm(x2, 2)
        assert rel < mpmath.mpf(10) ** (12 + 2 - MP_DPS)
        # it solves the float64 system itself (entries converted exactly)
        Am = mpmath.matrix([[mpmath.mpf(float(v)) for v in row] for row in A.tolist()])
        res = Am * x2 - mpmath.matrix([mpmath.mpf(float(v)) for v in b.tolist()])
        assert mpmath.norm(res, 2) < mpmath.mpf(10) ** (-(MP_DPS + 10))


def test_every_system_up_to_max_condition_is_solved(table):
    assert CONDS[-1] == MAX_CONDITION
    assert all(t["accepted"] == len(SEEDS) for t in table)
    assert all(math.isfinite(r["digits_lost"]) for r in _rows(table))


def test_digits_lost_within_worst_case_bound(table):
    for r in _rows(table):
        n, cond = r["n"], r["cond_2"]
        k = 3 * n + 1
        eta = n * k * (EPS / 2) / (1 - k * EPS / 2)
        assert cond * eta < 1  # the bound exists up to MAX_CONDITION at this n
        c_w = math.log10(n * k / 2) - math.log10(1 - cond * eta)
        assert r["bound_digits"] == pytest.approx(math.log10(cond) + c_w, abs=1e-9)
        assert r["digits_lost"] <= math.log10(cond) + c_w, r


def test_digits_lost_within_typical_model(table):
    """At the limit (cond = 1e12) about 12 of the ~16 digits are lost, not more: the
    statement of MAX_CONDITION's docstring."""
    for r in _rows(table):
        c_t = math.log10(math.sqrt(r["n"] * (3 * r["n"] + 1)) / 2)
        assert r["typical_digits"] == pytest.approx(math.log10(r["cond_2"]) + c_t, abs=1e-9)
        assert r["digits_lost"] <= math.log10(r["cond_2"]) + c_t, r
        assert r["correct_digits"] >= -math.log10(EPS) - math.log10(r["cond_2"]) - c_t, r


def test_digits_lost_grow_with_the_condition_number(table):
    """The measurement is sensitive: for a generic right-hand side the error grows with the
    condition number (first-order perturbation theory), so the median over the seeds rises
    from each condition number to the next (a reference that were the float64 solution
    itself would show no loss at all)."""
    med = [t["digits_lost_median"] for t in table]
    assert all(b > a for a, b in zip(med, med[1:], strict=False)), med


def test_estimate_is_a_lower_bound_and_decides_acceptance(table):
    for r in _rows(table):
        # cond_2 from an SVD of the float64 matrix: relative error <~ eps * cond <= 1e-3
        assert r["estimate"] <= r["cond_2"] * (1 + 1e-3), r
        assert r["accepted"] == (r["estimate"] < MAX_CONDITION)


def test_estimate_is_a_lower_bound_on_krr_systems():
    rows = krr_condition_estimates()
    assert {r["kernel"] for r in rows} == {"gaussian", "matern52"}
    for r in rows:
        assert 0 < r["estimate"] <= r["cond_2"] * (1 + 1e-3), r


def _diagonal(cond: float, n: int = 6) -> torch.Tensor:
    lam = torch.ones(n, dtype=torch.float64)
    lam[-1] = 1.0 / cond
    return torch.diag(lam)


@pytest.mark.parametrize("factor", [1.01, 0.99])
def test_max_condition_refusal_on_a_diagonal_system(factor):
    cond = factor * MAX_CONDITION
    A = _diagonal(cond)
    # on a diagonal system the estimate IS the condition number
    assert cholesky_condition_estimate(A) == pytest.approx(cond, rel=1e-12)
    b = torch.ones(A.shape[0], 1, dtype=torch.float64)
    if factor > 1:
        with pytest.raises(SingularSystemError, match="numerically singular"):
            solve_spd(A, b)
        with pytest.raises(SingularSystemError, match="numerically singular"):
            factor_in_place(A.clone())
    else:
        x = solve_spd(A, b)
        assert torch.equal(torch.isfinite(x), torch.ones_like(x, dtype=torch.bool))
        assert float(x[-1, 0]) == pytest.approx(cond, rel=1e-12)
        L = factor_in_place(A.clone())
        assert float(L[-1, -1]) ** 2 == pytest.approx(1.0 / cond, rel=1e-12)


@pytest.mark.parametrize("keep_gram", [True, False])
@pytest.mark.parametrize("factor", [1.01, 0.99])
def test_max_condition_refusal_in_a_krr_fit(keep_gram, factor):
    """Linear kernel on X = diag(1, 0): K + cI = diag(1 + c, c), condition (1 + c) / c."""
    c = 1.0 / (factor * MAX_CONDITION - 1.0)
    X = torch.tensor([[1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    y = torch.tensor([1.0, 1.0], dtype=torch.float64)
    model = KRR("linear", c, keep_gram=keep_gram)
    if factor > 1:
        with pytest.raises(SingularSystemError, match="numerically singular"):
            model.fit(X, y)
    else:
        model.fit(X, y)
        assert float(model.alpha[1]) == pytest.approx(1.0 / c, rel=1e-12)


def test_random_system_just_below_the_limit_is_accepted():
    """A lower-bound estimate accepts every system whose true condition is below the
    limit, whatever its eigenvectors."""
    for seed in range(3):
        A = spd_with_condition(0.99 * MAX_CONDITION, N, seed)
        assert torch.isfinite(solve_spd(A, torch.ones(N, 1, dtype=torch.float64))).all()


def test_error_bound_function():
    assert cholesky_error_bound(32, 1e20) == math.inf
    assert cholesky_error_bound(32, 1.0) < 1e-12
    assert cholesky_error_bound(32, 1e6, typical=True) < cholesky_error_bound(32, 1e6)
    with pytest.raises(ValueError, match="cond"):
        spd_with_condition(0.5, 4, 0)
    with pytest.raises(ValueError, match="n must"):
        spd_with_condition(10.0, 1, 0)
