"""Unit tests of numerics.regularised: shapes, kappa = 0 limits, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from numerics.krr import KRR
from numerics.regularised import (
    RegularisedKRR,
    degrees_of_freedom,
    fit_loss_gradient_penalty,
    penalty_gram,
    solve_function_gradient,
)
from numerics.tolerances import assert_close
from numerics.validation import NonDifferentiableError

gen = torch.Generator().manual_seed(0)
X = torch.randn(6, 2, dtype=torch.float64, generator=gen)
y = torch.randn(6, dtype=torch.float64, generator=gen)


def test_kappa_zero_is_krr():
    ref = KRR("gaussian", 0.3).fit(X, y)
    for variant in ("dual", "rkhs"):
        model = RegularisedKRR("gaussian", 0.3, 0.0, variant=variant).fit(X, y)
        assert_close(model.predict(X), ref.predict(X), "refit", variant)
    fit = fit_loss_gradient_penalty("gaussian", X, y, 0.3, 0.0)
    assert_close(fit.predict(X), ref.predict(X), "refit", "loss-gradient kappa=0")


def test_penalty_gram_is_psd_and_matches_gradients():
    Z = torch.randn(4, 2, dtype=torch.float64, generator=gen)
    G = penalty_gram("matern52", Z, X)
    assert float(torch.linalg.eigvalsh(G).min()) > -1e-12
    model = RegularisedKRR("matern52", 0.2, 1.0, penalty_points=Z).fit(X, y)
    grads = model.input_gradient(Z)
    assert_close(model.alpha @ G @ model.alpha, (grads**2).sum(), "exact", "alpha^T G alpha")


def test_metric_penalty():
    A = torch.diag(torch.tensor([2.0, 0.0], dtype=torch.float64))
    G = penalty_gram("gaussian", X, X, metric=A)
    G1 = penalty_gram("gaussian", X, X, metric=torch.eye(2, dtype=torch.float64))
    assert_close(G1, penalty_gram("gaussian", X, X), "exact", "identity metric")
    assert float(torch.linalg.eigvalsh(G).min()) > -1e-12
    with pytest.raises(ValueError, match="positive semi-definite"):
        penalty_gram("gaussian", X, X, metric=-torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="shape"):
        penalty_gram("gaussian", X, X, metric=torch.eye(3, dtype=torch.float64))


def test_multi_output_and_df():
    Y = torch.randn(6, 3, dtype=torch.float64, generator=gen)
    model = RegularisedKRR("gaussian", 0.2, 0.5).fit(X, Y)
    assert model.predict(X[:2]).shape == (2, 3)
    df = model.degrees_of_freedom()
    assert 0 < df < 6
    assert df == pytest.approx(degrees_of_freedom(model.K, model.G, 0.2, 0.5))


def test_clones_rkhs_variant_is_well_defined():
    Xc = torch.zeros(3, 2, dtype=torch.float64)
    model = RegularisedKRR("gaussian", 0.1, 1.0, variant="rkhs").fit(Xc, torch.ones(3))
    assert torch.isfinite(model.predict(X)).all()


@pytest.mark.parametrize("kappa", [-1.0, math.nan, math.inf, "a"])
def test_bad_kappa(kappa):
    with pytest.raises((ValueError, TypeError), match="kappa"):
        RegularisedKRR("gaussian", 0.1, kappa)


def test_bad_inputs():
    with pytest.raises(ValueError, match="ridge c must be positive"):
        RegularisedKRR("gaussian", 0.0, 1.0)
    with pytest.raises(ValueError, match="unknown penalty variant"):
        RegularisedKRR("gaussian", 0.1, 1.0, variant="primal")
    with pytest.raises(ValueError, match="penalty points Z has 3 input dimensions"):
        penalty_gram("gaussian", torch.zeros(2, 3), X)
    with pytest.raises(ValueError, match="G has shape"):
        solve_function_gradient(torch.eye(3), torch.eye(2), torch.ones(3), 0.1, 1.0)
    with pytest.raises(ValueError, match="NaN or infinite"):
        solve_function_gradient(torch.eye(2), torch.full((2, 2), math.nan), torch.ones(2),
                                0.1, 1.0)
    with pytest.raises(RuntimeError, match="not fitted"):
        RegularisedKRR("gaussian", 0.1, 1.0).predict(X)
    with pytest.raises(NonDifferentiableError):
        RegularisedKRR("laplace", 0.1, 1.0).fit(X, y)
    with pytest.raises(ValueError, match="alpha0 has 2 entries"):
        fit_loss_gradient_penalty("gaussian", X, y, 0.1, 1.0, alpha0=[0.0, 0.0])
    with pytest.raises(ValueError, match="scalar targets"):
        fit_loss_gradient_penalty("gaussian", X, torch.ones(6, 2), 0.1, 1.0)
