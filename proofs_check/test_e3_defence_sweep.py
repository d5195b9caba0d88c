"""E3 (defence sweep): the paper-scale sweep is open; a toy-scale sweep is measured.

* ``test_cifar_scale_sweep`` skips with the reason (CIFAR-10 missing, or present but the
  Pre-ResNet-110 sweep not implemented): the paper-scale claim stays *open*.
* ``test_toy_sweep_shows_immunity`` (slow, ~2-3 CPU-minutes) runs the same protocol on digits
  with a small MLP (derivations.e3_defence_sweep), writes the measurements to
  ``reports/e3_defence_sweep.json`` for the book page, checks that the undefended attack works
  (a plain failure otherwise: the sweep would say nothing) and then tests the claimed shape:
  with augmentation some kappa gives immunity at a clean-accuracy cost.  At this scale it does
  not (measured; see the xfail reason), so that part is a strict expected failure.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest

from derivations.e3_defence_sweep import (
    CLAIM,
    IMMUNE_ATTACK_SUCCESS,
    KAPPAS,
    MIN_CLEAN_ACCURACY,
    MIN_UNDEFENDED_SUCCESS,
    OPEN_AT_PAPER_SCALE,
    PAPER_SETUP,
    SWEEP_RESULTS,
    SweepConfig,
    cifar_available,
    defence_sweep,
    immune_points,
)

ROOT = Path(__file__).resolve().parent.parent


class NoImmunity(AssertionError):
    """The claimed shape (immunity with augmentation) was not observed."""


@pytest.mark.claim(CLAIM.id, "experiment")
def test_cifar_scale_sweep():
    available, why = cifar_available()
    if not available:
        pytest.skip(f"E3 open at paper scale: {why}")
    pytest.skip(f"E3 open at paper scale: {why}, but the {PAPER_SETUP['model']} sweep is not "
                f"implemented in this suite ({OPEN_AT_PAPER_SCALE[1]})")


@pytest.mark.slow
@pytest.mark.claim(CLAIM.id, "experiment")
@pytest.mark.xfail(strict=True, raises=NoImmunity, reason=(
    "toy scale (digits, tanh MLP, 5% dirty-label 2x2 patch, 300 Adam steps): no kappa in "
    "{0, 0.1, 1, 10, 100} gives attack success <= 10% with clean accuracy >= 50%, with or "
    "without augmentation; with augmentation the attack success bottoms out near 0.5 "
    "(kappa = 1) while clean accuracy falls"))
def test_toy_sweep_shows_immunity():
    cfg = SweepConfig()
    t0 = time.time()
    points = defence_sweep(KAPPAS, (False, True), cfg)
    out = ROOT / SWEEP_RESULTS
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "generated_unix": time.time(),
        "seconds": round(time.time() - t0, 1), "config": dataclasses.asdict(cfg),
        "points": [dataclasses.asdict(p) for p in points]}, indent=1))

    by = {(p.kappa, p.augmentation): p for p in points}
    undefended = by[(0.0, False)]
    # precondition (a real failure, not the expected one): the attack works undefended
    assert undefended.attack_success >= MIN_UNDEFENDED_SUCCESS, (
        f"the undefended attack succeeds only {undefended.attack_success:.2f} of the time: "
        "the sweep cannot show a defence")
    assert undefended.clean_accuracy >= 0.9, "the undefended model does not learn digits"

    immune = [p for p in immune_points(points) if p.augmentation]
    if not immune:
        best = min((p for p in points if p.augmentation), key=lambda p: p.attack_success)
        raise NoImmunity(
            f"no kappa gives attack success <= {IMMUNE_ATTACK_SUCCESS} with clean accuracy >= "
            f"{MIN_CLEAN_ACCURACY} under augmentation; lowest attack success "
            f"{best.attack_success:.2f} at kappa={best.kappa:g} (clean {best.clean_accuracy:.2f})")
    # the trade-off: immunity costs clean accuracy against the undefended, augmented model
    assert min(p.clean_accuracy for p in immune) < by[(0.0, True)].clean_accuracy
