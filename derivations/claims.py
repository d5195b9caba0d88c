"""The claims under test, with stable ids (``C1`` ... ``C13``, ``E1`` ... ``E3``), and the
evidence each verdict needs (the *manifest*).

One claim = one slug = three files: ``derivations/<slug>.py``,
``proofs_check/test_<slug>.py`` and ``book/<slug>.md`` (``tests/test_layout.py``
enforces it).  Statuses are never typed here: they are computed from what a run of
``proofs_check/`` actually executed (tests carry ``@pytest.mark.claim(id, role)``; the
plugin :mod:`proofs_check.plugin` records collected, deselected, skipped, run and not-run
checks per claim; :mod:`numerics.claim_report` decides the verdict from that record and
this manifest).

Roles of a check (the ``role`` argument of the ``claim`` marker):

``symbolic``       a SymPy proof of the claim.  The marker must say its scope:
                   ``scope="general"`` only for a proof in the general form (symbolic n and
                   d, ``MatrixSymbol``, or an argument SymPy verifies step by step); any other
                   scope (``"n = 2"``, ``"d = 2, 3, 5"``) is reported as such;
``numeric``        the closed form against independent numerics;
``as_stated``      the claim exactly as the paper states it; when it is false it refutes only
                   by raising :class:`Refuted` (carrying the measured numbers), and the test
                   is a strict ``xfail(raises=Refuted)``;
``counterexample`` a passing check that recomputes a pinned counterexample and asserts its
                   numbers (a refutation counts only with one);
``corrected``      the corrected or conditional statement that the derivation supports;
``experiment``     a measurement (experiments, finite-width networks);
``sanity``         never decides a verdict: identities true by construction, harness checks,
                   input validation, small-instance algebra that is not the claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "Claim",
    "CLAIMS",
    "ROLES",
    "DECIDING_ROLES",
    "KINDS",
    "Refuted",
    "claim_by_id",
    "claim_by_slug",
]

ROLES = ("symbolic", "numeric", "as_stated", "counterexample", "corrected", "experiment",
         "sanity")
#: roles whose outcomes decide a verdict (``sanity`` never does)
DECIDING_ROLES = tuple(r for r in ROLES if r != "sanity")
#: ``theorem``: can be proved; ``empirical``: a statement about trained models or data, never
#: "proved", at best measured
KINDS = ("theorem", "empirical")


@dataclass(frozen=True)
class Claim:
    """A claim of the paper and the evidence its verdict needs.

    ``requires``: the roles that must each have run (at least one check executed, not
    skipped) for any verdict; a run missing one gives *incomplete*.  ``depends_on``: the
    claims whose derivations this one uses (the dependency graph of the claims page).
    ``per_kernel``: the claim is checked for every kernel of the registry (a row of the
    claims x kernels matrix).
    """

    id: str
    slug: str
    title: str
    paper_ref: str
    statement: str
    kind: str = "theorem"
    requires: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    per_kernel: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind {self.kind!r} not in {KINDS}")
        bad = [r for r in self.requires if r not in DECIDING_ROLES]
        if bad:
            raise ValueError(f"{self.id}: required roles {bad} not in {DECIDING_ROLES}")
        if "as_stated" in self.requires and "counterexample" not in self.requires:
            # an as-stated check can refute; a refutation counts only with its pinned numbers
            raise ValueError(f"{self.id}: requires 'as_stated' without 'counterexample'")
        if self.kind == "empirical" and "symbolic" in self.requires:
            raise ValueError(f"{self.id}: an empirical claim cannot require a symbolic proof")


class Refuted(Exception):
    """Raised by an ``as_stated`` check when the claim, checked exactly as stated, fails.

    It is the only way a check refutes a claim: a strict ``xfail`` names it
    (``raises=Refuted``), so any other exception (a shape mismatch, a harness assertion)
    makes the check *fail* instead of counting as a refutation.  It carries the measured
    numbers, which the claim report records and the book prints.

    ``numbers`` are plain values (numbers, strings, booleans); NumPy/torch scalars are
    converted.  ``kernel`` names the kernel of the counterexample, when there is one.
    """

    def __init__(self, claim: str, what: str, *, kernel: str | None = None,
                 **numbers: object) -> None:
        claim_by_id(claim)  # unknown ids raise
        self.claim = claim
        self.what = what
        self.kernel = kernel
        self.numbers = {k: _plain(v) for k, v in numbers.items()}
        super().__init__(self.summary())

    def summary(self) -> str:
        nums = ", ".join(f"{k} = {_fmt(v)}" for k, v in self.numbers.items())
        who = f" [{self.kernel}]" if self.kernel else ""
        return f"{self.claim}{who}: {self.what}" + (f" ({nums})" if nums else "")

    def record(self) -> dict:
        """The JSON-able record the plugin stores in the run report."""
        return {"claim": self.claim, "what": self.what, "kernel": self.kernel,
                "numbers": dict(self.numbers)}


def _plain(v: object) -> object:
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return v
    item = getattr(v, "item", None)  # numpy / torch scalars
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError, RuntimeError):
            pass
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(v)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.6g}"
    return str(v)


CLAIMS: tuple[Claim, ...] = (
    Claim("C1", "scalar_gain", "Scalar gain of a clone cluster", "Sec. 3 (lemma)",
          "(cI_m + k_zeta 11^T)^{-1} 1 = 1/(c + m k_zeta); S(m;c) = m/(c + m k_zeta) is "
          "increasing and concave in m, ~ m/c for few poisons, -> 1/k_zeta, decreasing in c.",
          kind="theorem", requires=("symbolic", "numeric"), depends_on=()),
    Claim("C2", "prediction_shift", "Prediction shift", "Thm 3.3",
          "Under tight-cluster dominance Delta f(x0) = k(x0, zeta) y_t S(m;c); exact "
          "conditional-kernel version without dominance.",
          kind="theorem", depends_on=("C1",), per_kernel=True,
          requires=("symbolic", "as_stated", "counterexample", "corrected")),
    Claim("C3", "rank_one_spike", "Rank-one input-Hessian spike", "Thm 3.4",
          "The poison-induced Gauss-Newton term is rank one with eigenvalue "
          "R_k(x0, zeta) Delta f(x0)^2 and eigenvector grad k / |grad k|.",
          kind="theorem", depends_on=("C2",), per_kernel=True,
          requires=("symbolic", "numeric", "as_stated", "counterexample",
                    "corrected", "experiment")),
    Claim("C4", "quadratic_law", "Quadratic efficacy law", "Thm 3.4 (corollary)",
          "As the poison count varies, Lambda_GN is proportional to Delta f^2 "
          "(log-log slope exactly 2) with constant R_k.",
          kind="theorem", depends_on=("C2", "C3"), per_kernel=True,
          requires=("symbolic", "as_stated", "counterexample", "corrected", "experiment")),
    Claim("C5", "detectability_lag", "Detectability lag", "Remark 3.5",
          "The spike is visible only once Delta f^2 >~ Lambda_clean / R_k; closed forms for "
          "m_succ, m_det, the lag and the never-detectable condition.",
          kind="theorem", depends_on=("C2", "C3", "C4"), per_kernel=True,
          requires=("symbolic", "numeric", "as_stated", "counterexample", "corrected")),
    Claim("C6", "near_clone", "Near-clone invisibility", "Sec. 3.3",
          "For the Gaussian kernel with r << ell efficacy stays O(1) while curvature vanishes "
          "like S^2 r^2 / ell^4; which kernels have R_k -> 0 as x0 -> zeta.",
          kind="theorem", depends_on=("C2", "C3"), per_kernel=True,
          requires=("symbolic", "numeric", "as_stated", "counterexample", "corrected")),
    Claim("C7", "feature_near_clones", "Feature-space near-clones", "neural-collapse remark",
          "In penultimate feature space poisoned training samples and triggered test inputs "
          "move close together as training proceeds.",
          kind="empirical", depends_on=("C6",),
          requires=("as_stated", "counterexample", "experiment")),
    Claim("C8", "regularised_objective", "Input-gradient-regularised objective", "Sec. 3.4",
          "J(w) = E[L] + kappa/2 E|grad_x L|^2; the penalised KRR estimators (function- and "
          "loss-gradient versions).",
          kind="theorem", requires=("symbolic", "numeric"), depends_on=(), per_kernel=True),
    Claim("C9", "capacity", "Capacity cost of the penalty", "Thm 3.9",
          "df(kappa) = tr[K (K + n lambda I + kappa G)^{-1}] strictly decreases in kappa and "
          "the training residual |y - K alpha|^2 strictly increases in kappa.",
          kind="theorem", depends_on=("C8",), per_kernel=True,
          requires=("symbolic", "numeric", "as_stated", "counterexample", "corrected")),
    Claim("C10", "poison_suppression", "Poison suppression", "Sec. 3.4",
          "Closed forms of the penalised shift and spike of the clone model in kappa, and the "
          "efficacy-capacity trade-off.",
          kind="theorem", depends_on=("C1", "C2", "C3", "C8"), per_kernel=True,
          requires=("symbolic", "numeric", "as_stated", "counterexample", "corrected")),
    Claim("C11", "high_pass_filter", "High-pass filter and effective length scale",
          "Remark 3.10",
          "For exponential kernels the penalty is an anisotropic high-pass filter with "
          "ell_eff^2 = ell^2 + c kappa.",
          kind="theorem", depends_on=("C8",), per_kernel=True,
          requires=("symbolic", "numeric", "as_stated", "counterexample", "corrected")),
    Claim("C12", "gradient_flow_contraction", "Gradient-flow contraction of Fisher modes",
          "Thm 3.12",
          "Under gradient flow on J every unit v with v^T (d_w g d_w g^T) v >= alpha has "
          "E_v(t) <= E_v(0) exp(-2 kappa alpha t).",
          kind="theorem", depends_on=("C8",),
          requires=("symbolic", "numeric", "as_stated", "counterexample",
                    "corrected", "experiment")),
    Claim("C13", "finite_width", "Finite-width agreement with the NTK", "Sec. 4",
          "Shift and spike of trained finite-width networks approach the NTK-KRR closed forms "
          "as width grows.",
          kind="empirical", requires=("numeric", "experiment"), depends_on=("C2", "C3")),
    Claim("E1", "e1_linear_digits", "Linear models on digits", "Sec. 5 (MNIST)",
          "Attack success vs poison fraction against spectral visibility; the lag; Spectral "
          "Signatures baseline.",
          kind="empirical", requires=("numeric", "experiment"), depends_on=("C3", "C5")),
    Claim("E2", "e2_deep_networks", "Deep networks", "Sec. 5 (CIFAR)",
          "Three dirty-label attacks on deep networks: success, clean accuracy, top "
          "input-Hessian eigenpairs.",
          kind="empirical", requires=("experiment",), depends_on=("C3", "C7")),
    Claim("E3", "e3_defence_sweep", "Defence sweep", "Sec. 5",
          "kappa sweep with and without augmentation: immunity at a clean-accuracy cost.",
          kind="empirical", requires=("experiment", "as_stated", "counterexample", "corrected"),
          depends_on=("C8", "C10")),
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
