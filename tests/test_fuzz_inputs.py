"""Fuzzed bad input for every public function (issue 15, item 2) and the float32 policy.

What is fuzzed
    Every callable in ``__all__`` of every module of ``numerics/`` and ``derivations/``
    (``numerics/api.py`` included) is either a fuzz target of :mod:`tests._fuzz` (the table
    :func:`tests._fuzz.targets`) or listed in :data:`tests._fuzz.EXEMPT` with a one-line
    reason (exception and warning classes are exempt by rule);
    :func:`test_every_public_callable_is_fuzzed_or_exempt` fails for one that is neither.
    For each target Hypothesis draws a valid call and corrupts one argument with a value of
    its kind: arrays get NaN/inf entries, zero rows or columns, a wrong rank or shape
    (mismatched with the other arguments), complex, bool, string, int and
    float32/float16/bfloat16 dtypes, huge (1e154..1e308) and tiny (1e-300, subnormal)
    magnitudes, ``None``, ragged lists; scalars get NaN/inf, 0, negatives, extremes,
    complex, bool, strings, arrays; counts get negatives, non-integers, 2**62...; kernels
    get unknown names and bad hyper-parameters; fitted models get mismatched fits (another
    dimension, kernel or ridge, unfitted, multi-output); callables get NaN-valued,
    vector-valued or detached functions.

Outcome rule (per generated input, :func:`tests._fuzz.acceptable_error`)
    * a result: every number in it finite (unless the target documents non-finite values,
      ``finite=False``), the target's independent check passes where it has one (e.g. KRR
      predictions against scikit-learn), and an input that is the valid one in another
      form (a nested list, a tensor instead of an array...) gives the valid call's result;
    * or an exception that is a named error of the project (a class defined in numerics/ or
      derivations/), or a plain ``ValueError``/``TypeError`` whose traceback ends on a
      ``raise`` statement of numerics/ or derivations/.
    Anything else fails: a bare torch/NumPy/SymPy error, a ``KeyError``/``IndexError``, a
    NaN or inf result without an error, or a call past the time limit.

Time limit
    Every call runs in a worker thread under :data:`tests._fuzz.TIME_LIMIT_S` (10 s wall);
    a call still running then fails the test (the thread is abandoned), so a hang cannot
    hang pytest (thread-based: SIGALRM belongs to derivations.budget; works under xdist).

Float32 policy (issue 15, item 3)
    float32/float16/bfloat16 input to a function that goes through
    ``numerics.validation.as_tensor``/``as_points``/``as_targets`` (or
    ``numerics.closed_forms.as_real_array``) is upcast to float64 with a
    :class:`numerics.validation.Float32InputWarning`; a computation ``dtype`` below float64
    is honoured with the same warning.  The fuzz test checks the warning for every target
    whose arrays go through validation (``narrow_warns``).

Volume
    One Hypothesis test per target, ``max_examples`` from the loaded profile (ci 20, dev 30,
    thorough 400); each example makes a valid call and a corrupted one (measured: ~3,800
    calls under ci in 10-25 s on one core; ~66,000 under thorough in 5-9 min on 2 cores).
    :data:`REGRESSIONS` replays every failing input the fuzzing found (fixed in the
    library).  Known failures not fixed yet (modules fingerprinted by stored experiment
    results) are ``xfail`` with the reason: :data:`tests._fuzz.KNOWN_FAILURES`.  The calls made are
    counted per target and written as JSON to ``$POISONCURV_FUZZ_COUNT`` when set (one file
    per xdist worker: ``<path>.<worker>``).  Thorough run::

        HYPOTHESIS_PROFILE=thorough POISONCURV_FUZZ_COUNT=/tmp/fuzz.json \\
            python -m pytest tests/test_fuzz_inputs.py -p no:xdist
"""

from __future__ import annotations

import json
import os
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from numerics.validation import Float32InputWarning, as_points, as_targets, as_tensor
from tests import _fuzz
from tests._fuzz import (
    Bad,
    acceptable_error,
    call_limited,
    corrupted_calls,
    describe,
    nonfinite_leaves,
    numeric_leaves,
    resolve_lazy,
)

TARGETS = {t.name: t for t in _fuzz.targets()}


class _CountReport:
    """Registered while this module runs: the count in pytest's terminal summary."""

    @staticmethod
    def pytest_terminal_summary(terminalreporter):
        terminalreporter.write_line(f"fuzz: {sum(_fuzz.CALLS.values())} time-limited calls of "
                                    f"{len(_fuzz.CALLS)} fuzz targets")


@pytest.fixture(scope="module", autouse=True)
def _write_call_count(request):
    plugin = _CountReport()
    if not request.config.pluginmanager.is_registered(plugin):
        request.config.pluginmanager.register(plugin, "fuzz-count")
    yield
    total = sum(_fuzz.CALLS.values())
    path = os.environ.get("POISONCURV_FUZZ_COUNT")
    if path:
        worker = os.environ.get("PYTEST_XDIST_WORKER")
        if worker:
            path = f"{path}.{worker}"
        with open(path, "w") as fh:
            json.dump({"calls": total, "by_target": dict(sorted(_fuzz.CALLS.items()))},
                      fh, indent=1)


def _fail(target: str, name: str, bad: Bad, why: str) -> None:
    pytest.fail(f"{target}: argument {name!r} = {bad.label} ({describe(bad.value)}): {why}",
                pytrace=False)


def _close(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    if len(a) != len(b):
        return False
    return all(x.shape == y.shape and np.allclose(x, y, rtol=1e-12, atol=0.0, equal_nan=False)
               for x, y in zip(a, b, strict=True))


def run_case(target: _fuzz.Target, valid: dict, bad_kwargs: dict, name: str, bad: Bad) -> None:
    """Apply the outcome rule to one corrupted call of ``target``."""
    ref = call_limited(lambda **kw: target.call(**kw), valid, what=target.name)
    if ref.error is not None:
        raise AssertionError(f"{target.name}: the valid call failed") from ref.error
    if target.check is not None:
        target.check(ref.result, valid)
    out = call_limited(lambda **kw: target.call(**resolve_lazy(kw)), bad_kwargs,
                       what=target.name)
    if out.error is not None:
        if not acceptable_error(out.error):
            raise AssertionError(
                f"{target.name}: argument {name!r} = {bad.label} ({describe(bad.value)}) "
                f"raised a bare {type(out.error).__module__}.{type(out.error).__name__}"
            ) from out.error
        return
    bad_leaves = nonfinite_leaves(out.result)
    if target.finite and bad_leaves:
        _fail(target.name, name, bad, f"non-finite result without an error at {bad_leaves[:3]}")
    if bad.same and not _close(numeric_leaves(out.result), numeric_leaves(ref.result)):
        _fail(target.name, name, bad, "the same input in another form gave another result")
    if bad.narrow and target.narrow_warns and not any(
            issubclass(w.category, Float32InputWarning) for w in out.warnings):
        _fail(target.name, name, bad, "narrow float input accepted without a "
                                      "Float32InputWarning")


def _params() -> list:
    out = []
    for name in sorted(TARGETS):
        reason = TARGETS[name].known_failure
        marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
        out.append(pytest.param(name, marks=marks))
    return out


@pytest.mark.parametrize("target_name", _params())
@settings(max_examples=settings().max_examples)
@given(data=st.data())
def test_fuzzed_bad_input(target_name, data):
    """One corrupted argument per example: a correct result or a named error, in time."""
    target = TARGETS[target_name]
    valid, bad_kwargs, name, bad = data.draw(corrupted_calls(target), label="call")
    run_case(target, valid, bad_kwargs, name, bad)


def test_valid_calls_pass_their_checks():
    """Every target's valid call succeeds and passes its independent check (the fuzz test's
    reference calls; a target whose valid call fails is a broken table, not a finding)."""
    rng = np.random.default_rng(0)
    broken = []
    for target in TARGETS.values():
        kw = target.build(rng)
        out = call_limited(lambda **k: target.call(**k), kw, what=target.name)  # noqa: B023
        if out.error is not None:
            broken.append(f"{target.name}: {out.error!r}")
        elif target.finite and nonfinite_leaves(out.result):
            broken.append(f"{target.name}: non-finite {nonfinite_leaves(out.result)}")
        elif target.check is not None:
            try:
                target.check(out.result, kw)
            except AssertionError as err:
                broken.append(f"{target.name}: check failed: {err}")
    assert not broken, "\n".join(broken)


def test_every_public_callable_is_fuzzed_or_exempt():
    """The contract: no public callable is silently left out of the fuzzing."""
    rows = _fuzz.fuzz_inventory()
    missing = [f"{r['module']}.{r['name']}" for r in rows if r["status"] == "missing"]
    assert not missing, f"public callables neither fuzzed nor exempt: {missing}"
    public = set(_fuzz.public_callables())
    stale = sorted(set(_fuzz.EXEMPT) - public)
    assert not stale, f"exemptions for names that are not public callables: {stale}"
    assert all(r["reason"] for r in rows)
    fuzzed = {f"{r['module']}.{r['name']}" for r in rows if r["status"] == "fuzzed"}
    assert not fuzzed & set(_fuzz.EXEMPT), "a callable both fuzzed and exempt"
    assert set(_fuzz.KNOWN_FAILURES) <= set(TARGETS), "a known failure that is not a target"


def test_time_limit_fails_a_hang_instead_of_hanging():
    """The time limit works: a call that sleeps past it raises CallTimeout promptly."""
    import time
    t0 = time.perf_counter()
    with pytest.raises(_fuzz.CallTimeout, match="did not return within"):
        call_limited(lambda: time.sleep(5), {}, what="sleeper", limit=0.2)
    assert time.perf_counter() - t0 < 2.0


def test_outcome_rule_tells_bare_errors_from_named_ones():
    """The classifier can fail: a bare torch error or an error raised outside our code is
    not acceptable; a named error is."""
    from numerics.validation import NotPSDError
    with pytest.raises(RuntimeError) as bare:
        torch.ones(2, 3) @ torch.ones(2, 3)
    assert not acceptable_error(bare.value)
    with pytest.raises(ValueError) as numpy_err:
        np.ones((2, 3)).reshape(4)
    assert not acceptable_error(numpy_err.value)
    assert acceptable_error(NotPSDError("K"))
    with pytest.raises(ValueError) as ours:
        as_points(np.ones((2, 2, 2)), name="X")
    assert acceptable_error(ours.value)
    with pytest.raises(TypeError) as own_float:  # float(None): not a raise statement
        _float_of_none()
    assert not acceptable_error(own_float.value)
    assert nonfinite_leaves({"a": [1.0, float("nan")]}) == ["result['a'][1]"]


def _float_of_none():
    return float(None)  # type: ignore[arg-type]


# ------------------------------------------------------------------ float32 policy
@pytest.mark.parametrize("make", [
    lambda: torch.ones(3, 2, dtype=torch.float32),
    lambda: np.ones((3, 2), dtype=np.float32),
    lambda: torch.ones(3, 2, dtype=torch.float16),
    lambda: torch.ones(3, 2, dtype=torch.bfloat16),
    lambda: np.ones((3, 2), dtype=np.float16),
], ids=["torch32", "numpy32", "torch16", "bfloat16", "numpy16"])
def test_narrow_float_input_warns_and_is_upcast(make):
    with pytest.warns(Float32InputWarning, match="X is .*upcast to float64.*significant"):
        t = as_points(make(), name="X")
    assert t.dtype == torch.float64
    with pytest.warns(Float32InputWarning, match="y is"):
        as_targets(make()[:, 0], 3, name="y")


def test_float64_and_integer_input_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error", Float32InputWarning)
        as_tensor(np.ones(3))
        as_tensor(torch.ones(3, dtype=torch.float64))
        as_tensor(np.arange(3))
        as_tensor([1.0, 2.0])


def test_narrow_computation_dtype_warns_and_non_float_dtype_is_refused():
    from numerics.data import one_hot
    with pytest.warns(Float32InputWarning, match="computation dtype torch.float32"):
        assert as_tensor([1.0], dtype=torch.float32).dtype == torch.float32
    with pytest.warns(Float32InputWarning, match="one_hot"):
        one_hot(torch.tensor([0, 1]), dtype=torch.float32)
    with pytest.raises(TypeError, match="dtype"):
        as_tensor([1.0], dtype=torch.int64)
    with pytest.raises(TypeError, match="dtype"):
        one_hot(torch.tensor([0, 1]), dtype="float64")


def test_public_api_warns_on_float32_data():
    """The warning reaches the user through the documented API (closed forms and KRR)."""
    from numerics.api import shift_and_spike
    from numerics.krr import KRR
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 2)).astype(np.float32), rng.standard_normal(6)
    with pytest.warns(Float32InputWarning, match="clean inputs X"):
        shift_and_spike("gaussian", X, y, np.zeros(2), 2, 1.0, np.ones(2), 0.5)
    with pytest.warns(Float32InputWarning, match="training inputs X"):
        KRR("gaussian", 0.5).fit(torch.as_tensor(X), y)





# ------------------------------------------------------------------ regressions
#: the inputs the fuzzing found failing (fixed in the library), replayed on every run:
#: (target, argument, label of the bad value in tests._fuzz.BAD_VALUES)
REGRESSIONS = [
    ("derivations.conventions.ridge_from_lambda", "lam_value", "inf"),
    ("derivations.detectability_lag.lag_numbers", "R_k", "complex"),
    ("derivations.gradient_flow_contraction.stated_bound_numeric", "E_0", "nan"),
    ("derivations.kernels.get_spec", "name", "list"),
    ("derivations.near_clone.classify_near_clone", "spec", "None"),
    ("derivations.regularised_objective.kappa_sum_from_mean", "kappa_mean", "nan"),
    ("numerics.api.lag_numbers", "k0", "1e308"),
    ("numerics.benchmark.fit_loglog", "x", "None"),
    ("numerics.claim_cases.STATED", "k0", "-1e308"),
    ("numerics.claim_cases.loglog_fit", "xs", "nan entry"),
    ("numerics.closed_forms.as_real_array", "x", "bool"),
    ("numerics.data.one_hot", "n_classes", "2**62"),
    ("numerics.data.one_hot", "y", "nan entry"),
    ("numerics.kernels.TorchKernel.derivatives", "weights", "all 1e308"),
    ("numerics.kernels.check_gram_psd", "K", "inf entry"),
    ("numerics.kernels.check_gram_psd", "K", "float16 tensor"),
    ("numerics.kernels.get_kernel", "name", "list"),
    ("numerics.kernels.get_kernel", "ell", "int 10**400"),
    ("numerics.kernels.get_kernel", "ell", "True"),
    ("numerics.krr.factor_in_place", "A", "complex"),
    ("numerics.krr.gram_into", "X", "nested list"),
    ("numerics.krr.solve_spd", "A", "nan entry"),
    ("numerics.krr.solve_with_factor", "B", "nan entry"),
    ("numerics.krr.solve_with_factor", "L", "scaled by 1e-300"),
    ("numerics.krr.solve_with_factor", "L", "float16 tensor"),
    ("numerics.lanczos.lanczos(operator scale)", "scale", "1e+308"),
    ("numerics.poisons.measured_shift", "clean", "None"),
    ("numerics.poisons.conditional_kernel", "clean", "object"),
    ("numerics.poisons.torch_predictor", "model", "None"),
    ("numerics.poisons.spread_cluster", "m", "2**62"),
    ("numerics.regularised.penalty_gram", "metric", "float32 tensor"),
    ("numerics.regularised.solve_function_gradient", "G", "float32 tensor"),
    ("numerics.regularised.solve_function_gradient", "K", "complex"),
    ("numerics.tolerances.is_close", "kind", "unknown option"),
    ("numerics.tolerances.max_rel_error", "actual", "all 1e308"),
    ("numerics.tolerances.max_rel_error", "actual", "extra leading axis"),
    ("numerics.validation.check_finite", "t", "nested list"),
    ("numerics.validation.resolve_device", "device", "unknown option"),
]


# found by the thorough profile
REGRESSIONS += [
    ("numerics.claim_cases.loglog_fit", "xs", "bfloat16 tensor"),
    ("numerics.krr.solve_spd", "A", "scaled by 4.94066e-324"),
    ("numerics.lanczos.lanczos", "v0", "float16 tensor"),
    ("numerics.poisons.autograd_gn_term", "Xq", "all 1e308"),
    ("numerics.poisons.autograd_shift_gradient", "Xq", "all 1e308"),
    ("numerics.poisons.spread_cluster", "sigma", "1e308"),
    ("numerics.poisons.triggered_point", "r", "1e308"),
    ("numerics.regularised.fit_loss_gradient_penalty", "c", "1e308"),
    ("numerics.regularised.fit_loss_gradient_penalty", "kappa", "1e308"),
    ("numerics.poisons.top_eigenpairs", "H", "all 1e308"),
    ("numerics.kernels.TorchKernel.derivatives", "X", "zero rows"),
    ("numerics.regularised.penalty_jacobians", "X", "zero rows"),
    ("numerics.poisons.clone_cluster", "y_t", "int 10**400"),
    ("numerics.data.one_hot", "y", "None"),
    ("numerics.krr.factor_in_place", "A", "float16 tensor"),
    ("numerics.krr.gram_into", "X", "scalar"),
    ("derivations.detectability_lag.lag_numbers", "k_zeta", "1e-300"),
    ("numerics.closed_forms.as_real_array", "x", "bfloat16 tensor"),
    ("numerics.krr.solve_spd", "A", "float32 tensor"),
    ("numerics.lanczos.lanczos", "v0", "one extra column"),
    ("numerics.krr.KRR.loss_hessian", "yq", "all 1e308"),
    ("numerics.regularised.penalty_gram", "metric", "all 1e308"),
]


@pytest.mark.parametrize(("target_name", "arg", "label"), REGRESSIONS,
                         ids=[f"{t}-{a}-{lab}" for t, a, lab in REGRESSIONS])
def test_fuzz_regressions(target_name, arg, label):
    """The failing inputs the fuzzing found, pinned (the equivalent of ``@example``s of the
    parametrized Hypothesis test)."""
    target = TARGETS[target_name]
    rng = np.random.default_rng(0)
    valid = target.build(rng)
    bads = {b.label: b for b in _fuzz.BAD_VALUES[target.corrupt[arg]](valid[arg], rng)}
    assert label in bads, f"no bad value {label!r} for {arg!r}: {sorted(bads)}"
    run_case(target, valid, {**valid, arg: bads[label].value}, arg, bads[label])


def test_r_k_tilde_when_the_square_of_k_tilde_underflows():
    """Found by the thorough profile (Laplace, ell = 1e-3): k~ = 1e-200 != 0 but k~^2
    underflows to 0; R_k~ = |grad k~|^2 / k~^2 raised a bare ZeroDivisionError."""
    import dataclasses

    from numerics.closed_forms import R_k_tilde, clean_quantities
    rng = np.random.default_rng(0)
    q = clean_quantities("gaussian", rng.standard_normal((5, 2)), rng.standard_normal(5),
                         np.zeros(2), np.ones(2), 0.5)
    tiny = dataclasses.replace(q, kt0=1e-200, grad_kt=np.array([3e-190, 4e-190]))
    assert R_k_tilde(tiny) == pytest.approx(((5e-190) / 1e-200) ** 2, rel=1e-12)
    huge = dataclasses.replace(q, kt0=1e-200, grad_kt=np.array([1e-10, 0.0]))
    assert R_k_tilde(huge) == float("inf")  # beyond float64: documented inf
