"""Pytest configuration shared by tests/ and proofs_check/.

* Hypothesis profiles (``ci`` when ``CI=true``, ``dev``, ``thorough``) from
  :mod:`numerics.strategies`.
* ``gpu`` tests skip cleanly without CUDA.
* the checks that were slow in the published claim report run first (longest first), so
  that a parallel run does not end waiting on one long check started last.
* the claim-evidence plugin :mod:`proofs_check.plugin` (per-run reports, see there);
* ``kernel_name``: every test that takes it runs once per kernel, under the kernel's own
  name: the built-ins, then the user kernels that
  :func:`numerics.registration.load_user_kernels` registers before collection (plugin
  entry points ``poisoncurv.kernels``, ``POISONCURV_KERNELS=path/to/my_kernels.py``,
  ``[tool.poisoncurv] kernels`` in ``pyproject.toml``), so ``-k my_kernel`` selects a
  kernel's checks.  The list is fixed at configuration (same order on every xdist
  worker); a kernel registered later, e.g. inside a test module, gets no test ids.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch

from derivations.kernels import BUILTIN_NAMES
from numerics.registration import load_user_kernels
from numerics.strategies import register_profiles

_PROFILE = register_profiles()

# the claim-evidence recorder: what each run of the claim checks executed, per claim
# (reports/runs/<run id>.json; a complete run is published as reports/claims.json)
pytest_plugins = ["proofs_check.plugin"]


#: the kernels every ``kernel_name`` test runs for (set in pytest_configure)
_KERNELS: list[str] = list(BUILTIN_NAMES)


def pytest_configure(config):
    # user kernels before collection, in a deterministic order (the same on every worker)
    user = load_user_kernels(config.rootpath)
    _KERNELS[:] = [*BUILTIN_NAMES, *(n for n in user if n not in BUILTIN_NAMES)]


def pytest_report_header(config):
    user = [n for n in _KERNELS if n not in BUILTIN_NAMES]
    return [f"hypothesis profile: {_PROFILE}", f"CUDA available: {torch.cuda.is_available()}",
            f"user kernels: {', '.join(user) or 'none'}"]


def pytest_generate_tests(metafunc):
    if "kernel_name" in metafunc.fixturenames:
        metafunc.parametrize("kernel_name", list(_KERNELS))


#: checks that took at least this long in the published report run first (seconds)
LONG_CHECK_S = 5.0


def previous_durations(rootpath: Path) -> dict[str, float]:
    """Seconds each claim check took in the published report (``$CLAIMS_REPORT``, else
    ``reports/claims.json``), by node id; empty when there is none or it cannot be read."""
    env = os.environ.get("CLAIMS_REPORT")
    path = Path(env) if env else Path(rootpath) / "reports" / "claims.json"
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        return {it["test"]: float(it.get("duration_s") or 0.0) for it in items}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def longest_first(items: list, durations: dict[str, float]) -> None:
    """Sort ``items`` in place: those with a duration of at least :data:`LONG_CHECK_S`
    first, longest first; the others after them in their own order."""
    items.sort(key=lambda it: -max(durations.get(it.nodeid, 0.0) - LONG_CHECK_S, 0.0))


def pytest_collection_modifyitems(config, items):
    # longest first: the checks that took LONG_CHECK_S or more in the last published run
    # start first, so with xdist the run does not end waiting on one long check started
    # last (a stable sort: every other item keeps its order; the order is the same on
    # every worker, which read the same report)
    longest_first(items, previous_durations(config.rootpath))
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
