"""Pytest configuration shared by tests/ and proofs_check/.

* Hypothesis profiles (``ci`` when ``CI=true``, ``dev``, ``thorough``) from
  :mod:`numerics.strategies`.
* ``gpu`` tests skip cleanly without CUDA.
* ``kernel_name``: every test that takes it runs once per *built-in* kernel, plus once
  as ``user-registered``, which covers every kernel registered by user code (e.g. in a
  test file) after the built-ins; see :func:`numerics.strategies.kernels_for_param`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import torch

from derivations.kernels import BUILTIN_NAMES
from numerics.strategies import USER_KERNELS, register_profiles

_PROFILE = register_profiles()


def pytest_report_header(config):
    return [f"hypothesis profile: {_PROFILE}", f"CUDA available: {torch.cuda.is_available()}"]


def pytest_generate_tests(metafunc):
    if "kernel_name" in metafunc.fixturenames:
        # deterministic across xdist workers: the built-ins, then one slot for user kernels
        metafunc.parametrize("kernel_name", [*BUILTIN_NAMES, USER_KERNELS])


def pytest_collection_modifyitems(config, items):
    _record_claim_markers(items)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------
# claim report: every test marked @pytest.mark.claim(id, role) is recorded, with its
# outcome, in reports/claims.json (or $CLAIMS_REPORT); the book's claims index reads it.
# Works with xdist: workers attach user_properties, the controller writes the file.
# ---------------------------------------------------------------------------

_RESULTS: list[dict] = []


def _record_claim_markers(items) -> None:
    from derivations.claims import ROLES, claim_by_id

    for item in items:
        for mark in item.iter_markers("claim"):
            if len(mark.args) != 2:
                raise pytest.UsageError(f"{item.nodeid}: use @pytest.mark.claim(id, role)")
            cid, role = mark.args
            claim_by_id(cid)  # raises for an unknown id
            if role not in ROLES:
                raise pytest.UsageError(f"{item.nodeid}: claim role {role!r} not in {ROLES}")
            item.user_properties.append(("claim", f"{cid}|{role}"))
        xf = item.get_closest_marker("xfail")
        if xf is not None:
            item.user_properties.append(("xfail_reason", str(xf.kwargs.get("reason", ""))))


def pytest_runtest_logreport(report):
    claims = [v for k, v in report.user_properties if k == "claim"]
    if not claims:
        return
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        if hasattr(report, "wasxfail"):
            outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
        else:
            outcome = report.outcome
        reason = dict(report.user_properties).get("xfail_reason", "")
        if report.outcome == "skipped" and not hasattr(report, "wasxfail"):
            reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else reason
        for entry in claims:
            cid, role = entry.split("|")
            _RESULTS.append({"claim": cid, "role": role, "test": report.nodeid,
                             "outcome": outcome, "reason": reason,
                             "duration_s": round(report.duration, 3)})


def pytest_sessionfinish(session, exitstatus):
    if hasattr(session.config, "workerinput") or not _RESULTS:
        return
    path = Path(os.environ.get("CLAIMS_REPORT", Path(session.config.rootpath) / "reports" /
                               "claims.json"))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import subprocess

        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=session.config.rootpath).stdout.strip()
    except OSError:
        commit = ""
    payload = {
        "generated_unix": time.time(),
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "commit": commit,
        "hypothesis_profile": _PROFILE,
        "args": session.config.invocation_params.args,
        "exitstatus": int(exitstatus),
        "results": sorted(_RESULTS, key=lambda r: (r["claim"], r["test"])),
    }
    path.write_text(json.dumps(payload, indent=1, default=str))
