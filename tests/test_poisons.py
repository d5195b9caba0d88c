"""Unit tests of numerics/poisons.py: constructions, fits, measurements (closed-form vs
autograd routes), eigenpairs, and clear errors on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from numerics.claim_cases import make_case
from numerics.kernels import get_kernel
from numerics.poisons import (
    MismatchedFitsError,
    PoisonedFit,
    autograd_gn_term,
    autograd_shift_gradient,
    clean_conditionals,
    clone_cluster,
    conditional_kernel,
    conditional_kernel_gradient,
    fit_clean_and_poisoned,
    measured_gn_term,
    measured_shift,
    measured_shift_gradient,
    spread_cluster,
    top_eigenpairs,
    triggered_point,
    with_poisons,
)
from numerics.tolerances import assert_close
from numerics.validation import NonDifferentiableError

Z = torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64)
G = torch.Generator().manual_seed(0)
X = torch.randn(8, 3, dtype=torch.float64, generator=G)
Y = torch.randn(8, dtype=torch.float64, generator=G)


def test_clone_cluster_shapes_and_values():
    Xp, yp = clone_cluster(Z, 4, 1.5)
    assert Xp.shape == (4, 3) and yp.shape == (4,)
    assert torch.equal(Xp, Z.expand(4, 3)) and torch.all(yp == 1.5)
    Xp, yp = clone_cluster(Z, 3, [0.0, 1.0, 0.0])
    assert yp.shape == (3, 3) and torch.all(yp[:, 1] == 1)
    Xp[0, 0] = 9.0  # a copy, not a view of zeta
    assert Z[0] == 0.3


def test_spread_cluster_kinds():
    Xp, _ = spread_cluster(Z, 50, 0.1, 1.0, seed=3, kind="sphere")
    assert_close(torch.linalg.vector_norm(Xp - Z, dim=1),
                 torch.full((50,), 0.1, dtype=torch.float64), "exact",
                 "sphere poisons at distance sigma")
    Xg, _ = spread_cluster(Z, 50, 0.1, 1.0, seed=3)
    assert torch.equal(Xg, spread_cluster(Z, 50, 0.1, 1.0, seed=3)[0])  # deterministic
    assert torch.equal(spread_cluster(Z, 5, 0.0, 1.0, seed=1)[0], clone_cluster(Z, 5, 1.0)[0])


def test_triggered_point_distance_and_direction():
    x0 = triggered_point(Z, 0.7, seed=2)
    assert math.isclose(float(torch.linalg.vector_norm(x0 - Z)), 0.7, rel_tol=1e-14)
    x1 = triggered_point(Z, 2.0, direction=[0, 0, 5])
    assert_close(x1, Z + torch.tensor([0, 0, 2.0], dtype=torch.float64), "exact", "direction")


def test_with_poisons_concatenates():
    Xp, yp = clone_cluster(Z, 2, 3.0)
    Xa, ya = with_poisons(X, Y, Xp, yp)
    assert Xa.shape == (10, 3) and torch.equal(ya[-2:], yp)


@pytest.mark.parametrize("name", ["gaussian", "laplace", "polynomial", "ntk_relu", "linear"])
def test_routes_agree(name):
    """Closed-form gradient route = autograd route; exact formula = refit."""
    k = get_kernel(name)
    Xp, yp = clone_cluster(Z, 6, 2.0)
    fit = fit_clean_and_poisoned(k, 0.3, X, Y, Xp, yp)
    assert isinstance(fit, PoisonedFit)
    clean, poisoned = fit
    x0 = torch.stack([triggered_point(Z, 0.4, seed=s) for s in range(3)])
    assert_close(measured_shift_gradient(clean, poisoned, x0),
                 autograd_shift_gradient(clean, poisoned, x0), "autograd", "grad Delta f")
    assert_close(measured_gn_term(clean, poisoned, x0), autograd_gn_term(clean, poisoned, x0),
                 "autograd", "GN term")
    kt0 = conditional_kernel(clean, x0, Z)[:, 0]
    ktz = conditional_kernel(clean, Z, Z)[0, 0]
    b = (2.0 - clean.predict(Z)[0]) * 6 / (0.3 + 6 * ktz)
    assert_close(measured_shift(clean, poisoned, x0), kt0 * b, "refit", "exact shift")
    gk = conditional_kernel_gradient(clean, x0, Z)
    assert_close(measured_shift_gradient(clean, poisoned, x0), gk * b, "refit", "grad shift")


def test_no_clean_data_and_multi_output():
    Xp, yp = clone_cluster(Z, 3, [1.0, 0.0])
    clean, poisoned = fit_clean_and_poisoned("gaussian", 0.5, torch.zeros(0, 3),
                                             torch.zeros(0, 2), Xp, yp)
    x0 = triggered_point(Z, 0.5, seed=0)
    s = measured_shift(clean, poisoned, x0)
    assert s.shape == (1, 2) and float(s[0, 1]) == 0.0
    assert_close(measured_gn_term(clean, poisoned, x0), autograd_gn_term(clean, poisoned, x0),
                 "autograd", "multi-output GN")


def test_top_eigenpairs_descending_and_batched():
    A = torch.diag(torch.tensor([1.0, 5.0, 3.0], dtype=torch.float64))
    vals, vecs = top_eigenpairs(torch.stack([A, 2 * A]), k=2)
    assert_close(vals, torch.tensor([[5.0, 3.0], [10.0, 6.0]], dtype=torch.float64), "exact",
                 "eigenvalues")
    assert abs(float(vecs[0, 1, 0])) == 1.0


def test_make_case_is_deterministic():
    k = get_kernel("gaussian")
    c1 = make_case(k, d=3, n_clean=5, m=4, y_t=1.0, rel_ridge=0.1, r_rel=0.5, seed=1)
    c2 = make_case(k, d=3, n_clean=5, m=4, y_t=1.0, rel_ridge=0.1, r_rel=0.5, seed=1)
    assert torch.equal(c1.X, c2.X) and torch.equal(c1.x0, c2.x0) and c1.c == c2.c
    assert math.isclose(float(torch.linalg.vector_norm(c1.x0 - c1.zeta)), 0.5 * c1.length)


# ----------------------------------------------------------------------------- bad input
def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="at least 1"):
        clone_cluster(Z, 0, 1.0)
    with pytest.raises(TypeError, match="must be an integer"):
        clone_cluster(Z, 2.5, 1.0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        clone_cluster(torch.tensor([0.0, math.nan]), 2, 1.0)
    with pytest.raises(ValueError, match="y_t contains"):
        clone_cluster(Z, 2, math.inf)
    with pytest.raises(ValueError, match="one point"):
        clone_cluster(torch.zeros(2, 3), 2, 1.0)
    with pytest.raises(ValueError, match="sigma must be non-negative"):
        spread_cluster(Z, 3, -0.1, 1.0)
    with pytest.raises(ValueError, match="unknown spread kind"):
        spread_cluster(Z, 3, 0.1, 1.0, kind="cube")
    with pytest.raises(ValueError, match="distance r must be non-negative"):
        triggered_point(Z, -1.0)
    with pytest.raises(ValueError, match="non-zero"):
        triggered_point(Z, 1.0, direction=[0, 0, 0])
    with pytest.raises(ValueError, match="direction has shape"):
        triggered_point(Z, 1.0, direction=[1, 0])
    with pytest.raises(ValueError, match="same outputs"):
        with_poisons(X, Y, *clone_cluster(Z, 2, [1.0, 0.0]))
    with pytest.raises(ValueError, match="Xp has 2 input dimensions but 3"):
        with_poisons(X, Y, torch.zeros(2, 2), torch.zeros(2))
    with pytest.raises(ValueError, match="not symmetric"):
        top_eigenpairs(torch.tensor([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        top_eigenpairs(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="k must be an integer"):
        top_eigenpairs(torch.eye(2), k=3)
    with pytest.raises(TypeError, match="TorchKernel or a registered name"):
        fit_clean_and_poisoned(3, 0.1, X, Y, *clone_cluster(Z, 2, 1.0))
    with pytest.raises(ValueError, match="ridge c must be positive"):
        fit_clean_and_poisoned("gaussian", 0.0, X, Y, *clone_cluster(Z, 2, 1.0))
    with pytest.raises(ValueError, match="rel_ridge must be positive"):
        make_case(get_kernel("gaussian"), d=2, n_clean=2, m=1, y_t=1.0, rel_ridge=-1,
                  r_rel=0.5, seed=0)
    _ = np  # numpy used by make_case callers


# --------------------------------------------------------------- regression: issue 13


def _pair_fits(name="gaussian", m=3, **params):
    k = get_kernel(name, **params)
    Xp, yp = clone_cluster(Z, m, 2.0)
    return fit_clean_and_poisoned(k, 0.1, X, Y, Xp, yp)


@pytest.mark.parametrize("name", ["gaussian", "rational_quadratic", "matern52"])
def test_autograd_route_on_a_training_point(name):
    """A query on a clean training point and one on the trigger (r = 0 exactly): the
    autograd route (TorchKernel.pair) used to return NaN there (sqrt of a zero squared
    distance), even for the Gaussian; it must equal the closed-form route."""
    clean, poisoned = _pair_fits(name)
    Xq = torch.stack((X[0], Z, X[3] + 0.1))
    g_ad = autograd_shift_gradient(clean, poisoned, Xq)
    assert bool(torch.isfinite(g_ad).all())
    assert_close(g_ad, measured_shift_gradient(clean, poisoned, Xq), "autograd",
                 f"{name}: autograd vs closed-form shift gradient at training points")
    assert_close(autograd_gn_term(clean, poisoned, Xq), measured_gn_term(clean, poisoned, Xq),
                 "autograd", f"{name}: GN term at training points")


def test_autograd_route_refuses_where_the_kernel_has_no_derivative():
    """Laplace (g'(0) != 0) has no gradient at a training point: the autograd route
    raises NonDifferentiableError (like the closed-form route), not a NaN."""
    clean, poisoned = _pair_fits("laplace")
    with pytest.raises(NonDifferentiableError, match="laplace"):
        measured_shift_gradient(clean, poisoned, X[:1])
    with pytest.raises(NonDifferentiableError, match="laplace"):
        autograd_shift_gradient(clean, poisoned, X[:1])
    g = autograd_shift_gradient(clean, poisoned, X[:1] + 0.05)  # off the data: fine
    assert_close(g, measured_shift_gradient(clean, poisoned, X[:1] + 0.05), "autograd")


@pytest.mark.parametrize("other", [
    dict(name="laplace"),
    dict(name="gaussian", ell=2.0),
    dict(name="gaussian", ridge=0.2),
])
def test_pair_functions_refuse_mismatched_fits(other):
    """Clean and poisoned fits with different kernels (name or hyper-parameters) or ridges
    used to be accepted, their difference reported as the poison's shift."""
    clean, _ = _pair_fits("gaussian")
    Xp, yp = clone_cluster(Z, 3, 2.0)
    name = other.get("name", "gaussian")
    params = {k: v for k, v in other.items() if k not in ("name", "ridge")}
    _, poisoned = fit_clean_and_poisoned(get_kernel(name, **params), other.get("ridge", 0.1),
                                         X, Y, Xp, yp)
    Xq = X[:2] + 0.05
    for fn in (measured_shift, measured_shift_gradient, measured_gn_term,
               autograd_shift_gradient, autograd_gn_term):
        with pytest.raises(MismatchedFitsError, match="different (kernels|ridges)"):
            fn(clean, poisoned, Xq)
    assert issubclass(MismatchedFitsError, ValueError)


@pytest.mark.parametrize("outputs", [None, 3])
def test_pair_functions_on_no_queries(outputs):
    """No queries (shape (0, d)): empty results of the documented shapes (the autograd
    route used to fail in torch.stack, the closed-form route inside the chunking)."""
    Xp, _ = clone_cluster(Z, 3, 2.0)
    yy = Y if outputs is None else torch.randn(8, outputs, dtype=torch.float64, generator=G)
    yp = torch.full((3, *(() if outputs is None else (outputs,))), 2.0, dtype=torch.float64)
    clean, poisoned = fit_clean_and_poisoned("gaussian", 0.1, X, yy, Xp, yp)
    E = torch.zeros(0, 3, dtype=torch.float64)
    o = () if outputs is None else (outputs,)
    assert measured_shift(clean, poisoned, E).shape == (0, *o)
    assert measured_shift_gradient(clean, poisoned, E).shape == (0, *o, 3)
    assert autograd_shift_gradient(clean, poisoned, E).shape == (0, *o, 3)
    assert measured_gn_term(clean, poisoned, E).shape == (0, 3, 3)
    assert autograd_gn_term(clean, poisoned, E).shape == (0, 3, 3)


def test_clean_conditionals_match_their_definitions():
    """clean_conditionals: k~ by conditional_kernel, f_C(zeta) by the clean fit, grad k~
    by autograd of k~(., zeta) built from TorchKernel.pair (an independent route)."""
    k = get_kernel("gaussian")
    clean = fit_clean_and_poisoned(k, 0.1, X, Y, *clone_cluster(Z, 2, 2.0)).clean
    x0 = Z + 0.3
    cond = clean_conditionals(clean, x0, Z)
    assert_close(cond.kt0, float(conditional_kernel(clean, x0, Z)[0, 0]), "exact")
    assert_close(cond.ktz, float(conditional_kernel(clean, Z, Z)[0, 0]), "exact")
    assert_close(cond.fCz, float(clean.predict(Z)[0]), "exact")
    A = k.gram(X) + 0.1 * torch.eye(8, dtype=torch.float64)
    w = torch.linalg.solve(A, k.gram(X, Z[None])[:, 0])

    def kt(x):
        return k.pair(x[None], Z[None])[0] - k.pair(x[None].expand(8, -1), X) @ w

    assert_close(cond.grad, torch.func.grad(kt)(x0), "autograd")
