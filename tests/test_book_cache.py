"""The book's execution cache key (book/_ext/poisoncurv_buildinputs.py): every notebook page
gets one hidden cell holding a fingerprint of the build inputs, which changes with any
input (code, report, results, versions) and only then."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(root: Path):
    spec = importlib.util.spec_from_file_location(
        "poisoncurv_buildinputs_test", ROOT / "book" / "_ext" / "poisoncurv_buildinputs.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.ROOT = root
    return mod


@pytest.fixture
def tree(tmp_path, monkeypatch):
    for d in ("derivations", "numerics", "proofs_check", "results", "reports", "book"):
        (tmp_path / d).mkdir()
    (tmp_path / "pyproject.toml").write_text("[project]\n")
    (tmp_path / "book" / "_config.yml").write_text("title: t\n")
    (tmp_path / "numerics" / "m.py").write_text("x = 1\n")
    (tmp_path / "results" / "r.json").write_text("{}")
    (tmp_path / "reports" / "claims.json").write_text('{"run_id": "a"}')
    monkeypatch.delenv("CLAIMS_REPORT", raising=False)
    return tmp_path


def _fp(root: Path) -> str:
    return _load(root).fingerprint()


def test_fingerprint_changes_with_each_input_and_only_then(tree):
    base = _fp(tree)
    assert base == _fp(tree)  # deterministic
    (tree / "numerics" / "__pycache__").mkdir()
    (tree / "numerics" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0")
    assert _fp(tree) == base  # byte code is not an input
    for path, text in (("numerics/m.py", "x = 2\n"), ("results/r.json", '{"a": 1}'),
                       ("reports/claims.json", '{"run_id": "b"}'),
                       ("book/_config.yml", "title: u\n"), ("derivations/new.py", "")):
        before = _fp(tree)
        (tree / path).write_text(text)
        assert _fp(tree) != before, path


def test_hidden_cell_is_added_once_and_only_to_notebook_pages(tree):
    mod = _load(tree)
    page = ["# Title\n\n```{code-cell} ipython3\nprint(1)\n```\n"]
    mod._append_cell(None, "p", page)
    assert page[0].count(mod.MARK) == 1 and ":tags: [remove-cell]" in page[0]
    assert page[0].endswith("```\n") and mod.fingerprint() in page[0]
    mod._append_cell(None, "p", page)  # idempotent
    assert page[0].count(mod.MARK) == 1
    plain = ["# A page without code\n"]
    mod._append_cell(None, "q", plain)
    assert plain == ["# A page without code\n"]


def test_the_book_loads_the_extension():
    """The book's configuration loads the extension: its explicit extension list replaces
    Jupyter Book's (so ``local_extensions`` alone would not load it) and ``local_extensions``
    puts ``_ext/`` on the path.  Without both, every page would reuse stale outputs."""
    import yaml

    cfg = yaml.safe_load((ROOT / "book" / "_config.yml").read_text())
    assert cfg["execute"]["execute_notebooks"] == "cache"
    sphinx = cfg["sphinx"]
    assert "poisoncurv_buildinputs" in sphinx["config"]["extensions"]
    path = sphinx["local_extensions"]["poisoncurv_buildinputs"]
    assert (ROOT / "book" / path / "poisoncurv_buildinputs.py").is_file()
