"""Status logic of numerics.claim_report on synthetic reports (fresh, stale, missing, bad)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from derivations.claims import CLAIMS
from numerics.claim_report import (
    STATUS_LABELS,
    all_statuses,
    claim_status,
    claims_index,
    kernels_in_test_ids,
    load_report,
    status_badge,
    toc_pages,
)

KNOWN = {"gaussian", "laplace", "ntk_relu", "rational_quadratic", "user-registered"}


def r(claim: str, role: str, outcome: str, test: str = "t.py::test", reason: str = "") -> dict:
    return {"claim": claim, "role": role, "test": test, "outcome": outcome, "reason": reason,
            "duration_s": 0.01}


def status(results: list[dict], cid: str = "C1"):
    return claim_status(cid, results, known_kernels=KNOWN)


# ----------------------------------------------------------------------------- rules
def test_no_results_is_open():
    assert status([]).key == "open"
    assert status([r("C2", "symbolic", "passed")]).key == "open"  # other claim's result


def test_all_skipped_is_open_with_reason():
    st = status([r("C1", "numeric", "skipped", reason="needs CUDA"),
                 r("C1", "numeric", "skipped", reason="Skipped: no user kernel\nFalsifying ...")])
    assert st.key == "open"
    assert st.skip_reasons == ("needs CUDA", "no user kernel")


def test_symbolic_only_is_proved():
    st = status([r("C1", "symbolic", "passed")])
    assert (st.key, st.label) == ("proved", "proved symbolically")


def test_symbolic_and_numeric_is_proved_and_verified():
    st = status([r("C1", "symbolic", "passed"), r("C1", "numeric", "passed"),
                 r("C1", "numeric", "skipped")])
    assert st.key == "proved"
    assert st.label == "proved symbolically and verified numerically"
    assert st.counts_text("numeric") == "1 passed, 1 skipped"
    assert st.counts_text("experiment") == "—"


@pytest.mark.parametrize("role", ["numeric", "as_stated", "corrected"])
def test_numeric_only_is_verified(role):
    assert status([r("C1", role, "passed")]).key == "verified"


def test_experiment_only_is_measured():
    assert status([r("C1", "experiment", "passed")]).key == "measured"


def test_any_failure_is_failing():
    results = [r("C1", "symbolic", "passed"), r("C1", "numeric", "failed", "t.py::test_n")]
    st = status(results)
    assert st.key == "failing"
    assert st.failures == ("t.py::test_n",)


def test_xpassed_is_failing():
    # an expected failure that passed: the pinned counterexample no longer fails
    assert status([r("C1", "as_stated", "xpassed"), r("C1", "corrected", "passed")]
                  ).key == "failing"


def test_failing_beats_conditional():
    results = [r("C1", "as_stated", "xfailed", reason="m=1"), r("C1", "corrected", "passed"),
               r("C1", "numeric", "failed")]
    assert status(results).key == "failing"


def test_as_stated_xfail_with_corrected_is_conditional():
    st = status([r("C1", "as_stated", "xfailed", reason="fails for r=0 (laplace)"),
                 r("C1", "corrected", "passed"), r("C1", "symbolic", "passed")])
    assert st.key == "conditional"
    assert st.label == STATUS_LABELS["conditional"]
    assert st.counterexamples == ("fails for r=0 (laplace)",)


def test_as_stated_xfail_without_corrected_is_refuted():
    st = status([r("C1", "as_stated", "xfailed", reason="counterexample"),
                 r("C1", "symbolic", "passed")])
    assert st.key == "refuted"
    # a corrected check that only skipped does not rescue the claim
    assert status([r("C1", "as_stated", "xfailed"), r("C1", "corrected", "skipped")]
                  ).key == "refuted"


def test_non_as_stated_xfail_alone_is_open():
    st = status([r("C1", "experiment", "xfailed", reason="no immunity at toy scale"),
                 r("C1", "experiment", "skipped", reason="Skipped: no CIFAR")])
    assert st.key == "open"
    assert st.expected_failures == ("no immunity at toy scale",)
    assert st.skip_reasons == ("no CIFAR",)


def test_unknown_claim_raises():
    with pytest.raises(KeyError):
        claim_status("C99", [])


# ----------------------------------------------------------------------------- kernels
def test_kernels_from_test_ids():
    ids = ["a.py::t[gaussian]", "a.py::t[ntk_relu-3]", "a.py::t[user-registered]",
           "a.py::t[7-rational_quadratic]", "a.py::plain", "a.py::t[gaussian]"]
    assert kernels_in_test_ids(ids, KNOWN) == ["gaussian", "ntk_relu", "user-registered",
                                               "rational_quadratic"]


def test_skipped_tests_do_not_count_as_covering_a_kernel():
    st = status([r("C1", "numeric", "passed", "a.py::t[gaussian]"),
                 r("C1", "numeric", "skipped", "a.py::t[user-registered]")])
    assert st.kernels == ("gaussian",)


# ----------------------------------------------------------------------------- report files
def write_report(path: Path, results: list[dict], *, commit: str = "a" * 40,
                 when: float | None = None, args=("proofs_check/",)) -> Path:
    payload = {"generated": "2026-01-01 00:00:00 UTC",
               "generated_unix": time.time() if when is None else when,
               "commit": commit, "hypothesis_profile": "dev", "args": list(args),
               "exitstatus": 0, "results": results}
    path.write_text(json.dumps(payload))
    return path


def test_missing_report(tmp_path):
    rep = load_report(tmp_path / "claims.json", root=tmp_path, head=None, files=[])
    assert rep.state == "missing" and not rep.usable
    assert "no claim report" in rep.problems[0]
    assert all(st.key == "open" for st in all_statuses(rep).values())
    text = str(claims_index(rep, book_dir=tmp_path))
    assert "No claim report" in text and ":class: error" in text


@pytest.mark.parametrize("content", ["{not json", "[]", '{"results": [{"claim": "C1"}]}',
                                     '{"results": [{"claim": "C1", "role": "numeric", '
                                     '"test": "x", "outcome": "exploded"}]}'])
def test_invalid_report(tmp_path, content):
    p = tmp_path / "claims.json"
    p.write_text(content)
    rep = load_report(p, root=tmp_path, head=None, files=[])
    assert rep.state == "invalid" and not rep.usable
    assert "cannot be read" in rep.problems[0]


def test_fresh_report(tmp_path):
    p = write_report(tmp_path / "claims.json", [r("C1", "symbolic", "passed")])
    rep = load_report(p, root=tmp_path, head="a" * 40, files=[])
    assert rep.state == "ok" and rep.problems == ()
    assert all_statuses(rep)["C1"].key == "proved"
    assert "stale" not in str(claims_index(rep, book_dir=tmp_path)).lower()


def test_stale_by_commit(tmp_path):
    p = write_report(tmp_path / "claims.json", [r("C1", "symbolic", "passed")])
    rep = load_report(p, root=tmp_path, head="b" * 40, files=[])
    assert rep.state == "stale" and rep.usable
    assert "commit `aaaaaaaaaa`" in rep.problems[0]
    # stale statuses are still shown, under a banner
    assert all_statuses(rep)["C1"].key == "proved"
    text = str(claims_index(rep, book_dir=tmp_path))
    assert "The claim report is stale" in text
    assert "(stale report)" in str(status_badge("C1", rep))


def test_stale_by_newer_code_file(tmp_path):
    code = tmp_path / "derivations" / "x.py"
    code.parent.mkdir()
    code.write_text("x = 1\n")
    p = write_report(tmp_path / "claims.json", [], when=time.time() - 100)
    os.utime(code, (time.time(), time.time()))
    rep = load_report(p, root=tmp_path, head=None)  # default files: code_files(root)
    assert rep.state == "stale"
    assert "derivations/x.py" in rep.problems[0]
    # a code file older than the report is fine
    os.utime(code, (time.time() - 1000, time.time() - 1000))
    assert load_report(p, root=tmp_path, head=None).state == "ok"


def test_partial_run_is_noted(tmp_path):
    p = write_report(tmp_path / "claims.json", [], args=["-m", "not slow", "-k", "C3"])
    rep = load_report(p, root=tmp_path, head=None, files=[])
    notes = " ".join(rep.partial_notes)
    assert "slow checks were not run" in notes and "-k C3" in notes
    p = write_report(tmp_path / "claims.json", [], args=["proofs_check/test_scalar_gain.py"])
    notes = " ".join(load_report(p, root=tmp_path, head=None, files=[]).partial_notes)
    assert "only the checks in `proofs_check/test_scalar_gain.py` ran" in notes
    rep = load_report(p, root=tmp_path, head=None, files=[])
    assert rep.selective
    assert "(partial run)" in str(status_badge("C1", rep))
    assert "The claim report comes from a partial run" in str(claims_index(rep,
                                                                           book_dir=tmp_path))
    p = write_report(tmp_path / "claims.json", [], args=["proofs_check/", "-n", "2"])
    rep = load_report(p, root=tmp_path, head=None, files=[])
    assert rep.partial_notes == [] and not rep.selective
    p = write_report(tmp_path / "claims.json", [], args=["-m", "not slow and not browser"])
    rep = load_report(p, root=tmp_path, head=None, files=[])
    assert rep.partial_notes and not rep.selective  # the CI run: fast checks, all claims
    assert "partial run" not in str(status_badge("C1", rep))


# ----------------------------------------------------------------------------- Markdown
def test_badge_and_index_markdown(tmp_path):
    results = [r("C2", "as_stated", "xfailed", "p.py::t[laplace]", reason="r=0: k not smooth"),
               r("C2", "corrected", "passed", "p.py::u[laplace]")]
    p = write_report(tmp_path / "claims.json", results)
    rep = load_report(p, root=tmp_path, head=None, files=[])
    badge = status_badge("C2", rep)
    text = badge._repr_markdown_()
    assert text == str(badge)
    assert text.startswith("::::{admonition} Status of C2: holds under a stated condition")
    assert ":class: warning" in text and "`laplace`" in text
    assert "r=0: k not smooth" in text
    with pytest.raises(KeyError):
        status_badge("C42", rep)

    # links: a page only when it exists AND is in the toc; sources only when they exist
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
    assert "{doc}`prediction_shift`" in index
    assert "{doc}`scalar_gain`" not in index
    assert "{download}`derivations/prediction_shift.py <../derivations/prediction_shift.py>`" \
        in index
    assert "`proofs_check/test_prediction_shift.py` (not written)" in index
    for cl in CLAIMS:
        assert f"(claim-{cl.id.lower()})=" in index
    with pytest.raises(ValueError, match="part"):
        claims_index(rep, book_dir=book, part="everything")
