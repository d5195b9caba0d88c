"""Tests of the public API (numerics.api, numerics.closed_forms, the numerics re-exports).

The closed forms returned by :func:`numerics.shift_and_spike` are checked against
independent numerics on the same data: the clean and the poisoned KRR refitted
(:func:`numerics.poisons.fit_clean_and_poisoned`), the shift measured as their difference
and the spike as the top eigenpair of the poison Gauss-Newton term by torch autograd
(:func:`numerics.poisons.autograd_gn_term`), over several kernels (an NTK among them) and
random instances.  Then the degenerate cases (a trigger so far that the kernel underflows,
no clean data, ``m = 0``), the ridge consistency of the conditional kernel, one-hot labels,
and a table of invalid inputs, each of which must raise a named error naming the argument.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import numerics
from derivations.kernels import UnknownKernelError, iter_specs
from numerics import closed_forms as cf
from numerics.api import (
    ShiftSpikeResult,
    classify_near_clone,
    lag_numbers,
    list_kernels,
    shift_and_spike,
)
from numerics.closed_forms import (
    InputTypeError,
    InputValueError,
    NonFiniteResultError,
    UnknownKernelNameError,
)
from numerics.kernels import TorchKernel
from numerics.poisons import (
    autograd_gn_term,
    clone_cluster,
    fit_clean_and_poisoned,
    measured_shift,
    top_eigenpairs,
)
from numerics.tolerances import assert_close

#: kernels of every family, an NTK and a deep NTK among them; (name, params)
KERNELS = [
    ("gaussian", {"ell": 1.3}),
    ("matern52", {"ell": 0.8}),
    ("rational_quadratic", {"ell": 1.1, "alpha": 2.0}),
    ("laplace", {"ell": 1.5}),
    ("polynomial", {"gamma": 0.5, "c0": 1.0, "p": 3}),
    ("ntk_relu", {}),
    ("ntk_erf_d2", {}),
]
SEEDS = (0, 1, 2)


def _instance(name: str, params: dict, seed: int, outputs: int | None = None, n: int = 7,
              d: int = 3):
    """A random instance: clean data around the trigger (so that k~ differs from k), x0 at
    0.3-1 length scales from zeta, ridge 0.05-0.5 of the mean k(x, x)."""
    rng = np.random.default_rng(seed)
    scale = params.get("ell", 1.0)
    zeta = rng.normal(size=d) * scale
    X = zeta + rng.normal(size=(n, d)) * scale
    x0 = zeta + rng.normal(size=d) / math.sqrt(d) * scale * rng.uniform(0.3, 1.0)
    if outputs is None:
        y, y_t = rng.normal(size=n), float(rng.uniform(1.0, 3.0))
    else:
        y = np.eye(outputs)[rng.integers(0, outputs, n)]
        y_t = np.eye(outputs)[int(rng.integers(0, outputs))]
    K = TorchKernel(name, **params).gram(torch.as_tensor(X))
    c = float(rng.uniform(0.05, 0.5)) * float(K.diagonal().mean())
    m = int(rng.integers(1, 40))
    return dict(X=X, y=y, zeta=zeta, x0=x0, c=c, m=m, y_t=y_t)


def _refit(name: str, params: dict, inst: dict, spectrum: bool = True):
    """Independent measurement: the two refits, the shift and the autograd GN top pair
    (``None`` s with ``spectrum=False``)."""
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    k = TorchKernel(name, **params)
    Xp, yp = clone_cluster(t(inst["zeta"]), inst["m"], t(inst["y_t"]))
    X = t(inst["X"]) if inst["X"] is not None else torch.zeros(0, len(inst["zeta"]),
                                                                  dtype=torch.float64)
    y = t(inst["y"]) if inst["y"] is not None else torch.zeros(0, dtype=torch.float64)
    clean, poisoned = fit_clean_and_poisoned(k, inst["c"], X, y, Xp, yp)
    x0 = t(inst["x0"])[None]
    shift = measured_shift(clean, poisoned, x0)[0].numpy()
    if not spectrum:
        return shift, None, None
    vals, vecs = top_eigenpairs(autograd_gn_term(clean, poisoned, x0)[0], 1)
    return shift, float(vals[0]), vecs[:, 0].numpy()


def _call(name, params, inst, **kw):
    return shift_and_spike(name, inst["X"], inst["y"], inst["zeta"], inst["m"], inst["y_t"],
                           inst["x0"], inst["c"], **kw, **params)


def _assert_same_direction(v, w, what):
    """Unit eigenvectors equal up to sign."""
    assert_close(float(np.dot(v, w)) ** 2, 1.0, "refit", what)


# --------------------------------------------------------------- against the refits
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name,params", KERNELS, ids=[k for k, _ in KERNELS])
def test_closed_forms_match_refit_and_autograd(name, params, seed):
    inst = _instance(name, params, seed)
    res = _call(name, params, inst)
    shift, lam, vec = _refit(name, params, inst)
    assert isinstance(res, ShiftSpikeResult)
    assert_close(res.exact_shift, float(shift), "refit", f"{name}: exact shift vs refit")
    assert_close(res.spike_eigenvalue, lam, "refit", f"{name}: spike eigenvalue vs autograd")
    _assert_same_direction(res.spike_eigenvector, vec, f"{name}: spike eigenvector")
    assert_close(np.linalg.norm(res.spike_eigenvector), 1.0, "exact", "unit eigenvector")
    # the derivation's eigenvalue is R_k~ Delta f^2 (k~ != 0 here)
    assert_close(res.spike_eigenvalue, res.R_k_tilde * res.exact_shift**2, "exact",
                 f"{name}: eigenvalue = R_k~ Delta f^2")


@pytest.mark.parametrize("name,params", KERNELS, ids=[k for k, _ in KERNELS])
def test_measure_option_reports_the_refit(name, params):
    inst = _instance(name, params, 5)
    res = _call(name, params, inst, measure=True)
    shift, lam, vec = _refit(name, params, inst)
    assert_close(res.measured["shift"], float(shift), "exact", "measured shift")
    assert_close(res.measured["spike_eigenvalue"], lam, "exact", "measured eigenvalue")
    _assert_same_direction(res.measured["spike_eigenvector"], vec, "measured eigenvector")
    assert float(res.measured["spike_eigenvector"] @ res.spike_eigenvector) > 0  # aligned
    assert _call(name, params, inst).measured is None


@pytest.mark.parametrize("name,params", KERNELS, ids=[k for k, _ in KERNELS])
def test_R_k_is_the_log_gradient_norm(name, params):
    """R_k (lambdified from the derivation, family variables) equals |grad k|^2 / k^2 with
    grad k from the torch kernel's closed-form gradient."""
    inst = _instance(name, params, 3)
    res = _call(name, params, inst)
    q = cf.clean_quantities(name, inst["X"], inst["y"], inst["zeta"], inst["x0"], inst["c"],
                            **params)
    assert_close(res.R_k, float(q.grad_k @ q.grad_k) / q.k0**2, "autograd", f"{name}: R_k")


def test_stated_equals_exact_without_clean_data():
    """No clean data: k~ = k and f_C = 0, so the stated and exact forms coincide; both match
    the refit of the poisons alone."""
    name, params = "gaussian", {"ell": 0.9}
    inst = _instance(name, params, 4)
    inst.update(X=np.zeros((0, 3)), y=None)
    res = _call(name, params, inst, measure=True)
    assert res.n_clean == 0
    shift, lam, vec = _refit(name, params, inst)
    assert_close(res.exact_shift, float(shift), "refit", "exact shift, n = 0")
    assert_close(res.stated_shift, float(shift), "refit", "stated shift, n = 0")
    assert_close(res.spike_eigenvalue, lam, "refit", "spike, n = 0")
    assert_close(res.stated_spike_eigenvalue, lam, "refit", "stated spike, n = 0")
    _assert_same_direction(res.stated_spike_eigenvector, vec, "stated eigenvector, n = 0")
    assert_close(res.gain, res.stated_gain, "exact", "gains, n = 0")
    # X=None means the same as an empty X
    res2 = shift_and_spike(name, None, None, inst["zeta"], inst["m"], inst["y_t"], inst["x0"],
                           inst["c"], **params)
    assert res2.exact_shift == res.exact_shift


def test_gain_is_the_clone_weight():
    """S~(m; c) is the total dual weight of the clones per unit residual: with no clean data
    and y_t = 1, f_P(zeta) = k(zeta, zeta) S(m; c) (C1), measured by a refit."""
    name, params = "matern32", {"ell": 1.0}
    zeta = np.array([0.2, -0.4])
    inst = dict(X=np.zeros((0, 2)), y=None, zeta=zeta, x0=zeta, c=0.3, m=7, y_t=1.0)
    res = shift_and_spike(name, None, None, zeta, 7, 1.0, zeta + 0.5, 0.3, **params)
    shift, _, _ = _refit(name, params, inst, spectrum=False)
    assert_close(res.k_zeta * res.gain, float(shift), "refit", "k_zeta S = f_P(zeta)")


def test_one_hot_labels():
    name, params = "gaussian", {"ell": 1.2}
    inst = _instance(name, params, 6, outputs=4)
    res = _call(name, params, inst, measure=True)
    shift, lam, vec = _refit(name, params, inst)
    assert res.exact_shift.shape == (4,) and res.stated_shift.shape == (4,)
    assert_close(res.exact_shift, shift, "refit", "one-hot exact shift")
    assert_close(res.spike_eigenvalue, lam, "refit", "one-hot spike eigenvalue")
    assert_close(res.spike_eigenvalue, res.R_k_tilde * float(res.exact_shift @ res.exact_shift),
                 "exact", "one-hot eigenvalue = R_k~ |Delta f|^2")
    _assert_same_direction(res.spike_eigenvector, vec, "one-hot eigenvector")
    json.dumps(res.to_dict())


def test_one_hot_without_clean_data():
    """A (0, o) y fixes the number of outputs when there is no clean data."""
    name, params = "ntk_relu", {}
    inst = _instance(name, params, 8, outputs=3)
    inst.update(X=np.zeros((0, 3)), y=np.zeros((0, 3)))
    res = _call(name, params, inst)
    shift, lam, _ = _refit(name, params, inst)
    assert_close(res.exact_shift, shift, "refit", "one-hot shift, n = 0")
    assert_close(res.spike_eigenvalue, lam, "refit", "one-hot spike, n = 0")


# --------------------------------------------------------------- degenerate cases
@pytest.mark.parametrize("with_clean", [False, True])
def test_far_trigger_underflow_gives_zero_spike(with_clean):
    """Far from the trigger the Gaussian k(x0, zeta) underflows to exactly 0; the spike is 0
    (zero eigenvector), the shift 0, R_k stays finite -- never a ZeroDivisionError or a
    NaN spike (the old harness divided by k~(x0, zeta)^2)."""
    ell = 0.5
    zeta = np.array([0.1, 0.2, -0.3])
    x0 = zeta + np.array([60.0, 0.0, 0.0])  # r / ell = 120: exp(-7200) underflows
    rng = np.random.default_rng(0)
    X = zeta + rng.normal(size=(5, 3)) * ell if with_clean else np.zeros((0, 3))
    y = rng.normal(size=5) if with_clean else None
    res = shift_and_spike("gaussian", X, y, zeta, 10, 2.0, x0, 0.1, measure=True, ell=ell)
    assert res.k0 == 0.0 and res.kt0 == 0.0
    assert res.spike_eigenvalue == 0.0 and res.stated_spike_eigenvalue == 0.0
    assert np.array_equal(res.spike_eigenvector, np.zeros(3))
    assert res.exact_shift == 0.0 and res.stated_shift == 0.0
    # |grad log k|^2 = r^2 / ell^4 for the Gaussian, from its definition
    assert_close(res.R_k, 60.0**2 / ell**4, "exact", "R_k far away")
    assert math.isnan(res.R_k_tilde)
    assert res.measured["spike_eigenvalue"] == 0.0 and res.measured["shift"] == 0.0
    d = res.to_dict()
    assert d["R_k_tilde"] is None
    json.dumps(d, allow_nan=False)
    assert "R_k~ = nan" in res.summary()


def test_zero_conditional_kernel_with_nonzero_gradient():
    """Linear kernel, x0 orthogonal to zeta, no clean data: k(x0, zeta) = 0 but
    grad k = zeta != 0, so the spike is finite and non-zero (R_k~ Delta f^2 would be
    inf * 0); R_k~ is inf.  Checked against the autograd refit."""
    zeta, x0 = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    inst = dict(X=None, y=None, zeta=zeta, x0=x0, c=0.5, m=3, y_t=1.5)
    res = _call("linear", {}, inst)
    _, lam, vec = _refit("linear", {}, inst)
    assert res.exact_shift == 0.0 and res.R_k_tilde == math.inf
    assert lam > 0
    assert_close(res.spike_eigenvalue, lam, "refit", "spike with k~ = 0")
    _assert_same_direction(res.spike_eigenvector, vec, "eigenvector with k~ = 0")


def test_zero_poisons():
    name, params = "gaussian", {}
    inst = _instance(name, params, 9)
    inst["m"] = 0
    res = _call(name, params, inst, measure=True)
    assert res.exact_shift == 0.0 and res.stated_shift == 0.0 and res.gain == 0.0
    assert res.spike_eigenvalue == 0.0 and not res.spike_eigenvector.any()
    assert res.measured["spike_eigenvalue"] == 0.0


def test_conditional_kernel_uses_the_same_ridge():
    """k~ is built with the ridge c of the shift: it equals the conditional kernel solved
    here with numpy at that c, and differs from the one at another ridge."""
    name, params = "gaussian", {"ell": 1.0}
    inst = _instance(name, params, 11)
    res = _call(name, params, inst)
    k = TorchKernel(name, **params)
    t = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64))  # noqa: E731
    X, z, x0 = t(inst["X"]), t(inst["zeta"])[None], t(inst["x0"])[None]
    K = k.gram(X).numpy()
    kx, kz = k.gram(X, x0).numpy()[:, 0], k.gram(X, z).numpy()[:, 0]

    def kt(cc):
        return float(k.gram(x0, z)[0, 0]) - kx @ np.linalg.solve(K + cc * np.eye(len(K)), kz)

    assert_close(res.kt0, kt(inst["c"]), "refit", "k~(x0, zeta) at the shift's ridge")
    assert abs(kt(10 * inst["c"]) - res.kt0) > 1e-3 * abs(res.kt0)  # the ridge matters
    # and the exact shift at another ridge is the refit at that ridge
    inst2 = dict(inst, c=10 * inst["c"])
    assert_close(_call(name, params, inst2).exact_shift, float(_refit(name, params, inst2)[0]),
                 "refit", "exact shift at 10 c")


# --------------------------------------------------------------- input forms
def test_lists_and_tensors_give_the_same_result():
    name, params = "matern52", {"ell": 1.0}
    inst = _instance(name, params, 12)
    ref = _call(name, params, inst)
    as_list = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in inst.items()}
    as_torch = {k: (torch.as_tensor(v) if isinstance(v, np.ndarray) else v)
                for k, v in inst.items()}
    for other in (as_list, as_torch):
        res = _call(name, params, other)
        assert res.exact_shift == ref.exact_shift
        assert res.spike_eigenvalue == ref.spike_eigenvalue
    res = shift_and_spike(TorchKernel(name, **params), inst["X"], inst["y"], inst["zeta"],
                          inst["m"], inst["y_t"], inst["x0"], inst["c"])
    assert res.exact_shift == ref.exact_shift and res.kernel_params == {"ell": 1.0}


def test_result_dict_and_summary():
    name, params = "gaussian", {"ell": 2.0}
    inst = _instance(name, params, 13)
    res = _call(name, params, inst, measure=True)
    d = res.to_dict()
    assert set(d) == set(ShiftSpikeResult.__dataclass_fields__)
    back = json.loads(json.dumps(d, allow_nan=False))
    assert back["exact_shift"] == res.exact_shift and back["m"] == inst["m"]
    assert back["spike_eigenvector"] == res.spike_eigenvector.tolist()
    assert back["kernel"] == "gaussian" and back["kernel_params"] == {"ell": 2.0}
    text = res.summary()
    assert "gaussian" in text and "measured by refit" in text
    with pytest.raises(AttributeError):
        res.m = 3  # frozen


# --------------------------------------------------------------- invalid inputs
_Z = [0.0, 1.0]
_OK = dict(kernel="gaussian", X=[[0.0, 0.0], [1.0, 1.0]], y=[0.5, -0.5], zeta=_Z, m=3,
           y_t=1.0, x0=[0.5, 1.0], c=0.1)

BAD = [
    # (override, error class, text the message must contain)
    (dict(X=[0.0, 1.0, 2.0]), InputValueError, "clean inputs X"),
    (dict(X=[[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]), InputValueError, "clean inputs X"),
    (dict(X=[[0.0, np.nan], [1.0, 1.0]]), InputValueError, "clean inputs X"),
    (dict(X=np.array([[0.0, 1j], [1.0, 1.0]])), InputTypeError, "clean inputs X"),
    (dict(X=torch.zeros(2, 2, dtype=torch.complex128)), InputTypeError, "clean inputs X"),
    (dict(X=[["a", "b"], ["c", "d"]]), InputTypeError, "clean inputs X"),
    (dict(y=[0.5]), InputValueError, "clean targets y"),
    (dict(y=[0.5, np.inf]), InputValueError, "clean targets y"),
    (dict(y=np.zeros((2, 2, 2))), InputValueError, "clean targets y"),
    (dict(y=None), InputTypeError, "clean targets y"),
    (dict(zeta=[0.0, 1.0, 2.0]), InputValueError, "x0"),
    (dict(zeta=[[0.0, 1.0], [1.0, 0.0]]), InputValueError, "trigger zeta"),
    (dict(zeta=[np.nan, 1.0]), InputValueError, "trigger zeta"),
    (dict(zeta=[]), InputValueError, "trigger zeta"),
    (dict(x0=[1.0]), InputValueError, "x0"),
    (dict(x0=[0.0, np.nan]), InputValueError, "triggered input x0"),
    (dict(x0=[0.0, 1j]), InputTypeError, "triggered input x0"),
    (dict(c=0.0), InputValueError, "ridge c"),
    (dict(c=-1.0), InputValueError, "ridge c"),
    (dict(c=np.nan), InputValueError, "ridge c"),
    (dict(c=math.inf), InputValueError, "ridge c"),
    (dict(c=1 + 1j), InputTypeError, "ridge c"),
    (dict(c="0.1"), InputTypeError, "ridge c"),
    (dict(c=True), InputTypeError, "ridge c"),
    (dict(c=[0.1, 0.2]), InputValueError, "ridge c"),
    (dict(m=-1), InputValueError, "m (number of poisons)"),
    (dict(m=2.5), InputValueError, "m (number of poisons)"),
    (dict(m=np.nan), InputValueError, "m (number of poisons)"),
    (dict(m="3"), InputTypeError, "m (number of poisons)"),
    (dict(m=True), InputTypeError, "m (number of poisons)"),
    (dict(y_t=np.nan), InputValueError, "y_t"),
    (dict(y_t=1j), InputTypeError, "y_t"),
    (dict(y_t=[1.0, 0.0]), InputValueError, "y_t"),
    (dict(kernel="no_such_kernel"), UnknownKernelNameError, "no_such_kernel"),
    (dict(kernel=3), InputTypeError, "kernel"),
    (dict(kernel=None), InputTypeError, "kernel"),
    (dict(ell=1.0, kernel="linear"), InputTypeError, "ell"),
    (dict(nope=1.0), InputTypeError, "nope"),
    (dict(ell=-1.0), InputValueError, "ell"),
    (dict(ell=np.nan), InputValueError, "ell"),
    (dict(kernel="polynomial", p=2.5), InputValueError, "'p'"),
    (dict(kernel=TorchKernel("gaussian"), ell=2.0), InputTypeError, "both"),
    (dict(measure="yes"), InputTypeError, "measure"),
]


@pytest.mark.parametrize("override,error,text", BAD, ids=[str(b[0])[:40] for b in BAD])
def test_invalid_inputs_raise_named_errors(override, error, text):
    args = dict(_OK)
    args.update(override)
    assert issubclass(error, (ValueError, TypeError))
    with pytest.raises(error, match=__import__("re").escape(text)):
        shift_and_spike(**args)


def test_valid_baseline_of_the_error_table():
    """The table's baseline call is valid, so each row fails only because of its override."""
    res = shift_and_spike(**_OK)
    assert math.isfinite(res.exact_shift)


def test_one_hot_label_shape_mismatch():
    args = dict(_OK, y=np.eye(3)[[0, 1]], y_t=1.0)
    with pytest.raises(InputValueError, match="y_t"):
        shift_and_spike(**args)
    args["y_t"] = [0.0, 1.0]
    with pytest.raises(InputValueError, match="length 3"):
        shift_and_spike(**args)


def test_overflow_is_refused_not_returned():
    """|y_t| ~ 1e200: the shift is finite (~1e200) but the spike b^2 |g|^2 overflows; it is
    refused with a named error, never returned as inf."""
    with pytest.raises(NonFiniteResultError, match="spike eigenvalue"):
        shift_and_spike(**dict(_OK, y_t=1e200))
    q = cf.clean_quantities("gaussian", _OK["X"], [1e308, 1e308], _Z, _OK["x0"], 0.1)
    assert q.f_Cz > 1e307
    with pytest.raises(NonFiniteResultError, match="exact shift"):  # y_t - f_C(zeta) overflows
        cf.exact_shift(q, 3, -1.7e308)
    assert issubclass(NonFiniteResultError, ValueError)


def test_unknown_kernel_error_is_both_kinds():
    with pytest.raises(UnknownKernelError):
        shift_and_spike(**dict(_OK, kernel="nope"))
    with pytest.raises(ValueError):
        shift_and_spike(**dict(_OK, kernel="nope"))


def test_evaluators_validate():
    q = cf.clean_quantities("gaussian", _OK["X"], _OK["y"], _Z, _OK["x0"], 0.1)
    for fn in (cf.stated_shift, cf.exact_shift, cf.spike, cf.stated_spike):
        with pytest.raises(InputValueError, match="m"):
            fn(q, -2, 1.0)
        with pytest.raises(InputValueError, match="y_t"):
            fn(q, 2, np.nan)
        with pytest.raises(InputTypeError, match="CleanQuantities"):
            fn({"c": 0.1}, 2, 1.0)
    for fn in (cf.stated_gain, cf.exact_gain):
        with pytest.raises(InputTypeError, match="m"):
            fn(q, "2")


# --------------------------------------------------------------- the other entry points
def test_classify_near_clone_accepts_names_specs_and_kernels():
    by_name = classify_near_clone("gaussian")
    by_kernel = classify_near_clone(TorchKernel("gaussian", ell=3.0))
    assert by_name.verdict == by_kernel.verdict and by_name.name == "gaussian"
    with pytest.raises(UnknownKernelNameError, match="nope"):
        classify_near_clone("nope")
    with pytest.raises(InputTypeError, match="kernel"):
        classify_near_clone(1.5)


LAG_OK = dict(k0=0.5, k_zeta=1.0, y_t=2.0, R_k=1.0, c=0.1, tau=0.5, delta=0.3)


def test_lag_numbers_matches_the_derivation_module():
    from derivations.detectability_lag import lag_numbers as raw

    assert lag_numbers(**LAG_OK) == raw(*LAG_OK.values())


@pytest.mark.parametrize("name,value,error", [
    ("k0", 0.0, InputValueError), ("k0", np.nan, InputValueError), ("k_zeta", 0.0,
     InputValueError), ("y_t", "2", InputTypeError), ("R_k", -1.0, InputValueError),
    ("c", -0.1, InputValueError), ("c", 1j, InputTypeError), ("tau", 0.0, InputValueError),
    ("delta", math.inf, InputValueError), ("delta", None, InputTypeError),
])
def test_lag_numbers_validates(name, value, error):
    with pytest.raises(error, match=name):
        lag_numbers(**dict(LAG_OK, **{name: value}))


def test_list_kernels_describes_the_registry():
    infos = list_kernels()
    assert [i.name for i in infos] == [s.name for s in iter_specs()]
    for info, spec in zip(infos, iter_specs(), strict=True):
        assert info.family == spec.family
        assert [p.name for p in info.params] == [p.name for p in spec.params]
        assert [p.bounds for p in info.params] == [p.bounds for p in spec.params]
        assert [p.default for p in info.params] == [p.default for p in spec.params]
    poly = next(i for i in infos if i.name == "polynomial")
    assert next(p for p in poly.params if p.name == "p").integer


def test_package_reexports_lazily():
    """``import numerics`` imports neither torch nor SymPy; the names resolve to the
    defining modules' objects."""
    code = ("import sys, numerics; assert 'torch' not in sys.modules; "
            "assert 'sympy' not in sys.modules; print(sorted(numerics.__all__))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "shift_and_spike" in out.stdout
    from numerics import regularised

    assert numerics.shift_and_spike is shift_and_spike
    assert numerics.RegularisedKRR is regularised.RegularisedKRR
    assert numerics.fit_loss_gradient_penalty is regularised.fit_loss_gradient_penalty
    for name in numerics.__all__:
        assert getattr(numerics, name) is not None
    with pytest.raises(AttributeError, match="no_such_name"):
        numerics.no_such_name  # noqa: B018


def test_derivations_reexports_symbolic_entry_points():
    """``derivations`` re-exports its symbolic entry points lazily and never imports torch
    or numerics."""
    code = ("import sys, derivations; assert 'sympy' not in sys.modules; "
            "from derivations import KernelSpec, Param, CLAIMS, c, m, y_t, r, get_spec; "
            "import derivations.kernels as K, derivations.conventions as C; "
            "assert KernelSpec is K.KernelSpec and c is C.c and get_spec is K.get_spec; "
            "assert 'torch' not in sys.modules and not any(k.startswith('numerics') "
            "for k in sys.modules); print(len(CLAIMS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    import derivations

    assert set(derivations.__all__) >= {"KernelSpec", "Param", "CLAIMS", "c", "m", "y_t"}
    with pytest.raises(AttributeError, match="nope"):
        derivations.nope  # noqa: B018


@pytest.fixture
def user_kernel():
    """A user-registered kernel (inverse multiquadric), removed again after the test."""
    import sympy as sp

    from derivations.kernels import KernelSpec, Param, r, unregister
    from numerics.registration import register_kernel

    ell = sp.Symbol("ell", positive=True)
    spec = register_kernel(KernelSpec("api_test_imq", "isotropic", 1 / sp.sqrt(1 + r**2 / ell**2),
                               (Param(ell, 1.0, "length scale", bounds=(0.1, 10.0)),),
                               title="Inverse multiquadric (test)"), replace=True)
    yield spec
    unregister("api_test_imq")


def test_user_registered_kernel_through_the_api(user_kernel):
    """A kernel registered by user code is usable by name at once: listed with its declared
    range, classified, and its closed forms agree with the refit."""
    info = next(i for i in list_kernels() if i.name == "api_test_imq")
    assert info.params[0].bounds == (0.1, 10.0) and info.title.startswith("Inverse")
    assert classify_near_clone("api_test_imq").name == "api_test_imq"
    params = {"ell": 0.7}
    inst = _instance("api_test_imq", params, 21)
    res = _call("api_test_imq", params, inst)
    shift, lam, vec = _refit("api_test_imq", params, inst)
    assert_close(res.exact_shift, float(shift), "refit", "user kernel shift")
    assert_close(res.spike_eigenvalue, lam, "refit", "user kernel spike")
    with pytest.raises(InputValueError, match="ell"):
        _call("api_test_imq", {"ell": 20.0}, inst)  # outside the declared range
