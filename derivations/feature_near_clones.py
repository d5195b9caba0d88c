"""C7 -- feature-space near-clones (the paper's neural-collapse remark).

Claim: in a trained network's penultimate feature space ``phi_t``, poisoned training
samples and triggered test inputs move close together (become near-clones) as training
proceeds.

What we measure (``proofs_check/test_feature_near_clones.py``) is the dimensionless ratio

    rho(t) = D(phi_t(P), phi_t(T)) / D_within(t),

``D(P, T)`` the mean over triggered test inputs of the distance to the centroid of the
poisoned training features, and ``D_within`` the mean distance of clean target-class
training features to their own centroid (the typical within-class spread).  "Near-clones" reads as
``rho(t)`` decreasing during training and ending at ``rho <~ 1`` (triggered inputs as
close to the poisons as a typical target-class sample is to its class).

What is exact here (:func:`lazy_limit_statement`): in the NTK (lazy) limit the hidden
features do not move.  In NTK parametrisation each hidden unit's incoming weights move
by ``O(h^{-1/2})`` during training (the total parameter displacement is ``O(1)`` spread
over ``h`` units), so ``phi_t = phi_0 + O(h^{-1/2})`` and ``rho(t) = rho(0) + O(h^{-1/2})``:
C7 cannot hold in the kernel regime of C13; it is a feature-learning (finite-width,
standard-parametrisation) effect, and the check measures it in that regime only.
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug

CLAIM = claim_by_slug("feature_near_clones")

__all__ = ["CLAIM", "rho", "D_PT", "D_within", "h", "ratio_expr", "lazy_limit_statement",
           "RUN", "NEAR_CLONE_RHO"]

#: the measured run, shared by the checks and the book page (keyword arguments of
#: :func:`numerics.network_experiments.feature_near_clone_run`)
RUN: dict[str, float | int] = {"epochs": 150, "record_every": 25, "seed": 0,
                               "poison_fraction": 0.05, "hidden": 128, "feat": 64}
#: the reading of "near-clones": triggered inputs end at most this many typical
#: target-class spreads from the poisons (``rho <= NEAR_CLONE_RHO``)
NEAR_CLONE_RHO = 1.0

D_PT = sp.Symbol(r"D_{PT}", positive=True)  #: mean distance triggered test -> poison centroid
D_within = sp.Symbol(r"D_{\mathrm{within}}", positive=True)  #: target-class spread
h = sp.Symbol("h", positive=True)  #: hidden width
t = sp.Symbol("t", nonnegative=True)
rho = sp.Function("rho")


def ratio_expr() -> sp.Expr:
    """``rho = D_PT / D_within`` (the measured quantity)."""
    return D_PT / D_within


def lazy_limit_statement() -> sp.Eq:
    """``rho(t) - rho(0) = O(h^{-1/2})`` in NTK parametrisation (features frozen as
    ``h -> oo``)."""
    return sp.Eq(rho(t) - rho(0), sp.O(h ** sp.Rational(-1, 2), (h, sp.oo)))
