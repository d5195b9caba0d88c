"""Pytest configuration shared by tests/ and proofs_check/.

* Hypothesis profiles (``ci`` when ``CI=true``, ``dev``, ``thorough``) from
  :mod:`numerics.strategies`.
* ``gpu`` tests skip cleanly without CUDA.
* each xdist worker uses its share of the available CPUs as torch threads
  (``$POISONCURV_TEST_THREADS`` overrides).
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


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota
    (``/sys/fs/cgroup/cpu.max``) when one is set (a container limited to 2 CPUs on a large
    host reports the host's count in ``os.cpu_count()``)."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, int(int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def worker_threads() -> int | None:
    """torch threads for one xdist worker: the available CPUs shared among the workers
    (``$POISONCURV_TEST_THREADS`` overrides); ``None`` outside xdist workers."""
    env = os.environ.get("POISONCURV_TEST_THREADS", "").strip()
    if env:
        return max(1, int(env))
    workers = os.environ.get("PYTEST_XDIST_WORKER_COUNT")
    if not os.environ.get("PYTEST_XDIST_WORKER") or not workers:
        return None
    return max(1, available_cpus() // max(1, int(workers)))


def pytest_configure(config):
    # xdist workers share the CPUs: without this every worker starts one torch thread per
    # CPU it sees (oversubscribed; in a CPU-quota container, one per *host* CPU)
    threads = worker_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    # user kernels before collection, in a deterministic order (the same on every worker)
    user = load_user_kernels(config.rootpath)
    _KERNELS[:] = [*BUILTIN_NAMES, *(n for n in user if n not in BUILTIN_NAMES)]


def pytest_report_header(config):
    user = [n for n in _KERNELS if n not in BUILTIN_NAMES]
    return [f"hypothesis profile: {_PROFILE}", f"CUDA available: {torch.cuda.is_available()}",
            f"user kernels: {', '.join(user) or 'none'}",
            f"CPUs available: {available_cpus()}; torch threads here: {torch.get_num_threads()}"
            f" (each xdist worker: its share of the CPUs, or $POISONCURV_TEST_THREADS)"]


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
