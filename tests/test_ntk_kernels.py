"""Deep NTKs in the registry: diagonal values of the gradient coefficients (substitution
vs limits), the singular set of the ReLU NTKs of every depth, the book's recursion."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

from derivations.kernels import (
    REGISTRY,
    SIMPLIFY_MAX_OPS,
    _finite_limit,
    _t,
    a,
    b,
    get_spec,
    r,
    singular_on_diagonal,
    u,
)
from derivations.ntk_kernels import beta, layer_correlations, ntk_spec, recursion_latex
from numerics.kernels import get_kernel


def _probe_params(spec, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    vals = {}
    for p in spec.params:
        if p.symbol.is_integer:
            vals[p.symbol] = int(rng.integers(1, 4))
        else:
            vals[p.symbol] = mpmath.mpf(float(rng.uniform(0.3, 2.0)))
    return vals


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_diagonal_values_are_the_limits(name):
    """Each finite diagonal coefficient (found by substitution where that is exact) equals
    the coefficient evaluated just off the diagonal, approached from u < t (isotropic:
    r -> 0+), at 60 digits: the value is the limit, whichever route produced it."""
    spec = get_spec(name)
    if spec.family == "dot_product":
        pytest.skip("dot-product coefficients are functions of u, not limits")
    coeffs = spec.coefficients
    var = (r,) if spec.family == "isotropic" else (a, b, u)
    for key, diag in coeffs.diagonal.items():
        if diag is None:
            continue
        for seed in (0, 1):
            params = _probe_params(spec, seed)
            t = mpmath.mpf(float(np.random.default_rng(seed).uniform(0.2, 3.0)))
            f = sp.lambdify([*var, *params], coeffs.terms[key], modules="mpmath", cse=True)
            g = sp.lambdify([_t, *params], diag, modules="mpmath")
            with mpmath.workdps(60):
                near = (f(mpmath.mpf("1e-25"), *params.values()) if spec.family == "isotropic"
                        else f(t, t, t * (1 - mpmath.mpf("1e-25")), *params.values()))
                at = g(t, *params.values())
                assert abs(near - at) <= mpmath.mpf("1e-10") * max(1, abs(at)), (key, near, at)


@pytest.mark.parametrize("name", [n for n in sorted(REGISTRY)
                                  if get_spec(n).family == "invariant"
                                  and all(sp.count_ops(e) <= SIMPLIFY_MAX_OPS
                                          for e in get_spec(n).coefficients.terms.values())])
def test_diagonal_values_equal_sympy_limits(name):
    """For the kernels small enough for SymPy's limit (all but the deep NTKs): the diagonal
    values are the limits u -> t- that gradient_coefficients took before it substituted."""
    spec = get_spec(name)
    eps = sp.Symbol("eps_", positive=True)
    for key, term in spec.coefficients.terms.items():
        lim = _finite_limit(term.subs({a: _t, b: _t}).subs(u, _t * (1 - eps)), eps, 0)
        diag = spec.coefficients.diagonal[key]
        assert (lim is None) == (diag is None), key
        if lim is not None:
            pt = {s: sp.Rational(7 + j, 5) for j, s in enumerate(sorted(
                lim.free_symbols | diag.free_symbols, key=str))}
            assert abs(complex((lim - diag).evalf(50, subs=pt))) < 1e-40, key


def test_singular_on_the_diagonal():
    for name in ("ntk_relu", "ntk_relu_d2"):
        spec = get_spec(name)
        assert singular_on_diagonal(spec)
        assert not spec.smooth_on_diagonal
        assert all(v is None for v in spec.coefficients.diagonal.values())
    for name in ("ntk_erf", "ntk_erf_d2", "gaussian", "linear"):
        assert not singular_on_diagonal(get_spec(name))
        assert get_spec(name).smooth_on_diagonal
    # every ReLU NTK declares the foundation kernel's singular set
    assert sp.simplify(ntk_spec("relu", 3).singular - get_spec("ntk_relu").singular) == 0


def _correlations(depth: int):
    rho = layer_correlations("relu", depth)
    return sp.lambdify((a, b, u, beta), rho, modules="mpmath", cse=True)


@pytest.mark.parametrize("depth", [2, 3])
def test_relu_layer_correlations_reach_one_only_with_the_first(depth):
    """The argument of derivations.ntk_kernels.relu_singular, numerically at 60 digits:

    * on the singular set every layer's correlation is 1 (x = x' with beta > 0; parallel x,
      x' with beta = 0);
    * off it, approaching x' -> x along a random direction (|x - x'| = h), ``1 - rho_l``
      shrinks like ``h^2`` for every layer l, at the first layer's rate up to a factor in
      (0, oo): no later layer reaches 1 earlier or elsewhere;
    * for random pairs (beta in [0, 2], any scale) every |rho_l| < 1.
    """
    f = _correlations(depth)
    rng = np.random.default_rng(depth)
    with mpmath.workdps(60):
        for _ in range(5):
            x = rng.standard_normal(3) * rng.uniform(0.2, 3.0)
            aa = mpmath.fsum(mpmath.mpf(float(c)) ** 2 for c in x)
            bet = mpmath.mpf(float(rng.uniform(0.1, 2.0)))
            # (at the branch point acos / sqrt of a 1e-60 rounding error give ~1e-30)
            assert all(abs(rho - 1) < mpmath.mpf("1e-25") for rho in f(aa, aa, aa, bet))
            lam = mpmath.mpf(float(rng.uniform(0.2, 3.0)))  # x' = lam x, beta = 0
            assert all(abs(rho - 1) < mpmath.mpf("1e-25")
                       for rho in f(aa, lam**2 * aa, lam * aa, mpmath.mpf(0)))
            v = rng.standard_normal(3)
            v = v / np.linalg.norm(v)
            ratios = []
            for h in ("1e-4", "1e-6", "1e-8"):
                # invariants of x' = x + h v in 60-digit arithmetic (1 - rho ~ h^2 = 1e-16)
                xm = [mpmath.mpf(float(c)) for c in x]
                ym = [xi + mpmath.mpf(h) * mpmath.mpf(float(vi)) for xi, vi in zip(xm, v,
                                                                                  strict=True)]
                rho = f(mpmath.fsum(xi * xi for xi in xm), mpmath.fsum(yi * yi for yi in ym),
                        mpmath.fsum(xi * yi for xi, yi in zip(xm, ym, strict=True)), bet)
                ratios.append([(1 - r_) / (1 - rho[0]) for r_ in rho])
                assert all(1 - abs(r_) > 0 for r_ in rho)
            for col in zip(*ratios, strict=True):  # (1 - rho_l) / (1 - rho_1) converges
                assert 0 < col[-1] < mpmath.inf
                assert abs(col[-1] - col[-2]) < mpmath.mpf("1e-3") * col[-1]
        for _ in range(20):
            x, y = rng.standard_normal((2, 3)) * rng.uniform(0.1, 3.0, (2, 1))
            rho = f(mpmath.mpf(float(x @ x)), mpmath.mpf(float(y @ y)), mpmath.mpf(float(x @ y)),
                    mpmath.mpf(float(rng.uniform(0.0, 2.0))))
            assert all(abs(r_) < 1 for r_ in rho)


@pytest.mark.parametrize("name,cusp", [("ntk_relu", True), ("ntk_relu_d2", True),
                                       ("ntk_erf", False), ("ntk_erf_d2", False)])
def test_cusp_on_the_diagonal(name, cusp):
    """(k(x + hv, x) + k(x - hv, x) - 2 k(x, x)) / h is the sum of the two one-sided
    directional derivatives at x' = x: O(1) for a kernel with a cusp there (no derivative;
    the ReLU NTKs of every depth), O(h) for a smooth one (erf)."""
    k = get_kernel(name)
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = torch.as_tensor(rng.standard_normal((1, 3)))
        v = torch.as_tensor(rng.standard_normal((1, 3)))
        v = v / v.norm()
        h = 1e-5
        kxx = k.gram(x)[0, 0]
        s = float((k.gram(x + h * v, x)[0, 0] + k.gram(x - h * v, x)[0, 0] - 2 * kxx) / h)
        if cusp:
            assert s < -1e-3 * float(kxx), s  # a downward cusp (k(., x) peaks at x)
        else:
            assert abs(s) < 1e-3 * float(kxx), s


def test_recursion_latex_is_printed_from_the_code():
    """The book's definition of a deep NTK: one line per layer quantity, then the maps."""
    for act, depth in (("relu", 2), ("erf", 3)):
        text = recursion_latex(act, depth)
        assert text.startswith(r"\begin{aligned}") and text.endswith(r"\end{aligned}")
        for layer in range(1, depth + 1):
            assert rf"\Theta^{{({layer})}}" in text
        assert sp.latex(sp.pi) in text
    assert get_spec("ntk_relu_d2").definition == recursion_latex("relu", 2)
    assert math.isfinite(float(get_spec("ntk_erf_d2").coefficients.diagonal["phi_u"].subs(
        {_t: 1, beta: 1})))
