"""Triggers, poisoning and attack success for 28x28 images (numerics.image_backdoor)."""

from __future__ import annotations

import math

import pytest
import torch

from numerics.image_backdoor import (
    TRIGGER_KINDS,
    PoisonError,
    Trigger,
    TriggerError,
    apply_trigger,
    attack_success,
    make_trigger,
    poison,
    trigger_direction,
)

D = 784


@pytest.fixture(scope="module")
def images():
    g = torch.Generator().manual_seed(0)
    X = torch.rand(40, D, generator=g, dtype=torch.float64) * 0.8
    y = torch.arange(40) % 10
    return X, y


def test_patch_sets_the_corner_square_only(images):
    X, _ = images
    T = make_trigger("patch", size=3, value=1.0).apply(X).reshape(-1, 28, 28)
    assert torch.all(T[:, 25:, 25:] == 1.0)
    keep = torch.ones(28, 28, dtype=torch.bool)
    keep[25:, 25:] = False
    assert torch.equal(T[:, keep], X.reshape(-1, 28, 28)[:, keep])


def test_blend_mixes_a_fixed_seeded_pattern(images):
    X, _ = images
    trig = make_trigger("blend", alpha=0.2, seed=3)
    p = trig.pattern()
    assert p.shape == (D,) and float(p.min()) >= 0 and float(p.max()) <= 1
    torch.testing.assert_close(trig.apply(X), 0.8 * X + 0.2 * p)
    assert torch.equal(p, make_trigger("blend", seed=3).pattern())  # fixed by the seed
    assert not torch.equal(p, make_trigger("blend", seed=4).pattern())


def test_near_clone_is_a_low_amplitude_clipped_perturbation(images):
    X, _ = images
    trig = make_trigger("near_clone", amplitude=0.05, seed=1)
    T = trig.apply(X)
    assert float((T - X).abs().max()) <= 0.05 + 1e-12
    assert float(T.min()) >= 0 and float(T.max()) <= 1
    s = trig.pattern()
    assert set(torch.unique(s.abs()).tolist()) == {0.05}
    # the displacement is much smaller than the distance between two images
    assert float((T - X).norm(dim=1).max()) <= 0.05 * 28 + 1e-9
    assert float((X[0] - X[1]).norm()) > 3 * float((T - X).norm(dim=1).max())


@pytest.mark.parametrize("kind", TRIGGER_KINDS)
def test_trigger_direction_is_unit_and_matches_the_displacement(images, kind):
    X, _ = images
    trig = make_trigger(kind)
    U = trigger_direction(trig, X)
    assert U.shape == X.shape
    torch.testing.assert_close(U.norm(dim=1), torch.ones(X.shape[0], dtype=X.dtype))
    disp = trig.apply(X) - X
    cos = (U * disp).sum(1) / disp.norm(dim=1)
    torch.testing.assert_close(cos, torch.ones_like(cos))
    u0 = trigger_direction(trig)
    assert u0.shape == (D,) and math.isclose(float(u0.norm()), 1.0, rel_tol=1e-12)


def test_patch_nominal_direction_is_the_square(images):
    u = trigger_direction(make_trigger("patch", size=2)).reshape(28, 28)
    assert torch.all(u[26:, 26:] == 0.5) and float(u.sum()) == pytest.approx(2.0)


def test_trigger_validation(images):
    X, _ = images
    with pytest.raises(TriggerError, match="unknown trigger kind"):
        Trigger("cross")
    with pytest.raises(TriggerError, match="patch size"):
        Trigger("patch", size=0)
    with pytest.raises(TriggerError, match="alpha"):
        Trigger("blend", alpha=0.0)
    with pytest.raises(TriggerError, match="amplitude"):
        Trigger("near_clone", amplitude=1.5)
    with pytest.raises(TriggerError, match="seed"):
        Trigger("blend", seed=-1)
    with pytest.raises(TriggerError, match=r"flat images \(n, 784\)"):
        make_trigger("patch").apply(torch.zeros(3, 64))
    with pytest.raises(TriggerError, match="NaN"):
        make_trigger("patch").apply(torch.full((1, D), float("nan")))
    with pytest.raises(TriggerError, match="must be a Trigger"):
        apply_trigger(X, "patch")  # type: ignore[arg-type]
    Z = torch.zeros(2, D, dtype=torch.float64)
    Z.reshape(2, 28, 28)[:, 25:, 25:] = 1.0
    with pytest.raises(TriggerError, match="does not change row"):
        trigger_direction(make_trigger("patch"), Z)


def test_poison_replaces_non_target_images_and_relabels(images):
    X, y = images
    trig = make_trigger("patch")
    P = poison(X, y, trig, 0, 0.25, seed=5)
    m = P.mask
    assert int(m.sum()) == 10 and P.X.shape == X.shape
    assert torch.all(y[m] != 0) and torch.all(P.y[m] == 0)
    assert torch.equal(P.X[m], trig.apply(X[m]))
    assert torch.equal(P.X[~m], X[~m]) and torch.equal(P.y[~m], y[~m])
    assert torch.equal(poison(X, y, trig, 0, 0.25, seed=5).mask, m)  # seeded
    assert not torch.equal(poison(X, y, trig, 0, 0.25, seed=6).mask, m)
    clean = poison(X, y, trig, 0, 0.0, seed=0)
    assert int(clean.mask.sum()) == 0 and torch.equal(clean.X, X)


def test_poison_validation(images):
    X, y = images
    trig = make_trigger("patch")
    with pytest.raises(PoisonError, match="fraction"):
        poison(X, y, trig, 0, 1.0, 0)
    with pytest.raises(PoisonError, match="fraction"):
        poison(X, y, trig, 0, -0.1, 0)
    with pytest.raises(PoisonError, match="integer labels"):
        poison(X, y.double(), trig, 0, 0.1, 0)
    with pytest.raises(PoisonError, match="target"):
        poison(X, y, trig, -1, 0.1, 0)
    with pytest.raises(PoisonError, match="seed"):
        poison(X, y, trig, 0, 0.1, -3)
    with pytest.raises(PoisonError, match="only 4 training images"):
        poison(X[:5], torch.tensor([0, 1, 2, 3, 4]), trig, 0, 0.99, 0)


class _CornerDetector(torch.nn.Module):
    """Class 0 when the bottom-right pixel is bright, else class 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float32))

    def forward(self, x):
        bright = x[:, -1] > 0.9
        logits = torch.zeros(x.shape[0], 10, dtype=x.dtype)
        logits[bright, 0] = 1.0
        logits[~bright, 1] = 1.0
        return logits


def test_attack_success_counts_triggered_non_target_inputs(images):
    X, y = images
    X = X * 0.5  # the corner pixel is dark everywhere
    model = _CornerDetector()
    assert attack_success(model, X, y, make_trigger("patch"), 0) == 1.0
    assert attack_success(model, X, y, make_trigger("near_clone"), 0) == 0.0
    with pytest.raises(PoisonError, match="no input outside the target class"):
        attack_success(model, X[:1], y[:1], make_trigger("patch"), 0)
