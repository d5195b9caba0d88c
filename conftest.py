"""Pytest configuration shared by tests/ and proofs_check/.

* Hypothesis profiles (``ci`` when ``CI=true``, ``dev``, ``thorough``) from
  :mod:`numerics.strategies`.
* ``gpu`` tests skip cleanly without CUDA.
* the claim-evidence plugin :mod:`proofs_check.plugin` (per-run reports, see there);
* ``kernel_name``: every test that takes it runs once per *built-in* kernel, plus once
  as ``user-registered``, which covers every kernel registered by user code (e.g. in a
  test file) after the built-ins; see :func:`numerics.strategies.kernels_for_param`.
"""

from __future__ import annotations

import pytest
import torch

from derivations.kernels import BUILTIN_NAMES
from numerics.strategies import USER_KERNELS, register_profiles

_PROFILE = register_profiles()

# the claim-evidence recorder: what each run of the claim checks executed, per claim
# (reports/runs/<run id>.json; a complete run is published as reports/claims.json)
pytest_plugins = ["proofs_check.plugin"]


def pytest_report_header(config):
    return [f"hypothesis profile: {_PROFILE}", f"CUDA available: {torch.cuda.is_available()}"]


def pytest_generate_tests(metafunc):
    if "kernel_name" in metafunc.fixturenames:
        # deterministic across xdist workers: the built-ins, then one slot for user kernels
        metafunc.parametrize("kernel_name", [*BUILTIN_NAMES, USER_KERNELS])


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
