"""Unit tests of numerics.spectral_signatures (planted outliers, variants, bad input)."""

from __future__ import annotations

import numpy as np
import pytest

from numerics.spectral_signatures import (
    VARIANTS,
    detection_metrics,
    outlier_scores,
    spectral_signatures,
)
from numerics.tolerances import assert_close


def _planted(seed: int = 0, n: int = 200, n_bad: int = 10, d: int = 20, shift: float = 6.0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    direction = rng.standard_normal(d)
    direction /= np.linalg.norm(direction)
    X[:n_bad] += shift * direction
    labels = np.zeros(n, dtype=int)
    poison = np.zeros(n, dtype=bool)
    poison[:n_bad] = True
    return X, labels, poison


@pytest.mark.parametrize("variant", VARIANTS)
def test_planted_outliers_are_found(variant):
    X, labels, poison = _planted()
    res = spectral_signatures(X, labels, eps=0.05, variant=variant)
    assert res.budget == {0: 15}  # ceil(1.5 * 0.05 * 200)
    met = detection_metrics(res.removed, poison)
    assert met["recall"] == 1.0
    assert met["precision"] == pytest.approx(10 / 15)


def test_centred_score_is_squared_projection_on_top_singular_vector():
    X, _, _ = _planted(seed=3)
    M = X - X.mean(0)
    v = np.linalg.svd(M)[2][0]
    assert_close(outlier_scores(X, "centred"), (M @ v) ** 2, "exact", "centred scores")
    assert_close(outlier_scores(X, "uncentred"), (X @ v) ** 2, "exact", "uncentred scores")


def test_variants_differ_when_the_mean_projects_on_the_signature():
    # a large common offset along the outlier direction: the uncentred score ranks by the
    # raw coordinate, which puts the most negative clean points first -- the two variants
    # then disagree (this is why the page reports both)
    X, labels, poison = _planted(seed=1, shift=6.0)
    X = X - 20.0 * np.ones(X.shape[1]) / np.sqrt(X.shape[1])
    c = spectral_signatures(X, labels, 0.05, variant="centred").removed
    u = spectral_signatures(X, labels, 0.05, variant="uncentred").removed
    assert detection_metrics(c, poison)["recall"] == 1.0
    assert not np.array_equal(c, u)


def test_per_class_budget_and_small_classes():
    X, _, poison = _planted(n=60, n_bad=3)
    labels = np.repeat([0, 1, 2], 20)
    labels[-1] = 3  # a one-sample class cannot be scored: budget 0, score NaN
    res = spectral_signatures(X, labels, eps=0.1)
    assert res.budget == {0: 3, 1: 3, 2: 3, 3: 0}
    assert np.isnan(res.scores[-1]) and not res.removed[-1]
    assert res.removed.sum() == 9


def test_metrics_nan_only_for_empty_denominators():
    m = detection_metrics(np.zeros(5, bool), np.zeros(5, bool))
    assert np.isnan(m["recall"]) and np.isnan(m["precision"])
    m = detection_metrics(np.array([1, 0, 0], bool), np.array([1, 1, 0], bool))
    assert (m["recall"], m["precision"]) == (0.5, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"R": np.ones(5), "labels": np.zeros(5), "eps": 0.1}, "2-D"),
        ({"R": np.full((4, 2), np.nan), "labels": np.zeros(4), "eps": 0.1}, "NaN"),
        ({"R": np.ones((4, 2)), "labels": np.zeros(3), "eps": 0.1}, "labels"),
        ({"R": np.ones((4, 2)), "labels": np.zeros(4), "eps": 0.0}, "eps"),
        ({"R": np.ones((4, 2)), "labels": np.zeros(4), "eps": 1.5}, "eps"),
        ({"R": np.ones((4, 2)), "labels": np.zeros(4), "eps": 0.1, "variant": "x"}, "variant"),
    ],
)
def test_bad_input_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        spectral_signatures(**kwargs)


def test_bad_metric_shapes_and_tiny_class():
    with pytest.raises(ValueError, match="shape"):
        detection_metrics(np.zeros(3, bool), np.zeros(4, bool))
    with pytest.raises(ValueError, match="at least 2"):
        outlier_scores(np.ones((1, 3)))
