"""pytest plugin: record, per claim, what a run of the claim checks actually executed.

Loaded by the root ``conftest.py`` (``pytest_plugins``).  Every test marked
``@pytest.mark.claim(id, role[, scope=...])`` is a *claim item*.  The plugin records, from
pytest's own hooks and not from the command line:

* **collected** -- every claim item, seen before ``-k``/``-m``/``--deselect``/``--lf``
  narrow the selection (a ``tryfirst`` collection hook);
* **deselected** -- the items those options removed (``pytest_deselected``);
* **outcome** -- passed, failed (setup/teardown errors included), xfailed, xpassed,
  skipped, with the evidence the check recorded (:mod:`proofs_check.evidence`: kernels
  asserted, kernels not applicable, the :class:`~derivations.claims.Refuted` record);
* **not run** -- collected, not deselected, without an outcome (``-x``, ``--maxfail``,
  an interrupted run, a crashed xdist worker);
* **not collected** -- claim check functions in the check directory that the run did not
  collect at all (a file or node-id selection, ``--lf`` skipping files, an import error);
  and functions named by node id with a parameter (``::test[x]``), whose other parameters
  were never collected.

Each process (the controller and every xdist worker) writes its collection record under
the run's folder; the controller merges them at the end and writes the run report
``reports/runs/<run id>.json`` (``$CLAIMS_RUNS_DIR`` overrides the folder).  Only a run in
which every claim check of every claim ran (none deselected, not run or not collected)
also becomes the published report ``reports/claims.json`` (``$CLAIMS_REPORT``), the one the
book reads.  Verdicts are computed from these records by :mod:`numerics.claim_report`.

Every check that ran carries ``duration_s``, its setup + call + teardown time (the figure
pytest's ``--durations`` shows per phase), and the report carries ``durations``: the total
check time per claim and the :data:`~numerics.claim_report.N_SLOWEST` slowest checks
(:func:`numerics.claim_report.durations_summary`; schema 3), and ``machine``: what the times
were measured on (CPUs, torch version and threads, platform, load average at the end).

Progress (``--claim-progress=auto|on|off``; ``auto``, the default: on when claim items are
collected and the run is not verbose): instead of one dot per passed claim check, the
controller (the xdist controller, or the only process) prints one line per claim when all
its checks are in, a line per claim that moved every ``--claim-progress-interval`` seconds
(20 by default, only when something changed), and at the end a per-claim table; every line
shows the checks done of the claim's total, their outcomes, their summed time and the
verdict computed from the records so far by :func:`numerics.claim_report.claim_verdict`.

``--claim ID`` (repeatable, or comma-separated: ``--claim C3 --claim C5``, ``--claim C3,C5``)
runs only the claim checks of those claims: every other item is deselected through
``pytest_deselected``, so the run report records it as *deselected* (the run is partial and
not published unless the selection leaves nothing out) and records the selection
(``claims_selected``).  ``$CLAIMS_RUN_ID`` fixes the run id (``poisoncurv check`` uses it to
find the report of the run it started).
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from derivations.claims import CLAIMS, ROLES, Refuted, claim_by_id
from numerics.claim_report import claim_verdict, durations_summary
from proofs_check import evidence

#: 3: ``duration_s`` covers setup + call + teardown; the ``durations`` summary
SCHEMA = 3

#: values of ``--claim-progress``
PROGRESS_MODES = ("auto", "on", "off")

# statuses of an item in a run report
MISSING = ("deselected", "not_run", "not_collected")


# ----------------------------------------------------------------------------- paths
def runs_dir(rootpath: Path) -> Path:
    env = os.environ.get("CLAIMS_RUNS_DIR")
    return Path(env) if env else Path(rootpath) / "reports" / "runs"


def published_path(rootpath: Path) -> Path:
    env = os.environ.get("CLAIMS_REPORT")
    return Path(env) if env else Path(rootpath) / "reports" / "claims.json"


def check_dir(rootpath: Path) -> Path:
    """Where the claim checks live (``$CLAIMS_CHECK_DIR`` or ``proofs_check/``)."""
    env = os.environ.get("CLAIMS_CHECK_DIR")
    return Path(env) if env else Path(rootpath) / "proofs_check"


# ----------------------------------------------------------------------------- markers
def claim_marks(item) -> list[tuple[str, str, str]]:
    """``(claim, role, scope)`` of every claim marker of ``item``; bad markers are usage
    errors (unknown id or role, symbolic without a scope, symbolic for an empirical claim)."""
    out = []
    for mark in item.iter_markers("claim"):
        if len(mark.args) != 2 or set(mark.kwargs) - {"scope"}:
            raise pytest.UsageError(f"{item.nodeid}: use @pytest.mark.claim(id, role) "
                                    "or @pytest.mark.claim(id, 'symbolic', scope=...)")
        cid, role = mark.args
        try:
            cl = claim_by_id(cid)
        except KeyError as exc:
            raise pytest.UsageError(f"{item.nodeid}: {exc.args[0]}") from None
        if role not in ROLES:
            raise pytest.UsageError(f"{item.nodeid}: claim role {role!r} not in {ROLES}")
        scope = mark.kwargs.get("scope", "")
        if role == "symbolic":
            if not isinstance(scope, str) or not scope.strip():
                raise pytest.UsageError(
                    f"{item.nodeid}: a symbolic check must state its scope: "
                    "scope='general' (the claim in its general form) or e.g. scope='n = 2'")
            if cl.kind == "empirical":
                raise pytest.UsageError(f"{item.nodeid}: {cid} is an empirical claim; it "
                                        "cannot have symbolic checks (use 'sanity')")
        elif scope:
            raise pytest.UsageError(f"{item.nodeid}: scope= is for symbolic checks only")
        out.append((cid, role, scope))
    return out


def _kernel_param(item) -> str | None:
    cs = getattr(item, "callspec", None)
    if cs is None:
        return None
    k = cs.params.get("kernel_name")
    return k if isinstance(k, str) else None


def expected_functions(directory: Path, rootpath: Path) -> dict[str, list[str]]:
    """Claim check functions defined in ``directory/test_*.py`` (static parse): node-id
    prefix ``path::name`` -> claim ids (a computed id counts as the file's own claim)."""
    slugs = {cl.slug: cl.id for cl in CLAIMS}
    out: dict[str, list[str]] = {}
    for path in sorted(directory.glob("test_*.py")):
        try:
            tree = ast.parse(path.read_text(), filename=str(path))
        except (OSError, SyntaxError):
            continue
        try:
            rel = path.resolve().relative_to(Path(rootpath).resolve()).as_posix()
        except ValueError:
            rel = path.as_posix()
        stem = path.stem.removeprefix("test_")
        own = slugs.get(stem) or next((cid for s, cid in sorted(slugs.items(), key=lambda kv:
                                                                 -len(kv[0]))
                                       if stem.startswith(s)), None)
        module_ids = _mark_ids(module_marks(tree), own)

        def visit(body, prefix, marks, rel=rel, own=own):
            for node in body:
                if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
                    visit(node.body, f"{prefix}{node.name}::",
                          marks + _mark_ids(node.decorator_list, own))
                elif (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and node.name.startswith("test")):
                    ids = marks + _mark_ids(node.decorator_list, own)
                    if ids:
                        out[f"{rel}::{prefix}{node.name}"] = list(dict.fromkeys(ids))

        visit(tree.body, "", module_ids)
    return out


def claim_calls(nodes) -> list[ast.Call]:
    """The ``...mark.claim(...)`` calls among decorator / ``pytestmark`` AST nodes."""
    return [n for n in nodes if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == "claim"]


def module_marks(tree: ast.Module) -> list[ast.Call]:
    """The claim marks of a module's ``pytestmark`` (one mark or a list of marks)."""
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in stmt.targets):
            vals = stmt.value.elts if isinstance(stmt.value, (ast.List, ast.Tuple)) \
                else [stmt.value]
            return claim_calls(vals)
    return []


def _mark_ids(nodes, own: str | None) -> list[str]:
    ids = []
    for node in claim_calls(nodes):
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            ids.append(first.value)
        elif own:
            ids.append(own)
    return ids


# ----------------------------------------------------------------------------- --claim
def pytest_addoption(parser) -> None:
    group = parser.getgroup("claims")
    group.addoption(
        "--claim", action="append", default=[], dest="claim_ids", metavar="ID",
        help="run only the claim checks of claim ID (C1..C13, E1..E3; repeatable or "
             "comma-separated); every other test is deselected")
    group.addoption(
        "--claim-progress", default="auto", choices=PROGRESS_MODES, dest="claim_progress",
        help="per-claim progress lines instead of a dot per passed claim check: a line when "
             "a claim's checks are all in, a line per claim that moved every "
             "--claim-progress-interval seconds, a per-claim table at the end (checks done/"
             "total, outcomes, summed time, verdict so far). auto (default): on when claim "
             "checks are collected and not -v; on; off (dots as usual)")
    group.addoption(
        "--claim-progress-interval", default=20.0, type=float, metavar="SECONDS",
        dest="claim_progress_interval",
        help="seconds between periodic claim progress lines (default 20)")


def progress_mode(config) -> str:
    """``on`` or ``off``: ``--claim-progress`` with ``auto`` resolved (on unless ``-v``;
    whether claim checks were collected is seen as they report)."""
    mode = getattr(config.option, "claim_progress", "auto") or "auto"
    if mode not in PROGRESS_MODES:
        raise pytest.UsageError(f"--claim-progress: {mode!r} is not one of "
                                + ", ".join(PROGRESS_MODES))
    if mode == "auto":
        return "on" if config.get_verbosity() <= 0 else "off"
    return mode


def selected_claims(config) -> tuple[str, ...]:
    """The claim ids given with ``--claim`` (in order, without repeats; ``()`` when none).

    Raises ``pytest.UsageError`` naming the valid ids for an unknown one."""
    raw = getattr(config.option, "claim_ids", None) or []
    ids = [part.strip().upper() for value in raw for part in str(value).split(",")]
    ids = [i for i in ids if i]
    valid = [cl.id for cl in CLAIMS]
    bad = [i for i in ids if i not in valid]
    if bad or (raw and not ids):
        shown = ", ".join(repr(b) for b in bad) if bad else repr(",".join(raw))
        raise pytest.UsageError(f"--claim: unknown claim id {shown}; valid ids: "
                                + ", ".join(valid))
    return tuple(dict.fromkeys(ids))


_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


# ----------------------------------------------------------------------------- the plugin
def pytest_configure(config) -> None:
    selected_claims(config)  # a usage error before anything runs
    progress_mode(config)
    interval = getattr(config.option, "claim_progress_interval", 20.0)
    if interval is not None and not interval > 0:
        raise pytest.UsageError(f"--claim-progress-interval must be > 0 seconds, got "
                                f"{interval!r}")
    if not config.pluginmanager.has_plugin("claim-evidence"):
        config.pluginmanager.register(ClaimEvidence(config), "claim-evidence")


class ClaimEvidence:
    """The recorder; one per pytest process (controller or xdist worker)."""

    def __init__(self, config) -> None:
        self.config = config
        self.items: dict[str, dict] = {}
        self.deselected: set[str] = set()
        self.results: dict[str, dict] = {}
        self.phase_s: dict[str, dict[str, float]] = {}  # node id -> phase -> seconds
        self.final_records: list[dict] = []
        wi = getattr(config, "workerinput", None)
        if wi is not None:
            self.run_id = wi.get("claims_run_id", "") or f"worker-{os.getpid()}"
            self.process = wi.get("workerid", "worker")
            self.started_unix = None
        else:
            fixed = os.environ.get("CLAIMS_RUN_ID", "")
            if fixed and not _RUN_ID.fullmatch(fixed):
                raise pytest.UsageError(f"$CLAIMS_RUN_ID {fixed!r} is not a valid run id "
                                        "(letters, digits, '.', '_', '-'; at most 128)")
            self.run_id = fixed or (time.strftime("%Y%m%d-%H%M%S", time.gmtime())
                                    + f"-{os.getpid()}")
            self.process = "main"
            self.started_unix = time.time()
        self.claims_selected = selected_claims(config)
        self.progress_on = progress_mode(config) == "on"
        self.progress: ClaimProgress | None = None
        if self.progress_on and wi is None:
            self.progress = ClaimProgress(config, self)

    @property
    def parts_dir(self) -> Path:
        return runs_dir(self.config.rootpath) / (self.run_id + ".parts")

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:  # xdist controller: workers share the id
        node.workerinput["claims_run_id"] = self.run_id

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, session, config, items) -> None:
        """Before -k/-m/--deselect/--lf deselection: every claim item and its markers."""
        for item in items:
            marks = claim_marks(item)
            if not marks:
                continue
            item.user_properties.append(("claims", json.dumps(marks)))
            xf = item.get_closest_marker("xfail")
            self.items[item.nodeid] = {"claims": marks, "kernel": _kernel_param(item),
                                       "xfail_raises": _raises_name(xf)}
        if self.claims_selected:
            wanted = set(self.claims_selected)
            keep, drop = [], []
            for item in items:
                info = self.items.get(item.nodeid)
                hit = info is not None and any(m[0] in wanted for m in info["claims"])
                (keep if hit else drop).append(item)
            if drop:
                config.hook.pytest_deselected(items=drop)
                items[:] = keep

    def pytest_deselected(self, items) -> None:
        self.deselected.update(item.nodeid for item in items)

    def pytest_collection_finish(self, session) -> None:
        """Write this process's collection record (the controller merges them)."""
        if not self.items or self.config.option.collectonly:
            return
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        (self.parts_dir / f"collect-{self.process}.json").write_text(json.dumps({
            "items": self.items, "deselected": sorted(self.deselected & set(self.items))}))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        evidence.begin_test()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item, call):
        rep = yield
        if call.when == "call" and any(k == "claims" for k, _ in item.user_properties):
            rec = evidence.end_test()
            if call.excinfo is not None and call.excinfo.errisinstance(Refuted):
                rec["refutation"] = call.excinfo.value.record()
            rep.user_properties.append(("evidence", json.dumps(rec, default=str)))
        return rep

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        """No dot for a passed claim check while the progress lines are on (not verbose);
        skipped, failed, xfailed and xpassed keep their letters."""
        if (not self.progress_on or report.when != "call" or not report.passed
                or hasattr(report, "wasxfail") or config.get_verbosity() > 0
                or not any(k == "claims" for k, _ in report.user_properties)):
            return None
        return "passed", "", "PASSED"

    def pytest_runtest_logreport(self, report) -> None:
        props = dict(report.user_properties)
        if "claims" not in props:
            return
        phases = self.phase_s.setdefault(report.nodeid, {})
        phases[report.when] = phases.get(report.when, 0.0) + float(report.duration or 0.0)
        self._record_outcome(report, props)
        if self.progress is not None:
            self.progress.on_report(report, props)

    def _record_outcome(self, report, props: dict) -> None:
        outcome = None
        if report.when == "call":
            if hasattr(report, "wasxfail"):
                outcome = "xfailed" if report.outcome == "skipped" else "xpassed"
            else:
                outcome = report.outcome
        elif report.when == "setup" and report.outcome != "passed":
            outcome = "skipped" if report.outcome == "skipped" else "failed"
        elif report.when == "teardown" and report.outcome == "failed":
            outcome = "failed"  # an error in teardown spoils a passed check
        if outcome is None:
            return
        entry = self.results.setdefault(report.nodeid, {})
        if entry.get("status") == "failed":
            return
        entry["status"] = outcome
        ev = json.loads(props.get("evidence") or "{}")
        if ev:
            entry["evidence"] = ev
        if outcome == "skipped" and isinstance(report.longrepr, tuple):
            entry["reason"] = _first_line(str(report.longrepr[-1])).removeprefix("Skipped: ")
        elif outcome == "failed":
            entry["reason"] = _failure_line(report)
        elif outcome in ("xfailed", "xpassed"):
            entry["reason"] = _first_line(str(getattr(report, "wasxfail", "")))

    def pytest_sessionfinish(self, session, exitstatus) -> None:
        config = self.config
        if hasattr(config, "workerinput") or config.option.collectonly:
            return
        root = Path(config.rootpath)
        items: dict[str, dict] = {}
        deselected: set[str] = set()
        if self.parts_dir.is_dir():
            for f in sorted(self.parts_dir.glob("collect-*.json")):
                try:
                    rec = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue
                items.update(rec.get("items", {}))
                deselected.update(rec.get("deselected", ()))
            shutil.rmtree(self.parts_dir, ignore_errors=True)
        for nodeid in self.results:  # reported, but its collection record is missing
            items.setdefault(nodeid, {"claims": [], "kernel": None})
        if not items:
            return
        records = []
        for nodeid, info in items.items():
            rec = {"test": nodeid, "claims": [list(m) for m in info.get("claims", [])],
                   "kernel": info.get("kernel"), "xfail_raises": info.get("xfail_raises", "")}
            if nodeid in self.results:
                rec.update(self.results[nodeid])
                phases = self.phase_s.get(nodeid, {})
                rec["duration_s"] = round(sum(phases.values()), 3)
                rec["phase_s"] = {k: round(v, 3) for k, v in phases.items()}
            elif nodeid in deselected:
                rec["status"] = "deselected"
            else:
                rec["status"] = "not_run"
            records.append(rec)
        records += _not_collected(config, items)
        missing = [r for r in records if r["status"] in MISSING]
        records.sort(key=lambda r: r["test"])
        self.final_records = records
        payload = {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "generated_unix": time.time(),
            "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
            "started_unix": self.started_unix,
            "commit": _git(root, "rev-parse", "HEAD"),
            "dirty": bool(_git(root, "status", "--porcelain", "--untracked-files=no")),
            "hypothesis_profile": _profile_name(),
            "args": [str(a) for a in config.invocation_params.args],
            "pytest_addopts": os.environ.get("PYTEST_ADDOPTS", ""),
            "workers": _n_workers(config),
            "claims_selected": list(self.claims_selected),
            "exitstatus": int(exitstatus),
            "complete": not missing and int(exitstatus) in (0, 1),
            "durations": durations_summary(records),
            "machine": _machine(),
            "items": records,
        }
        out = runs_dir(root) / f"{self.run_id}.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(payload, indent=1, default=str)
        out.write_text(text)
        pub = published_path(root)
        if payload["complete"]:
            pub.parent.mkdir(parents=True, exist_ok=True)
            tmp = pub.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(pub)
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        where = _rel(out, root)
        _fresh_line(reporter)
        if payload["complete"]:
            reporter.write_line(f"claim evidence: complete run -> {where}, published as "
                                f"{_rel(pub, root)}")
        else:
            n = {s: sum(r["status"] == s for r in records) for s in MISSING}
            why = [f"{v} {k.replace('_', ' ')}" for k, v in n.items() if v]
            if int(exitstatus) not in (0, 1):
                why.append(f"exit status {int(exitstatus)}")
            reporter.write_line(f"claim evidence: partial run -> {where} (not published: "
                                + ", ".join(why) + ")")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        """The per-claim table of the progress output (claims, checks, time, verdict)."""
        if self.progress is not None and self.final_records:
            self.progress.summary(terminalreporter, self.final_records)


class ClaimProgress:
    """The progress lines of the controller: per claim, the checks done of its total, their
    outcomes and summed time, and the verdict of the records so far (the same
    :func:`~numerics.claim_report.claim_verdict` as the report)."""

    def __init__(self, config, recorder: ClaimEvidence) -> None:
        self.config = config
        self.rec = recorder
        self.interval = float(getattr(config.option, "claim_progress_interval", 20.0) or 20.0)
        self.marks: dict[str, list] = {}  # node id -> claim marks [id, role, scope]
        self.done: dict[str, None] = {}  # node ids whose teardown reported, in order
        self.expected: dict[str, set[str]] | None = None  # claim -> node ids to run
        self.deselected: dict[str, list] = {}  # deselected node id -> claim marks
        self.changed: set[str] = set()
        self.finished: set[str] = set()
        self.last_tick = time.monotonic()
        self.order = {cl.id: i for i, cl in enumerate(CLAIMS)}

    # -- what the run is expected to execute
    def _load_expected(self) -> dict[str, set[str]] | None:
        """Claim -> node ids to run, from this process's collection (no xdist) or the
        workers' collection records (xdist); ``None`` while none is written."""
        if self.expected is not None:
            return self.expected
        items, deselected = dict(self.rec.items), set(self.rec.deselected)
        if not items and self.rec.parts_dir.is_dir():
            for f in sorted(self.rec.parts_dir.glob("collect-*.json")):
                try:
                    part = json.loads(f.read_text())
                except (OSError, ValueError):
                    continue
                items.update(part.get("items", {}))
                deselected.update(part.get("deselected", ()))
        if not items:
            return None
        expected: dict[str, set[str]] = {}
        for nodeid, info in items.items():
            marks = [list(m) for m in info.get("claims", ())]
            if nodeid in deselected:
                self.deselected[nodeid] = marks
                continue
            for cid in dict.fromkeys(m[0] for m in marks):
                expected.setdefault(cid, set()).add(nodeid)
        self.expected = expected
        return expected

    # -- events
    def on_report(self, report, props: dict) -> None:
        """A report of a claim check reached the controller."""
        nodeid = report.nodeid
        if nodeid not in self.marks:
            try:
                self.marks[nodeid] = [list(m) for m in json.loads(props["claims"])]
            except (TypeError, ValueError):
                self.marks[nodeid] = []
        if report.when != "teardown" or nodeid in self.done:
            return
        self.done[nodeid] = None
        cids = list(dict.fromkeys(m[0] for m in self.marks[nodeid]))
        self.changed.update(cids)
        expected = self._load_expected() or {}
        for cid in sorted(cids, key=self._key):
            total = expected.get(cid)
            if total is not None and cid not in self.finished and total <= self.done.keys():
                self.finished.add(cid)
                self.changed.discard(cid)
                self._write([self.line(cid, final=True)])
        now = time.monotonic()
        if now - self.last_tick >= self.interval:
            self.last_tick = now
            moved = sorted((c for c in self.changed if c not in self.finished), key=self._key)
            self.changed.clear()
            if moved:
                self._write([self.line(c, final=False) for c in moved])

    def _key(self, cid: str) -> tuple:
        return (self.order.get(cid, len(self.order)), cid)

    # -- lines
    def records(self, cid: str) -> list[dict]:
        """The records of claim ``cid`` so far: its checks that are done (as the run report
        will record them) and its deselected checks."""
        out = []
        for nodeid in self.done:
            marks = self.marks.get(nodeid, ())
            res = self.rec.results.get(nodeid)
            if res is None or "status" not in res or not any(m[0] == cid for m in marks):
                continue
            out.append({"test": nodeid, "claims": marks, **res,
                        "duration_s": sum(self.rec.phase_s.get(nodeid, {}).values())})
        for nodeid, marks in self.deselected.items():
            if any(m[0] == cid for m in marks):
                out.append({"test": nodeid, "claims": marks, "status": "deselected"})
        return out

    def line(self, cid: str, *, final: bool) -> str:
        """``[ 3:12] C3  rank one spike   38/40 checks  passed 36  xfailed 2  failed 0 ...``"""
        recs = self.records(cid)
        ran = [r for r in recs if r["status"] not in MISSING]
        total = (self.expected or {}).get(cid)
        n = {s: sum(r["status"] == s for r in ran) for s in
             ("passed", "xfailed", "failed", "skipped", "xpassed")}
        counts = "  ".join(f"{s} {n[s]}" for s in ("passed", "xfailed", "failed"))
        counts += "".join(f"  {s} {n[s]}" for s in ("skipped", "xpassed") if n[s])
        secs = sum(r.get("duration_s", 0.0) for r in ran)
        verdict = claim_verdict(cid, recs).key
        el = int(time.time() - (self.rec.started_unix or time.time()))
        name = claim_by_id(cid).slug.replace("_", " ")
        return (f"[{el // 60:2d}:{el % 60:02d}] {cid:<3s} {name:<25s} "
                f"{len(ran):>3d}/{len(total) if total is not None else '?':<3} checks  "
                f"{counts}  {secs:7.1f} s   verdict{'' if final else ' so far'}: {verdict}")

    def _write(self, lines: list[str]) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is None:
            return
        _fresh_line(reporter)
        for text in lines:
            reporter.write_line(text)
        reporter.flush()

    def summary(self, reporter, records: list[dict]) -> None:
        """The table at the end: per claim, checks run of collected, outcomes, summed time
        and the verdict of the run report (computed from the same records)."""
        by_claim: dict[str, list[dict]] = {}
        for r in records:
            for cid in dict.fromkeys(m[0] for m in r.get("claims", ())):
                by_claim.setdefault(cid, []).append(r)
        shown = [c for c in sorted(by_claim, key=self._key)
                 if any(r["status"] not in MISSING for r in by_claim[c])]
        if not shown:
            return
        reporter.write_sep("=", "claim checks")
        reporter.write_line(f"{'claim':<30s}{'checks':>9s}  {'outcomes':<34s}{'time':>10s}"
                            "   verdict")
        grand = 0.0
        for cid in shown:
            recs = by_claim[cid]
            ran = [r for r in recs if r["status"] not in MISSING]
            secs = sum(float(r.get("duration_s") or 0.0) for r in ran)
            grand += secs
            outcomes = ", ".join(f"{sum(r['status'] == s for r in ran)} {s}" for s in
                                 ("passed", "xfailed", "failed", "skipped", "xpassed")
                                 if any(r["status"] == s for r in ran))
            name = claim_by_id(cid).slug.replace("_", " ")
            reporter.write_line(f"{cid:<4s} {name:<25s}{len(ran):>4d}/{len(recs):<4d}  "
                                f"{outcomes:<34s}{secs:8.1f} s   "
                                f"{claim_verdict(cid, records).key}")
        idle = [c for c in sorted(by_claim, key=self._key) if c not in shown]
        reporter.write_line(f"check time {grand:.1f} s summed over the claims shown (a check "
                            "of several claims counts for each)"
                            + (f"; no check ran for {len(idle)} other claims" if idle
                               else ""))
        reporter.flush()


def _machine() -> dict:
    """What the check times were measured on: CPUs, torch threads and version, platform,
    and the 1-minute load average at the end of the run (above the CPU count: the machine
    was busy with more than this run, or the run oversubscribed it)."""
    import platform

    out: dict = {"cpus": os.cpu_count(), "platform": platform.platform()}
    try:
        import torch

        out.update(torch=torch.__version__, torch_threads=torch.get_num_threads())
    except ImportError:  # pragma: no cover
        pass
    try:
        out["load_avg_1min"] = round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):  # pragma: no cover
        pass
    return out


def _fresh_line(reporter) -> None:
    """End the terminal's current line when letters (``F``, ``x``, ``[100%]``) are on it and
    the reporter would not (it ends only lines that it started with a file name)."""
    tw = getattr(reporter, "_tw", None)
    if not reporter.currentfspath and getattr(tw, "width_of_current_line", 0):
        reporter.line("")


def _raises_name(xf) -> str:
    raises = xf.kwargs.get("raises") if xf is not None else None
    if raises is None:
        return ""
    if isinstance(raises, tuple):
        return ",".join(getattr(r, "__name__", str(r)) for r in raises)
    return getattr(raises, "__name__", str(raises))


def _first_line(text: str) -> str:
    text = text.strip()
    return text.splitlines()[0] if text else text


def _failure_line(report) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    if crash is not None:
        return _first_line(str(crash.message))[:300]
    return _first_line(str(report.longrepr))[:300]


def _not_collected(config, items: dict) -> list[dict]:
    root = Path(config.rootpath)
    expected = expected_functions(check_dir(root), root)
    collected_funcs = {re.sub(r"\[.*\]$", "", n) for n in items}
    narrowed = set()
    for a in config.invocation_params.args:
        a = str(a)
        if "::" in a and a.endswith("]"):
            path, _, rest = a.partition("::")
            try:
                rel = (Path(config.invocation_params.dir) / path).resolve().relative_to(
                    root.resolve()).as_posix()
            except ValueError:
                rel = path
            narrowed.add(f"{rel}::" + re.sub(r"\[.*\]$", "", rest))
    out = []
    for func, cids in expected.items():
        if func not in collected_funcs:
            out.append({"test": func, "claims": [[c, "", ""] for c in cids], "kernel": None,
                        "status": "not_collected",
                        "reason": "the run did not collect this claim check"})
        elif func in narrowed:
            out.append({"test": func + "[...]", "claims": [[c, "", ""] for c in cids],
                        "kernel": None, "status": "not_collected",
                        "reason": "selected by node id with one parameter: its other "
                                  "parameters were not collected"})
    return out


def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, cwd=root,
                             timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _profile_name() -> str:
    """The Hypothesis profile loaded in this process (``numerics.strategies``)."""
    try:
        from hypothesis import settings
    except ImportError:  # pragma: no cover
        return ""
    return str(getattr(settings, "_current_profile", "") or "")


def _n_workers(config) -> int:
    n = getattr(config.option, "numprocesses", None)
    try:
        return int(n or 0)
    except (TypeError, ValueError):
        return 0


def _rel(p: Path, root: Path) -> str:
    try:
        return str(p.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(p)
