"""Completeness comes from pytest itself: real pytest runs of a synthetic claim-check suite
(generated from the manifest of derivations.claims) under every way of narrowing a run.

For each option -- ``-k``, ``-x``, ``--deselect``, ``-m``, ``PYTEST_ADDOPTS``, a file or
node-id selection, ``--lf``, xdist, an interrupted run -- the run writes its own report,
is never published, and no claim's verdict is stronger than in the complete run: it is the
same verdict (when every check of that claim ran) or ``incomplete`` / ``failing``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from derivations.claims import claim_by_id
from numerics.claim_report import STRENGTH, claim_verdict, load_report

ROOT = Path(__file__).resolve().parent.parent
#: synthetic claims: C1 and C2 hold / hold under a condition, C3 has a failing check,
#: C13 is empirical
SYNTHETIC = ("C1", "C2", "C3", "C13")


def _role_test(cid: str, role: str) -> str:
    cl = claim_by_id(cid)
    head = f'@pytest.mark.claim("{cid}", "{role}"'
    if role == "symbolic":
        head += ', scope="general"'
    head += ")\n"
    name = f"test_{role}"
    if role == "as_stated":
        return (head + '@pytest.mark.xfail(strict=True, raises=Refuted, reason="refuted")\n'
                '@pytest.mark.parametrize("kernel_name", ["gaussian", "laplace"])\n'
                f"def {name}(kernel_name):\n"
                f'    refute_unless("{cid}", False, "stated value", kernel=kernel_name, '
                "measured=1.5, stated=1.0)\n")
    if role in ("numeric", "corrected") and cl.per_kernel or role == "numeric":
        return (head + '@pytest.mark.parametrize("kernel_name", ["gaussian", "laplace"])\n'
                f"def {name}(kernel_name):\n    assert 1 + 1 == 2\n"
                "    asserted_for(kernel_name)\n")
    return head + f"def {name}():\n    assert True\n"


def _module(cid: str) -> str:
    cl = claim_by_id(cid)
    roles = list(cl.requires)
    if "as_stated" in roles or cid == "C2":
        roles += [r for r in ("as_stated", "counterexample", "corrected") if r not in roles]
    body = [_role_test(cid, r) for r in dict.fromkeys(roles)]
    body.append(f'@pytest.mark.slow\n@pytest.mark.claim("{cid}", "sanity")\n'
                "def test_slow_sanity():\n    pass\n")
    body.append(f'@pytest.mark.claim("{cid}", "sanity")\n'
                "def test_interruptible():\n"
                '    if os.environ.get("SYN_INTERRUPT"):\n        raise KeyboardInterrupt\n')
    if cid == "C3":
        body.append(f'@pytest.mark.claim("{cid}", "numeric")\n'
                    "def test_numeric_broken():\n    assert 1 + 1 == 3\n")
    return ("import os\n\nimport pytest\n\nfrom derivations.claims import Refuted\n"
            "from proofs_check.evidence import asserted_for, refute_unless\n\n\n"
            + "\n\n".join(body))


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    base = tmp_path_factory.mktemp("claimsuite")
    checks = base / "checks"
    checks.mkdir()
    for cid in SYNTHETIC:
        slug = claim_by_id(cid).slug
        (checks / f"test_{slug}.py").write_text(_module(cid))
    (base / "pytest.ini").write_text(textwrap.dedent("""\
        [pytest]
        markers =
            claim(id, role): claim check
            slow: slow
        """))
    full = _run(base, [])
    assert full["complete"], [i for i in full["items"] if i["status"] not in
                              ("passed", "xfailed", "failed")]
    published = (base / "claims.json").read_text()
    assert json.loads(published)["run_id"] == full["run_id"]
    return base, full, published


def _run(base: Path, args: list[str], env_extra: dict | None = None) -> dict:
    runs = base / "runs"
    before = set(runs.glob("*.json")) if runs.is_dir() else set()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
    env.update(PYTHONPATH=str(ROOT), CLAIMS_CHECK_DIR=str(base / "checks"),
               CLAIMS_RUNS_DIR=str(runs), CLAIMS_REPORT=str(base / "claims.json"),
               **(env_extra or {}))
    paths = [] if any(a.startswith("checks/") for a in args) else ["checks"]
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "proofs_check.plugin",
                           "-q", "-rN", *paths, *args],
                          cwd=base, env=env, capture_output=True, text=True, timeout=300)
    new = sorted(set(runs.glob("*.json")) - before)
    assert len(new) == 1, (proc.stdout[-2000:], proc.stderr[-2000:])
    return json.loads(new[0].read_text())


def _verdicts(report: dict) -> dict[str, str]:
    return {cid: claim_verdict(cid, report["items"]).key for cid in SYNTHETIC}


def test_complete_run_verdicts(suite):
    _, full, _ = suite
    v = _verdicts(full)
    assert v["C3"] == "failing"
    assert v["C2"] == "conditional"
    assert v["C13"] == "measured"
    assert v["C1"] in ("proved", "proved_scoped", "verified", "conditional")


CASES = [
    ("-k", ["-k", "not laplace"], {}, "C1"),
    ("-x", ["-x"], {}, "C1"),
    ("--maxfail", ["--maxfail=1"], {}, "C1"),
    ("--deselect", ["--deselect",
                    "checks/test_prediction_shift.py::test_as_stated[gaussian]"], {}, "C2"),
    ("-m", ["-m", "not slow"], {}, "C1"),
    ("PYTEST_ADDOPTS", [], {"PYTEST_ADDOPTS": "-k gaussian"}, "C2"),
    ("file selection", ["checks/test_scalar_gain.py"], {}, "C2"),
    ("node id with a parameter", ["checks/test_scalar_gain.py::test_numeric[gaussian]"], {},
     "C1"),
    ("xdist -x", ["-n", "2", "-x"], {}, None),
    ("interrupted", [], {"SYN_INTERRUPT": "1"}, None),
]


@pytest.mark.parametrize("name, args, env, target", CASES, ids=[c[0] for c in CASES])
def test_narrowed_run_never_raises_a_verdict(suite, name, args, env, target):
    base, full, published = suite
    part = _run(base, args, env)
    assert not part["complete"], name
    assert (base / "claims.json").read_text() == published, "a partial run was published"
    full_v, part_v = _verdicts(full), _verdicts(part)
    for cid in SYNTHETIC:
        assert part_v[cid] in (full_v[cid], "incomplete", "failing"), (name, cid, part_v)
        assert STRENGTH[part_v[cid]] <= STRENGTH[full_v[cid]], (name, cid, part_v)
    if target:
        assert part_v[target] == "incomplete", (name, target, part_v)


def test_last_failed_run(suite):
    base, full, published = suite
    part = _run(base, ["--lf"])
    assert not part["complete"]
    assert (base / "claims.json").read_text() == published
    v = _verdicts(part)
    assert v["C3"] == "failing"
    assert all(v[c] == "incomplete" for c in ("C1", "C2", "C13")), v


def test_published_report_loads(suite):
    base, full, _ = suite
    rep = load_report(base / "claims.json", root=base, head=None, files=[])
    assert rep.state == "ok" and rep.complete and rep.run_id == full["run_id"]


def test_evidence_travels_into_the_report(suite):
    """Kernels asserted and refutation numbers reach the report (also from xdist workers)."""
    base, full, _ = suite
    for rep in (full, _run(base, ["-n", "2", "-m", "not slow"])):
        c1 = claim_verdict("C1", rep["items"])
        assert set(c1.kernels) == {"gaussian", "laplace"}
        c2 = claim_verdict("C2", rep["items"])
        nums = {tuple(sorted(r["numbers"].items())) for r in c2.refutations}
        assert nums == {(("measured", 1.5), ("stated", 1.0))}
        assert {r["kernel"] for r in c2.refutations} == {"gaussian", "laplace"}


def _mini_suite(tmp_path: Path, body: str) -> Path:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_scalar_gain.py").write_text(
        "import pytest\n\nfrom derivations.claims import Refuted\n"
        "from proofs_check.evidence import refute_unless_close\n\n\n" + textwrap.dedent(body))
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    claim(id, role): c\n")
    return tmp_path


def test_foreign_exception_in_an_as_stated_check_is_a_failure(tmp_path):
    """A shape mismatch inside an as-stated comparison is a harness error: the strict
    xfail(raises=Refuted) does not swallow it, and the claim is failing, not refuted."""
    base = _mini_suite(tmp_path, """
        @pytest.mark.claim("C1", "as_stated")
        @pytest.mark.xfail(strict=True, raises=Refuted, reason="refuted")
        def test_stated():
            refute_unless_close("C1", [1.0, 2.0], [1.0], "exact", "gain")

        @pytest.mark.claim("C1", "as_stated")
        @pytest.mark.xfail(strict=True, raises=Refuted, reason="refuted")
        def test_stated_assert():
            assert 1 == 2, "a harness assertion"
        """)
    rep = _run(base, [])
    status = {i["test"].rsplit("::", 1)[1]: i["status"] for i in rep["items"]}
    assert status == {"test_stated": "failed", "test_stated_assert": "failed"}
    assert claim_verdict("C1", rep["items"]).key == "failing"


@pytest.mark.parametrize("mark, message", [
    ('@pytest.mark.claim("C1", "symbolic")', "must state its scope"),
    ('@pytest.mark.claim("C13", "symbolic", scope="general")', "empirical claim"),
    ('@pytest.mark.claim("C1", "vibes")', "not in"),
    ('@pytest.mark.claim("C99", "numeric")', "unknown claim id"),
    ('@pytest.mark.claim("C1", "numeric", scope="general")', "symbolic checks only"),
])
def test_bad_markers_are_usage_errors(tmp_path, mark, message):
    base = _mini_suite(tmp_path, f"""
        {mark}
        def test_x():
            pass
        """)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
    env.update(PYTHONPATH=str(ROOT), CLAIMS_CHECK_DIR=str(base / "checks"),
               CLAIMS_RUNS_DIR=str(base / "runs"), CLAIMS_REPORT=str(base / "claims.json"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "proofs_check.plugin", "-q",
                           "checks"], cwd=base, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 4, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert message in proc.stdout + proc.stderr


# ----------------------------------------------------------------------------- --claim
def _statuses(report: dict) -> dict[str, str]:
    return {i["test"]: i["status"] for i in report["items"]}


def _pytest(base: Path, args: list[str], runs: Path, report: Path,
            env_extra: dict | None = None) -> subprocess.CompletedProcess:
    """A pytest run of the synthetic suite writing to ``runs`` / ``report``."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
    env.update(PYTHONPATH=str(ROOT), CLAIMS_CHECK_DIR=str(base / "checks"),
               CLAIMS_RUNS_DIR=str(runs), CLAIMS_REPORT=str(report))
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "proofs_check.plugin", "-q",
                           "checks", *args], cwd=base, env=env, capture_output=True,
                          text=True, timeout=300)


def _usage_error(base: Path, args: list[str], env_extra: dict | None = None
                 ) -> subprocess.CompletedProcess:
    return _pytest(base, args, base / "runs-usage", base / "claims-usage.json", env_extra)


@pytest.mark.parametrize("args", [["--claim", "C1"], ["-n", "2", "--claim", "c13,C2"],
                                  ["--claim", "C2", "--claim", "C13", "-n", "2"]],
                         ids=["one claim", "xdist comma-separated", "xdist repeated"])
def test_claim_option_runs_only_those_claims(suite, args):
    """``--claim`` deselects every other check (recorded as deselected: a partial run, never
    published); the selected claims' checks run exactly as in the complete run, so their
    verdicts are those of the complete run; the run report records the selection."""
    base, full, published = suite
    part = _run(base, args)
    want = ["C1"] if "C1" in args else ["C13", "C2"] if "c13,C2" in args else ["C2", "C13"]
    assert part["claims_selected"] == want
    assert not part["complete"]
    assert (base / "claims.json").read_text() == published, "a partial run was published"
    full_s, part_s = _statuses(full), _statuses(part)
    assert set(full_s) == set(part_s)
    for item in part["items"]:
        mine = any(c[0] in want for c in item["claims"])
        expected = full_s[item["test"]] if mine else "deselected"
        assert part_s[item["test"]] == expected, item["test"]
    full_v, part_v = _verdicts(full), _verdicts(part)
    for cid in SYNTHETIC:
        assert part_v[cid] == (full_v[cid] if cid in want else "incomplete"), (cid, part_v)


def test_claim_option_selecting_every_claim_is_a_complete_run(suite, tmp_path):
    """Selecting every claim that has checks deselects none: the run is complete."""
    base, full, _ = suite
    other = tmp_path / "claims.json"
    proc = _pytest(base, ["--claim", ",".join(SYNTHETIC)], tmp_path / "runs", other)
    assert proc.returncode == 1, proc.stdout[-1500:]  # C3's broken check fails, as in full
    (path,) = (tmp_path / "runs").glob("*.json")
    part = json.loads(path.read_text())
    assert part["complete"] and part["claims_selected"] == list(SYNTHETIC)
    assert json.loads(other.read_text())["run_id"] == part["run_id"]
    assert _statuses(part) == _statuses(full)


@pytest.mark.parametrize("value", ["C99", "C1,X2", ","])
def test_claim_option_unknown_id_is_a_usage_error(suite, value):
    base, _, _ = suite
    proc = _usage_error(base, ["--claim", value])
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out[-1500:]
    assert "unknown claim id" in out and "valid ids: C1, C2, C3" in out and "E3" in out
    assert not (base / "runs-usage").exists() or not list((base / "runs-usage").glob("*.json"))


def test_fixed_run_id(suite):
    """``$CLAIMS_RUN_ID`` names the run report (what ``poisoncurv check`` reads back);
    a malformed one is a usage error."""
    base, _, _ = suite
    rep = _run(base, ["--claim", "C13"], {"CLAIMS_RUN_ID": "fixed-id.1"})
    assert rep["run_id"] == "fixed-id.1"
    assert (base / "runs" / "fixed-id.1.json").is_file()
    proc = _usage_error(base, [], {"CLAIMS_RUN_ID": "../escape"})
    assert proc.returncode == 4 and "CLAIMS_RUN_ID" in proc.stdout + proc.stderr
