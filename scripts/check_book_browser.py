#!/usr/bin/env python3
"""Check the built book in a real browser (headless Chromium).

Serves ``book/_build/html`` on 127.0.0.1 (a free port, ``http.server`` in a thread), opens
every page with headless Chromium (``--dump-dom`` after a virtual-time budget, so scripts
and MathJax have run) and reports, per page:

* math that MathJax did not typeset: raw ``$$``, ``\\(``, ``\\[`` or ``\\begin{`` left in
  text nodes, fewer ``mjx-container`` elements than math elements in the page, or MathJax
  errors (``mjx-merror``, and undefined control sequences that MathJax shows in red);
* ``<img>`` (and ``srcset``) sources that do not answer HTTP 200 from the local server;
* internal links (``<a href>`` within the site, fragments included) that do not resolve;
* any request to a host other than the local server: external ``<script src>``,
  ``<link href>`` (stylesheets, preloads, icons), ``<img>``, ``<iframe>``, ... in the HTML,
  and every page-initiated request in Chromium's net log. Chromium runs with every host but
  127.0.0.1 mapped to "not found", so the check never touches the network;
* local files the page requested that the server could not serve (404), e.g. fonts or CSS;
* JavaScript errors in the console log (``Uncaught ...``, ``...Error``, failed loads).

Usage::

    python scripts/check_book_browser.py [HTML_DIR]            # exit 1 if problems
    python scripts/check_book_browser.py --screenshot kernels.html kernels.png

From Python (e.g. a pytest test marked ``browser``)::

    from check_book_browser import check_book, find_chromium
    if find_chromium() is None: pytest.skip("chromium not installed")
    assert check_book("book/_build/html") == []

Without Chromium the CLI prints ``SKIP: chromium not installed`` and exits 0 (or 2 with
``--require``); :func:`check_book` raises :class:`ChromiumNotFoundError`.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_HTML_DIR = REPO_ROOT / "book" / "_build" / "html"

CHROMIUM_CANDIDATES = (
    "/usr/bin/chromium",
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--mute-audio",
    # nothing but the local server resolves: the check is offline by construction
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    "--enable-logging=stderr",
    "--v=0",
)
VIRTUAL_TIME_BUDGET_MS = 10_000
PAGE_TIMEOUT_S = 120

# tags whose text is not prose (raw TeX there is fine) or is MathJax's own output
_NON_PROSE_TAGS = frozenset(
    {"script", "style", "pre", "code", "textarea", "kbd", "samp", "tt", "mjx-container",
     "mjx-assistive-mml", "math", "svg", "template", "noscript"}
)
_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
     "source", "track", "wbr"}
)
_RAW_MATH = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|\\begin\{")
# <link rel=...> values that make the browser fetch (or connect to) the href
_FETCHING_RELS = frozenset(
    {"stylesheet", "preload", "modulepreload", "prefetch", "prerender", "preconnect",
     "dns-prefetch", "icon", "shortcut", "apple-touch-icon", "manifest", "mask-icon"}
)
_SRC_ATTRS = {
    "script": ("src",),
    "img": ("src",),
    "iframe": ("src",),
    "frame": ("src",),
    "embed": ("src",),
    "video": ("src", "poster"),
    "audio": ("src",),
    "source": ("src",),
    "track": ("src",),
    "object": ("data",),
    "input": ("src",),
}
_CONSOLE_LINE = re.compile(r":CONSOLE[:(]\d*\)?\]\s*(?P<msg>.*)$")
_CONSOLE_ERROR = re.compile(
    r"Uncaught|\b[A-Za-z]*Error\b|Failed to load resource|net::ERR_|Refused to", re.I
)
# requested automatically by the browser, not by the page
_IGNORED_MISSING = frozenset({"/favicon.ico"})


class ChromiumNotFoundError(RuntimeError):
    """No Chromium/Chrome executable was found."""


def find_chromium() -> str | None:
    """Path of a Chromium executable ($CHROMIUM first), or ``None``."""
    candidates = [os.environ["CHROMIUM"]] if os.environ.get("CHROMIUM") else []
    candidates += CHROMIUM_CANDIDATES
    for name in candidates:
        path = shutil.which(name)
        if path:
            return path
    return None


# ----------------------------------------------------------------------------- HTML parsing
@dataclass
class ParsedPage:
    """What the checks need from one HTML document."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)  # <a href>
    images: list[str] = field(default_factory=list)  # <img src> and srcset entries
    resources: list[tuple[str, str]] = field(default_factory=list)  # (what, url) fetched
    raw_math: list[str] = field(default_factory=list)  # prose text with TeX delimiters
    math_elements: int = 0  # elements with class "math" (Sphinx/myst output)
    mjx_containers: int = 0
    mjx_errors: list[str] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self._depth: dict[str, int] = {}
        self._red_mtext = 0  # inside MathJax's rendering of an undefined macro

    def _in_non_prose(self) -> bool:
        return any(self._depth.get(t, 0) > 0 for t in _NON_PROSE_TAGS)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        p = self.page
        if a.get("id"):
            p.ids.add(a["id"])
        if tag == "a" and a.get("name"):
            p.ids.add(a["name"])
        if "math" in a.get("class", "").split():
            p.math_elements += 1
        if tag == "mjx-container":
            p.mjx_containers += 1
        if tag == "mjx-merror":
            p.mjx_errors.append(a.get("data-mjx-error") or "TeX error")
        if tag == "mtext" and a.get("mathcolor", "").lower() == "red":
            self._red_mtext += 1
        if tag == "a" and "href" in a:
            p.links.append(a["href"])
        if tag == "img" and a.get("src"):
            p.images.append(a["src"])
        if tag in ("img", "source") and a.get("srcset"):
            for item in a["srcset"].split(","):
                if item.strip():
                    p.images.append(item.strip().split()[0])
        for attr in _SRC_ATTRS.get(tag, ()):
            if a.get(attr):
                p.resources.append((f"<{tag} {attr}>", a[attr]))
        if tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if rels & _FETCHING_RELS:
                p.resources.append((f"<link rel={a.get('rel')}>", a["href"]))
        if tag not in _VOID_TAGS:
            self._depth[tag] = self._depth.get(tag, 0) + 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID_TAGS:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._depth.get(tag, 0) > 0:
            self._depth[tag] -= 1
        if tag == "mtext" and self._red_mtext > 0:
            self._red_mtext -= 1

    def handle_data(self, data: str) -> None:
        if self._red_mtext and data.startswith("\\"):
            # MathJax's noundefined extension shows an unknown macro as red text
            self.page.mjx_errors.append(f"undefined control sequence {data.strip()}")
        if self._in_non_prose() or not data.strip():
            return
        m = _RAW_MATH.search(data)
        if m:
            lo = max(0, m.start() - 40)
            self.page.raw_math.append(" ".join(data[lo : m.end() + 40].split()))


def parse_html(text: str) -> ParsedPage:
    collector = _Collector()
    collector.feed(text)
    collector.close()
    return collector.page


# ----------------------------------------------------------------------------- local server
class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        try:
            status = int(code)
        except (TypeError, ValueError):
            status = 0
        with self.server.lock:  # type: ignore[attr-defined]
            self.server.requests.append((self.path, status))  # type: ignore[attr-defined]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # the browser may close a connection early (e.g. after a screenshot): not a problem
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


@contextlib.contextmanager
def serve(html_dir: str | os.PathLike[str]) -> Iterator[tuple[str, http.server.HTTPServer]]:
    """Serve ``html_dir`` on 127.0.0.1 at a free port; yield ``(base_url, server)``.

    ``server.requests`` lists ``(path, status)`` of every request answered.
    """
    handler = functools.partial(_Handler, directory=str(html_dir))
    server = _Server(("127.0.0.1", 0), handler)
    server.requests = []  # type: ignore[attr-defined]
    server.lock = threading.Lock()  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host}:{port}/", server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# ----------------------------------------------------------------------------- chromium
@dataclass
class BrowserResult:
    dom: str
    stderr: str
    netlog: dict | None
    returncode: int


def run_chromium(
    url: str,
    *,
    chromium: str | None = None,
    screenshot: str | os.PathLike[str] | None = None,
    window_size: tuple[int, int] = (1280, 2400),
    budget_ms: int = VIRTUAL_TIME_BUDGET_MS,
    timeout: float = PAGE_TIMEOUT_S,
) -> BrowserResult:
    """Load ``url`` in headless Chromium; return the rendered DOM, stderr and the net log."""
    chromium = chromium or find_chromium()
    if chromium is None:
        raise ChromiumNotFoundError("chromium not installed")
    with tempfile.TemporaryDirectory(prefix="poisoncurv-chromium-") as tmp:
        netlog_path = Path(tmp) / "netlog.json"
        cmd = [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--virtual-time-budget={budget_ms}",
            f"--window-size={window_size[0]},{window_size[1]}",
            f"--log-net-log={netlog_path}",
        ]
        if screenshot is not None:
            cmd.append(f"--screenshot={Path(screenshot).resolve()}")
        else:
            cmd.append("--dump-dom")
        cmd.append(url)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, errors="replace", timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        netlog = None
        with contextlib.suppress(OSError, ValueError):
            netlog = json.loads(netlog_path.read_text(errors="replace"))
    return BrowserResult(proc.stdout, proc.stderr, netlog, proc.returncode)


def page_requests(netlog: dict, base_url: str) -> list[str]:
    """URLs of requests that the page (not the browser itself) started, from a net log."""
    base = urllib.parse.urlsplit(base_url)
    origin = f"{base.scheme}://{base.netloc}"
    event_types = netlog.get("constants", {}).get("logEventTypes", {})
    start_job = event_types.get("URL_REQUEST_START_JOB")
    urls = []
    for event in netlog.get("events", []):
        if start_job is not None and event.get("type") != start_job:
            continue
        params = event.get("params") or {}
        url = params.get("url")
        if not url:
            continue
        initiator = str(params.get("initiator", ""))
        nik = str(params.get("network_isolation_key", ""))
        if initiator.startswith(origin) or nik.startswith(f"{base.scheme}://{base.hostname}"):
            urls.append(url)
    return urls


def console_errors(stderr: str) -> list[str]:
    out = []
    for line in stderr.splitlines():
        m = _CONSOLE_LINE.search(line)
        if m and _CONSOLE_ERROR.search(m.group("msg")):
            out.append(m.group("msg").strip())
    return out


# ----------------------------------------------------------------------------- checks
def list_pages(html_dir: Path) -> list[str]:
    """Every HTML page of the site (relative POSIX paths), skipping Sphinx's asset folders."""
    pages = []
    for path in sorted(html_dir.rglob("*.html")):
        rel = path.relative_to(html_dir)
        if any(part.startswith(("_", ".")) for part in rel.parts[:-1]):
            continue
        pages.append(rel.as_posix())
    return pages


def _is_local(url: str, base_url: str) -> bool:
    return urllib.parse.urlsplit(url).netloc == urllib.parse.urlsplit(base_url).netloc


class _Fetcher:
    """HTTP status and element ids of local URLs, cached by path (shared across pages)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[int, set[str] | None]] = {}

    def get(self, url: str, base_url: str) -> tuple[int, set[str] | None]:
        path = urllib.parse.urlsplit(url).path or "/"
        with self._lock:
            if path in self._cache:
                return self._cache[path]
        local = urllib.parse.urljoin(base_url, path.lstrip("/"))
        ids: set[str] | None = None
        try:
            with urllib.request.urlopen(local, timeout=30) as resp:
                status = resp.status
                if path.endswith((".html", "/")):
                    ids = parse_html(resp.read().decode("utf-8", "replace")).ids
        except urllib.error.HTTPError as err:
            status = err.code
        except (urllib.error.URLError, OSError):
            status = 0
        with self._lock:
            self._cache[path] = (status, ids)
        return status, ids


def check_page(
    html_dir: Path, page: str, *, chromium: str, fetcher: _Fetcher
) -> list[str]:
    """Problems of one page (relative path ``page``), each prefixed with the page name."""
    problems: list[str] = []

    def problem(msg: str) -> None:
        problems.append(f"{page}: {msg}")

    static = parse_html((html_dir / page).read_text(encoding="utf-8", errors="replace"))
    with serve(html_dir) as (base_url, server):
        page_url = urllib.parse.urljoin(base_url, page)
        try:
            result = run_chromium(page_url, chromium=chromium)
        except subprocess.TimeoutExpired:
            problem(f"chromium did not finish within {PAGE_TIMEOUT_S} s")
            return problems
        if result.returncode != 0 or not result.dom.strip():
            tail = " | ".join(result.stderr.strip().splitlines()[-3:])
            problem(f"chromium failed (exit code {result.returncode}): {tail}")
            return problems
        dom = parse_html(result.dom)

        # --- math typeset by MathJax
        for snippet in dict.fromkeys(dom.raw_math):
            problem(f"untypeset TeX in text: {snippet!r}")
        if static.math_elements and dom.mjx_containers < static.math_elements:
            hint = " (is MathJax loaded?)" if dom.mjx_containers == 0 else ""
            problem(
                f"MathJax typeset {dom.mjx_containers} of {static.math_elements} math "
                f"elements{hint}"
            )
        for err in dict.fromkeys(dom.mjx_errors):
            problem(f"MathJax error: {err}")

        # --- external resources referenced by the HTML (static and rendered)
        for what, url in dict.fromkeys(static.resources + dom.resources):
            absolute = urllib.parse.urljoin(page_url, url)
            if urllib.parse.urlsplit(absolute).scheme in ("http", "https") and not _is_local(
                absolute, base_url
            ):
                problem(f"external resource {what}: {url}")

        # --- requests the page actually made (net log)
        if result.netlog is None:
            problem("no readable Chromium net log (cannot verify network requests)")
        else:
            for url in dict.fromkeys(page_requests(result.netlog, base_url)):
                scheme = urllib.parse.urlsplit(url).scheme
                if scheme in ("http", "https", "ws", "wss") and not _is_local(url, base_url):
                    problem(f"request to an external host: {url}")

        # --- local files the page asked for and did not get
        with server.lock:  # type: ignore[attr-defined]
            answered = list(server.requests)  # type: ignore[attr-defined]
        for path, status in dict.fromkeys(answered):
            bare = urllib.parse.urlsplit(path).path
            if status >= 400 and bare not in _IGNORED_MISSING:
                problem(f"local request failed with HTTP {status}: {path}")

        # --- images
        for src in dict.fromkeys(dom.images):
            absolute = urllib.parse.urljoin(page_url, src)
            scheme = urllib.parse.urlsplit(absolute).scheme
            if scheme == "data":
                continue
            if not _is_local(absolute, base_url):
                problem(f"image from an external host: {src}")
                continue
            status, _ = fetcher.get(absolute, base_url)
            if status != 200:
                problem(f"image does not load (HTTP {status}): {src}")

        # --- internal links (fragments included)
        for href in dict.fromkeys(dom.links):
            if not href or href.startswith(("mailto:", "javascript:", "tel:", "data:")):
                continue
            absolute = urllib.parse.urljoin(page_url, href)
            parts = urllib.parse.urlsplit(absolute)
            if parts.scheme not in ("http", "https") or not _is_local(absolute, base_url):
                continue  # links to other sites are allowed; only loads are checked
            status, ids = fetcher.get(absolute, base_url)
            if status != 200:
                problem(f"broken internal link (HTTP {status}): {href}")
                continue
            fragment = urllib.parse.unquote(parts.fragment)
            if not fragment:
                continue
            same_page = posixpath.normpath(parts.path) == posixpath.normpath(
                urllib.parse.urlsplit(page_url).path
            )
            targets = (dom.ids | static.ids) if same_page else ids
            if targets is not None and fragment not in targets:
                problem(f"internal link to a missing anchor: {href}")

        # --- JavaScript errors
        for msg in dict.fromkeys(console_errors(result.stderr)):
            problem(f"console error: {msg}")
    return problems


def check_book(
    html_dir: str | os.PathLike[str] = DEFAULT_HTML_DIR,
    *,
    pages: Sequence[str] | None = None,
    chromium: str | None = None,
    workers: int | None = None,
) -> list[str]:
    """Open every page of the built book in headless Chromium; return the problems found.

    An empty list means the book passed. Raises :class:`ChromiumNotFoundError` when no
    Chromium is installed and :class:`FileNotFoundError` when ``html_dir`` has no pages.
    """
    html_dir = Path(html_dir).resolve()
    chromium = chromium or find_chromium()
    if chromium is None:
        raise ChromiumNotFoundError("chromium not installed")
    pages = list(pages) if pages is not None else list_pages(html_dir)
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {html_dir}; build the book first")
    fetcher = _Fetcher()
    workers = workers or max(1, min(4, (os.cpu_count() or 2) // 2, len(pages)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = pool.map(
            lambda p: check_page(html_dir, p, chromium=chromium, fetcher=fetcher), pages
        )
        return [msg for page_problems in results for msg in page_problems]


def screenshot(
    html_dir: str | os.PathLike[str],
    page: str,
    out: str | os.PathLike[str],
    *,
    window_size: tuple[int, int] = (1280, 2400),
    chromium: str | None = None,
) -> Path:
    """Save a PNG of ``page`` (path relative to ``html_dir``) as rendered by Chromium."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with serve(Path(html_dir).resolve()) as (base_url, _server):
        result = run_chromium(
            urllib.parse.urljoin(base_url, page), chromium=chromium, screenshot=out,
            window_size=window_size,
        )
    if result.returncode != 0 or not out.is_file():
        tail = " | ".join(result.stderr.strip().splitlines()[-3:])
        raise RuntimeError(f"screenshot failed (exit code {result.returncode}): {tail}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "html_dir", nargs="?", default=str(DEFAULT_HTML_DIR),
        help="the built HTML (default: book/_build/html)",
    )
    parser.add_argument(
        "--screenshot", nargs=2, metavar=("PAGE", "OUT_PNG"),
        help="only save a screenshot of PAGE (relative to HTML_DIR) to OUT_PNG",
    )
    parser.add_argument(
        "--window-size", default="1280,2400", help="WIDTH,HEIGHT for --screenshot"
    )
    parser.add_argument("--page", action="append", help="check only this page (repeatable)")
    parser.add_argument(
        "--require", action="store_true",
        help="exit 2 instead of 0 when chromium is not installed",
    )
    args = parser.parse_args(argv)

    chromium = find_chromium()
    if chromium is None:
        print("SKIP: chromium not installed (apt-get install chromium, or set CHROMIUM)")
        return 2 if args.require else 0
    html_dir = Path(args.html_dir)
    if not (html_dir / "index.html").is_file() and not list_pages(html_dir):
        print(f"error: no built book under {html_dir} (run scripts/run_all.sh)", file=sys.stderr)
        return 2

    if args.screenshot:
        page, out = args.screenshot
        width, height = (int(v) for v in args.window_size.split(","))
        path = screenshot(html_dir, page, out, window_size=(width, height), chromium=chromium)
        print(f"screenshot of {page}: {path}")
        return 0

    pages = args.page or list_pages(html_dir)
    problems = check_book(html_dir, pages=pages, chromium=chromium)
    if problems:
        print(f"{len(problems)} problem(s) in {len(pages)} page(s):")
        for msg in problems:
            print(f"  - {msg}")
        return 1
    print(f"OK: {len(pages)} page(s) checked in headless Chromium, no problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
