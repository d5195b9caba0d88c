"""Hypothesis strategies and profiles, in one place (test-only: needs ``hypothesis``).

Profiles: ``ci`` (chosen automatically when ``CI=true``), ``dev`` (default) and
``thorough``; ``HYPOTHESIS_PROFILE=<name>`` overrides.  Strategies sample *every*
registered kernel (looked up when drawn, so kernels registered by user code are
included) and hyper-parameters inside each parameter's range
(:func:`numerics.registration.param_range`: the symbol's assumptions intersected with the
declared ``Param.bounds``).
"""

from __future__ import annotations

import math
import os

import numpy as np
import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from derivations.kernels import REGISTRY, KernelSpec, Param, get_spec
from numerics.kernels import TorchKernel
from numerics.registration import param_range

__all__ = [
    "register_profiles",
    "param_values",
    "kernels",
    "kernel_for",
    "point_clouds",
    "ridges",
    "seeds",
    "kernels_for_param",
]


def kernels_for_param(kernel_name: str) -> list[str]:
    """The kernels a ``kernel_name`` test parameter stands for: itself (every kernel,
    built-in or loaded by :func:`numerics.registration.load_user_kernels`, has its own
    test ids; kept as a function so the checks' loops read the same)."""
    get_spec(kernel_name)  # an unknown name fails here, naming the registered kernels
    return [kernel_name]

_COMMON = dict(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
    # one failure per test: a strict xfail(raises=Refuted) must see the Refuted itself, not an
    # ExceptionGroup of several distinct failures
    report_multiple_bugs=False,
)


def register_profiles() -> str:
    """Register ``ci``, ``dev`` and ``thorough`` and load the selected one; return its name."""
    settings.register_profile("ci", max_examples=20, derandomize=True, **_COMMON)
    settings.register_profile("dev", max_examples=30, **_COMMON)
    settings.register_profile("thorough", max_examples=400, **_COMMON)
    name = os.environ.get("HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev"
    )
    settings.load_profile(name)
    return name


# Ranges per assumption (wide enough to matter, narrow enough to stay in float64 range),
# intersected with the declared bounds: see numerics.registration.param_range.
def _param_strategy(p: Param) -> st.SearchStrategy:
    lo, hi, log = param_range(p)
    if p.symbol.is_integer:
        return st.integers(int(lo), int(hi))
    if log:  # log-uniform (positive ranges)
        elo, ehi = math.log10(lo), math.log10(hi)
        return st.floats(elo, ehi).map(lambda e: float(min(max(10.0**e, lo), hi)))
    return st.floats(lo, hi)


def param_values(spec: KernelSpec) -> st.SearchStrategy[dict]:
    """Hyper-parameters of ``spec``, each inside its range (assumptions and bounds)."""
    return st.fixed_dictionaries({p.name: _param_strategy(p) for p in spec.params})


def kernel_for(name: str) -> st.SearchStrategy[TorchKernel]:
    """The kernel ``name`` with random hyper-parameters."""
    spec = get_spec(name)
    return param_values(spec).map(lambda ps: TorchKernel(spec, **ps))


@st.composite
def kernels(draw, families: tuple[str, ...] | None = None) -> TorchKernel:
    """Any registered kernel (looked up at draw time) with random hyper-parameters."""
    names = sorted(n for n, s in REGISTRY.items() if families is None or s.family in families)
    return draw(kernel_for(draw(st.sampled_from(names))))


seeds = st.integers(0, 2**32 - 1)
#: ridge c, log-uniform on [1e-3, 1e2]
ridges = st.floats(-3.0, 2.0).map(lambda e: float(10.0**e))


_N_POINTS = st.integers(2, 25)
_DIMS = st.integers(1, 6)
_SCALES = st.floats(-1.0, 0.7).map(lambda e: float(10.0**e))


@st.composite
def point_clouds(draw, n: st.SearchStrategy[int] = _N_POINTS,
                 d: st.SearchStrategy[int] = _DIMS,
                 scale: st.SearchStrategy[float] = _SCALES) -> torch.Tensor:
    """Gaussian point clouds ``(n, d)`` (default 2-25 points in 1-6 dimensions) with a
    random scale (0.1 ... 5)."""
    nn, dd, sc, seed = draw(n), draw(d), draw(scale), draw(seeds)
    rng = np.random.default_rng(seed)
    return torch.as_tensor(sc * rng.standard_normal((nn, dd)), dtype=torch.float64)
