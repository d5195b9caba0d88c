"""Sphinx extension: key every executed page's jupyter-cache entry by what its output
depends on, not only by its own text.

The book runs with ``execute_notebooks: cache`` (jupyter-cache through myst-nb): a page
whose notebook is unchanged is not executed again, its stored outputs are used.  But a
page's output also depends on the package (``derivations/``, ``numerics/``), the published
claim report (``reports/claims.json``), the committed results (``results/``), the book's
configuration and the versions of the numerical libraries, none of which is in the page's
text.  This extension appends one hidden cell (tagged ``remove-cell``: not rendered) to
every notebook page at read time, holding a SHA-256 of all of those inputs; jupyter-cache
hashes cell sources, so a change to any input is a cache miss and the page executes again.
The key is coarse on purpose (one fingerprint for every page): a changed module re-runs
every page, an unchanged build re-runs none.
"""

from __future__ import annotations

import hashlib
import os
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: source trees and files whose content every page's output may depend on
INPUT_TREES = ("derivations", "numerics", "proofs_check", "results")
INPUT_FILES = ("pyproject.toml", "book/_config.yml")
#: distributions whose version enters the key
VERSIONED = ("torch", "sympy", "numpy", "scipy", "matplotlib", "mpmath", "scikit-learn")

MARK = "poisoncurv build inputs"
_FINGERPRINT: list[str] = []


def _report_path() -> Path:
    env = os.environ.get("CLAIMS_REPORT")
    return Path(env) if env else ROOT / "reports" / "claims.json"


def input_files() -> list[Path]:
    """Every file whose content enters the fingerprint, sorted."""
    files = [ROOT / f for f in INPUT_FILES]
    for tree in INPUT_TREES:
        for path in (ROOT / tree).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files.append(path)
    report = _report_path()
    if report.is_file():
        files.append(report)
    return sorted(set(files))


def fingerprint() -> str:
    """SHA-256 of the inputs (names and contents) and library versions; once per build."""
    if not _FINGERPRINT:
        h = hashlib.sha256()
        for path in input_files():
            h.update(str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path).encode())
            h.update(hashlib.sha256(path.read_bytes()).digest())
        for dist in VERSIONED:
            try:
                version = metadata.version(dist)
            except metadata.PackageNotFoundError:
                version = "absent"
            h.update(f"{dist}=={version}".encode())
        _FINGERPRINT.append(h.hexdigest())
    return _FINGERPRINT[0]


def hidden_cell(fp: str) -> str:
    return (f"\n\n```{{code-cell}} ipython3\n:tags: [remove-cell]\n"
            f"# {MARK} (derivations/, numerics/, reports, results/, versions): {fp}\n```\n")


def _append_cell(app, docname: str, source: list[str]) -> None:
    text = source[0]
    if "```{code-cell}" not in text or MARK in text:
        return
    source[0] = text.rstrip("\n") + hidden_cell(fingerprint())


def setup(app):
    app.connect("source-read", _append_cell)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
