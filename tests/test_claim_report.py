"""Verdict logic of numerics.claim_report on synthetic run records (table-driven), report
loading (fresh, stale, missing, invalid) and the Markdown the book shows."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from derivations.claims import CLAIMS, Claim
from numerics.claim_report import (
    CELL_STATES as CELL_STATES_ALL,
)
from numerics.claim_report import (
    STRENGTH,
    VERDICTS,
    all_verdicts,
    claim_verdict,
    claims_index,
    kernel_cells,
    load_report,
    status_badge,
    toc_pages,
)

THEOREM = Claim("C1", "scalar_gain", "t", "Sec. 0", "s", kind="theorem",
                requires=("symbolic", "numeric"))
STATED = Claim("C1", "scalar_gain", "t", "Sec. 0", "s", kind="theorem",
               requires=("symbolic", "as_stated", "counterexample", "corrected"))
EMPIRICAL = Claim("C1", "scalar_gain", "t", "Sec. 0", "s", kind="empirical",
                  requires=("experiment",))


def it(role: str, status: str, test: str = "", *, scope: str = "", kernel: str | None = None,
       asserted=(), refuted: str | None = None, na: dict | None = None, reason: str = "",
       claim: str = "C1") -> dict:
    """One synthetic item of a run report."""
    if role == "symbolic" and not scope:
        scope = "general"
    ev: dict = {"asserted": list(asserted), "not_applicable": dict(na or {})}
    if refuted is not None:
        ev["refutation"] = {"claim": claim, "what": "stated value", "kernel": refuted or None,
                            "numbers": {"measured": 1.5, "stated": 1.0, "rel_error": 0.5}}
    return {"test": test or f"p.py::t_{role}_{status}", "claims": [[claim, role, scope]],
            "kernel": kernel, "status": status, "evidence": ev, "reason": reason}


GOOD_STATED = [it("symbolic", "passed"), it("as_stated", "xfailed", refuted=""),
               it("counterexample", "passed"), it("corrected", "passed")]

# (name, manifest, items, expected verdict key)
TABLE = [
    ("nothing ran", THEOREM, [], "incomplete"),
    ("general proof + numerics", THEOREM, [it("symbolic", "passed"), it("numeric", "passed")],
     "proved"),
    ("scoped proof + numerics", THEOREM,
     [it("symbolic", "passed", scope="n = 2"), it("numeric", "passed")], "proved_scoped"),
    ("role deselected", THEOREM, [it("symbolic", "passed"), it("numeric", "deselected")],
     "incomplete"),
    ("one of two numeric checks deselected", THEOREM,
     [it("symbolic", "passed"), it("numeric", "passed", "a"), it("numeric", "deselected", "b")],
     "incomplete"),
    ("numerics all skipped", THEOREM,
     [it("symbolic", "passed"), it("numeric", "skipped", reason="needs CUDA")], "incomplete"),
    ("-x interruption", THEOREM, [it("symbolic", "passed"), it("numeric", "not_run")],
     "incomplete"),
    ("check file not collected", THEOREM,
     [it("symbolic", "passed"), it("numeric", "passed"), it("", "not_collected")],
     "incomplete"),
    ("tautology-only evidence", THEOREM, [it("sanity", "passed"), it("sanity", "passed", "b")],
     "incomplete"),
    ("sanity beside the required roles decides nothing", THEOREM,
     [it("symbolic", "passed", scope="d = 2"), it("numeric", "passed"), it("sanity", "passed")],
     "proved_scoped"),
    ("a failing sanity check fails the claim", THEOREM,
     [it("symbolic", "passed"), it("numeric", "passed"), it("sanity", "failed")], "failing"),
    ("numeric failure", THEOREM, [it("symbolic", "passed"), it("numeric", "failed")],
     "failing"),
    ("failure beats incompleteness", THEOREM, [it("numeric", "failed"),
                                               it("symbolic", "deselected")], "failing"),
    ("xpassed", STATED, [*GOOD_STATED[:1], it("as_stated", "xpassed"), *GOOD_STATED[2:]],
     "failing"),
    ("refuted + counterexample + corrected", STATED, GOOD_STATED, "conditional"),
    ("refuted, corrected skipped", STATED,
     [*GOOD_STATED[:3], it("corrected", "skipped", reason="x")], "incomplete"),
    ("refuted, no corrected role required", Claim(
        "C1", "scalar_gain", "t", "S", "s", requires=("as_stated", "counterexample")),
     GOOD_STATED[1:3], "refuted"),
    ("refutation without its counterexample check", Claim(
        "C1", "scalar_gain", "t", "S", "s", requires=("corrected",)),
     [GOOD_STATED[1], GOOD_STATED[3]], "incomplete"),
    ("counterexample check deselected", STATED,
     [*GOOD_STATED[:2], it("counterexample", "deselected"), GOOD_STATED[3]], "incomplete"),
    ("as_stated deselected (was: verified)", STATED,
     [GOOD_STATED[0], it("as_stated", "deselected"), *GOOD_STATED[2:]], "incomplete"),
    ("as-stated check failing with a foreign exception", STATED,
     [GOOD_STATED[0], it("as_stated", "failed", reason="shape mismatch"), *GOOD_STATED[2:]],
     "failing"),
    ("xfailed without Refuted", STATED,
     [GOOD_STATED[0], it("as_stated", "xfailed"), *GOOD_STATED[2:]], "failing"),
    ("Refuted for another claim", STATED,
     [GOOD_STATED[0], {**it("as_stated", "xfailed", refuted=""),
                       "evidence": {"refutation": {"claim": "C2", "what": "x"}}},
      *GOOD_STATED[2:]], "failing"),
    ("an experiment check as an expected failure", EMPIRICAL,
     [it("experiment", "xfailed", refuted="")], "failing"),
    ("empirical measured", EMPIRICAL, [it("experiment", "passed")], "measured"),
    ("empirical: a symbolic record never proves", EMPIRICAL,
     [it("experiment", "passed"), it("symbolic", "passed")], "measured"),
    ("verified numerically, no symbolic role required", Claim(
        "C1", "scalar_gain", "t", "S", "s", requires=("numeric",)), [it("numeric", "passed")],
     "verified"),
    ("other claims' items are ignored", THEOREM,
     [it("symbolic", "passed", claim="C2"), it("numeric", "passed", claim="C2")], "incomplete"),
]


@pytest.mark.parametrize("name, manifest, items, expected", TABLE, ids=[t[0] for t in TABLE])
def test_verdict_table(name, manifest, items, expected):
    v = claim_verdict("C1", items, claim=manifest)
    assert v.key == expected, (name, v.label, v.failures, v.missing)


def test_labels_say_the_scope_and_the_numbers():
    v = claim_verdict("C1", [it("symbolic", "passed", scope="n = 2"), it("numeric", "passed")],
                      claim=THEOREM)
    assert v.label == "proved symbolically for n = 2; verified numerically"
    v = claim_verdict("C1", [it("symbolic", "passed"), it("numeric", "passed")], claim=THEOREM)
    assert v.label == "proved symbolically (general form) and verified numerically"
    v = claim_verdict("C1", GOOD_STATED, claim=STATED)
    assert v.refutations[0]["numbers"] == {"measured": 1.5, "stated": 1.0, "rel_error": 0.5}
    v = claim_verdict("C1", [it("symbolic", "passed"), it("numeric", "deselected")],
                      claim=THEOREM)
    assert any("deselected" in m for m in v.missing)
    assert "required role `numeric`: no check ran" in v.missing


def test_strength_never_rises_when_checks_go_missing():
    """Drop or spoil any single item of a complete record: the verdict is the same or one of
    the no-verdict keys (incomplete / failing), never stronger."""
    for manifest, items in ((STATED, GOOD_STATED),
                            (THEOREM, [it("symbolic", "passed"), it("numeric", "passed")])):
        full = claim_verdict("C1", items, claim=manifest)
        for i in range(len(items)):
            for status in ("deselected", "not_run", "not_collected", "skipped"):
                spoiled = [dict(x) for x in items]
                spoiled[i] = {**spoiled[i], "status": status}
                v = claim_verdict("C1", spoiled, claim=manifest)
                assert STRENGTH[v.key] <= STRENGTH[full.key]
                assert v.key in (full.key, "incomplete", "failing")


# ----------------------------------------------------------------------------- kernels
def test_kernels_covered_only_when_asserted():
    items = [it("symbolic", "passed"),
             it("numeric", "passed", "t[gaussian]", kernel="gaussian", asserted=["gaussian"]),
             # passed, but the test skipped past the kernel without asserting: not covered
             it("numeric", "passed", "t[laplace]", kernel="laplace"),
             it("numeric", "skipped", "t[ntk_relu]", kernel="ntk_relu",
                na={"ntk_relu": "singular on the diagonal"}, reason="not applicable")]
    v = claim_verdict("C1", items, claim=THEOREM)
    assert v.kernels == ("gaussian",)
    assert v.not_applicable == {"ntk_relu": "singular on the diagonal"}


def _report(items, **kw) -> object:
    from numerics.claim_report import ReportInfo

    return ReportInfo(Path("x.json"), "ok", items=tuple(items), run_id="r1", complete=True,
                      commit="a" * 40, hypothesis_profile="ci", **kw)


def test_kernel_cells():
    items = [
        it("numeric", "passed", "a[gaussian]", kernel="gaussian", asserted=["gaussian"],
           claim="C3"),
        it("corrected", "passed", "b[gaussian]", kernel="gaussian", asserted=["gaussian"],
           claim="C3"),
        it("as_stated", "xfailed", "c[gaussian]", kernel="gaussian", refuted="gaussian",
           claim="C3"),
        it("numeric", "passed", "a[laplace]", kernel="laplace", asserted=["laplace"],
           claim="C3"),
        it("numeric", "failed", "a[linear]", kernel="linear", claim="C3"),
        it("numeric", "skipped", "a[ntk_relu]", kernel="ntk_relu",
           na={"ntk_relu": "x"}, claim="C3"),
        it("as_stated", "xfailed", "c[matern32]", kernel="matern32", refuted="matern32",
           claim="C3"),
    ]
    cells = kernel_cells(_report(items), kernels=["gaussian", "laplace", "linear", "ntk_relu",
                                                  "matern32", "polynomial"])
    assert cells["C3"] == {"gaussian": "conditional", "laplace": "holds", "linear": "failing",
                           "ntk_relu": "not_applicable", "matern32": "refuted",
                           "polynomial": "not_run"}
    assert cells["C1"]["gaussian"] == "not_applicable"  # C1 is not a per-kernel claim


# ----------------------------------------------------------------------------- report files
def write_report(path: Path, items: list[dict], *, commit: str = "a" * 40,
                 when: float | None = None, complete: bool = True) -> Path:
    payload = {"schema": 2, "run_id": "20260101-000000-1", "generated": "2026-01-01 00:00:00",
               "generated_unix": time.time() if when is None else when,
               "commit": commit, "hypothesis_profile": "dev", "args": ["proofs_check/"],
               "exitstatus": 0, "complete": complete, "items": items}
    path.write_text(json.dumps(payload))
    return path


def test_missing_report(tmp_path):
    rep = load_report(tmp_path / "claims.json", root=tmp_path, head=None, files=[])
    assert rep.state == "missing" and not rep.usable
    assert "only a complete run" in rep.problems[0]
    assert all(v.key == "incomplete" for v in all_verdicts(rep).values())
    text = str(claims_index(rep, book_dir=tmp_path))
    assert "No published claim report" in text and ":class: error" in text


@pytest.mark.parametrize("content", [
    "{not json", "[]", '{"schema": 1, "results": []}', '{"schema": 2}',
    '{"schema": 2, "items": [{"test": "x", "claims": [], "status": "exploded"}]}',
    '{"schema": 2, "items": [{"test": "x", "claims": [["C1", "vibes", ""]], '
    '"status": "passed"}]}'])
def test_invalid_report(tmp_path, content):
    p = tmp_path / "claims.json"
    p.write_text(content)
    rep = load_report(p, root=tmp_path, head=None, files=[])
    assert rep.state == "invalid" and not rep.usable
    assert "cannot be read" in rep.problems[0]


def test_fresh_and_stale_report(tmp_path):
    items = [it("symbolic", "passed"), it("numeric", "passed")]
    p = write_report(tmp_path / "claims.json", items)
    rep = load_report(p, root=tmp_path, head="a" * 40, files=[])
    assert rep.state == "ok" and rep.problems == () and rep.complete
    assert all_verdicts(rep)["C1"].key in VERDICTS
    rep = load_report(p, root=tmp_path, head="b" * 40, files=[])
    assert rep.state == "stale" and "commit `aaaaaaaaaa`" in rep.problems[0]
    assert "(stale report)" in str(status_badge("C1", rep))
    assert "The claim report is stale" in str(claims_index(rep, book_dir=tmp_path))


def test_stale_by_newer_code_file(tmp_path):
    code = tmp_path / "derivations" / "x.py"
    code.parent.mkdir()
    code.write_text("x = 1\n")
    p = write_report(tmp_path / "claims.json", [], when=time.time() - 100)
    os.utime(code, (time.time(), time.time()))
    rep = load_report(p, root=tmp_path, head=None)
    assert rep.state == "stale" and "derivations/x.py" in rep.problems[0]
    os.utime(code, (time.time() - 1000, time.time() - 1000))
    assert load_report(p, root=tmp_path, head=None).state == "ok"


# ----------------------------------------------------------------------------- Markdown
def test_badge_shows_run_counts_scope_and_recorded_numbers(tmp_path):
    items = [it("symbolic", "passed", claim="C2", scope="d = 2"),
             it("as_stated", "xfailed", "p.py::t[laplace]", kernel="laplace",
                refuted="laplace", claim="C2"),
             it("counterexample", "passed", claim="C2"),
             it("corrected", "passed", "p.py::u[laplace]", kernel="laplace",
                asserted=["laplace"], claim="C2")]
    p = write_report(tmp_path / "claims.json", items)
    rep = load_report(p, root=tmp_path, head=None, files=[])
    text = str(status_badge("C2", rep))
    assert text.startswith("::::{admonition} Verdict on C2:")
    assert "run `20260101-000000-1`" in text and "commit `aaaaaaaaaa`" in text
    assert "Hypothesis profile `dev`" in text and "4 passed" not in text
    assert "rel\\_error = 0.5" in text and "measured = 1.5" in text and "`laplace`" in text
    with pytest.raises(KeyError):
        status_badge("C42", rep)

    book = tmp_path / "book"
    book.mkdir()
    (book / "prediction_shift.md").write_text("# page\n")
    (book / "scalar_gain.md").write_text("# page, not in the toc\n")
    (book / "_toc.yml").write_text("format: jb-book\nroot: intro\nparts:\n  - caption: X\n"
                                   "    chapters:\n      - file: prediction_shift\n")
    (tmp_path / "derivations").mkdir()
    (tmp_path / "derivations" / "prediction_shift.py").write_text("")
    assert toc_pages(book) == {"intro", "prediction_shift"}
    index = str(claims_index(rep, book_dir=book))
    assert "{doc}`prediction_shift`" in index and "{doc}`scalar_gain`" not in index
    assert "`proofs_check/test_prediction_shift.py` (not written)" in index
    for cl in CLAIMS:
        assert f"(claim-{cl.id.lower()})=" in index
    with pytest.raises(ValueError, match="part"):
        claims_index(rep, book_dir=book, part="everything")


# ----------------------------------------------------------------------------- pictures
def test_claims_page_pictures():
    from numerics.claim_figures import (
        CELL_COLOURS,
        VERDICT_COLOURS,
        claim_levels,
        dependency_figure,
        kernel_matrix_figure,
    )

    assert set(CELL_COLOURS) == set(CELL_STATES_ALL) and set(VERDICT_COLOURS) == set(VERDICTS)
    level = claim_levels()
    for cl in CLAIMS:  # every claim sits to the right of the claims it uses
        assert all(level[d] < level[cl.id] for d in cl.depends_on), cl.id
    rep = _report([it("symbolic", "passed"), it("numeric", "passed", asserted=["gaussian"])])
    fig = kernel_matrix_figure(rep, kernels=["gaussian", "laplace"])
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["gaussian", "laplace"]
    assert len(ax.patches) == len(CLAIMS) * 2
    fig = dependency_figure(rep)
    assert len(fig.axes[0].patches) == len(CLAIMS)
