"""The mutation report (numerics/mutation_report.py) and the committed mutation results.

Unit tests on small synthetic results, then the contracts of the committed files: every
sampled mutant that was not detected is explained (a new test confirmed by a re-run, or a
reason it is equivalent), explanations name sampled mutants only, and the CI smoke list
(results/mutation/smoke.json) holds killed mutants of the sample with the test that kills
each.
"""

from __future__ import annotations

import json
import math

import pytest

from numerics import mutation_report as M

ROWS = [
    {"name": "numerics.krr.x_solve_spd__mutmut_1", "module": "numerics/krr.py",
     "status": "killed"},
    {"name": "numerics.krr.x_solve_spd__mutmut_2", "module": "numerics/krr.py",
     "status": "survived", "rerun": {"status": "killed"}},
    {"name": "numerics.krr.x_solve_spd__mutmut_3", "module": "numerics/krr.py",
     "status": "survived"},
    {"name": "numerics.krr.xǁKRRǁfit__mutmut_4", "module": "numerics/krr.py",
     "status": "timeout"},
    {"name": "numerics.sweeps.x_grid__mutmut_1", "module": "numerics/sweeps.py",
     "status": "no tests"},
    {"name": "numerics.sweeps.x_grid__mutmut_2", "module": "numerics/sweeps.py",
     "status": "survived"},
    {"name": "numerics.sweeps.x_grid__mutmut_3", "module": "numerics/sweeps.py",
     "status": "not checked"},
]
DATA = {"schema": 1, "generated": {"numerics/krr.py": 500, "numerics/sweeps.py": 700},
        "mutants": ROWS}
EXPL = {"numerics.krr.x_solve_spd__mutmut_3": {"verdict": "equivalent", "reason": "r"},
        "numerics.sweeps.x_grid__mutmut_2": {"verdict": "killed", "test": "tests/x.py::t"}}


def test_module_of_plain_functions_and_methods():
    assert M.module_of("numerics.krr.x_solve_spd__mutmut_3") == "numerics/krr.py"
    assert M.module_of("numerics.krr.xǁKRRǁfit__mutmut_12") == "numerics/krr.py"
    assert M.module_of("derivations.kernels.x_f__mutmut_1") == "derivations/kernels.py"
    assert M.module_of("derivations.x___dir____mutmut_4") == "derivations/__init__.py"
    for bad in ("numerics.krr.solve_spd", "x_f__mutmut_1", ""):
        with pytest.raises(M.MutationReportError):
            M.module_of(bad)


def test_verdicts():
    got = [M.verdict(r, EXPL) for r in ROWS]
    assert got == ["killed", "killed later", "equivalent", "killed", "survived",
                   "unconfirmed", "not checked"]


def test_accepted_survivors_count_against_the_score():
    data = {"schema": 1, "generated": {"numerics/krr.py": 3}, "mutants": ROWS[:1] + [
        {"name": "numerics.krr.x_g__mutmut_9", "module": "numerics/krr.py",
         "status": "survived"}]}
    expl = {"numerics.krr.x_g__mutmut_9": {"verdict": "accepted", "reason": "font size"}}
    (s,) = M.module_scores(data, expl)
    assert (s.undetected, s.relevant, s.score) == (1, 2, 0.5)
    assert M.unexplained(data, expl) == []


def test_a_rerun_of_another_mutation_does_not_count():
    row = {"name": "numerics.krr.x_f__mutmut_1", "module": "numerics/krr.py",
           "status": "survived", "diff": "--- a\n-x\n+y",
           "rerun": {"status": "killed", "diff": "--- a\n-x\n+z"}}
    assert M.verdict(row, {}) == "survived"
    row["rerun"]["diff"] = row["diff"]
    assert M.verdict(row, {}) == "killed later"


def test_module_and_group_scores():
    scores = {s.name: s for s in M.module_scores(DATA, EXPL)}
    krr = scores["numerics/krr.py"]
    assert (krr.sampled, krr.killed, krr.killed_later, krr.equivalent, krr.undetected) == \
        (4, 2, 1, 1, 0)
    assert krr.score == 1.0 and krr.initial_score == pytest.approx(2 / 3)
    assert krr.tier == "core" and krr.target == 0.9 and krr.met
    sw = scores["numerics/sweeps.py"]
    # "no tests" and an explanation without a re-run are both undetected; "not checked" is
    # left out of the score
    assert (sw.undetected, sw.not_checked, sw.relevant, sw.score, sw.met) == \
        (2, 1, 2, 0.0, False)
    groups = {g.name: g for g in M.group_scores(DATA, EXPL)}
    assert groups["KRR"].generated == 500 and groups["KRR"].score == 1.0
    assert groups["elsewhere"].sampled == 3 and groups["elsewhere"].target == 0.8
    assert groups["poisons"].sampled == 0 and math.isnan(groups["poisons"].score)
    assert not groups["poisons"].met


def test_unexplained_lists_survivors_and_unconfirmed_kills():
    assert M.unexplained(DATA, EXPL) == ["numerics.sweeps.x_grid__mutmut_1",
                                         "numerics.sweeps.x_grid__mutmut_2"]


def test_wilson_interval():
    lo, hi = M.wilson_interval(9, 10)
    assert 0.55 < lo < 0.6 and 0.98 < hi <= 1.0  # textbook value: (0.596, 0.982)
    assert M.wilson_interval(0, 5)[0] == 0.0
    assert all(math.isnan(v) for v in M.wilson_interval(0, 0))


def test_bad_files_are_named(tmp_path):
    with pytest.raises(M.MutationReportError, match="no mutation results"):
        M.load_results(tmp_path / "none.json")
    p = tmp_path / "s.json"
    p.write_text(json.dumps({"schema": 2}))
    with pytest.raises(M.MutationReportError, match="schema-1"):
        M.load_results(p)
    t = tmp_path / "e.toml"
    for body, msg in (('[a]\nverdict = "killed"\n', "names no test"),
                      ('[a]\nverdict = "equivalent"\n', "no reason"),
                      ('[a]\nverdict = "accepted"\n', "no reason"),
                      ('[a]\nverdict = "maybe"\n', "killed, equivalent or accepted")):
        t.write_text(body)
        with pytest.raises(M.MutationReportError, match=msg):
            M.load_explanations(t)
    assert M.load_explanations(tmp_path / "absent.toml") == {}


# ---------------------------------------------------------------------------------------------
# the committed results


@pytest.fixture(scope="module")
def committed():
    return M.load_results(), M.load_explanations()


def test_committed_sample_covers_every_core_module(committed):
    data, _ = committed
    sampled = {r["module"] for r in data["mutants"]}
    for files in M.CORE_GROUPS.values():
        for f in files:
            assert f in sampled, f
            n = sum(r["module"] == f for r in data["mutants"])
            assert n >= min(data["settings"]["core"], data["generated"][f]), (f, n)
    assert all((M.ROOT / r["module"]).is_file() for r in data["mutants"])
    for r in data["mutants"]:
        assert M.module_of(r["name"]) == r["module"]
        if r["status"] not in ("killed",):
            assert r.get("diff", "").startswith("---"), r["name"]


def test_every_survivor_is_killed_or_explained(committed):
    data, expl = committed
    assert M.unexplained(data, expl) == []


def test_explanations_name_sampled_mutants(committed):
    data, expl = committed
    names = {r["name"] for r in data["mutants"]}
    assert set(expl) <= names, sorted(set(expl) - names)


def test_smoke_list_holds_killed_sample_mutants():
    smoke = json.loads((M.RESULTS_DIR / "smoke.json").read_text())
    data = M.load_results()
    expl = M.load_explanations()
    verdict = {r["name"]: M.verdict(r, expl) for r in data["mutants"]}
    assert 20 <= len(smoke["mutants"]) <= 40
    for m in smoke["mutants"]:
        assert verdict.get(m["name"]) in ("killed", "killed later"), m["name"]
        assert m["tests"] and m["diff"].startswith("---"), m["name"]
