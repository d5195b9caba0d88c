"""The conventions table (derivations.ntk_kernels.CONVENTIONS), row by row: our kernel
built with the row's options and parameters, times the row's factor, equals an
independent implementation of that paper's or library's definition
(``tests._reference_kernels``: Jacot et al. 2018, Lee et al. 2018 and 2019, Arora et al.
2019, Cho & Saul 2009, neural-tangents' documented layer rules), at 40 digits rounded
to float64 ("exact"), for depths 1-3, both activations where the source has them, on
generic and near-parallel pairs; and a wrong mapping (weight variance, readout bias,
input scaling, width, depth) fails the same comparison."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from derivations.ntk_kernels import CONVENTIONS, Network, NetworkError, ntk_spec
from numerics.kernels import TorchKernel
from numerics.ntk import network_gram
from numerics.tolerances import assert_close, is_close
from tests._reference_kernels import (
    arora_ntk,
    cho_saul_k1,
    jacot_ntk,
    lee2018_nngp,
    network_reference,
    nt_stax_kernel,
)

D = 3
#: their hyper-parameters (names as written in the table's mappings) per source prefix
THEIRS = {"beta": 0.6, "sigma_w2": 1.3, "sigma_w": 1.4, "sigma_b": 0.3, "W_std": 1.2,
          "b_std": 0.45, "n_0": D, "d_in": D, "d": D, "h": 7}


def _reference(source: str, activation: str, depth: int, x, y):
    """The row's own definition at (x, y) with THEIRS, or None when the source does not
    cover the activation."""
    t = THEIRS
    if source.startswith("this project"):
        return network_reference(activation, depth, x, y, beta=t["beta"], sigma_w2=t["sigma_w2"])
    if source.startswith("Jacot"):
        return jacot_ntk(activation, depth + 1, t["beta"], x, y)
    if source.startswith("Lee et al. 2018"):
        return lee2018_nngp(activation, depth, t["sigma_w"] ** 2, t["sigma_b"], x, y)
    if source.startswith("Lee et al. 2019"):
        return nt_stax_kernel(activation, depth, t["sigma_w"], t["sigma_b"], x, y)
    if source.startswith("Arora"):
        return arora_ntk(depth, x, y) if activation == "relu" else None
    if source.startswith("Cho & Saul"):
        return cho_saul_k1(depth, x, y) if activation == "relu" else None
    if "parameterization='standard'" in source:
        return nt_stax_kernel(activation, depth, t["W_std"], t["b_std"], x, y,
                              parameterization="standard", width=t["h"])
    if source.startswith("neural-tangents"):
        return nt_stax_kernel(activation, depth, t["W_std"], t["b_std"], x, y)
    raise KeyError(source)


_THEIR_SYMBOLS = {k: sp.Symbol(k) for k in THEIRS}


def _value(text: str) -> float:
    """A mapping written in their names (e.g. ``"W_std**2"``) at :data:`THEIRS`."""
    expr = sp.sympify(text, locals=_THEIR_SYMBOLS)
    return expr.subs({_THEIR_SYMBOLS[k]: v for k, v in THEIRS.items()})


def _ours(row, activation: str, depth: int, X: torch.Tensor, Y: torch.Tensor,
          **changes) -> np.ndarray:
    options = {k: (int(_value(v)) if k in ("input_dim", "width") else v)
               for k, v in row.options}
    params = {k: float(_value(v)) for k, v in row.params}
    options.update(changes.pop("options", {}))
    params.update(changes)
    net = Network(activation, depth, row.kind, **options)
    inv = TorchKernel._invariants(TorchKernel("ntk_relu"), X, Y)
    return float(_value(row.factor)) * network_gram(net, params, X, Y, inv).numpy()


def _points(seed: int):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((4, D)) * np.array([[0.3], [1.0], [2.0], [3.5]])
    B = np.vstack([rng.standard_normal((3, D)), A[1] + 1e-6 * rng.standard_normal(D),
                   -A[2] + 1e-9 * rng.standard_normal(D)])
    return A, B


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("row", CONVENTIONS, ids=lambda r: r.source.split(",")[0])
def test_convention_row_matches_its_definition(row, activation, depth):
    A, B = _points(depth)
    if _reference(row.source, activation, depth, A[0], B[0]) is None:
        pytest.skip(f"{row.source} has no {activation} kernel")
    R = np.array([[float(_reference(row.source, activation, depth, x, y)) for y in B]
                  for x in A])
    K = _ours(row, activation, depth, torch.as_tensor(A), torch.as_tensor(B))
    assert_close(K, R, "exact", f"{row.source}, {activation}, depth {depth}")


#: (source prefix, wrong change of our mapping) -- each must fail the comparison
WRONG = [
    ("Jacot", {"options": {"readout_bias": False}}),
    ("Jacot", {"options": {"input_dim": None}}),
    ("Lee et al. 2018", {"sigma_w2": 1.4}),  # sigma_w, not sigma_w^2
    ("Lee et al. 2019", {"options": {"readout_bias": False}}),
    ("Arora", {"sigma_w2": 1.0}),
    ("Cho & Saul", {"sigma_w2": 1.0}),
    ("neural-tangents stax (Novak", {"options": {"input_dim": None}}),
    ("neural-tangents stax, parameterization='standard'", {"options": {"width": 8}}),
    ("neural-tangents stax, parameterization='standard'", {"options": {
        "parametrisation": "ntk", "width": None}}),
]


@pytest.mark.parametrize("prefix,change", WRONG, ids=lambda v: str(v)[:40])
def test_wrong_mapping_is_rejected(prefix, change):
    row = next(r for r in CONVENTIONS if r.source.startswith(prefix))
    A, B = _points(7)
    R = np.array([[float(_reference(row.source, "relu", 2, x, y)) for y in B] for x in A])
    X, Y = torch.as_tensor(A), torch.as_tensor(B)
    assert is_close(_ours(row, "relu", 2, X, Y), R, "exact")
    assert not is_close(_ours(row, "relu", 2, X, Y, **change), R, "exact"), (prefix, change)


def test_network_options_are_checked():
    """Bad architectures are refused with NetworkError (a ValueError) naming the field."""
    for kwargs, word in [(dict(activation="tanh", depth=1), "activation"),
                         (dict(activation="relu", depth=0), "depth"),
                         (dict(activation="relu", depth=2.0), "depth"),
                         (dict(activation="relu", depth=1, kind="gp"), "kind"),
                         (dict(activation="relu", depth=1, parametrisation="mup"),
                          "parametrisation"),
                         (dict(activation="relu", depth=1, input_dim=0), "input_dim"),
                         (dict(activation="relu", depth=1, parametrisation="standard"), "width"),
                         (dict(activation="relu", depth=1, width=5), "width"),
                         (dict(activation="relu", depth=1, readout_bias=1), "readout_bias")]:
        with pytest.raises(NetworkError, match=word):
            Network(**kwargs)
    with pytest.raises(ValueError, match="sigma_w2"):
        TorchKernel("ntk_relu", sigma_w2=25.0)  # outside the declared range [0.05, 20]
    assert issubclass(NetworkError, ValueError)
    spec = ntk_spec("erf", 2, readout_bias=True, input_dim=5)
    assert spec.network == Network("erf", 2, readout_bias=True, input_dim=5)
    assert hash(spec.network) == hash(Network("erf", 2, readout_bias=True, input_dim=5))


@pytest.mark.parametrize("activation", ["relu", "erf"])
@pytest.mark.parametrize("row", CONVENTIONS, ids=lambda r: r.source.split(",")[0])
def test_convention_row_symbolic_expression(row, activation):
    """The SymPy expression of the row's kernel (network_expr, the one differentiated for
    the input derivatives) at a generic pair, 30 digits, equals the row's definition."""
    from derivations.kernels import a, b, u
    from derivations.ntk_kernels import beta, network_expr, sigma_w2

    A, B = _points(11)
    x, y = A[1], B[0]
    ref = _reference(row.source, activation, 2, x, y)
    if ref is None:
        pytest.skip(f"{row.source} has no {activation} kernel")
    options = {k: (int(_value(v)) if k in ("input_dim", "width") else v)
               for k, v in row.options}
    params = {k: _value(v) for k, v in row.params}
    expr = network_expr(Network(activation, 2, row.kind, **options))
    val = _value(row.factor) * expr.subs({beta: params["beta"], sigma_w2: params["sigma_w2"],
                                          a: float(x @ x), b: float(y @ y), u: float(x @ y)})
    assert_close(float(sp.N(val, 30)), float(ref), "exact", f"{row.source}, {activation}")
