"""E2 — dirty-label attacks on deep networks (paper Sec. 5, CIFAR): open at this scale.

The paper trains Pre-ResNet-110 on CIFAR-10/100 for 90 and 450 epochs under three dirty-label
attacks and reports attack success, clean accuracy and the top input-Hessian eigenpairs
(Lanczos).  The suite runs on CPUs without network access: CIFAR is not shipped (the loader
:func:`numerics.data.load_cifar10` reads it from a local folder, ``$POISONCURV_DATA``, and
never downloads) and the paper's trigger definitions are known only from a summary.  So this
module records the protocol as the paper describes it and why the claim is *open* here; the
kernel-level mechanism that E2 is meant to illustrate is checked exactly by C3-C5 and C13.

Nothing here is a closed form: there is no SymPy derivation of an experiment.
"""

from __future__ import annotations

from derivations.claims import claim_by_slug
from numerics.data import cifar10_available as cifar_available

__all__ = ["CLAIM", "PAPER_SETUP", "OPEN_BECAUSE", "RELATED_CLAIMS", "cifar_available"]

CLAIM = claim_by_slug("e2_deep_networks")

#: the experiment as the paper describes it (from the abstract and a secondary summary; no
#: figure or table of the paper is available, so no number is to be matched)
PAPER_SETUP: dict[str, str] = {
    "model": "Pre-ResNet-110",
    "data": "CIFAR-10 and CIFAR-100",
    "training": "90 and 450 epochs",
    "attacks": ("dirty-label: a stochastic additive 'cross' trigger; a deterministic additive "
                "trigger; an imperceptible warp of strength 0.02"),
    "measured": ("attack success, clean accuracy, top input-Hessian eigenpairs (Lanczos)"),
    "claimed shape": ("the poison leaves a spike in the input-Hessian spectrum aligned with the "
                      "trigger, visible only once the attack already succeeds"),
}

#: why the claim stays open in this suite (shown on the book page)
OPEN_BECAUSE: tuple[str, ...] = (
    "CIFAR-10/100 are not available offline here; the suite never downloads data "
    "(numerics.data.load_cifar10 reads the binary distribution from $POISONCURV_DATA).",
    "A Pre-ResNet-110 trained for 90-450 epochs takes GPU-hours per run; the suite's checks "
    "run on 2 CPU cores.",
    "The paper's trigger shapes, poison rates and Lanczos settings are known only from a "
    "summary, so a reproduction would be a reconstruction, not a check of the paper's numbers.",
)

#: claims that check E2's mechanism exactly, in the kernel model
RELATED_CLAIMS: tuple[str, ...] = ("C3", "C4", "C5", "C6", "C13", "E1")
