"""The suite's own power: mutation scores from the committed mutation runs.

``scripts/mutation.py`` runs mutmut over derivations/ and numerics/ and writes
``results/mutation/sample.json`` (a stratified random sample of mutants, each with its status,
time and, unless killed, its diff; survivors re-run after new tests carry a ``rerun``
record).  ``results/mutation/survivors.toml`` explains every mutant that was not killed by
the sampled run: either the test that now kills it (confirmed only by a ``rerun`` whose status
is killed) or a one-line reason it is equivalent (no test can tell it from the original).
This module reads both, scores each module and group, and lists what is left; the book's page
"How strong are the checks" and ``tests/test_mutation_report.py`` use it.

Score of a set of mutants: detected / (sampled - equivalent - not checked), where *detected*
is killed by the sampled run (a failing test, a time-out or a crash) or killed by a later test
(re-run).  "Accepted" survivors (explained, not killed) count as not detected, and so do
"no tests" mutants (no test of the selection reaches the function).  "Not checked" mutants
(the run stopped before them, or past its time cap) are left out of the score and listed.
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_DIR",
    "CORE_GROUPS",
    "TARGETS",
    "STATUS_BY_EXIT_CODE",
    "MutationReportError",
    "module_of",
    "group_of",
    "load_results",
    "load_explanations",
    "verdict",
    "Score",
    "module_scores",
    "group_scores",
    "unexplained",
    "wilson_interval",
]

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = ROOT / "results" / "mutation"

#: the modules held to the higher target (issue 15): kernel registry, KRR, poisons, input
#: derivatives (Hessians and their spectra), claim report
CORE_GROUPS: dict[str, tuple[str, ...]] = {
    "kernel registry": ("derivations/kernels.py", "numerics/kernels.py"),
    "KRR": ("numerics/krr.py",),
    "poisons": ("numerics/poisons.py",),
    "input derivatives": ("numerics/hessian_eig.py",),
    "claim report": ("numerics/claim_report.py",),
}
#: target score per tier: the core groups, and every other module taken together
TARGETS = {"core": 0.90, "other": 0.80}

#: mutmut 3's exit codes (mutmut.stats.status_by_exit_code; kept here so that reading a
#: report needs no mutmut); anything else is "suspicious"
STATUS_BY_EXIT_CODE: dict[int | None, str] = {
    1: "killed", 3: "killed", 0: "survived", 5: "no tests", 33: "no tests", 2: "interrupted",
    None: "not checked", 34: "skipped", 35: "suspicious", 36: "timeout",
    37: "caught by type check", -24: "timeout", 24: "timeout", 152: "timeout",
    255: "timeout", -11: "segfault", -9: "segfault",
}
#: statuses that count as detected by the sampled run
DETECTED = ("killed", "timeout", "segfault")

_NAME = re.compile(r"^(?P<module>[\w.]+?)\.x(?:_|\u01c1)")


class MutationReportError(ValueError):
    """A mutation result or explanation file is missing, malformed or inconsistent."""


def module_of(name: str) -> str:
    """``numerics.krr.x_solve_spd__mutmut_3`` -> ``numerics/krr.py`` (class methods too:
    ``numerics.krr.xǁKRRǁfit__mutmut_1``; ``derivations.x___dir____mutmut_1`` ->
    ``derivations/__init__.py``)."""
    if not isinstance(name, str):
        raise MutationReportError(f"a mutant name must be a string, got {type(name).__name__}")
    m = _NAME.match(name)
    if not m or "__mutmut_" not in name:
        raise MutationReportError(f"not a mutmut mutant name: {name!r}")
    path = m.group("module").replace(".", "/")
    # mutmut names a package's __init__.py by the package alone
    return f"{path}/__init__.py" if (ROOT / path).is_dir() else f"{path}.py"


def group_of(module: str) -> str | None:
    """The core group of ``module`` (a path like ``numerics/krr.py``), or None."""
    if not isinstance(module, str):
        raise MutationReportError(f"a module path must be a string, got {type(module).__name__}")
    for g, files in CORE_GROUPS.items():
        if module in files:
            return g
    return None


def load_results(path: Path | str | None = None) -> dict[str, Any]:
    """The committed sample (``results/mutation/sample.json`` by default)."""
    p = Path(path) if path is not None else RESULTS_DIR / "sample.json"
    if not p.is_file():
        raise MutationReportError(f"no mutation results at {p}: run "
                                  "`bash scripts/mutation.sh` (see README)")
    data = json.loads(p.read_text())
    if data.get("schema") != 1 or not isinstance(data.get("mutants"), list):
        raise MutationReportError(f"{p}: not a schema-1 mutation result")
    return data


def load_explanations(path: Path | str | None = None) -> dict[str, dict[str, str]]:
    """``results/mutation/survivors.toml``: one table per mutant name, with ``verdict``
    ``"killed"`` (and ``test``: the test that kills it), ``"equivalent"`` (and ``reason``: why
    no input tells it from the original) or ``"accepted"`` (and ``reason``: an observable but
    unchecked difference, e.g. a figure's font size, left undetected and counted against the
    score)."""
    p = Path(path) if path is not None else RESULTS_DIR / "survivors.toml"
    if not p.is_file():
        return {}
    data = tomllib.loads(p.read_text())
    for name, entry in data.items():
        v = entry.get("verdict")
        if v == "killed" and not entry.get("test"):
            raise MutationReportError(f"{p}: {name} says killed but names no test")
        if v in ("equivalent", "accepted") and not entry.get("reason"):
            raise MutationReportError(f"{p}: {name} says {v} but gives no reason")
        if v not in ("killed", "equivalent", "accepted"):
            raise MutationReportError(f"{p}: {name}: verdict must be killed, equivalent or "
                                      f"accepted, got {v!r}")
    return data


def verdict(row: dict[str, Any], explanations: dict[str, dict[str, str]]) -> str:
    """Final verdict of one sampled mutant: ``killed`` (by the sampled run), ``killed later``
    (a re-run after a new test killed it), ``equivalent`` (explained), ``survived`` (not
    detected, not explained), ``unconfirmed`` (explained as killed, but no re-run shows
    it) or ``not checked`` (the run stopped before it, and no re-run reached it)."""
    if row["status"] in DETECTED:
        return "killed"
    rr = row.get("rerun", {})
    rerun = rr.get("status")
    # a re-run counts only for the same mutation (the code under it may have changed since)
    same = "diff" not in rr or "diff" not in row or rr["diff"] == row["diff"]
    if rerun in DETECTED and same:
        return "killed later"
    if row["status"] == "not checked" and rerun in (None, "not checked"):
        return "not checked"
    entry = explanations.get(row["name"])
    if entry is None:
        return "survived"
    if entry["verdict"] == "equivalent":
        return "equivalent"
    if entry["verdict"] == "accepted":
        return "accepted"
    return "unconfirmed"


@dataclass(frozen=True)
class Score:
    """Counts and score of one module or group."""

    name: str
    tier: str
    generated: int
    sampled: int
    killed: int
    killed_later: int
    equivalent: int
    undetected: int
    not_checked: int = 0

    @property
    def relevant(self) -> int:
        return self.sampled - self.equivalent - self.not_checked

    @property
    def score(self) -> float:
        """Detected share of the non-equivalent sampled mutants (after new tests)."""
        return (self.killed + self.killed_later) / self.relevant if self.relevant else math.nan

    @property
    def initial_score(self) -> float:
        """The same before the new tests (the sampled run alone)."""
        return self.killed / self.relevant if self.relevant else math.nan

    @property
    def target(self) -> float:
        return TARGETS[self.tier]

    @property
    def met(self) -> bool:
        return self.relevant > 0 and self.score >= self.target


def _score(name: str, tier: str, rows: list[dict], generated: int,
           explanations: dict[str, dict[str, str]]) -> Score:
    vs = [verdict(r, explanations) for r in rows]
    return Score(name=name, tier=tier, generated=generated, sampled=len(rows),
                 killed=vs.count("killed"), killed_later=vs.count("killed later"),
                 equivalent=vs.count("equivalent"),
                 undetected=(vs.count("survived") + vs.count("unconfirmed")
                             + vs.count("accepted")),
                 not_checked=vs.count("not checked"))


def module_scores(data: dict[str, Any], explanations: dict[str, dict[str, str]]) -> list[Score]:
    """One :class:`Score` per sampled module, core modules first."""
    by_mod: dict[str, list[dict]] = {}
    for r in data["mutants"]:
        by_mod.setdefault(r["module"], []).append(r)
    out = [_score(mod, "core" if group_of(mod) else "other", rows,
                  data["generated"].get(mod, 0), explanations)
           for mod, rows in by_mod.items()]
    return sorted(out, key=lambda s: (s.tier != "core", s.name))


def group_scores(data: dict[str, Any], explanations: dict[str, dict[str, str]]) -> list[Score]:
    """One :class:`Score` per core group, then "elsewhere" (every other module together)."""
    out = []
    for g, files in CORE_GROUPS.items():
        rows = [r for r in data["mutants"] if r["module"] in files]
        out.append(_score(g, "core", rows, sum(data["generated"].get(f, 0) for f in files),
                          explanations))
    core = {f for files in CORE_GROUPS.values() for f in files}
    rows = [r for r in data["mutants"] if r["module"] not in core]
    gen = sum(n for m, n in data["generated"].items() if m not in core)
    out.append(_score("elsewhere", "other", rows, gen, explanations))
    return out


def unexplained(data: dict[str, Any], explanations: dict[str, dict[str, str]]) -> list[str]:
    """Sampled mutants neither detected nor explained (``survived``), or explained as killed
    without a re-run that shows it (``unconfirmed``)."""
    return [r["name"] for r in data["mutants"]
            if verdict(r, explanations) in ("survived", "unconfirmed")]


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n (the sample's uncertainty); ``nan``s
    for ``n = 0``."""
    for v, what in ((k, "k"), (n, "n")):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise MutationReportError(f"{what} must be a count (an integer >= 0), got {v!r}")
    if k > n:
        raise MutationReportError(f"k = {k} exceeds n = {n}")
    if isinstance(z, bool) or not isinstance(z, (int, float)) or not (0 < z < 40):
        raise MutationReportError(f"z must be a real number in (0, 40), got {z!r}")
    if n <= 0:
        return (math.nan, math.nan)
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))
