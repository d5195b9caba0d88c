"""Repository layout: one claim = one slug = three files, claim markers, the book's toc.

* for every claim of ``CLAIMS``: ``derivations/<slug>.py`` (defining ``CLAIM`` with that
  claim's id), ``proofs_check/test_<slug>.py`` and ``book/<slug>.md`` exist;
* every test function in ``proofs_check/`` carries ``@pytest.mark.claim(id, role)`` (read
  statically with ``ast``, so this test imports no check module);
* every page in ``book/`` is in ``book/_toc.yml``, and that file is exactly what
  ``scripts/gen_toc.py`` writes.
"""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest

from derivations.claims import CLAIMS, ROLES, claim_by_id
from proofs_check.plugin import claim_calls
from proofs_check.plugin import module_marks as plugin_module_marks

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
SLUGS = [cl.slug for cl in CLAIMS]

sys.path.insert(0, str(ROOT / "scripts"))
import gen_toc  # noqa: E402

sys.path.remove(str(ROOT / "scripts"))


@pytest.mark.parametrize("slug", SLUGS)
def test_claim_has_its_three_files(slug):
    missing = [p for p in (f"derivations/{slug}.py", f"proofs_check/test_{slug}.py",
                           f"book/{slug}.md") if not (ROOT / p).is_file()]
    assert not missing, f"claim {slug!r} lacks {missing} (one claim = one slug = three files)"


@pytest.mark.parametrize("slug", SLUGS)
def test_derivation_module_defines_its_claim(slug):
    if not (ROOT / "derivations" / f"{slug}.py").is_file():
        pytest.skip(f"derivations/{slug}.py does not exist (reported by the test above)")
    mod = importlib.import_module(f"derivations.{slug}")
    claim = getattr(mod, "CLAIM", None)
    assert claim is not None, f"derivations/{slug}.py must set CLAIM = claim_by_slug({slug!r})"
    assert claim.slug == slug and claim == claim_by_id(claim.id), (
        f"derivations/{slug}.py: CLAIM is {claim!r}, expected the claim with slug {slug!r}")


def _claim_marks(node: ast.AST) -> list[ast.Call]:
    return claim_calls(getattr(node, "decorator_list", []))


CHECK_FILES = sorted((ROOT / "proofs_check").glob("test_*.py"))


@pytest.mark.parametrize("path", CHECK_FILES, ids=[p.name for p in CHECK_FILES])
def test_every_check_carries_a_claim_marker(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    module_marks = plugin_module_marks(tree)
    unmarked, bad = [], []

    def visit(body, class_marks):
        for node in body:
            if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                visit(node.body, class_marks + _claim_marks(node))
            elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.name.startswith("test")):
                marks = module_marks + class_marks + _claim_marks(node)
                if not marks:
                    unmarked.append(node.name)
                for mk in marks:
                    args = [a.value for a in mk.args if isinstance(a, ast.Constant)]
                    if len(args) != 2:
                        continue  # computed arguments are validated at collection time
                    cid, role = args
                    try:
                        claim_by_id(cid)
                    except KeyError:
                        bad.append(f"{node.name}: unknown claim id {cid!r}")
                    if role not in ROLES:
                        bad.append(f"{node.name}: role {role!r} not in {ROLES}")

    visit(tree.body, [])
    assert not unmarked, (f"{path.name}: tests without @pytest.mark.claim(id, role): "
                          f"{unmarked}")
    assert not bad, f"{path.name}: " + "; ".join(bad)


def test_every_book_page_is_in_the_toc():
    listed = set()
    for _caption, pages in gen_toc.parts(BOOK):
        listed.update(pages)
    listed.add(gen_toc.ROOT_PAGE)
    pages = {p.stem for p in BOOK.glob("*.md")}
    assert pages - listed == set(), (
        f"book pages not in the table of contents: {sorted(pages - listed)}; "
        "name them after a claim slug (or add them to scripts/gen_toc.py)")


def test_committed_toc_is_generated():
    current = (BOOK / "_toc.yml").read_text()
    assert current == gen_toc.render(BOOK), (
        "book/_toc.yml differs from what scripts/gen_toc.py writes for the pages that exist: "
        "run .venv/bin/python scripts/gen_toc.py")


def test_gen_toc_check_cli():
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_toc.py"), "--stdout"],
                         capture_output=True, text=True, check=True)
    assert out.stdout == gen_toc.render(BOOK)


def test_gen_toc_orders_and_filters(tmp_path):
    """The generator lists only existing pages, claims in CLAIMS order, companions after."""
    for name in ["intro", "claims", "kernels", "gradient_flow_contraction",
                 "gradient_flow_contraction_nets", "scalar_gain", "e3_defence_sweep"]:
        (tmp_path / f"{name}.md").write_text("# x\n")
    parts = dict(gen_toc.parts(tmp_path))
    assert parts == {
        "Claim status": ["claims"],
        "Foundations": ["kernels"],
        "Claims": ["scalar_gain", "gradient_flow_contraction", "gradient_flow_contraction_nets"],
        "Experiments": ["e3_defence_sweep"],
    }
    text = gen_toc.render(tmp_path)
    assert text.index("claims") < text.index("kernels") < text.index("scalar_gain")


# ----------------------------------------------------------------------------- typed outcomes
def _prose(text: str) -> list[tuple[int, str]]:
    """The lines of a MyST page outside code cells, fenced blocks and front matter."""
    out, fence, front = [], None, False
    for n, line in enumerate(text.splitlines(), 1):
        s = line.strip()
        if n == 1 and s == "---":
            front = True
            continue
        if front:
            front = s != "---"
            continue
        m = re.match(r"^(`{3,}|~{3,})", s)
        if m:
            if fence is None:
                fence = m.group(1)
            elif s.startswith(fence) and s.strip("`~") == "":
                fence = None
            continue
        if fence is None:
            out.append((n, line))
    return out


# verdict words set in bold, and "about N%"-style outcome figures, typed in prose
_TYPED = re.compile(r"\*\*(fails?|holds?|refuted|proved|verified|true|false)\b[^*]*\*\*"
                    r"|\babout \d+(\.\d+)?\s*%|\bnon-monotone\b", re.IGNORECASE)


@pytest.mark.parametrize("page", sorted(BOOK.glob("*.md")), ids=lambda p: p.name)
def test_pages_type_no_outcome_and_cite_no_outside_file(page):
    """Item 6 of the evidence model: a page never types a verdict word or an outcome figure in
    its prose (they come from the run or the code), and never cites a file outside the
    repository as provenance (the statements and paper sections live in
    derivations/claims.py)."""
    text = page.read_text()
    assert "THEORY.md" not in text, f"{page.name} cites THEORY.md (not in this repository)"
    bad = [f"line {n}: {line.strip()[:90]}" for n, line in _prose(text) if _TYPED.search(line)]
    assert not bad, f"{page.name} types outcomes by hand: " + "; ".join(bad)


def test_long_checks_are_scheduled_first(tmp_path, monkeypatch):
    """The root conftest starts the checks that were slow in the published report first
    (longest first) and keeps every other item in its collected order."""
    import json
    from types import SimpleNamespace

    import conftest

    report = tmp_path / "claims.json"
    report.write_text(json.dumps({"items": [
        {"test": "t::slow", "duration_s": 50.0}, {"test": "t::slower", "duration_s": 90.0},
        {"test": "t::fast", "duration_s": 1.0}, {"test": "t::none"}]}))
    monkeypatch.setenv("CLAIMS_REPORT", str(report))
    durations = conftest.previous_durations(tmp_path)
    assert durations == {"t::slow": 50.0, "t::slower": 90.0, "t::fast": 1.0, "t::none": 0.0}
    items = [SimpleNamespace(nodeid=n) for n in
             ("t::a", "t::fast", "t::slow", "t::b", "t::slower", "t::none")]
    conftest.longest_first(items, durations)
    assert [i.nodeid for i in items] == ["t::slower", "t::slow", "t::a", "t::fast", "t::b",
                                         "t::none"]
    report.write_text("{broken")
    assert conftest.previous_durations(tmp_path) == {}


def test_xdist_workers_share_the_cpus(monkeypatch):
    """Each xdist worker gets its share of the available CPUs as torch threads."""
    import os

    import conftest

    assert 1 <= conftest.available_cpus() <= (os.cpu_count() or 1)

    monkeypatch.delenv("POISONCURV_TEST_THREADS", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    assert conftest.worker_threads() is None  # not a worker: torch's own default
    monkeypatch.setattr(conftest, "available_cpus", lambda: 8)
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    assert conftest.worker_threads() == 4
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "16")
    assert conftest.worker_threads() == 1
    monkeypatch.setenv("POISONCURV_TEST_THREADS", "3")
    assert conftest.worker_threads() == 3
