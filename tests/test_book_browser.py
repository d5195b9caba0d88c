"""The built book in a real browser (marker ``browser``): headless Chromium, local server.

Builds nothing: it checks ``book/_build/html`` (``$BOOK_HTML`` overrides) and skips, with the
reason, when Chromium is not installed, when the book has not been built, or when a page
source is newer than the build (rebuild with ``bash scripts/run_all.sh`` or
``.venv/bin/jupyter-book build book -W -n --keep-going --all``).  ``.ci/run`` builds the book
and then runs ``pytest -m browser``.

What is asserted (scripts/check_book_browser.py): math typeset by MathJax (no raw TeX left,
no MathJax errors), every image loads, every internal link resolves, no request leaves
127.0.0.1, no console errors; and every page of the toc was built.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOK = ROOT / "book"
HTML = Path(os.environ.get("BOOK_HTML", BOOK / "_build" / "html"))

sys.path.insert(0, str(ROOT / "scripts"))
import check_book_browser as cbb  # noqa: E402

sys.path.remove(str(ROOT / "scripts"))

pytestmark = pytest.mark.browser


def _sources() -> list[Path]:
    return [*BOOK.glob("*.md"), BOOK / "_toc.yml", BOOK / "_config.yml"]


def _toc_pages() -> list[str]:
    pages = []
    for line in (BOOK / "_toc.yml").read_text().splitlines():
        m = re.match(r"\s*(?:-\s*)?(?:file|root):\s*(\S+)", line)
        if m:
            pages.append(m.group(1))
    return pages


@pytest.fixture(scope="module")
def html_dir() -> Path:
    if cbb.find_chromium() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; or set "
                    "CHROMIUM=/path/to/chrome): the browser check of the book is skipped")
    built = HTML / ".buildinfo"
    if not built.is_file():
        pytest.skip(f"the book is not built ({HTML} has no .buildinfo): run "
                    "bash scripts/run_all.sh (or .ci/run) first")
    newer = []
    pages = _toc_pages()
    built = [HTML / f"{p}.html" for p in pages if (HTML / f"{p}.html").is_file()]
    oldest = min((h.stat().st_mtime for h in built), default=0.0)
    for p in pages:  # a page source newer than its HTML
        src, html = BOOK / f"{p}.md", HTML / f"{p}.html"
        if src.is_file() and html.is_file() and src.stat().st_mtime > html.stat().st_mtime:
            newer.append(src.name)
    for cfg in (BOOK / "_toc.yml", BOOK / "_config.yml"):  # older than every page: rebuilt
        if cfg.stat().st_mtime > oldest:
            newer.append(cfg.name)
    if newer and "BOOK_HTML" not in os.environ:
        pytest.skip(f"the built book is older than {', '.join(sorted(newer)[:5])}: rebuild it "
                    "(jupyter-book build book -W -n --keep-going --all) before the browser check")
    return HTML


def test_every_toc_page_was_built(html_dir):
    missing = [p for p in _toc_pages() if not (html_dir / f"{p}.html").is_file()]
    assert not missing, f"pages in book/_toc.yml without HTML: {missing}"


def test_book_in_headless_chromium(html_dir):
    problems = cbb.check_book(html_dir)  # every page: the toc's, the index, search, ...
    assert problems == [], f"{len(problems)} problem(s):\n" + "\n".join(problems)
