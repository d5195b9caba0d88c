"""Claim statuses computed from the machine-readable report of a ``proofs_check/`` run.

The root ``conftest.py`` records every test marked ``@pytest.mark.claim(id, role)`` with its
outcome in ``reports/claims.json`` (``$CLAIMS_REPORT`` overrides the path).  This module reads
that file and derives, for every claim of :data:`derivations.claims.CLAIMS`, a status.  No
status is ever typed by hand: the book's claims index (``book/claims.md``) and the badge at
the top of every claim page (:func:`status_badge`) call this module at build time.

Status rules (first match wins; skipped checks are counted but decide nothing):

1. a check failed, or an expected failure passed (``xpassed``)  -> ``failing``;
2. an ``as_stated`` check xfailed (the paper's statement has a pinned counterexample) and a
   ``corrected`` check passed  -> ``conditional``: holds under a stated condition (refuted as
   stated);
3. an ``as_stated`` check xfailed and no ``corrected`` check passed -> ``refuted``;
4. every check passed and one of them is ``symbolic`` -> ``proved`` (proved symbolically,
   "and verified numerically" when a ``numeric`` check passed too);
5. checks passed, none symbolic: ``numeric`` / ``as_stated`` / ``corrected`` ->
   ``verified`` (verified numerically); ``experiment`` only -> ``measured``;
6. nothing ran (no check recorded, or every check skipped) -> ``open``.

The report itself can be ``missing``, ``invalid`` (unreadable), or ``stale``: written at
another commit than the current ``HEAD``, or older than a code file it depends on
(``derivations/``, ``numerics/``, ``proofs_check/``, ``conftest.py``).  Pages show it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from derivations.claims import CLAIMS, ROLES, claim_by_id

__all__ = [
    "REPO_ROOT",
    "OUTCOMES",
    "STATUS_LABELS",
    "ReportInfo",
    "ClaimStatus",
    "MarkdownBlock",
    "default_report_path",
    "load_report",
    "claim_status",
    "all_statuses",
    "status_badge",
    "claims_index",
    "code_files",
    "current_commit",
    "toc_pages",
    "report_banner",
    "kernels_in_test_ids",
    "claim_ref",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

#: outcomes written by the root conftest.py
OUTCOMES = ("passed", "failed", "xfailed", "xpassed", "skipped")

#: human-readable status labels (``proved`` gets "and verified numerically" appended when a
#: numeric check passed too)
STATUS_LABELS = {
    "failing": "failing",
    "conditional": "holds under a stated condition (refuted as stated)",
    "refuted": "refuted (counterexample)",
    "proved": "proved symbolically",
    "verified": "verified numerically",
    "measured": "measured",
    "open": "open",
}

#: admonition class of each status (sphinx-book-theme colours)
_ADMONITION_CLASS = {
    "failing": "error",
    "conditional": "warning",
    "refuted": "important",
    "proved": "tip",
    "verified": "tip",
    "measured": "note",
    "open": "note",
}

#: folders/files whose change makes a report stale
CODE_PATHS = ("derivations", "numerics", "proofs_check", "conftest.py")

# slack for file-system timestamp granularity when comparing mtimes with the report time
_MTIME_SLACK_S = 2.0


# ----------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class ReportInfo:
    """A loaded report and what is known about its freshness."""

    path: Path
    state: str  # "ok" | "stale" | "missing" | "invalid"
    problems: tuple[str, ...] = ()  # why stale / missing / invalid
    results: tuple[Mapping, ...] = ()
    generated: str = ""
    commit: str = ""
    hypothesis_profile: str = ""
    args: tuple[str, ...] = ()
    exitstatus: int | None = None

    @property
    def usable(self) -> bool:
        """There are results to show (possibly stale ones)."""
        return self.state in ("ok", "stale")

    @property
    def selective(self) -> bool:
        """The run picked checks by name (``-k``) or by file: claims may be missing from it."""
        return any(n.startswith("only ") for n in self.partial_notes)

    @property
    def partial_notes(self) -> list[str]:
        """Notes on what the run did not cover (``-m "not slow"``, ``-k``, ...)."""
        notes = []
        args = list(self.args)
        for i, a in enumerate(args):
            nxt = args[i + 1] if i + 1 < len(args) else ""
            if (a == "-m" and "not slow" in nxt) or (a.startswith("-m") and "not slow" in a):
                notes.append("slow checks were not run (`-m \"not slow\"`)")
            if a == "-k" or a.startswith("-k"):
                notes.append(f"only checks selected by `-k {nxt if a == '-k' else a[2:]}` ran")
        files = [a for a in args if not a.startswith("-") and (a.endswith(".py") or "::" in a)]
        if files:
            notes.append("only the checks in " + ", ".join(f"`{f}`" for f in files[:3])
                         + (" ..." if len(files) > 3 else "") + " ran")
        return notes


def default_report_path() -> Path:
    """``$CLAIMS_REPORT`` or ``reports/claims.json`` under the repository root."""
    env = os.environ.get("CLAIMS_REPORT")
    return Path(env) if env else REPO_ROOT / "reports" / "claims.json"


def current_commit(root: Path = REPO_ROOT) -> str | None:
    """``git rev-parse HEAD`` of ``root``, or ``None`` when unknown (no git, no repository)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=root, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = out.stdout.strip()
    return sha if out.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha) else None


def code_files(root: Path = REPO_ROOT) -> list[Path]:
    """The Python files a report depends on."""
    files: list[Path] = []
    for name in CODE_PATHS:
        p = root / name
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            files.extend(sorted(p.rglob("*.py")))
    return files


def _validate(payload: object) -> list[Mapping]:
    if not isinstance(payload, Mapping):
        raise ValueError("top level is not a JSON object")
    results = payload.get("results")
    if not isinstance(results, list):
        raise ValueError("no 'results' list")
    for i, r in enumerate(results):
        if not isinstance(r, Mapping):
            raise ValueError(f"results[{i}] is not an object")
        for key in ("claim", "role", "test", "outcome"):
            if key not in r:
                raise ValueError(f"results[{i}] has no {key!r}")
        if r["outcome"] not in OUTCOMES:
            raise ValueError(f"results[{i}]: unknown outcome {r['outcome']!r}")
        if r["role"] not in ROLES:
            raise ValueError(f"results[{i}]: unknown role {r['role']!r}")
    return results


def load_report(path: str | os.PathLike | None = None, *, root: Path = REPO_ROOT,
                head: str | None | bool = True, files: Iterable[Path] | None = None
                ) -> ReportInfo:
    """Read a claims report and judge its freshness.

    ``head``: the current commit to compare with (``True``: ask git in ``root``; ``None`` or
    ``False``: do not compare).  ``files``: the code files whose modification time must not
    be newer than the report (default :func:`code_files` of ``root``).
    """
    p = Path(path) if path is not None else default_report_path()
    if not p.is_file():
        return ReportInfo(p, "missing", (f"no claim report at `{_show_path(p, root)}`: run "
                                         "`bash scripts/run_all.sh` (or `pytest proofs_check/`)",))
    try:
        payload = json.loads(p.read_text())
        results = _validate(payload)
    except (OSError, ValueError) as exc:  # JSONDecodeError is a ValueError
        return ReportInfo(p, "invalid", (f"the claim report `{_show_path(p, root)}` cannot be "
                                         f"read: {exc}",))
    problems: list[str] = []
    commit = str(payload.get("commit") or "")
    now_head = current_commit(root) if head is True else (head or None)
    if now_head and commit and commit != now_head:
        problems.append(f"the report was written at commit `{commit[:10]}`, the code is at "
                        f"`{now_head[:10]}`")
    generated_unix = payload.get("generated_unix")
    if isinstance(generated_unix, (int, float)):
        newer = [f for f in (code_files(root) if files is None else files)
                 if f.exists() and f.stat().st_mtime > generated_unix + _MTIME_SLACK_S]
        if newer:
            names = ", ".join(f"`{_show_path(f, root)}`" for f in newer[:4])
            more = f" and {len(newer) - 4} more" if len(newer) > 4 else ""
            problems.append(f"code changed after the report was written: {names}{more}")
    else:
        problems.append("the report has no time stamp")
    args = payload.get("args") or ()
    return ReportInfo(
        path=p,
        state="stale" if problems else "ok",
        problems=tuple(problems),
        results=tuple(results),
        generated=str(payload.get("generated", "")),
        commit=commit,
        hypothesis_profile=str(payload.get("hypothesis_profile", "")),
        args=tuple(str(a) for a in args) if isinstance(args, (list, tuple)) else (str(args),),
        exitstatus=payload.get("exitstatus"),
    )


def _show_path(p: Path, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(p)


# ----------------------------------------------------------------------------- statuses
@dataclass(frozen=True)
class ClaimStatus:
    """The status of one claim, derived from the report's results for it."""

    claim: str
    key: str  # a key of STATUS_LABELS
    label: str
    counts: dict[str, Counter] = field(default_factory=dict)  # role -> outcome -> n
    kernels: tuple[str, ...] = ()
    tests: tuple[str, ...] = ()
    counterexamples: tuple[str, ...] = ()  # reasons of xfailed as_stated checks
    failures: tuple[str, ...] = ()  # test ids that failed / xpassed
    skip_reasons: tuple[str, ...] = ()
    expected_failures: tuple[str, ...] = ()  # reasons of xfailed checks of the other roles

    @property
    def n_checks(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def counts_text(self, role: str) -> str:
        """``"3 passed, 1 xfailed"`` for a role (``"—"`` when it has no check)."""
        c = self.counts.get(role)
        if not c:
            return "—"
        return ", ".join(f"{c[o]} {o}" for o in OUTCOMES if c.get(o))


def _kernel_names() -> set[str]:
    from derivations.kernels import REGISTRY
    from numerics.strategies import USER_KERNELS

    return set(REGISTRY) | {USER_KERNELS}


def kernels_in_test_ids(test_ids: Iterable[str], known: set[str] | None = None) -> list[str]:
    """Kernel names found among the ``[param-param]`` parts of pytest test ids."""
    known = _kernel_names() if known is None else known
    found: list[str] = []
    for tid in test_ids:
        m = re.search(r"\[(.*)\]$", tid)
        if not m:
            continue
        params = m.group(1)
        tokens = set(params.split("-")) | {params}
        # "user-registered" contains the separator itself
        for name in sorted(known, key=len, reverse=True):
            if name in tokens or f"-{name}-" in f"-{params}-":
                if name not in found:
                    found.append(name)
    return found


def claim_status(cid: str, results: Sequence[Mapping], *, known_kernels: set[str] | None = None
                 ) -> ClaimStatus:
    """The status of claim ``cid`` from report results (rules in the module docstring)."""
    claim_by_id(cid)  # unknown ids raise KeyError
    mine = [r for r in results if r["claim"] == cid]
    counts: dict[str, Counter] = {}
    for r in mine:
        counts.setdefault(r["role"], Counter())[r["outcome"]] += 1

    def passed(role: str) -> bool:
        return counts.get(role, Counter()).get("passed", 0) > 0

    failures = tuple(r["test"] for r in mine if r["outcome"] in ("failed", "xpassed"))
    refuted = tuple(dict.fromkeys(
        str(r.get("reason") or r["test"]) for r in mine
        if r["role"] == "as_stated" and r["outcome"] == "xfailed"))
    ran = [r for r in mine if r["outcome"] != "skipped"]
    if failures:
        key = "failing"
    elif refuted and passed("corrected"):
        key = "conditional"
    elif refuted:
        key = "refuted"
    elif not ran:
        key = "open"
    elif passed("symbolic"):
        key = "proved"
    elif any(passed(role) for role in ("numeric", "as_stated", "corrected")):
        key = "verified"
    elif passed("experiment"):
        key = "measured"
    else:  # only xfailed checks of roles other than as_stated
        key = "open"
    label = STATUS_LABELS[key]
    if key == "proved" and passed("numeric"):
        label += " and verified numerically"
    return ClaimStatus(
        claim=cid,
        key=key,
        label=label,
        counts=counts,
        kernels=tuple(kernels_in_test_ids((r["test"] for r in ran), known_kernels)),
        tests=tuple(dict.fromkeys(r["test"] for r in mine)),
        counterexamples=refuted,
        failures=failures,
        expected_failures=tuple(dict.fromkeys(
            str(r.get("reason") or r["test"]) for r in mine
            if r["role"] != "as_stated" and r["outcome"] == "xfailed")),
        skip_reasons=tuple(dict.fromkeys(
            _first_line(str(r.get("reason"))).removeprefix("Skipped: ") for r in mine
            if r["outcome"] == "skipped" and r.get("reason"))),
    )


def _first_line(text: str) -> str:
    """The first line of a reason (pytest may append e.g. Hypothesis' explicit example)."""
    text = text.strip()
    return text.splitlines()[0] if text else text


def _short_test(nodeid: str) -> str:
    """``test_x[param]`` of ``proofs_check/test_file.py::test_x[param]`` (fits in a box)."""
    return nodeid.rsplit("::", 1)[-1]


def all_statuses(report: ReportInfo | None = None) -> dict[str, ClaimStatus]:
    """Status of every claim of :data:`CLAIMS` (all ``open`` when the report is unusable)."""
    report = load_report() if report is None else report
    results = report.results if report.usable else ()
    return {cl.id: claim_status(cl.id, results) for cl in CLAIMS}


# ----------------------------------------------------------------------------- Markdown
class MarkdownBlock:
    """MyST Markdown that Jupyter displays as Markdown (``_repr_markdown_``); ``str()`` is the
    text.  The last expression of a code cell is displayed, so a page needs only
    ``status_badge("C3")``."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"MarkdownBlock({self.text[:60]!r}...)"


def _md_escape(text: str) -> str:
    """Escape text for a Markdown table cell / inline context (no TeX, no roles)."""
    text = " ".join(str(text).split())
    return re.sub(r"([\\`*_{}\[\]<>|$])", r"\\\1", text)


def _admonition(title: str, body: str, cls: str) -> str:
    return f"::::{{admonition}} {title}\n:class: {cls}\n\n{body}\n::::"


def report_banner(report: ReportInfo) -> str:
    """A warning admonition when the report is stale, missing or invalid ("" when fresh)."""
    if report.state == "ok":
        return ""
    titles = {"stale": "The claim report is stale", "missing": "No claim report",
              "invalid": "The claim report cannot be read"}
    body = "\n".join(f"* {p}" for p in report.problems)
    if report.state == "stale":
        body += ("\n\nThe statuses below are those of that older run. Run "
                 "`bash scripts/run_all.sh` to refresh them.")
    else:
        body += "\n\nEvery claim is shown as *open* until a report exists."
    return _admonition(titles[report.state], body, "warning" if report.usable else "error")


def _run_line(report: ReportInfo) -> str:
    if not report.usable:
        return ""
    bits = [f"report `{_show_path(report.path, REPO_ROOT)}` written {report.generated}"]
    if report.commit:
        bits.append(f"at commit `{report.commit[:10]}`")
    if report.hypothesis_profile:
        bits.append(f"Hypothesis profile `{report.hypothesis_profile}`")
    line = ", ".join(bits)
    notes = report.partial_notes
    if notes:
        line += "; " + "; ".join(notes)
    return line + "."


def status_badge(cid: str, report: ReportInfo | None = None) -> MarkdownBlock:
    """The live status of claim ``cid`` as a MyST admonition, for the first cell of its page:

    ```{code-cell} ipython3
    :tags: [remove-input]
    from numerics.claim_report import status_badge
    status_badge("C3")
    ```
    """
    claim = claim_by_id(cid)
    report = load_report() if report is None else report
    st = all_statuses(report)[cid]
    lines = []
    if report.usable and st.n_checks:
        roles = "; ".join(f"{role}: {st.counts_text(role)}" for role in ROLES if role in st.counts)
        lines.append(f"Checks of {cid} in the latest run — {roles}.")
        if st.kernels:
            lines.append("Kernels covered: " + ", ".join(f"`{k}`" for k in st.kernels) + ".")
        for ce in st.counterexamples:
            lines.append(f"Refuted as stated: {_md_escape(ce)}")
        for f in st.failures[:5]:
            lines.append(f"Failing check: `{_short_test(f)}`")
        if len(st.failures) > 5:
            lines.append(f"... and {len(st.failures) - 5} more failing checks.")
        for xf in st.expected_failures[:3]:
            lines.append(f"Expected failure: {_md_escape(xf)}")
        for sk in st.skip_reasons[:3]:
            lines.append(f"Skipped: {_md_escape(sk)}")
    elif report.usable:
        lines.append(f"No check of {cid} was recorded in the latest run.")
    run = _run_line(report)
    if run:
        lines.append("From the " + run)
    if report.state != "ok":
        lines.append("**" + {"stale": "The report is stale", "missing": "No report",
                             "invalid": "The report cannot be read"}[report.state]
                     + ":** " + " ".join(report.problems))
    lines.append("All statuses: {doc}`claims`." if _claims_page_exists() else "")
    body = "\n\n".join(x for x in lines if x)
    title = f"Status of {claim.id}: {st.label}"
    if report.state == "stale":
        title += " (stale report)"
    elif report.usable and report.selective:
        title += " (partial run)"
    cls = _ADMONITION_CLASS[st.key] if report.state == "ok" else "warning"
    return MarkdownBlock(_admonition(title, body, cls))


def book_dir_default() -> Path:
    """The book being built: the working directory when it holds a ``_toc.yml`` (myst-nb
    executes a page in its own folder, so a build of a copy of the book sees that copy),
    else ``book/`` of this repository."""
    cwd = Path.cwd()
    return cwd if (cwd / "_toc.yml").is_file() else REPO_ROOT / "book"


def _claims_page_exists(book_dir: Path | None = None) -> bool:
    book_dir = book_dir_default() if book_dir is None else book_dir
    return (book_dir / "claims.md").is_file() and "claims" in toc_pages(book_dir)


def toc_pages(book_dir: Path | None = None) -> set[str]:
    """The pages (``file:`` entries and the root) listed in ``book/_toc.yml``."""
    book_dir = book_dir_default() if book_dir is None else book_dir
    toc = book_dir / "_toc.yml"
    if not toc.is_file():
        return set()
    pages = set()
    for line in toc.read_text().splitlines():
        m = re.match(r"\s*(?:-\s*)?(?:file|root):\s*(\S+)", line)
        if m:
            pages.add(m.group(1).strip("'\"").removesuffix(".md"))
    return pages


def claim_ref(cid: str, book_dir: Path | None = None) -> str:
    """MyST for a reference to a claim: a ``{doc}`` link to its page when the page is in the
    book, else plain text (a link to a page that is not built would fail the strict build)."""
    cl = claim_by_id(cid)
    book_dir = book_dir_default() if book_dir is None else book_dir
    text = f"{cl.id} ({_md_escape(cl.title)})"
    if cl.slug in toc_pages(book_dir) and (book_dir / f"{cl.slug}.md").is_file():
        return f"{{doc}}`{text} <{cl.slug}>`"
    return text


def claims_index(report: ReportInfo | None = None, *, book_dir: Path | None = None,
                 part: str = "all") -> MarkdownBlock:
    """The claims index of ``book/claims.md``.

    ``part="summary"``: a banner when the report is not fresh, the run it comes from, a tally
    and one table row per claim (status, kernels covered, number of checks);
    ``part="details"``: one block per claim with its statement, status, counterexamples,
    links to its derivation, check and page, and its checks by role; ``"all"``: both.
    """
    if part not in ("all", "summary", "details"):
        raise ValueError(f"part must be 'all', 'summary' or 'details', got {part!r}")
    report = load_report() if report is None else report
    book_dir = book_dir_default() if book_dir is None else book_dir
    statuses = all_statuses(report)
    in_toc = toc_pages(book_dir)
    parts = []
    banner = report_banner(report)
    if banner:
        parts.append(banner)
    if report.usable and report.selective:
        parts.append(_admonition(
            "The claim report comes from a partial run",
            "\n".join(f"* {n}" for n in report.partial_notes if n.startswith("only "))
            + "\n\nClaims whose checks were not selected show as *open*. Run "
            "`bash scripts/run_all.sh` for a complete report.", "warning"))
    run = _run_line(report)
    if run:
        exit_note = ""
        if report.exitstatus not in (None, 0):
            exit_note = f" The run ended with pytest exit status {report.exitstatus}."
        parts.append("Statuses computed from the " + run + exit_note)
    tally = Counter(st.key for st in statuses.values())
    parts.append("Summary: " + "; ".join(
        f"{STATUS_LABELS[k]}: **{tally[k]}**" for k in STATUS_LABELS if tally.get(k)) + ".")

    rows, details = [], []
    for cl in CLAIMS:
        st = statuses[cl.id]
        has_page = cl.slug in in_toc and (book_dir / f"{cl.slug}.md").is_file()
        title = f"{{doc}}`{_md_escape(cl.title)} <{cl.slug}>`" if has_page else _md_escape(
            cl.title)
        kernels = ", ".join(f"`{k}`" for k in st.kernels) or "—"
        total = Counter()
        for c in st.counts.values():
            total.update(c)
        checks = ", ".join(f"{total[o]} {o}" for o in OUTCOMES if total.get(o)) or "none"
        rows.append([f"{{ref}}`{cl.id} <claim-{cl.id.lower()}>`", title,
                     f"**{st.label}**", kernels, checks])
        details.append(_claim_details(cl, st, has_page, book_dir))
    parts.append(_list_table(["Id", "Claim", "Status", "Kernels covered", "Checks"],
                             rows, "6 30 26 22 16"))
    if part == "summary":
        return MarkdownBlock("\n\n".join(parts))
    if part == "details":
        return MarkdownBlock("\n\n".join(details))
    return MarkdownBlock("\n\n".join([*parts, *details]))


def _claim_details(cl, st: ClaimStatus, has_page: bool, book_dir: Path) -> str:
    """One claim's block of the index: statement, status, links, counts by role."""
    lines = [f"(claim-{cl.id.lower()})=",
             f":::{{rubric}} {cl.id} — {_md_escape(cl.title)} ({_md_escape(cl.paper_ref)})",
             ":::", "", f"*Statement (as the paper makes it):* {_md_escape(cl.statement)}", ""]
    items = [f"**Status: {st.label}**"]
    for ce in st.counterexamples:
        items.append(f"Counterexample to the statement as made: {_md_escape(ce)}")
    for f in st.failures[:5]:
        items.append(f"Failing check: `{_short_test(f)}`")
    if len(st.failures) > 5:
        items.append(f"... and {len(st.failures) - 5} more failing checks")
    for xf in st.expected_failures:
        items.append(f"Expected failure ({_md_escape(xf)})")
    if st.skip_reasons:
        items.append("Skipped: " + "; ".join(_md_escape(s) for s in st.skip_reasons[:3]))
    links = []
    for label, rel in (("derivation", f"derivations/{cl.slug}.py"),
                       ("check", f"proofs_check/test_{cl.slug}.py")):
        if (book_dir.parent / rel).is_file():
            links.append(f"{label} {{download}}`{rel} <../{rel}>`")
        else:
            links.append(f"{label} `{rel}` (not written)")
    links.append(f"page {{doc}}`{cl.slug}`" if has_page else f"page `book/{cl.slug}.md` "
                 "(not in the book yet)")
    items.append("Files: " + "; ".join(links))
    roles = "; ".join(f"{role}: {st.counts_text(role)}" for role in ROLES if role in st.counts)
    items.append("Checks by role: " + (roles or "none recorded"))
    if st.kernels:
        items.append("Kernels covered: " + ", ".join(f"`{k}`" for k in st.kernels))
    lines += [f"* {it}" for it in items]
    return "\n".join(lines)


def _list_table(header: list[str], rows: list[list[str]], widths: str) -> str:
    lines = ["````{list-table}", ":header-rows: 1", f":widths: {widths}", ""]
    for row in [header, *rows]:
        for j, cell in enumerate(row):
            lines.append(("* - " if j == 0 else "  - ") + str(cell).replace("\n", " "))
    lines.append("````")
    return "\n".join(lines)


def claim_statement(cid: str) -> MarkdownBlock:
    """The claim's statement as the paper makes it and its provenance (paper section), from
    :data:`derivations.claims.CLAIMS` (for the top of a claim page: never re-typed)."""
    cl = claim_by_id(cid)
    kind = ("a theorem of the KRR model (can be proved)" if cl.kind == "theorem"
            else "an empirical statement (can be measured, never proved)")
    deps = ", ".join(claim_ref(d) for d in cl.depends_on) or "none"
    return MarkdownBlock(
        f"**Claim {cl.id} — {_md_escape(cl.title)}.** *As the paper states it:* "
        f"{_md_escape(cl.statement)}\n\n"
        f"**Provenance:** Granziol (2026), {_md_escape(cl.paper_ref)}. **Kind:** {kind}. "
        f"**Uses:** {deps}.")
