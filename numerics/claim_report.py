"""Claim verdicts computed only from what a run of the claim checks actually executed.

The pytest plugin :mod:`proofs_check.plugin` writes, for every run of the claim checks, a run
report ``reports/runs/<run id>.json``: every claim check (``@pytest.mark.claim(id, role)``)
with its status -- ``passed``, ``failed``, ``xfailed``, ``xpassed``, ``skipped``, or
``deselected``, ``not_run``, ``not_collected`` -- and the evidence it recorded (kernels
asserted, kernels not applicable, the :class:`~derivations.claims.Refuted` record with its
numbers).  A *complete* run (nothing deselected, not run or not collected) is also published
as ``reports/claims.json``; the book reads only that one.

A claim's verdict (first rule that applies; the manifest of :mod:`derivations.claims` says
which roles each claim requires; ``sanity`` checks never decide anything but a failing one
fails the claim):

1. **failing** -- a check failed or errored, an expected failure passed (``xpassed``), or an
   expected failure was not a refutation (xfailed without raising ``Refuted``, or in a role
   other than ``as_stated``);
2. **incomplete** -- a check of the claim was deselected, not run or not collected, or a
   required role has no check that ran (all skipped, or none written);
3. **holds under a stated condition** (refuted as stated) -- an ``as_stated`` check raised
   ``Refuted``, a ``counterexample`` check asserting its numbers passed, and a ``corrected``
   check passed; **refuted** -- the same without a passing ``corrected`` check (a refutation
   without a passing counterexample check makes the claim *incomplete*);
4. **proved symbolically** (theorems only) -- a ``symbolic`` check of scope ``general``
   passed (and "verified numerically" when a ``numeric`` check passed too);
5. **proved for <scope>** (theorems only) -- only symbolic checks of a restricted scope
   passed (e.g. "n = 2");
6. **measured** (empirical claims) -- an ``experiment`` check passed;
7. **verified numerically** -- a ``numeric``, ``as_stated``, ``corrected`` or
   ``counterexample`` check passed.

Skipped checks decide nothing (their reasons are shown).  A verdict computed from a partial
run is therefore the verdict of the complete run or *incomplete*/*failing*, never stronger
(:data:`STRENGTH` orders them; ``tests/test_claim_report.py`` checks it run by run).

Check time: every check that ran carries ``duration_s``, its setup + call + teardown time
(schema 3; a schema-2 report timed the call phase only), and the report carries the totals
per claim and the slowest checks (:func:`durations_summary`; ``python -m
numerics.claim_report durations``; the claims page shows them with :func:`durations_table`).
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

from derivations.claims import CLAIMS, DECIDING_ROLES, ROLES, Claim, claim_by_id

__all__ = [
    "REPO_ROOT",
    "STATUSES",
    "VERDICTS",
    "STRENGTH",
    "CELL_STATES",
    "ReportInfo",
    "ClaimVerdict",
    "MarkdownBlock",
    "default_report_path",
    "runs_path",
    "load_report",
    "list_runs",
    "claim_verdict",
    "all_verdicts",
    "kernel_cells",
    "status_badge",
    "claims_index",
    "claim_statement",
    "code_files",
    "current_commit",
    "toc_pages",
    "report_banner",
    "claim_ref",
    "run_line",
    "verdict_rules",
    "manifest_table",
    "claims_overview",
    "SCHEMAS",
    "N_SLOWEST",
    "durations_summary",
    "durations_table",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

#: run-report schemas this module reads: 2 (durations of the call phase only, no summary)
#: and 3 (setup + call + teardown per check, and the ``durations`` summary)
SCHEMAS = (2, 3)
#: how many of the slowest checks a report lists
N_SLOWEST = 15

#: statuses of a check in a run report (written by proofs_check/plugin.py)
STATUSES = ("passed", "failed", "xfailed", "xpassed", "skipped", "deselected", "not_run",
            "not_collected")
_MISSING = ("deselected", "not_run", "not_collected")

#: verdict keys -> labels (``proved``/``proved_scoped`` get details appended)
VERDICTS = {
    "failing": "failing",
    "incomplete": "incomplete",
    "refuted": "refuted (counterexample)",
    "conditional": "holds under a stated condition (refuted as stated)",
    "measured": "measured",
    "verified": "verified numerically",
    "proved_scoped": "proved symbolically for a restricted case",
    "proved": "proved symbolically",
}

#: how strong a verdict is: a partial run never yields a stronger one than the complete run
#: (it yields the same verdict, or ``incomplete`` / ``failing``)
STRENGTH = {"failing": 0, "incomplete": 0, "refuted": 1, "conditional": 2, "measured": 2,
            "verified": 3, "proved_scoped": 4, "proved": 5}

_ADMONITION_CLASS = {
    "failing": "error",
    "incomplete": "warning",
    "conditional": "warning",
    "refuted": "important",
    "proved": "tip",
    "proved_scoped": "tip",
    "verified": "tip",
    "measured": "note",
}

#: states of one cell (claim, kernel) of the claims x kernels matrix
CELL_STATES = ("holds", "conditional", "refuted", "failing", "not_applicable", "not_run")

#: folders/files whose change makes a report stale
CODE_PATHS = ("derivations", "numerics", "proofs_check", "conftest.py")

# slack for file-system timestamp granularity when comparing mtimes with the report time
_MTIME_SLACK_S = 2.0


# ----------------------------------------------------------------------------- the report
@dataclass(frozen=True)
class ReportInfo:
    """A loaded run report and what is known about its freshness."""

    path: Path
    state: str  # "ok" | "stale" | "missing" | "invalid"
    problems: tuple[str, ...] = ()  # why stale / missing / invalid
    items: tuple[Mapping, ...] = ()
    run_id: str = ""
    generated: str = ""
    commit: str = ""
    dirty: bool = False
    hypothesis_profile: str = ""
    args: tuple[str, ...] = ()
    pytest_addopts: str = ""
    workers: int = 0
    exitstatus: int | None = None
    complete: bool = False
    schema: int = 0
    started_unix: float | None = None
    generated_unix: float | None = None
    #: :func:`durations_summary` of the items (read from a schema-3 report, computed from
    #: the items of a schema-2 one)
    durations: Mapping = field(default_factory=dict)
    #: what the run was measured on (schema 3: CPUs, torch threads, load average)
    machine: Mapping = field(default_factory=dict)

    @property
    def wall_s(self) -> float | None:
        """Wall time of the run (start of the session to the report), when known."""
        if self.started_unix is None or self.generated_unix is None:
            return None
        return max(0.0, self.generated_unix - self.started_unix)

    @property
    def usable(self) -> bool:
        """There are results to show (possibly stale ones)."""
        return self.state in ("ok", "stale")

    def status_counts(self) -> Counter:
        return Counter(str(i.get("status")) for i in self.items)


def default_report_path() -> Path:
    """``$CLAIMS_REPORT`` or ``reports/claims.json`` (the published complete run)."""
    env = os.environ.get("CLAIMS_REPORT")
    return Path(env) if env else REPO_ROOT / "reports" / "claims.json"


def runs_path() -> Path:
    """``$CLAIMS_RUNS_DIR`` or ``reports/runs`` (one report per run, partial ones included)."""
    env = os.environ.get("CLAIMS_RUNS_DIR")
    return Path(env) if env else REPO_ROOT / "reports" / "runs"


def list_runs(directory: Path | None = None) -> list[Path]:
    """The run reports, oldest first."""
    d = runs_path() if directory is None else Path(directory)
    return sorted(d.glob("*.json")) if d.is_dir() else []


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
    if payload.get("schema") not in SCHEMAS:
        raise ValueError(f"schema {payload.get('schema')!r} is not one of {SCHEMAS} (an older "
                         "report: run the claim checks again)")
    items = payload.get("items")
    if not isinstance(items, list):
        raise ValueError("no 'items' list")
    for i, it in enumerate(items):
        if not isinstance(it, Mapping):
            raise ValueError(f"items[{i}] is not an object")
        for key in ("test", "claims", "status"):
            if key not in it:
                raise ValueError(f"items[{i}] has no {key!r}")
        if it["status"] not in STATUSES:
            raise ValueError(f"items[{i}]: unknown status {it['status']!r}")
        for m in it["claims"]:
            if not (isinstance(m, (list, tuple)) and len(m) == 3):
                raise ValueError(f"items[{i}]: claim entry {m!r} is not [id, role, scope]")
            if m[1] and m[1] not in ROLES:
                raise ValueError(f"items[{i}]: unknown role {m[1]!r}")
        d = it.get("duration_s")
        if d is not None and (isinstance(d, bool) or not isinstance(d, (int, float)) or d < 0):
            raise ValueError(f"items[{i}]: duration_s {d!r} is not a number of seconds >= 0")
    if payload["schema"] >= 3:
        dur = payload.get("durations")
        if not (isinstance(dur, Mapping) and isinstance(dur.get("per_claim"), Mapping)
                and isinstance(dur.get("slowest"), list)):
            raise ValueError("a schema-3 report needs a 'durations' object with 'per_claim' "
                             "and 'slowest'")
    return items


def durations_summary(items: Sequence[Mapping], *, slowest: int = N_SLOWEST,
                      phases: str = "setup+call+teardown") -> dict:
    """Check time of a run from its items' ``duration_s``: the total, the total and number
    of timed checks per claim (a check of several claims counts for each), and the
    ``slowest`` slowest checks (node id, claim ids, seconds), slowest first.

    ``phases`` says what a duration covers (stored with the figures)."""
    if isinstance(slowest, bool) or not isinstance(slowest, int) or slowest < 0:
        raise ValueError(f"slowest must be an integer >= 0, got {slowest!r}")
    timed = [it for it in items if isinstance(it.get("duration_s"), (int, float))]
    order = {cl.id: i for i, cl in enumerate(CLAIMS)}
    per: dict[str, dict] = {}
    for it in timed:
        for cid in dict.fromkeys(m[0] for m in it.get("claims", ())):
            row = per.setdefault(cid, {"checks": 0, "seconds": 0.0})
            row["checks"] += 1
            row["seconds"] += float(it["duration_s"])
    per_claim = {cid: {"checks": per[cid]["checks"], "seconds": round(per[cid]["seconds"], 3)}
                 for cid in sorted(per, key=lambda c: (order.get(c, len(order)), c))}
    top = sorted(timed, key=lambda it: (-float(it["duration_s"]), str(it["test"])))[:slowest]
    return {
        "phases": phases,
        "total_s": round(sum(float(it["duration_s"]) for it in timed), 3),
        "per_claim": per_claim,
        "slowest": [{"test": str(it["test"]),
                     "claims": list(dict.fromkeys(m[0] for m in it.get("claims", ()))),
                     "seconds": round(float(it["duration_s"]), 3)} for it in top],
    }


def load_report(path: str | os.PathLike | None = None, *, root: Path = REPO_ROOT,
                head: str | None | bool = True, files: Iterable[Path] | None = None
                ) -> ReportInfo:
    """Read a run report (default: the published one) and judge its freshness.

    ``head``: the current commit to compare with (``True``: ask git in ``root``; ``None`` or
    ``False``: do not compare).  ``files``: the code files whose modification time must not
    be newer than the report (default :func:`code_files` of ``root``).
    """
    p = Path(path) if path is not None else default_report_path()
    if not p.is_file():
        return ReportInfo(p, "missing", (
            f"no published claim report at `{_show_path(p, root)}`: only a complete run of "
            "the claim checks is published (`bash scripts/run_all.sh`, or `pytest "
            "proofs_check/` with no selection)",))
    try:
        payload = json.loads(p.read_text())
        items = _validate(payload)
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
    schema = int(payload["schema"])
    durations = (payload["durations"] if schema >= 3 else
                 durations_summary(items, phases="call"))
    started_unix = payload.get("started_unix")
    return ReportInfo(
        path=p,
        state="stale" if problems else "ok",
        problems=tuple(problems),
        items=tuple(items),
        run_id=str(payload.get("run_id", "")),
        generated=str(payload.get("generated", "")),
        commit=commit,
        dirty=bool(payload.get("dirty", False)),
        hypothesis_profile=str(payload.get("hypothesis_profile", "")),
        args=tuple(str(a) for a in args) if isinstance(args, (list, tuple)) else (str(args),),
        pytest_addopts=str(payload.get("pytest_addopts", "")),
        workers=int(payload.get("workers") or 0),
        exitstatus=payload.get("exitstatus"),
        complete=bool(payload.get("complete", False)),
        schema=schema,
        started_unix=float(started_unix) if isinstance(started_unix, (int, float)) else None,
        generated_unix=float(generated_unix) if isinstance(generated_unix, (int, float))
        else None,
        durations=durations,
        machine=payload["machine"] if isinstance(payload.get("machine"), Mapping) else {},
    )


def _show_path(p: Path, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(root.resolve()))
    except ValueError:
        return str(p)


# ----------------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class ClaimVerdict:
    """The verdict of one claim and the evidence it was computed from."""

    claim: str
    key: str  # a key of VERDICTS
    label: str
    counts: dict[str, Counter] = field(default_factory=dict)  # role -> status -> n
    scopes: tuple[str, ...] = ()  # scopes of the symbolic checks that passed
    kernels: tuple[str, ...] = ()  # kernels whose checks ran and asserted
    not_applicable: dict[str, str] = field(default_factory=dict)  # kernel -> reason
    refutations: tuple[Mapping, ...] = ()  # Refuted records (numbers from the run)
    failures: tuple[str, ...] = ()  # "test: why"
    missing: tuple[str, ...] = ()  # why incomplete
    skip_reasons: tuple[str, ...] = ()

    @property
    def n_checks(self) -> int:
        return sum(sum(c.values()) for c in self.counts.values())

    def counts_text(self, role: str) -> str:
        """``"3 passed, 1 xfailed"`` for a role (``"—"`` when it has no check)."""
        c = self.counts.get(role)
        if not c:
            return "—"
        return ", ".join(f"{c[o]} {o.replace('_', ' ')}" for o in STATUSES if c.get(o))

    def totals(self) -> Counter:
        total: Counter = Counter()
        for c in self.counts.values():
            total.update(c)
        return total


def _entries(cid: str, items: Sequence[Mapping]) -> list[tuple[Mapping, str, str]]:
    """``(item, role, scope)`` for every claim entry of ``cid``."""
    out = []
    for it in items:
        for m in it.get("claims", ()):
            if m[0] == cid:
                out.append((it, m[1], m[2]))
    return out


def _refutation(it: Mapping) -> Mapping | None:
    ev = it.get("evidence") or {}
    ref = ev.get("refutation") if isinstance(ev, Mapping) else None
    return ref if isinstance(ref, Mapping) else None


def _short_test(nodeid: str) -> str:
    """``test_x[param]`` of ``proofs_check/test_file.py::test_x[param]`` (fits in a box)."""
    return nodeid.rsplit("::", 1)[-1]


def claim_verdict(cid: str, items: Sequence[Mapping], *, claim: Claim | None = None
                  ) -> ClaimVerdict:
    """The verdict of claim ``cid`` from the items of a run report (rules in the module
    docstring).  ``claim`` overrides the manifest entry (for tests of the rules)."""
    cl = claim_by_id(cid) if claim is None else claim
    entries = _entries(cid, items)
    counts: dict[str, Counter] = {}
    for it, role, _ in entries:
        counts.setdefault(role or "unknown", Counter())[it["status"]] += 1

    failures: list[str] = []
    refutations: list[Mapping] = []
    ran_roles: set[str] = set()
    scopes: list[str] = []
    kernels: list[str] = []
    not_applicable: dict[str, str] = {}
    skip_reasons: list[str] = []
    missing: list[str] = []
    for it, role, scope in entries:
        status, test = it["status"], it["test"]
        ev = it.get("evidence") or {}
        for k, why in (ev.get("not_applicable") or {}).items():
            not_applicable.setdefault(k, why)
        if status in ("failed", "xpassed"):
            why = it.get("reason") or ("an expected failure passed" if status == "xpassed"
                                       else "failed")
            failures.append(f"{_short_test(test)}: {why}")
        elif status == "xfailed":
            ref = _refutation(it)
            if role != "as_stated":
                failures.append(f"{_short_test(test)}: a {role} check is an expected failure "
                                "(only as-stated checks may refute)")
            elif ref is None or ref.get("claim") != cid:
                failures.append(f"{_short_test(test)}: xfailed without raising Refuted for "
                                f"{cid} (not a refutation)")
            else:
                refutations.append(ref)
                ran_roles.add(role)
                if ref.get("kernel"):
                    kernels.append(str(ref["kernel"]))
        elif status == "passed":
            if role in DECIDING_ROLES:
                ran_roles.add(role)
                kernels.extend(str(k) for k in ev.get("asserted") or ())
                if role == "symbolic":
                    scopes.append(scope or "unstated")
        elif status == "skipped":
            if it.get("reason"):
                skip_reasons.append(str(it["reason"]))
        elif status in _MISSING:
            missing.append(f"{_short_test(test)} {status.replace('_', ' ')}")

    key, extra = _decide(cl, failures, missing, ran_roles, refutations, scopes)
    label = VERDICTS[key] if not extra else extra
    return ClaimVerdict(
        claim=cid, key=key, label=label, counts=counts,
        scopes=tuple(dict.fromkeys(scopes)),
        kernels=tuple(dict.fromkeys(kernels)),
        not_applicable={k: v for k, v in not_applicable.items() if k not in kernels},
        refutations=tuple(refutations), failures=tuple(failures),
        missing=tuple(missing) + tuple(f"required role `{r}`: no check ran"
                                       for r in cl.requires if r not in ran_roles),
        skip_reasons=tuple(dict.fromkeys(skip_reasons)),
    )


def _decide(cl: Claim, failures: list[str], missing: list[str], ran_roles: set[str],
            refutations: list[Mapping], scopes: list[str]) -> tuple[str, str]:
    """(verdict key, label) -- the rules of the module docstring, in order."""
    if failures:
        return "failing", ""
    if missing or any(r not in ran_roles for r in cl.requires):
        return "incomplete", ""
    if not ran_roles:
        return "incomplete", ""
    if refutations:
        if "counterexample" not in ran_roles:
            return "incomplete", "incomplete (a refutation without a passing counterexample " \
                "check)"
        return ("conditional", "") if "corrected" in ran_roles else ("refuted", "")
    numeric = "numeric" in ran_roles
    if cl.kind == "theorem" and scopes:
        general = [s for s in scopes if s == "general"]
        if general:
            return "proved", VERDICTS["proved"] + " (general form)" + (
                " and verified numerically" if numeric else "")
        scoped = ", ".join(dict.fromkeys(scopes))
        return "proved_scoped", f"proved symbolically for {scoped}" + (
            "; verified numerically" if numeric else "")
    if cl.kind == "empirical" and "experiment" in ran_roles:
        return "measured", ""
    if ran_roles & {"numeric", "as_stated", "corrected", "counterexample"}:
        return "verified", ""
    return "incomplete", ""


def all_verdicts(report: ReportInfo | None = None) -> dict[str, ClaimVerdict]:
    """Verdict of every claim (all ``incomplete`` when the report is unusable)."""
    report = load_report() if report is None else report
    items = report.items if report.usable else ()
    return {cl.id: claim_verdict(cl.id, items) for cl in CLAIMS}


def _report_kernels(items: Sequence[Mapping]) -> list[str]:
    """The kernels of the book's tables: the built-ins, then every other *registered*
    kernel (user kernels loaded by :func:`numerics.registration.load_user_kernels`) that
    the report's items mention, in registry order."""
    from derivations.kernels import BUILTIN_NAMES, REGISTRY
    from numerics.registration import load_user_kernels

    load_user_kernels(REPO_ROOT)
    seen: set[str] = set()
    for it in items:
        ev = it.get("evidence") or {}
        ref = _refutation(it) or {}
        seen.update(str(k) for k in (it.get("kernel"), ref.get("kernel")) if k)
        seen.update(str(k) for k in ev.get("asserted") or ())
        seen.update(str(k) for k in ev.get("not_applicable") or {})
    return [*BUILTIN_NAMES, *(n for n in REGISTRY if n not in BUILTIN_NAMES and n in seen)]


def kernel_cells(report: ReportInfo | None = None, kernels: Sequence[str] | None = None
                 ) -> dict[str, dict[str, str]]:
    """The claims x kernels matrix: ``cells[claim][kernel]`` in :data:`CELL_STATES`, from
    what ran for that kernel.  A claim that is not per kernel has ``not_applicable`` cells
    unless a check of it recorded that kernel."""
    report = load_report() if report is None else report
    items = report.items if report.usable else ()
    kernels = _report_kernels(items) if kernels is None else list(kernels)
    out: dict[str, dict[str, str]] = {}
    for cl in CLAIMS:
        row = {}
        entries = _entries(cl.id, items)
        for k in kernels:
            failing = refuted = holds = corrected = na = False
            for it, role, _ in entries:
                ev = it.get("evidence") or {}
                asserted = k in (ev.get("asserted") or ())
                status = it["status"]
                if status in ("failed", "xpassed") and (it.get("kernel") == k or asserted):
                    failing = True
                ref = _refutation(it)
                if status == "xfailed" and ref is not None and (
                        ref.get("kernel") or it.get("kernel")) == k:
                    refuted = True
                if status == "passed" and role in DECIDING_ROLES and asserted:
                    holds = True
                    corrected = corrected or role == "corrected"
                na = na or k in (ev.get("not_applicable") or {})
            if failing:
                row[k] = "failing"
            elif refuted:
                row[k] = "conditional" if corrected else "refuted"
            elif holds:
                row[k] = "holds"
            elif na or not cl.per_kernel:
                row[k] = "not_applicable"
            else:
                row[k] = "not_run"
        out[cl.id] = row
    return out


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
    titles = {"stale": "The claim report is stale", "missing": "No published claim report",
              "invalid": "The claim report cannot be read"}
    body = "\n".join(f"* {p}" for p in report.problems)
    if report.state == "stale":
        body += ("\n\nThe verdicts below are those of that older run. Run "
                 "`bash scripts/run_all.sh` to refresh them.")
    else:
        body += "\n\nEvery claim is shown as *incomplete* until a complete run is published."
    return _admonition(titles[report.state], body, "warning" if report.usable else "error")


def run_line(report: ReportInfo) -> str:
    """Which run a verdict comes from: run id, commit, profile, selection and item counts."""
    if not report.usable:
        return ""
    bits = [f"run `{report.run_id}` ({report.generated})"]
    if report.commit:
        bits.append(f"commit `{report.commit[:10]}`" + (" with uncommitted changes"
                                                         if report.dirty else ""))
    if report.hypothesis_profile:
        bits.append(f"Hypothesis profile `{report.hypothesis_profile}`")
    args = " ".join(report.args)
    bits.append(f"`pytest {args}`" if args else "`pytest`")
    if report.pytest_addopts:
        bits.append(f"`PYTEST_ADDOPTS={report.pytest_addopts}`")
    if report.workers:
        bits.append(f"{report.workers} xdist workers")
    c = report.status_counts()
    bits.append("claim checks: " + ", ".join(
        f"{c[s]} {s.replace('_', ' ')}" for s in STATUSES if c.get(s)))
    bits.append("complete run" if report.complete else "**partial run**")
    return "; ".join(bits)


def _refutation_text(ref: Mapping) -> str:
    nums = ", ".join(f"{_md_escape(k)} = {_fmt_num(v)}" for k, v in
                     (ref.get("numbers") or {}).items())
    who = f" (kernel `{ref['kernel']}`)" if ref.get("kernel") else ""
    return f"{_md_escape(ref.get('what', ''))}{who}" + (f": {nums}" if nums else "")


def _fmt_num(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return _md_escape(str(v))


def _verdict_lines(v: ClaimVerdict, *, limit: int = 5) -> list[str]:
    cl = claim_by_id(v.claim)
    lines = []
    roles = "; ".join(f"{role}: {v.counts_text(role)}" for role in ROLES if role in v.counts)
    lines.append(f"Checks by role: {roles or 'none recorded'}.")
    req = ", ".join(f"`{r}`" for r in cl.requires) or "none"
    lines.append(f"Required roles ({cl.kind}): {req}.")
    if v.scopes:
        lines.append("Scope of the symbolic proofs that passed: "
                     + "; ".join(_md_escape(s) for s in v.scopes) + ".")
    if v.kernels:
        lines.append("Kernels whose checks ran and asserted: "
                     + ", ".join(f"`{k}`" for k in v.kernels) + ".")
    for k, why in list(v.not_applicable.items())[:limit]:
        lines.append(f"Not applicable to `{k}`: {_md_escape(why)}")
    for ref in v.refutations[:limit]:
        lines.append("Refuted as stated (numbers recorded by the run): " + _refutation_text(ref))
    if len(v.refutations) > limit:
        lines.append(f"... and {len(v.refutations) - limit} more refutations.")
    for f in v.failures[:limit]:
        lines.append(f"Failing: {_md_escape(f)}")
    if len(v.failures) > limit:
        lines.append(f"... and {len(v.failures) - limit} more failing checks.")
    for m in v.missing[:limit]:
        lines.append(f"Missing: {_md_escape(m)}")
    if len(v.missing) > limit:
        lines.append(f"... and {len(v.missing) - limit} more missing checks.")
    for sk in v.skip_reasons[:3]:
        lines.append(f"Skipped: {_md_escape(sk)}")
    return lines


def status_badge(cid: str, report: ReportInfo | None = None) -> MarkdownBlock:
    """The verdict of claim ``cid`` as a MyST admonition, for the first cell of its page:

    ```{code-cell} ipython3
    :tags: [remove-input]
    from numerics.claim_report import status_badge
    status_badge("C3")
    ```
    """
    claim = claim_by_id(cid)
    report = load_report() if report is None else report
    v = all_verdicts(report)[cid]
    lines = _verdict_lines(v) if report.usable else []
    run = run_line(report)
    if run:
        lines.append("From the published " + run + ".")
    if report.state != "ok":
        lines.append("**" + {"stale": "The report is stale", "missing": "No report",
                             "invalid": "The report cannot be read"}[report.state]
                     + ":** " + " ".join(report.problems))
    if _claims_page_exists():
        lines.append("All verdicts and how they are decided: {doc}`claims`.")
    body = "\n\n".join(x for x in lines if x)
    title = f"Verdict on {claim.id}: {v.label}"
    if report.state == "stale":
        title += " (stale report)"
    cls = _ADMONITION_CLASS[v.key] if report.state == "ok" else "warning"
    return MarkdownBlock(_admonition(title, body, cls))


def claims_index(report: ReportInfo | None = None, *, book_dir: Path | None = None,
                 part: str = "all") -> MarkdownBlock:
    """The claims index of ``book/claims.md``.

    ``part="summary"``: a banner when the report is not fresh, the run it comes from, a tally
    and one table row per claim (verdict, kernels covered, checks by status);
    ``part="details"``: one block per claim with its statement, provenance, verdict,
    refutation numbers, links, and its checks by role; ``"all"``: both.
    """
    if part not in ("all", "summary", "details"):
        raise ValueError(f"part must be 'all', 'summary' or 'details', got {part!r}")
    report = load_report() if report is None else report
    book_dir = book_dir_default() if book_dir is None else book_dir
    verdicts = all_verdicts(report)
    in_toc = toc_pages(book_dir)
    parts = []
    banner = report_banner(report)
    if banner:
        parts.append(banner)
    run = run_line(report)
    if run:
        exit_note = ""
        if report.exitstatus not in (None, 0):
            exit_note = f" The run ended with pytest exit status {report.exitstatus}."
        parts.append("Verdicts computed from the published " + run + "." + exit_note)
    tally = Counter(v.key for v in verdicts.values())
    parts.append("Summary: " + "; ".join(
        f"{VERDICTS[k]}: **{tally[k]}**" for k in VERDICTS if tally.get(k)) + ".")

    rows, details = [], []
    for cl in CLAIMS:
        v = verdicts[cl.id]
        has_page = cl.slug in in_toc and (book_dir / f"{cl.slug}.md").is_file()
        title = f"{{doc}}`{_md_escape(cl.title)} <{cl.slug}>`" if has_page else _md_escape(
            cl.title)
        kernels = ", ".join(f"`{k}`" for k in v.kernels) or "—"
        total = v.totals()
        checks = ", ".join(f"{total[o]} {o.replace('_', ' ')}" for o in STATUSES
                           if total.get(o)) or "none"
        rows.append([f"{{ref}}`{cl.id} <claim-{cl.id.lower()}>`", title,
                     f"**{_md_escape(v.label)}**", kernels, checks])
        details.append(_claim_details(cl, v, has_page, book_dir))
    parts.append(_list_table(["Id", "Claim", "Verdict", "Kernels covered", "Checks"],
                             rows, "6 24 30 24 16"))
    if part == "summary":
        return MarkdownBlock("\n\n".join(parts))
    if part == "details":
        return MarkdownBlock("\n\n".join(details))
    return MarkdownBlock("\n\n".join([*parts, *details]))


def durations_table(report: ReportInfo | None = None, *, book_dir: Path | None = None
                    ) -> MarkdownBlock:
    """How long the checks of the published run took (``book/claims.md``): the total, one
    row per claim (timed checks, seconds, share of the total) and the slowest checks, all
    read from the report's ``durations``; a note when the report is not usable."""
    report = load_report() if report is None else report
    if not report.usable:
        return MarkdownBlock("No check times: " + " ".join(report.problems))
    book_dir = book_dir_default() if book_dir is None else book_dir
    dur = report.durations
    per, top = dur.get("per_claim") or {}, dur.get("slowest") or []
    total = float(dur.get("total_s") or 0.0)
    n = sum(1 for it in report.items if isinstance(it.get("duration_s"), (int, float)))
    phases = str(dur.get("phases", ""))
    head = (f"Check time of the published run (`{report.run_id}`): **{total:.1f} s** summed "
            f"over {n} timed checks (each check's {_md_escape(phases)} time"
            + (", an older report: setup and teardown were not timed" if phases == "call"
               else "") + ")")
    wall = report.wall_s
    if wall is not None:
        head += f"; wall time of the run {wall:.1f} s"
        head += f" with {report.workers} xdist workers" if report.workers else " in one process"
    parts = [head + ". A check of several claims counts for each of them." + _machine_text(
        report.machine)]
    rows = []
    known = {cl.id for cl in CLAIMS}
    for cid, row in per.items():
        secs = float(row.get("seconds", 0.0))
        title = claim_ref(cid, book_dir) if cid in known else _md_escape(cid)
        share = f"{100 * secs / total:.1f} %" if total > 0 else "—"
        rows.append([title, str(row.get("checks", "")), f"{secs:.1f}", share])
    if rows:
        parts.append(_list_table(["Claim", "Checks timed", "Seconds", "Share"], rows,
                                 "52 16 16 16"))
    if top:
        parts.append(f"The {len(top)} slowest checks:")
        parts.append(_list_table(
            ["Check", "Claims", "Seconds"],
            [[f"`{' '.join(str(t.get('test', '')).replace('`', '').split())}`",
              ", ".join(t.get("claims") or ()) or "—", f"{float(t.get('seconds', 0)):.1f}"]
             for t in top], "70 14 16"))
    return MarkdownBlock("\n\n".join(parts))


def _machine_text(machine: Mapping, *, md: bool = True) -> str:
    """`` Measured on ...`` from a report's ``machine`` record ("" when it has none);
    ``md``: escaped for Markdown."""
    if not machine:
        return ""
    bits = []
    if machine.get("cpus"):
        bits.append(f"{machine['cpus']} CPUs")
    if machine.get("torch"):
        bits.append(f"torch {machine['torch']}"
                    + (f" with {machine['torch_threads']} threads per process"
                       if machine.get("torch_threads") else ""))
    if machine.get("platform"):
        bits.append(_md_escape(str(machine["platform"])) if md else str(machine["platform"]))
    parts = ["Measured on " + ", ".join(bits)] if bits else []
    load, cpus = machine.get("load_avg_1min"), machine.get("cpus")
    if isinstance(load, (int, float)):
        part = f"load average {load:.2f} at the end of the run"
        if isinstance(cpus, int) and load > cpus:
            part += (" (above the CPU count: the machine was busy with more than the checks, "
                     "and the times are longer than on an idle machine)")
        parts.append(part)
    if not parts:
        return ""
    text = "; ".join(parts)
    return " " + text[0].upper() + text[1:] + "."


def _claim_details(cl: Claim, v: ClaimVerdict, has_page: bool, book_dir: Path) -> str:
    """One claim's block of the index."""
    lines = [f"(claim-{cl.id.lower()})=",
             f":::{{rubric}} {cl.id} — {_md_escape(cl.title)} ({_md_escape(cl.paper_ref)})",
             ":::", "", f"*Statement (as the paper makes it):* {_md_escape(cl.statement)}", ""]
    items = [f"**Verdict: {_md_escape(v.label)}**", *_verdict_lines(v, limit=10)]
    deps = ", ".join(claim_ref(d, book_dir) for d in cl.depends_on)
    if deps:
        items.append(f"Uses: {deps}")
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
    lines += [f"* {it}" for it in items]
    return "\n".join(lines)


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


def verdict_rules() -> MarkdownBlock:
    """The verdict rules, as stated in this module's docstring (printed on the claims page
    so that the rules shown are the rules the code applies)."""
    doc = __doc__ or ""
    start = doc.index("A claim's verdict")
    end = doc.index("Skipped checks decide nothing")
    tail = doc[end:].split("\n\n")[0]
    text = (doc[start:end] + tail).replace("``", "`").replace("<scope>", "*scope*")
    return MarkdownBlock(re.sub(r":\w+:`", "`", text))


def manifest_table() -> MarkdownBlock:
    """The manifest of :mod:`derivations.claims`: kind, required roles, dependencies."""
    rows = [[cl.id, _md_escape(cl.title), cl.kind,
             ", ".join(f"`{r}`" for r in cl.requires) or "—",
             ", ".join(cl.depends_on) or "—", "yes" if cl.per_kernel else "no"]
            for cl in CLAIMS]
    return MarkdownBlock(_list_table(["Id", "Claim", "Kind", "Required roles", "Uses",
                                      "Per kernel"], rows, "6 26 10 34 14 10"))


def _main(argv: Sequence[str] | None = None) -> int:
    """``python -m numerics.claim_report [check|show|runs]``.

    ``check``: exit 1 unless the published report exists, is readable, comes from a complete
    run and is fresh (the strict book build requires it); ``show``: every verdict, one line
    each, with the claim's check time; ``durations``: check time per claim and the slowest
    checks; ``runs``: the run reports, newest last, with complete/partial.
    """
    import argparse

    ap = argparse.ArgumentParser(prog="python -m numerics.claim_report",
                                 description="Claim verdicts from the published run report.")
    ap.add_argument("command", choices=("check", "show", "durations", "runs"), nargs="?",
                    default="show")
    ap.add_argument("--report", default=None, help="a run report (default: the published one)")
    args = ap.parse_args(argv)
    if args.command == "runs":
        for p in list_runs():
            try:
                payload = json.loads(p.read_text())
            except (OSError, ValueError):
                print(f"{p.name}: unreadable")
                continue
            print(f"{p.name}: {'complete' if payload.get('complete') else 'partial'}, "
                  f"exit {payload.get('exitstatus')}, {len(payload.get('items', []))} items, "
                  f"args {' '.join(payload.get('args', []))}")
        return 0
    report = load_report(args.report)
    if args.command == "check":
        if report.state != "ok" or not report.complete:
            why = list(report.problems) or ["the report is not from a complete run"]
            print("claim report not usable for the book: " + "; ".join(why))
            return 1
        print("claim report: " + run_line(report))
        return 0
    if report.usable:
        print(run_line(report).replace("`", "").replace("**", ""))
    elif args.command == "durations":
        print("no check times: " + " ".join(report.problems))
        return 1
    per = report.durations.get("per_claim") or {}
    if args.command == "durations":
        print(_durations_text(report))
        return 0
    for cid, v in all_verdicts(report).items():
        secs = per.get(cid, {}).get("seconds")
        time_txt = f"{float(secs):8.1f} s" if secs is not None else f"{'-':>8s}  "
        print(f"{cid:4s} {time_txt}  {v.label}")
    return 0 if report.usable else 1


def _durations_text(report: ReportInfo) -> str:
    """The text of ``python -m numerics.claim_report durations``."""
    dur = report.durations
    total = float(dur.get("total_s") or 0.0)
    phases = str(dur.get("phases", ""))
    lines = [f"check time ({phases}"
             + (", an older report: setup and teardown not timed" if phases == "call" else "")
             + f"): {total:.1f} s summed"
             + (f", wall time {report.wall_s:.1f} s" if report.wall_s is not None else "")]
    machine = _machine_text(report.machine, md=False).strip()
    if machine:
        lines.append(machine)
    lines.append(f"{'claim':6s}{'checks':>7s}{'seconds':>10s}{'share':>8s}")
    for cid, row in (dur.get("per_claim") or {}).items():
        secs = float(row.get("seconds", 0.0))
        share = f"{100 * secs / total:6.1f} %" if total > 0 else "      - "
        lines.append(f"{cid:6s}{row.get('checks', 0):7d}{secs:10.1f}{share:>8s}")
    top = dur.get("slowest") or []
    if top:
        lines.append(f"the {len(top)} slowest checks:")
        for t in top:
            claims = ",".join(t.get("claims") or ()) or "-"
            lines.append(f"{float(t.get('seconds', 0)):8.1f} s  {claims:8s} {t.get('test', '')}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(_main())


def claims_overview() -> MarkdownBlock:
    """Every claim with its title, provenance (paper section), kind and statement as the
    paper makes it, from :data:`derivations.claims.CLAIMS` (the book's introduction)."""
    rows = [[cl.id, _md_escape(cl.title), _md_escape(cl.paper_ref), cl.kind,
             _md_escape(cl.statement)] for cl in CLAIMS]
    return MarkdownBlock(_list_table(["Id", "Claim", "Paper", "Kind", "Statement (as made)"],
                                     rows, "6 18 14 10 52"))
