"""Building blocks of the toy E3 sweep (numerics.e3, 8x8 digits): trigger, poisons,
augmentation, penalised training -- cheap contract tests (the sweep itself is a slow check
in proofs_check/test_e3_defence_sweep.py)."""

from __future__ import annotations

import pytest
import torch

from numerics import e3


def test_trigger_sets_the_corner_only():
    X = torch.rand(5, 64, dtype=torch.float64) * 0.5
    T = e3.add_trigger(X, 2).reshape(5, 8, 8)
    assert torch.all(T[:, 6:, 6:] == 1.0)
    mask = torch.ones(8, 8, dtype=torch.bool)
    mask[6:, 6:] = False
    assert torch.equal(T[:, mask], X.reshape(5, 8, 8)[:, mask])
    with pytest.raises(ValueError, match="8x8"):
        e3.add_trigger(torch.zeros(3, 10))
    with pytest.raises(ValueError, match="patch"):
        e3.add_trigger(X, 0)


def test_poisons_are_relabelled_triggered_non_target_copies():
    X = torch.rand(100, 64, dtype=torch.float64)
    y = torch.arange(100) % 10
    cfg = e3.SweepConfig(poison_fraction=0.1)
    Xp, yp = e3.poison_training_set(X, y, cfg)
    assert Xp.shape == (110, 64) and torch.equal(Xp[:100], X)
    assert torch.all(yp[100:] == cfg.target)
    assert torch.all(Xp[100:].reshape(-1, 8, 8)[:, 6:, 6:] == 1.0)
    with pytest.raises(ValueError, match="poison_fraction"):
        e3.poison_training_set(X, y, e3.SweepConfig(poison_fraction=0.0))


def test_augmentation_shifts_or_flips_by_at_most_one_pixel():
    X = torch.zeros(200, 64, dtype=torch.float64)
    X.reshape(200, 8, 8)[:, 3, 3] = 1.0  # one ink pixel
    A = e3.augment(X, torch.Generator().manual_seed(0)).reshape(200, 8, 8)
    assert torch.all(A.sum((1, 2)) == 1.0)  # an inner pixel never leaves the image
    rows, cols = torch.nonzero(A, as_tuple=True)[1:]
    assert set(rows.tolist()) <= {2, 3, 4}
    assert set(cols.tolist()) <= {2, 3, 4, 5}  # shifted (2..4), then possibly flipped (7 - c)
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 4  # it does vary


def test_penalised_training_runs_and_rejects_negative_kappa():
    X = torch.rand(40, 64, dtype=torch.float64)
    y = torch.arange(40) % 10
    cfg = e3.SweepConfig(steps=3, hidden=8)
    net = e3.train_mlp(X, y, 1.0, True, cfg)
    assert net(X).shape == (40, 10)
    with pytest.raises(ValueError, match="kappa"):
        e3.train_mlp(X, y, -1.0, False, cfg)


def test_immunity_needs_low_success_and_usable_accuracy():
    P = e3.SweepPoint
    pts = [P(0.0, True, 0.95, 0.9), P(1.0, True, 0.8, 0.05), P(10.0, True, 0.2, 0.0)]
    assert e3.immune_points(pts) == [pts[1]]
