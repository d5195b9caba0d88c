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
from derivations.ntk_kernels import (
    STATE,
    Network,
    beta,
    gaussian_maps,
    layer_correlations,
    ntk_spec,
    recursion_latex,
    sigma_w2,
    stable_layer_maps,
)
from numerics.kernels import TorchKernel, get_kernel
from numerics.ntk import network_value
from numerics.tolerances import assert_close


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
                                       ("ntk_relu_d3", True), ("nngp_relu", False),
                                       ("ntk_erf", False), ("ntk_erf_d2", False),
                                       ("ntk_erf_d3", False), ("nngp_erf", False)])
def test_cusp_on_the_diagonal(name, cusp):
    """(k(x + hv, x) + k(x - hv, x) - 2 k(x, x)) / h is the sum of the two one-sided
    directional derivatives at x' = x: O(1) for a kernel with a cusp there (no derivative;
    the ReLU NTKs of every depth), O(h) for a smooth one (erf) -- and for the ReLU NNGP
    (Cho & Saul's order-1 arc-cosine kernel), whose non-smooth part is O(|h|^3) there
    (``J_1(theta) = pi cos theta + theta^3 / 3 + ...``): it still declares the first-layer
    singular set, because its gradient coefficients (``phi_uu ~ (1 - rho)^(-1/2)``) have
    no limit on the diagonal, which is how the suite decides smoothness."""
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
        {_t: 1, beta: 1, sigma_w2: 1})))
    nngp = recursion_latex("relu", 3, kind="nngp")
    assert r"\Theta" not in nngp and r"\Sigma^{(3)}_{12}" in nngp
    std = recursion_latex("erf", 2, parametrisation="standard", width=7, readout_bias=True)
    assert "7" in std and std != recursion_latex("erf", 2)


_NETS = [Network("relu", 2), Network("relu", 2, "nngp", readout_bias=True),
         Network("relu", 2, parametrisation="standard", width=5, readout_bias=True),
         Network("erf", 2), Network("erf", 2, "nngp"),
         Network("erf", 2, parametrisation="standard", width=3)]


@pytest.mark.parametrize("net", _NETS, ids=str)
def test_stable_maps_equal_the_plain_maps(net):
    """The floating-point forms of the layer maps (stable_layer_maps) are the plain maps
    (gaussian_maps) rewritten: at random states and parameters, at 40 digits, one hidden
    layer and the readout agree (ReLU: the new angle th' = acos(rho'), ps' = pi - th')."""
    q11, q22, dq, th, ps, q12, T, w, b2 = STATE
    maps = stable_layer_maps(net)
    kk, kd, (s11, s22, s12, rho) = gaussian_maps(net.activation)
    rng = np.random.default_rng(0)
    with mpmath.workdps(40):
        for _ in range(6):
            v11, v22 = (mpmath.mpf(float(x)) for x in rng.uniform(0.1, 4.0, 2))
            ang = mpmath.mpf(float(rng.uniform(0.0, np.pi)))
            vT, vw, vb2 = (mpmath.mpf(float(x)) for x in (rng.uniform(-2, 2),
                                                           rng.uniform(0.2, 3), rng.uniform(0, 2)))
            v12 = mpmath.sqrt(v11 * v22) * mpmath.cos(ang)
            if net.activation == "relu":
                vals = {q11: v11, q22: v22, dq: v11 - v22, th: ang, ps: mpmath.pi - ang}
            else:
                vals = {q11: v11, q22: v22, q12: v12 / 3}
                v12 = v12 / 3
            vals.update({T: vT, w: vw, b2: vb2})
            pt = {s11: v11, s22: v22, s12: v12, rho: v12 / mpmath.sqrt(v11 * v22)}
            E, Ed = (sp.N(e.subs(pt), 40) for e in (kk, kd))
            own = (net.width * E + 1) if net.standard else vw * E + vb2
            new = [vw * v11 / 2 + vb2, vw * v22 / 2 + vb2] if net.activation == "relu" else None
            if new is None:
                D = lambda s: 2 / mpmath.pi * mpmath.asin(2 * s / (1 + 2 * s))  # noqa: E731
                new = [vw * D(v11) + vb2, vw * D(v22) + vb2]
            n12, t_new = vw * E + vb2, own + vw * Ed * vT
            layer = [sp.N(e.subs(vals), 40) for e in maps["layer"][1]]
            if net.activation == "relu":
                th_new = mpmath.acos(n12 / mpmath.sqrt(new[0] * new[1]))
                expected = [new[0], new[1], vw * (v11 - v22) / 2, th_new, mpmath.pi - th_new,
                            t_new]
            else:
                expected = [new[0], new[1], n12, t_new]
            for got, want in zip(layer, expected, strict=True):
                assert abs(float(got) - float(want)) <= 1e-25 * max(1.0, abs(float(want)))
            rb = vb2 if net.readout_bias else 0
            r_own = ((net.width * E + (1 if net.readout_bias else 0)) if net.standard
                     else vw * E + rb)
            want = vw * E + rb if net.kind == "nngp" else r_own + vw * Ed * vT
            got = sp.N(maps["readout"][1][0].subs(vals), 40)
            assert abs(float(got) - float(want)) <= 1e-25 * max(1.0, abs(float(want)))


@pytest.mark.parametrize("name", ["ntk_relu", "ntk_relu_d3", "nngp_relu", "ntk_erf_d3",
                                  "nngp_erf"])
def test_stable_value_equals_generated_expression(name):
    """The stable recursion (from the invariants a, b, u, TorchKernel.fn("k")) equals the
    lambdified expanded expression (the spec's expr) wherever that is well conditioned
    (sin^2 of the first-layer angle > 1e-3): "exact"."""
    rng = np.random.default_rng(1)
    for params in ({"beta": 0.0, "sigma_w2": 2.0}, {"beta": 0.8, "sigma_w2": 0.6}):
        k = TorchKernel(name, **params)
        X = torch.as_tensor(rng.standard_normal((12, 4)) * rng.uniform(0.2, 3.0, (12, 1)))
        inv = k._invariants(X, X[:7])
        aa, bb, uu = inv
        c2 = params["beta"] ** 2 / params["sigma_w2"]
        mask = 1 - (uu + c2) ** 2 / ((aa + c2) * (bb + c2)) > 1e-3
        assert bool(mask.sum() > 40)
        assert_close(k.fn("k")(*inv)[mask], k.generated["k"](*inv)[mask], "exact",
                     f"{k}: stable recursion vs generated")
        assert_close(network_value(k.spec.network, k.params, *inv), k.gram(X, X[:7]), "exact"
                     if not bool((~mask).any()) else "branch_point", f"{k}: a,b,u vs gram")


def test_network_kernels_of_any_depth_by_name():
    """get_spec resolves every network kernel name (one object per name) without
    registering it; malformed names and unsupported activations are unknown kernels."""
    from derivations.kernels import REGISTRY, UnknownKernelError, get_spec, network_spec

    for name, depth in (("ntk_relu_d3", 3), ("nngp_erf_d4", 4), ("ntk_erf_d2", 2)):
        spec = get_spec(name)
        assert spec is get_spec(name) and spec.name == name
        assert spec.network.depth == depth
    assert "ntk_relu_d3" in ntk_spec("relu", 3).name
    for bad in ("ntk_tanh", "ntk_relu_d0", "ntk_relu_d1", "ntk_relu_d03", "nngp_relu_d99"):
        assert network_spec(bad) is None
        if bad not in REGISTRY:
            with pytest.raises(UnknownKernelError, match="any depth"):
                get_spec(bad)


def test_deep_ntks_plugin_adds_depth_3_to_every_check():
    """POISONCURV_KERNELS=numerics.deep_ntks registers ntk_relu_d3 and ntk_erf_d3 before
    collection: every test taking kernel_name then has an id for each."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "POISONCURV_KERNELS": "numerics.deep_ntks"}
    res = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:xdist", "-p",
                          "no:cacheprovider", "--collect-only", "-q",
                          "tests/test_kernel_contracts.py", "-k", "d3"],
                         cwd=root, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    ids = [line for line in res.stdout.splitlines() if "::" in line]
    assert any("[ntk_relu_d3]" in i for i in ids) and any("[ntk_erf_d3]" in i for i in ids)
    assert all("d3" in i for i in ids)
