"""The claims under test, with stable ids (``C1`` ... ``C13``, ``E1`` ... ``E3``).

One claim = one slug = three files: ``derivations/<slug>.py``,
``proofs_check/test_<slug>.py`` and ``book/<slug>.md`` (``tests/test_layout.py``
enforces it).  Statuses are never typed here: they come from a run of
``proofs_check/`` (tests carry ``@pytest.mark.claim(id, role)``; the run writes
``reports/claims.json``; the book reads it).

Roles of a check (the ``role`` argument of the ``claim`` marker):

``symbolic``   a SymPy proof / identity of the derivation;
``numeric``    the closed form against independent numerics;
``as_stated``  the claim exactly as the paper states it (a strict ``xfail`` naming the
               counterexample when it is false);
``corrected``  the corrected or conditional statement that the derivation supports;
``experiment`` a measurement (experiments E1-E3, finite-width networks).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Claim", "CLAIMS", "ROLES", "claim_by_id", "claim_by_slug"]

ROLES = ("symbolic", "numeric", "as_stated", "corrected", "experiment")


@dataclass(frozen=True)
class Claim:
    id: str
    slug: str
    title: str
    paper_ref: str
    statement: str


CLAIMS: tuple[Claim, ...] = (
    Claim("C1", "scalar_gain", "Scalar gain of a clone cluster", "Sec. 3 (lemma)",
          "(cI_m + k_zeta 11^T)^{-1} 1 = 1/(c + m k_zeta); S(m;c) = m/(c + m k_zeta) is "
          "increasing and concave in m, ~ m/c for few poisons, -> 1/k_zeta, decreasing in c."),
    Claim("C2", "prediction_shift", "Prediction shift", "Thm 3.3",
          "Under tight-cluster dominance Delta f(x0) = k(x0, zeta) y_t S(m;c); exact "
          "conditional-kernel version without dominance."),
    Claim("C3", "rank_one_spike", "Rank-one input-Hessian spike", "Thm 3.4",
          "The poison-induced Gauss-Newton term is rank one with eigenvalue "
          "R_k(x0, zeta) Delta f(x0)^2 and eigenvector grad k / |grad k|."),
    Claim("C4", "quadratic_law", "Quadratic efficacy law", "Thm 3.4 (corollary)",
          "As the poison count varies, Lambda_GN is proportional to Delta f^2 "
          "(log-log slope exactly 2) with constant R_k."),
    Claim("C5", "detectability_lag", "Detectability lag", "Remark 3.5",
          "The spike is visible only once Delta f^2 >~ Lambda_clean / R_k; closed forms for "
          "m_succ, m_det, the lag and the never-detectable condition."),
    Claim("C6", "near_clone", "Near-clone invisibility", "Sec. 3.3",
          "For the Gaussian kernel with r << ell efficacy stays O(1) while curvature vanishes "
          "like S^2 r^2 / ell^4; which kernels have R_k -> 0 as x0 -> zeta."),
    Claim("C7", "feature_near_clones", "Feature-space near-clones", "neural-collapse remark",
          "In penultimate feature space poisoned training samples and triggered test inputs "
          "move close together as training proceeds."),
    Claim("C8", "regularised_objective", "Input-gradient-regularised objective", "Sec. 3.4",
          "J(w) = E[L] + kappa/2 E|grad_x L|^2; the penalised KRR estimators (function- and "
          "loss-gradient versions)."),
    Claim("C9", "capacity", "Capacity cost of the penalty", "Thm 3.9",
          "df(kappa) = tr[K (K + n lambda I + kappa G)^{-1}] strictly decreases in kappa and "
          "the training residual |y - K alpha|^2 strictly increases in kappa."),
    Claim("C10", "poison_suppression", "Poison suppression", "Sec. 3.4",
          "Closed forms of the penalised shift and spike of the clone model in kappa, and the "
          "efficacy-capacity trade-off."),
    Claim("C11", "high_pass_filter", "High-pass filter and effective length scale",
          "Remark 3.10",
          "For exponential kernels the penalty is an anisotropic high-pass filter with "
          "ell_eff^2 = ell^2 + c kappa."),
    Claim("C12", "gradient_flow_contraction", "Gradient-flow contraction of Fisher modes",
          "Thm 3.12",
          "Under gradient flow on J every unit v with v^T (d_w g d_w g^T) v >= alpha has "
          "E_v(t) <= E_v(0) exp(-2 kappa alpha t)."),
    Claim("C13", "finite_width", "Finite-width agreement with the NTK", "Sec. 4",
          "Shift and spike of trained finite-width networks approach the NTK-KRR closed forms "
          "as width grows."),
    Claim("E1", "e1_linear_digits", "Linear models on digits", "Sec. 5 (MNIST)",
          "Attack success vs poison fraction against spectral visibility; the lag; Spectral "
          "Signatures baseline."),
    Claim("E2", "e2_deep_networks", "Deep networks", "Sec. 5 (CIFAR)",
          "Three dirty-label attacks on deep networks: success, clean accuracy, top "
          "input-Hessian eigenpairs."),
    Claim("E3", "e3_defence_sweep", "Defence sweep", "Sec. 5",
          "kappa sweep with and without augmentation: immunity at a clean-accuracy cost."),
)


def claim_by_id(cid: str) -> Claim:
    for cl in CLAIMS:
        if cl.id == cid:
            return cl
    raise KeyError(f"unknown claim id {cid!r}; known: {[c.id for c in CLAIMS]}")


def claim_by_slug(slug: str) -> Claim:
    for cl in CLAIMS:
        if cl.slug == slug:
            return cl
    raise KeyError(f"unknown claim slug {slug!r}; known: {[c.slug for c in CLAIMS]}")
