"""C11: effective spectral density, kernel and length scale of the gradient penalty."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import example, given
from hypothesis import strategies as st
from scipy.integrate import quad

from derivations.claims import Refuted
from derivations.high_pass_filter import (
    ell,
    gaussian_anisotropic,
    gaussian_curvature_length,
    gaussian_density,
    gaussian_lowfreq_length,
    kappa_rel,
    laplace_3d_lowfreq_length,
    laplace_exact,
    omega,
    s_freq,
    spectral_density_1d,
)
from derivations.kernels import REGISTRY
from numerics.tolerances import assert_close
from proofs_check.evidence import asserted_for, note_not_applicable, refute_unless

ELLS = st.floats(-0.5, 0.5).map(lambda e: 10.0**e)
KAPPAS = st.floats(-2.0, 1.0).map(lambda e: 10.0**e)


@pytest.mark.claim("C11", "symbolic", scope="Laplace kernel, d = 1")
def test_laplace_1d_exact_law():
    """1-D Laplace kernel (spectral density integrated by SymPy from the registry
    expression): the forward transform of (ell/ell_eff) exp(-|r|/ell_eff),
    ell_eff^2 = ell^2 + 2 ell kappa', equals S_eff for every ell, kappa'."""
    assert laplace_exact()["difference"] == 0
    asserted_for("laplace")


@pytest.mark.claim("C11", "corrected")
def test_symbolic_corrected_readings():
    """The corrected readings, symbolically: Gaussian low-frequency length exactly linear in
    kappa' for symbolic d (the d = 1 density from the registry), with a data metric A in
    d = 2; Gaussian curvature length sqrt(pi)/4 ell kappa' to first order (d = 1); the
    Laplace law leaves its family in d = 3 (non-zero s^2 mismatch)."""
    assert sp.simplify(spectral_density_1d("gaussian")
                       - gaussian_density(1).subs(s_freq, omega**2)) == 0
    lf = gaussian_lowfreq_length()
    assert lf["second_derivative_in_kappa"] == 0  # exactly linear in kappa
    assert gaussian_anisotropic(2)["difference"] == sp.zeros(2, 2)
    assert sp.simplify(gaussian_curvature_length()["constant"] - sp.sqrt(sp.pi) * ell / 4) == 0
    asserted_for("gaussian")
    # Laplace in d = 3 is not mapped into its own family (s^2 coefficient mismatch)
    assert sp.simplify(laplace_3d_lowfreq_length()["family_mismatch"]) != 0
    asserted_for("laplace")


@pytest.mark.claim("C11", "sanity")
def test_non_stationary_kernels_not_applicable():
    """The claim is about stationary kernels (a spectral density): every registered
    non-isotropic kernel is refused by the spectral-density derivation and recorded as not
    applicable."""
    for name, spec in REGISTRY.items():
        if spec.family == "isotropic":
            continue
        with pytest.raises(ValueError, match="not stationary"):
            spectral_density_1d(name)
        note_not_applicable(name, "not stationary: no spectral density, the Fourier-domain "
                            "filter is undefined")


def _cos_integral(fun, w, upper=None):
    """int_0^upper fun(x) cos(w x) dx: QAWO on a finite range for fast-decaying integrands,
    QAWF (Fourier-weighted) on [0, oo) otherwise."""
    if upper is not None:
        return quad(fun, 0, upper, weight="cos", wvar=w, epsabs=1e-14, epsrel=1e-12,
                    limit=400)[0]
    return quad(fun, 0, np.inf, weight="cos", wvar=w, epsabs=1e-12, limlst=400)[0]


def _ft(k, w, upper=None):
    """int k(x) cos(w x) dx over R (even k)."""
    return 2 * _cos_integral(k, w, upper)


@pytest.mark.claim("C11", "numeric")
@given(l=ELLS)
def test_spectral_densities_by_quadrature(l):
    for name, kfun, upper in (("gaussian", lambda x: math.exp(-x * x / (2 * l * l)), 40 * l),
                              ("laplace", lambda x: math.exp(-x / l), 80 * l)):
        S = sp.lambdify(omega, spectral_density_1d(name).subs(ell, l))
        for w in (0.3, 1.0, 2.5):
            assert_close(np.array(_ft(kfun, w, upper)), np.array(S(w)), "quadrature", name)
        asserted_for(name)


def _k_eff(S, r, upper=None):
    """k_eff(r) = (1/pi) int_0^oo S_eff(w) cos(w r) dw by quadrature."""
    if r == 0:
        return quad(S, 0, upper or np.inf, epsabs=1e-14, epsrel=1e-12, limit=400)[0] / math.pi
    return _cos_integral(S, r, upper) / math.pi


@pytest.mark.claim("C11", "numeric")
@given(l=ELLS, kp=KAPPAS)
def test_laplace_law_exact(l, kp):
    """1-D Laplace: k_eff = (ell/ell_eff) exp(-r/ell_eff), ell_eff^2 = ell^2 + 2 ell kappa',
    for every kappa (inverse Fourier transform by quadrature)."""
    S_eff = sp.lambdify(omega, laplace_exact()["S_eff"].subs({ell: l, kappa_rel: kp}))
    le = math.sqrt(l * l + 2 * l * kp)
    for r in (0.2, 1.0, 2.0):
        assert_close(np.array(_k_eff(S_eff, r)), np.array(l / le * math.exp(-r / le)),
                     "quadrature", "Laplace k_eff")
    asserted_for("laplace")


def _gauss_S_eff(l, kp):
    def S(w):
        s = math.sqrt(2 * math.pi) * l * math.exp(-l * l * w * w / 2)
        return s / (1 + kp * w * w * s)

    return S


@pytest.mark.claim("C11", "numeric")
@given(l=ELLS, u=st.floats(-4.5, -3.0).map(lambda e: 10.0**e))
def test_gaussian_curvature_length_series(l, u):
    """ell_curv^2 = int S_eff / int w^2 S_eff (quadrature) vs ell^2 + sqrt(pi)/4 ell kappa',
    at small dimensionless penalty u = kappa'/ell (the expansion parameter)."""
    kp = u * l
    S = _gauss_S_eff(l, kp)
    num = quad(S, 0, np.inf, epsabs=0, epsrel=1e-13, limit=400)[0]
    den = quad(lambda w: w * w * S(w), 0, np.inf, epsabs=0, epsrel=1e-13, limit=400)[0]
    exact = num / den
    first = float(gaussian_curvature_length()["series"].subs({ell: l, kappa_rel: kp}))
    # the first-order law's error is O(kappa'^2): compare the increments
    assert_close(np.array(exact - l * l), np.array(first - l * l), "series", "ell_curv^2")
    asserted_for("gaussian")


@pytest.mark.claim("C11", "numeric")
@given(l=ELLS, kp=KAPPAS)
def test_gaussian_lowfreq_length(l, kp):
    """ell_LF^2 = 2 d/ds log(1/S_eff)|_0 by central differences in s vs the closed form."""
    S = _gauss_S_eff(l, kp)
    h = 1e-5 / (l * l + kp * S(0.0))  # step small against the scale of log(1/S_eff)
    logi = [math.log(1 / S(math.sqrt(s))) for s in (h, 2 * h)]
    # one-sided second-order difference at s = 0 (s >= 0)
    d0 = (-3 * math.log(1 / S(0.0)) + 4 * logi[0] - logi[1]) / (2 * h)
    closed = float(gaussian_lowfreq_length(1)["ell_LF_sq"].subs({ell: l, kappa_rel: kp}))
    assert_close(np.array(2 * d0), np.array(closed), "finite_difference", "ell_LF^2")
    asserted_for("gaussian")


#: the as-stated check's threshold: log k_eff within this of the best Gaussian (a quadratic
#: in r) on r in [0, 3 ell]; quadrature errors are ~1e-10 here
GAUSSIAN_LOG_TOL = 1e-3


def _gaussian_fit(l, kp):
    """Best Gaussian fit of the effective kernel: (max |log k_eff - quadratic fit| on
    13 radii in [0, 3 ell], the fitted ell^2)."""
    S = _gauss_S_eff(l, kp)
    rs = np.linspace(0.0, 3.0 * l, 13)
    lk = np.log([_k_eff(S, r, 40.0 / l) for r in rs])
    coef = np.polyfit(rs**2, lk, 1)
    dev = float(np.abs(np.polyval(coef, rs**2) - lk).max())
    return dev, float(-1.0 / (2.0 * coef[0]))


@pytest.mark.claim("C11", "as_stated")
@pytest.mark.xfail(strict=True, raises=Refuted, reason=(
    "for the Gaussian kernel the penalised problem's effective kernel is not a Gaussian of "
    "any length scale (pinned: ell = 1, kappa' = 1, d = 1); the law holds exactly only in "
    "the low-frequency sense or for the 1-D Laplace kernel"))
@example(l=1.0, kp=1.0)
@given(l=ELLS, kp=KAPPAS)
def test_gaussian_effective_kernel_is_gaussian_as_stated(l, kp):
    dev, ell_fit_sq = _gaussian_fit(l, kp)
    refute_unless("C11", dev <= GAUSSIAN_LOG_TOL,
                  "the effective kernel of the penalised Gaussian is not a Gaussian",
                  kernel="gaussian", ell=l, kappa_rel=kp, max_log_deviation=dev,
                  tolerance=GAUSSIAN_LOG_TOL, best_fit_ell_sq=ell_fit_sq)
    asserted_for("gaussian")


#: the pinned counterexample (ell = 1, kappa' = 1), from a run
GAUSSIAN_PINNED = {"max_log_deviation": 0.1749165407949893, "best_fit_ell_sq": 2.8684526556525536}


@pytest.mark.claim("C11", "counterexample")
def test_gaussian_effective_kernel_counterexample():
    """ell = 1, kappa' = 1 (d = 1): log k_eff deviates from its best quadratic fit in r by
    the pinned amount, far above the threshold."""
    dev, ell_fit_sq = _gaussian_fit(1.0, 1.0)
    assert dev == pytest.approx(GAUSSIAN_PINNED["max_log_deviation"], rel=1e-6)
    assert ell_fit_sq == pytest.approx(GAUSSIAN_PINNED["best_fit_ell_sq"], rel=1e-6)
    assert dev > 100 * GAUSSIAN_LOG_TOL
    asserted_for("gaussian")
