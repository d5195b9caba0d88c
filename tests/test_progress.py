"""Claim progress lines and check durations (proofs_check/plugin.py, numerics.claim_report):
real pytest runs of a small synthetic claim suite (built with the helpers of
tests/test_claim_runs.py), with and without xdist, and the report's ``durations``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from derivations.claims import claim_by_id
from numerics.claim_report import _main as report_main
from numerics.claim_report import (
    claim_verdict,
    durations_summary,
    durations_table,
    load_report,
)
from proofs_check import plugin
from tests.test_claim_runs import ROOT, _module

#: C2 holds under a condition (with a timed sanity check), C3 has a failing check
CLAIMS = ("C2", "C3")

#: a C2 sanity check whose setup, call and teardown take known times
TIMED = textwrap.dedent("""\


    @pytest.fixture
    def slow_fixture():
        time.sleep(0.2)
        yield
        time.sleep(0.1)


    @pytest.mark.claim("C2", "sanity")
    def test_timed(slow_fixture):
        time.sleep(0.3)
    """)

FINAL = re.compile(r"^\[\s*\d+:\d\d\] (?P<cid>\w+)\s+(?P<name>[a-z ]+?)\s+(?P<done>\d+)/"
                   r"(?P<total>\d+)\s+checks\s+passed (?P<passed>\d+)\s+xfailed "
                   r"(?P<xfailed>\d+)\s+failed (?P<failed>\d+)\s+(?P<secs>[\d.]+) s\s+"
                   r"verdict(?P<sofar> so far)?: (?P<verdict>\w+)$")


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("progress")
    (base / "checks").mkdir()
    for cid in CLAIMS:
        text = _module(cid)
        if cid == "C2":
            text = "import time\n" + text + TIMED
        (base / "checks" / f"test_{claim_by_id(cid).slug}.py").write_text(text)
    (base / "pytest.ini").write_text("[pytest]\nmarkers =\n    claim(id, role): claim check\n"
                                     "    slow: slow\n")
    return base


def _pytest(base: Path, args: list[str], tag: str) -> tuple[subprocess.CompletedProcess,
                                                             dict | None]:
    """Run the synthetic suite; the process and its run report (``None`` when none)."""
    runs = base / f"runs-{tag}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
    env.update(PYTHONPATH=str(ROOT), CLAIMS_CHECK_DIR=str(base / "checks"),
               CLAIMS_RUNS_DIR=str(runs), CLAIMS_REPORT=str(base / f"claims-{tag}.json"))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "proofs_check.plugin",
                           "-p", "no:cacheprovider", "-rN", "checks", *args], cwd=base,
                          env=env, capture_output=True, text=True, timeout=300)
    found = sorted(runs.glob("*.json")) if runs.is_dir() else []
    return proc, (json.loads(found[-1].read_text()) if found else None)


@pytest.fixture(scope="module")
def serial(base):
    """One run without xdist, quiet, with a periodic line after every check."""
    proc, rep = _pytest(base, ["-q", "--claim-progress-interval", "0.001"], "serial")
    assert rep is not None, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc, rep


def _lines(out: str) -> list[dict]:
    return [m.groupdict() for m in map(FINAL.match, out.splitlines()) if m]


def _check_final_lines(out: str, rep: dict) -> None:
    """One final line per claim, whose counts, time and verdict are the report's."""
    final = {d["cid"]: d for d in _lines(out) if not d["sofar"]}
    assert set(final) == set(CLAIMS), out[-3000:]
    for cid in CLAIMS:
        mine = [i for i in rep["items"] if any(c[0] == cid for c in i["claims"])]
        d = final[cid]
        assert d["name"] == claim_by_id(cid).slug.replace("_", " ")
        assert int(d["done"]) == int(d["total"]) == len(mine)
        for s in ("passed", "xfailed", "failed"):
            assert int(d[s]) == sum(i["status"] == s for i in mine), (cid, s, d)
        assert float(d["secs"]) == pytest.approx(sum(i["duration_s"] for i in mine), abs=0.1)
        assert d["verdict"] == claim_verdict(cid, rep["items"]).key
    assert final["C2"]["verdict"] == "conditional" and final["C3"]["verdict"] == "failing"


def _letters(out: str) -> str:
    """The status letters pytest wrote (quiet mode: lines of letters and a percentage)."""
    rows = [re.sub(r"\s*\[\s*\d+%\]$", "", ln) for ln in out.splitlines()]
    return "".join(r for r in rows if r and re.fullmatch(r"[.sxXFE]+", r))


def test_progress_lines_without_xdist(serial):
    proc, rep = serial
    out = proc.stdout
    _check_final_lines(out, rep)
    sofar = [d for d in _lines(out) if d["sofar"]]
    assert sofar and all(int(d["done"]) < int(d["total"]) for d in sofar)
    assert {d["cid"] for d in sofar} == set(CLAIMS)
    # passed claim checks print no dot; xfailed and failed keep their letters
    assert sorted(_letters(out)) == sorted("x" * 4 + "F"), out[-3000:]
    table = out.split("= claim checks =", 1)[1]
    assert re.search(r"^C2\s+prediction shift\s+\d+/\d+\s+.*conditional$", table, re.M)
    assert re.search(r"^C3\s+rank one spike\s+.*1 failed\s+.*failing$", table, re.M)


def test_progress_lines_under_xdist(base):
    proc, rep = _pytest(base, ["-q", "-n", "2"], "xdist")
    assert rep is not None and rep["workers"] == 2, proc.stdout[-2000:] + proc.stderr[-2000:]
    _check_final_lines(proc.stdout, rep)
    assert sorted(_letters(proc.stdout)) == sorted("x" * 4 + "F"), proc.stdout[-3000:]
    assert "= claim checks =" in proc.stdout


def test_progress_off_keeps_the_dots(base):
    proc, _ = _pytest(base, ["-q", "--claim-progress=off", "--claim", "C2"], "off")
    assert not _lines(proc.stdout) and "= claim checks =" not in proc.stdout
    assert sorted(_letters(proc.stdout)) == sorted("." * 7 + "xx"), proc.stdout[-3000:]


@pytest.mark.parametrize("on, verbosity, when, outcome, xfail, claim, suppressed", [
    (True, 0, "call", "passed", False, True, True),
    (True, -1, "call", "passed", False, True, True),
    (True, 1, "call", "passed", False, True, False),  # -v: PASSED lines as usual
    (False, 0, "call", "passed", False, True, False),  # --claim-progress=off
    (True, 0, "call", "passed", False, False, False),  # not a claim check
    (True, 0, "call", "passed", True, True, False),  # xpassed keeps its letter
    (True, 0, "call", "failed", False, True, False),
    (True, 0, "call", "skipped", False, True, False),
    (True, 0, "setup", "passed", False, True, False),
])
def test_only_the_dots_of_passed_claim_checks_go(on, verbosity, when, outcome, xfail,
                                                  claim, suppressed):
    report = SimpleNamespace(when=when, passed=outcome == "passed",
                             user_properties=[("claims", "[]")] if claim else [])
    if xfail:
        report.wasxfail = ""
    config = SimpleNamespace(get_verbosity=lambda *a: verbosity)
    got = plugin.ClaimEvidence.pytest_report_teststatus(SimpleNamespace(progress_on=on),
                                                        report, config)
    assert got == (("passed", "", "PASSED") if suppressed else None)


@pytest.mark.parametrize("mode, verbosity, interval, expected", [
    ("auto", 0, 20.0, "on"), ("auto", -1, 20.0, "on"), ("auto", 1, 20.0, "off"),
    ("on", 2, 20.0, "on"), ("off", -1, 20.0, "off"), ("auto", 0, 0.0, "> 0 seconds"),
    ("auto", 0, -3.0, "> 0 seconds"), ("sometimes", 0, 20.0, "not one of"),
])
def test_progress_options(mode, verbosity, interval, expected):
    """``auto`` is on unless verbose; a bad mode or interval is a usage error."""
    config = SimpleNamespace(
        option=SimpleNamespace(claim_ids=[], claim_progress=mode,
                               claim_progress_interval=interval),
        get_verbosity=lambda *a: verbosity)
    if expected in ("on", "off"):
        assert plugin.progress_mode(config) == expected
        return
    with pytest.raises(pytest.UsageError, match=expected):
        plugin.pytest_configure(config)


def test_durations_land_in_the_report(serial, base):
    _, rep = serial
    assert rep["schema"] == 3
    (timed,) = [i for i in rep["items"] if i["test"].endswith("::test_timed")]
    ph = timed["phase_s"]
    assert ph["setup"] >= 0.19 and ph["call"] >= 0.29 and ph["teardown"] >= 0.09, ph
    assert timed["duration_s"] == pytest.approx(sum(ph.values()), abs=0.002)
    dur = rep["durations"]
    assert dur["phases"] == "setup+call+teardown"
    assert dur["slowest"][0] == {"test": timed["test"], "claims": ["C2"],
                                 "seconds": timed["duration_s"]}
    assert len(dur["slowest"]) == min(15, len(rep["items"]))
    for cid in CLAIMS:
        mine = [i for i in rep["items"] if any(c[0] == cid for c in i["claims"])]
        assert dur["per_claim"][cid]["checks"] == len(mine)
        assert dur["per_claim"][cid]["seconds"] == pytest.approx(
            sum(i["duration_s"] for i in mine), abs=0.01)
    assert dur == durations_summary(rep["items"])
    path = sorted((base / "runs-serial").glob("*.json"))[-1]
    info = load_report(path, root=base, head=None, files=[])
    assert info.state == "ok" and info.durations == dur and info.wall_s is not None
    md = str(durations_table(info, book_dir=base))
    assert timed["test"] in md and "Checks timed" in md and "setup+call+teardown" in md
    assert rep["machine"]["cpus"] == os.cpu_count() and "torch_threads" in rep["machine"]
    assert f"Measured on {os.cpu_count()} CPUs" in md


def test_durations_command(serial, base, capsys):
    _, rep = serial
    path = sorted((base / "runs-serial").glob("*.json"))[-1]
    assert report_main(["durations", "--report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "the 15 slowest checks" in out and rep["durations"]["slowest"][0]["test"] in out
    assert re.search(r"^C2\s+\d+\s+[\d.]+\s+[\d.]+ %$", out, re.M), out
    assert report_main(["show", "--report", str(path)]) == 0
    assert re.search(r"^C3\s+[\d.]+ s\s+failing$", capsys.readouterr().out, re.M)


def _payload(schema: int, **extra) -> dict:
    items = [{"test": "a::t1", "claims": [["C1", "numeric", ""]], "status": "passed",
              "duration_s": 2.0},
             {"test": "a::t2", "claims": [["C1", "sanity", ""], ["C2", "sanity", ""]],
              "status": "passed", "duration_s": 3.0},
             {"test": "a::t3", "claims": [["C2", "numeric", ""]], "status": "deselected"}]
    return {"schema": schema, "run_id": "r", "generated_unix": 0.0, "items": items, **extra}


def test_schema_2_reports_still_read(tmp_path):
    """An older report (schema 2: call time only, no summary): its durations are computed
    from its items and labelled as the call phase."""
    p = tmp_path / "r.json"
    p.write_text(json.dumps(_payload(2)))
    info = load_report(p, root=tmp_path, head=None, files=[])
    assert info.usable and info.schema == 2
    assert info.durations["phases"] == "call"
    assert info.durations["per_claim"] == {"C1": {"checks": 2, "seconds": 5.0},
                                           "C2": {"checks": 1, "seconds": 3.0}}
    assert [t["test"] for t in info.durations["slowest"]] == ["a::t2", "a::t1"]
    assert "setup and teardown were not timed" in str(durations_table(info, book_dir=tmp_path))


@pytest.mark.parametrize("payload, message", [
    (_payload(3), "'durations'"),
    (_payload(4), "schema 4 is not one of (2, 3)"),
    (_payload(2, items=[{"test": "x", "claims": [], "status": "passed", "duration_s": -1}]),
     "duration_s"),
])
def test_bad_reports_are_invalid(tmp_path, payload, message):
    p = tmp_path / "r.json"
    p.write_text(json.dumps(payload))
    info = load_report(p, root=tmp_path, head=None, files=[])
    assert info.state == "invalid" and message in info.problems[0], info.problems


def test_durations_summary_rejects_a_bad_count():
    with pytest.raises(ValueError, match="slowest must be an integer"):
        durations_summary([], slowest=-1)
