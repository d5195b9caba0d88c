"""C13 -- finite-width networks approach the NTK-KRR closed forms of C2 and C3.

What is claimed: the shift ``Delta f(x0)`` and the spike ``Lambda_GN(x0)`` measured on
trained finite-width networks (NTK parametrisation) approach the NTK-KRR closed forms as
the width ``h`` grows.

What the suite derives (no formula is duplicated here):

* the limit object.  A centred network ``f = g(w) - g(w0)`` trained to the minimiser of
  ``1/2 sum (f - y)^2 + c/2 |w - w0|^2`` equals, for its linearisation,
  ``Theta_h(x, X)(Theta_h + cI)^{-1} y`` with ``Theta_h`` the empirical NTK at init
  (derivation in :mod:`numerics.networks`); as ``h -> oo``, ``Theta_h -> Theta`` (the
  analytic NTK of :mod:`derivations.ntk_kernels`, registered as ``ntk_relu``,
  ``ntk_erf``) and the linearisation becomes exact, so the limit is NTK-KRR with ridge
  ``c``;
* the closed forms the networks are compared with: the exact-clone shift of C2
  (:func:`derivations.prediction_shift.exact_shift`) and the rank-one spike of C3
  (eigenvalue ``b_m^2 |grad k~|^2``, :func:`derivations.rank_one_spike.spike_eigen`),
  both evaluated with the NTK (numerically, by
  :func:`numerics.network_experiments.closed_forms`);
* the expected rate.  ``Theta_h - Theta`` is an average of ``h`` i.i.d. terms, so its
  fluctuation is ``O(h^{-1/2})`` (CLT); the change of the NTK during training is
  ``O(h^{-1/2})`` too (Jacot et al. 2018; Lee et al. 2019).  Both enter the shift and the
  spike linearly, so the error is expected to scale like ``h^{-1/2}`` (:data:`RATE`).
  This rate is *expected*, not proved here: it is what the check measures.

The acceptance criteria of the measurement (:data:`DEFAULT_SWEEP`, :data:`SLOW_SWEEPS`) are
stated here, once, so that the checks and the book page print the same numbers: they are
the experiment's criteria, not float tolerances (width-``h`` networks are expected to be
``O(h^{-1/2})`` away from the limit).
"""

from __future__ import annotations

import sympy as sp

from derivations.claims import claim_by_slug

CLAIM = claim_by_slug("finite_width")

__all__ = ["CLAIM", "RATE", "h", "error_model", "shift_expr", "spike_expr",
           "DEFAULT_SWEEP", "SLOW_SWEEPS", "REAL_SUBSET_CRITERIA"]

h = sp.Symbol("h", positive=True)  #: hidden width
C_err = sp.Symbol("C", positive=True)
#: the expected exponent of the error in the width
RATE = sp.Rational(-1, 2)

#: the default (fast) measurement: erf networks, its widths and seeds; accepted when every
#: network converged, both errors fall from the narrowest to the widest network, the fitted
#: shift rate lies in ``shift_rate_window`` and the widest shift error is below
#: ``max_widest_shift_err``
DEFAULT_SWEEP: dict = {"activation": "erf", "widths": (16, 64, 256), "seeds": (0, 1, 2),
                       "shift_rate_window": (-1.0, -0.25), "max_widest_shift_err": 0.15}
#: the slow sweeps (per activation); accepted when both fitted rates lie in ``rate_window``.
#: ReLU has fewer widths and seeds: its gradient descent converges slowly at the kinks and
#: the full sweep exceeded 10 CPU minutes (the wider ReLU sweep runs on CUDA in
#: ``scripts/gpu_check.sh``)
SLOW_SWEEPS: dict = {
    "erf": {"widths": (32, 64, 128, 256, 512, 1024, 2048), "seeds": tuple(range(6)),
            "steps": 6000, "rate_window": (-1.0, -0.3)},
    "relu": {"widths": (32, 64, 128, 256, 512), "seeds": tuple(range(3)), "steps": 6000,
             "rate_window": (-1.0, -0.3)},
}

#: the real-data sweep (a clone cluster at a real Fashion-MNIST image, 7x7 average-pooled
#: inputs on the unit sphere; ``numerics.real_data_claims``): accepted when every network
#: converged, both errors fall from the narrowest to the widest network, both fitted rates
#: are below ``max_rate`` (a clear decrease; the expected -1/2 is reported, not required)
#: and the widest shift error is below ``max_widest_shift_err``
REAL_SUBSET_CRITERIA: dict = {"max_rate": -0.25, "max_widest_shift_err": 0.15}


def error_model() -> sp.Expr:
    """``C h^{-1/2}``: the expected error of shift and spike at width ``h``."""
    return C_err * h**RATE


def shift_expr() -> sp.Expr:
    """The exact-clone shift of C2, ``k~0 (y_t - f_C(zeta)) m / (c + m k~_zeta)``."""
    from derivations.prediction_shift import exact_shift

    return exact_shift()


def spike_expr() -> sp.Expr:
    """The C3 spike eigenvalue ``b_m^2 |grad k~|^2`` with ``b_m = (y_t - f_C) S~(m; c)``
    (the rank-one eigenvalue of :func:`derivations.rank_one_spike.spike_eigen` with
    ``|g| = |grad_x k~(x0, zeta)|``)."""
    from derivations.conventions import y_t
    from derivations.prediction_shift import exact_gain, f_Cz
    from derivations.rank_one_spike import Gk, bm, spike_eigen

    lam = spike_eigen(1)["eigenvalue"]  # b^2 g1^2 in d = 1, i.e. b^2 |g|^2
    g1 = sp.Symbol("g1", real=True)
    return lam.subs(g1, Gk).subs(bm, (y_t - f_Cz) * exact_gain())
