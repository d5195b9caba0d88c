"""Mutation testing of derivations/ and numerics/ with mutmut 3.x (driver; see README).

    python scripts/mutation.py quick [--core 15 --other 1 --seed 15 --jobs 2 --cap 240]
    python scripts/mutation.py rerun [NAME ...]        # default: the sample's survivors
    python scripts/mutation.py smoke                   # CI: the fixed mutants must be killed
    python scripts/mutation.py smoke-select [--count 30]
    python scripts/mutation.py sample | full           # mutmut's own scheduler (see below)

``scripts/mutation.sh`` wraps this with the set-up (``scripts/bootstrap.sh``).  mutmut's own
configuration is ``[tool.mutmut]`` in pyproject.toml (what is mutated, the test selection,
the fork server).  mutmut works in ``mutants/`` (git-ignored): a copy of the sources in which
every function is a trampoline to its original or to one of its mutants, selected at call
time by ``$MUTANT_UNDER_TEST``.

quick (the default job; it wrote the committed ``results/mutation/sample.json``)
    Generates every mutant with mutmut, draws a stratified random sample (``--core`` per
    module of :data:`numerics.mutation_report.CORE_GROUPS`, ``--other`` per other module,
    seeded) and runs each mutant, ``--jobs`` at a time, against the test files of the default
    selection that import its module (:func:`test_files_for`; unit tests first), stopping at
    the first failure, at most ``--cap`` seconds per mutant (a mutant past the cap is "not
    checked").  Every kill is then confirmed: the killing tests must pass on the clean code.
    Survivors are written with their diff.
sample / full (mutmut's own scheduler)
    ``mutmut run`` on the same sample (or on every mutant): one recorded run of the whole
    selection first, to learn which test reaches which function, one clean run, then each
    mutant against exactly the tests that reach its function.  More precise than ``quick``
    (indirect callers count) but the recorded run is the whole suite in one process (over
    30 minutes on 2 cores); for machines with many cores (``--max-children``).
rerun
    Re-runs named mutants (default: the sample's survivors) with the quick runner against the
    current tests and records the new status under ``rerun`` in sample.json: how a survivor is
    shown killed by a new test (``results/mutation/survivors.toml`` names the test or the
    reason a mutant is equivalent; the book's page "How strong are the checks" reads both).
smoke
    The CI smoke: the fixed list ``results/mutation/smoke.json`` (mutant, its diff, the test
    that kills it).  In a temporary copy of the repository it generates the mutants of the
    files concerned, checks every diff is still the recorded one (a stale list fails, naming
    the mutant), runs the listed tests once on the clean code (they must pass) and once per
    mutant (they must fail).  Exit status 1 when a mutant survives.
smoke-select
    Rebuilds smoke.json from the sample: ``--count`` killed mutants spread over the modules
    (seeded), each with the test that killed it, re-checked alone.

Every step prints a line per mutant.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from numerics.mutation_report import (  # noqa: E402
    CORE_GROUPS,
    RESULTS_DIR,
    STATUS_BY_EXIT_CODE,
    module_of,
)

MUTANTS = ROOT / "mutants"
SAMPLE = RESULTS_DIR / "sample.json"
FULL = RESULTS_DIR / "full.json"
SMOKE = RESULTS_DIR / "smoke.json"


def log(msg: str) -> None:
    print(f"[mutation {dt.datetime.now():%H:%M:%S}] {msg}", flush=True)


def run_env() -> dict[str, str]:
    """The environment of every mutmut run: the ci Hypothesis profile (derandomised: the same
    examples every run), and a symbolic cache of its own inside mutants/ (its keys include the
    active mutant: derivations.symcache.code_fingerprint)."""
    env = dict(os.environ)
    env.update(CI="true", HYPOTHESIS_PROFILE="ci",
               POISONCURV_SYMPY_CACHE=str(MUTANTS / ".symcache"))
    return env


def mutmut_version() -> str:
    from importlib.metadata import version
    return version("mutmut")


def generate() -> dict[str, list[str]]:
    """Generate (or refresh) mutants/ and return the mutant names per source file."""
    log("generating mutants (mutmut) ...")
    t0 = time.perf_counter()
    code = ("import os; os.makedirs('mutants', exist_ok=True)\n"
            "from mutmut.__main__ import create_mutants\n"
            "from mutmut.utils.file_utils import copy_src_dir, copy_also_copy_files\n"
            "copy_src_dir(); copy_also_copy_files(); print(create_mutants(2))\n")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=run_env(),
                   stdout=subprocess.DEVNULL)
    write_sitecustomize(MUTANTS)
    shutil.copytree(ROOT / "results", MUTANTS / "results", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("cache"))
    rebase_summaries(MUTANTS)
    names = mutant_names()
    log(f"  {sum(map(len, names.values()))} mutants in {len(names)} files "
        f"({time.perf_counter() - t0:.0f} s)")
    return names


#: mutants/sitecustomize.py: tests that start Python in another folder (tmp_path) with
#: PYTHONPATH=mutants import the trampolined modules, whose ``import mutmut`` reads mutmut's
#: configuration from the *current* folder's pyproject.toml and fails there; this loads it once
#: from mutants/ at interpreter start-up (only in the mutation workspace, never in the repo)
SITECUSTOMIZE = """\
# written by scripts/mutation.py: mutation testing only (see there)
import os as _os

_cwd = _os.getcwd()
try:
    _os.chdir(_os.path.dirname(_os.path.abspath(__file__)))
    from mutmut.configuration import config as _config

    _config()
except Exception:
    pass
finally:
    _os.chdir(_cwd)
"""


def write_sitecustomize(mutants_dir: Path) -> None:
    (mutants_dir / "sitecustomize.py").write_text(SITECUSTOMIZE)


def rebase_summaries(mutants_dir: Path) -> None:
    """The committed experiment summaries (results/**/summary.json) name the code that made
    them by a hash of its files (numerics.experiment_io.code_hash); in mutants/ those files
    are the trampolined copies, whose clean code is the repository's.  A summary that matches
    the repository's files is re-stamped with the copies' hash (a stale one stays stale)."""
    import numerics.experiment_io as eio

    def code_hash(files: list[str], root: Path) -> str:
        saved = eio.REPO_ROOT
        eio.REPO_ROOT = root  # the same hash, over the files under root
        try:
            return eio.code_hash(files)
        finally:
            eio.REPO_ROOT = saved

    for p in sorted((mutants_dir / "results").rglob("summary.json")):
        data = json.loads(p.read_text())
        files = data.get("code_files")
        if not files or data.get("code_hash") != code_hash(files, ROOT):
            continue
        data["code_hash"] = code_hash(files, mutants_dir)
        p.write_text(json.dumps(data, indent=1) + "\n")


def _excluded(rel: str) -> bool:
    """``[tool.mutmut] do_not_mutate`` matches ``rel`` (a stale .meta of such a file stays)."""
    import fnmatch
    import tomllib

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return any(fnmatch.fnmatch(rel, pat) for pat in cfg.get("do_not_mutate", []))


def mutant_names(root: Path = ROOT) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for meta in sorted((root / "mutants").rglob("*.py.meta")):
        rel = meta.relative_to(root / "mutants").as_posix()[: -len(".meta")]
        if _excluded(rel):
            continue
        data = json.loads(meta.read_text())
        out[rel] = sorted(data["exit_code_by_key"])
    return out


def exit_codes(root: Path = ROOT) -> dict[str, tuple[int | None, float | None]]:
    out: dict[str, tuple[int | None, float | None]] = {}
    for meta in (root / "mutants").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        durations = data.get("durations_by_key", {})
        for k, v in data["exit_code_by_key"].items():
            out[k] = (v, durations.get(k))
    return out


def diff_of(name: str, path: str, root: Path = ROOT) -> str:
    code = ("import sys\nfrom mutmut.mutation.diff_apply import get_diff_for_mutant\n"
            "print(get_diff_for_mutant(sys.argv[1], path=sys.argv[2]))\n")
    r = subprocess.run([sys.executable, "-c", code, name, path], cwd=root, text=True,
                       capture_output=True, env=run_env())
    if r.returncode != 0:
        raise RuntimeError(f"no diff for {name}: {r.stderr.strip()[-400:]}")
    return r.stdout.strip()


def draw_sample(names: dict[str, list[str]], core: int, other: int, seed: int) -> list[str]:
    core_files = {f for files in CORE_GROUPS.values() for f in files}
    rng = random.Random(seed)
    chosen: list[str] = []
    for path in sorted(names):
        k = core if path in core_files else other
        pool = names[path]
        chosen += sorted(rng.sample(pool, min(k, len(pool))))
    return chosen


def machine() -> dict:
    return {"cpus": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "load_at_start": os.getloadavg()[0]}


def mutmut_run(names: list[str], max_children: int) -> float:
    """``mutmut run`` on ``names`` (all when empty); returns the wall time."""
    cmd = [str(Path(sys.executable).parent / "mutmut"), "run", "--max-children",
           str(max_children), *names]
    log(f"mutmut run: {len(names) or 'all'} mutants, {max_children} children "
        "(one recorded run of the selection first when mutants/ has no stats)")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=run_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, bufsize=1)
    assert proc.stdout is not None
    last = 0.0
    buf = ""
    full = open(MUTANTS / "mutmut-run.log", "w")  # everything mutmut printed
    while True:
        ch = proc.stdout.read(256)
        if not ch:
            break
        full.write(ch)
        buf = (buf + ch)[-4000:]
        now = time.perf_counter()
        if now - last > 30:  # mutmut redraws one status line; show it every 30 s
            line = re.split(r"[\r\n]", buf.rstrip())[-1].strip()
            log(f"  [{now - t0:5.0f} s] {line[:160]}")
            last = now
    rc = proc.wait()
    full.close()
    if rc != 0:
        print(buf[-3000:])
        raise SystemExit(f"mutmut run failed with exit status {rc}; its whole output is in "
                         f"{MUTANTS / 'mutmut-run.log'}")
    return time.perf_counter() - t0


def record(names: list[str], wall_s: float, settings: dict, out: Path, commit: str) -> None:
    codes = exit_codes()
    generated = {p: len(v) for p, v in mutant_names().items()}
    rows = []
    for i, name in enumerate(names):
        code, dur = codes.get(name, (None, None))
        status = STATUS_BY_EXIT_CODE.get(code, "suspicious")
        row = {"name": name, "module": module_of(name), "status": status, "exit_code": code,
               "duration_s": dur}
        if status != "killed":
            row["diff"] = diff_of(name, row["module"])
        rows.append(row)
        if (i + 1) % 50 == 0:
            log(f"  recorded {i + 1}/{len(names)}")
    data = {"schema": 1, "tool": f"mutmut {mutmut_version()}", "settings": settings,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": commit, "wall_s": round(wall_s, 1), "machine": machine(),
            "generated": generated, "mutants": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1) + "\n")
    log(f"wrote {out.relative_to(ROOT)}")


def git_head() -> str:
    """The commit the mutants are made from (``+dirty`` when the sources differ from it)."""
    r = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                       capture_output=True)
    d = subprocess.run(["git", "status", "--porcelain", "--", "derivations", "numerics",
                        "tests", "proofs_check"], cwd=ROOT, text=True, capture_output=True)
    return (r.stdout.strip() or "unknown") + ("+dirty" if d.stdout.strip() else "")


def cmd_sample(args: argparse.Namespace) -> int:
    commit = git_head()
    names = generate()
    chosen = draw_sample(names, args.core, args.other, args.seed)
    log(f"sample: {len(chosen)} mutants (core {args.core}/module, other {args.other}/module, "
        f"seed {args.seed})")
    wall = mutmut_run(chosen, args.max_children)
    record(chosen, wall, {"core": args.core, "other": args.other, "seed": args.seed,
                          "max_children": args.max_children}, SAMPLE, commit)
    return 0


def cmd_full(args: argparse.Namespace) -> int:
    commit = git_head()
    names = generate()
    allnames = sorted(n for v in names.values() for n in v)
    wall = mutmut_run([], args.max_children)
    record(allnames, wall, {"max_children": args.max_children}, FULL, commit)
    return 0


def cmd_rerun(args: argparse.Namespace) -> int:
    """Re-run survivors: a mutant that ``survivors.toml`` says is killed runs against that
    test (it must fail under the mutant and pass on the clean code); any other runs its
    module's test files again, as in the sampled run."""
    from numerics.mutation_report import load_explanations

    data = json.loads(SAMPLE.read_text())
    expl = load_explanations()
    names = args.names or [m["name"] for m in data["mutants"]
                           if m["status"] in ("survived", "no tests", "suspicious")]
    if not names:
        log("nothing to rerun")
        return 0
    generate()
    by_name = {m["name"]: m for m in data["mutants"]}
    t0 = time.perf_counter()

    def one(n: str) -> tuple[str, dict]:
        mod = module_of(n)
        named = expl.get(n, {}).get("test")
        tests = [named] if named else test_files_for(mod)
        t = time.perf_counter()
        rc, out = _pytest(MUTANTS, tests, n, args.cap, () if named else SELECTION) \
            if tests else (5, "")
        failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.M)
        status = ("killed" if rc in (1, 2, 3) else "survived" if rc == 0 else
                  "no tests" if rc == 5 else "not checked" if rc == 124 else "suspicious")
        killer = named or (failed[0] if failed else None)
        if status == "killed" and (not killer or _pytest(MUTANTS, [killer], "", 600)[0] != 0):
            status = "not checked"  # the killing test fails on the clean code too
        return n, {"status": status, "exit_code": rc, "killed_by": killer,
                   "diff": diff_of(n, mod), "commit": git_head(),
                   "duration_s": round(time.perf_counter() - t, 1),
                   "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}

    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for i, (n, rec) in enumerate(pool.map(one, names), 1):
            by_name[n]["rerun"] = rec
            log(f"  {i:3d}/{len(names)} {rec['status']:11s} {n} ({rec['killed_by']})")
    data.setdefault("reruns", []).append({"mutants": len(names), "commit": git_head(),
                                          "wall_s": round(time.perf_counter() - t0, 1)})
    SAMPLE.write_text(json.dumps(data, indent=1) + "\n")
    log(f"rerun of {len(names)} mutants recorded in {SAMPLE.relative_to(ROOT)}")
    return 0


# ---------------------------------------------------------------------------------------------
# quick: mutmut's mutants, a per-module test map instead of mutmut's recorded run

SELECTION = ("-m", "not browser and (claim or not slow)")


def test_files_for(module: str, root: Path = ROOT) -> list[str]:
    """The test files of the default selection that import ``module`` (a path such as
    ``numerics/krr.py``) by name -- ``numerics.krr`` or ``from numerics import krr`` --
    tests/ first (unit tests), then the claim checks, each group smallest file first."""
    dotted = module[:-3].replace("/", ".")
    pkg, _, leaf = dotted.rpartition(".")
    pat = re.compile(rf"\b{re.escape(dotted)}\b|from {re.escape(pkg)} import[^\n]*\b{leaf}\b")
    out = []
    for folder in ("tests", "proofs_check"):
        files = [f for f in (root / folder).glob("test_*.py")
                 if f.name != "test_mutation_report.py" and pat.search(f.read_text())]
        out += [f.relative_to(root).as_posix() for f in sorted(files,
                                                                key=lambda f: f.stat().st_size)]
    return out


def cmd_quick(args: argparse.Namespace) -> int:
    commit = git_head()
    names = generate()
    chosen = draw_sample(names, args.core, args.other, args.seed)
    files = {m: test_files_for(m) for m in {module_of(n) for n in chosen}}
    log(f"quick sample: {len(chosen)} mutants (core {args.core}/module, other "
        f"{args.other}/module, seed {args.seed}), {args.jobs} at a time, at most "
        f"{args.cap:.0f} s each")
    t0 = time.perf_counter()

    def one(name: str) -> tuple[str, int, str, float]:
        t = time.perf_counter()
        tests = files[module_of(name)]
        if not tests:
            return name, 5, "", 0.0
        rc, out = _pytest(MUTANTS, tests, name, args.cap, SELECTION)
        return name, rc, out, time.perf_counter() - t

    rows = []
    with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for i, (name, rc, out, dur) in enumerate(pool.map(one, chosen), 1):
            failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.M)
            # exit 4 with a conftest import error: the mutant breaks the test run before
            # any test starts (e.g. a kernel registry that no longer loads): detected
            conftest = rc == 4 and "while loading conftest" in out
            status = ("killed" if rc in (1, 2, 3) or conftest else "survived" if rc == 0 else
                      "no tests" if rc == 5 else "not checked" if rc == 124 else "suspicious")
            row = {"name": name, "module": module_of(name), "status": status, "exit_code": rc,
                   "duration_s": round(dur, 1),
                   "killed_by": "conftest.py" if conftest else (failed[0] if failed else None)}
            if status == "suspicious":
                row["output_tail"] = out[-1500:]
            if status != "killed":
                row["diff"] = diff_of(name, row["module"])
            rows.append(row)
            log(f"  {i:3d}/{len(chosen)} {status:11s} {dur:5.0f} s {name}")
    # a kill counts only if the killing test passes on the clean code
    killers = sorted({r["killed_by"] for r in rows if r["status"] == "killed" and r["killed_by"]}
                     - {"conftest.py"})
    bad: set[str] = set()
    for k in range(0, len(killers), 40):
        chunk = killers[k:k + 40]
        rc, out = _pytest(MUTANTS, chunk, "", 60 * len(chunk))
        if rc != 0:
            bad |= {t for t in chunk if _pytest(MUTANTS, [t], "", 600)[0] != 0}
    if _pytest(MUTANTS, ["--collect-only", "tests/test_layout.py"], "", 600)[0] != 0:
        bad.add("conftest.py")  # the clean code must load the conftest
    for r in rows:
        if r["status"] == "killed" and (r["killed_by"] in bad or not r["killed_by"]):
            r["status"], r["note"] = "not checked", "its failing test fails on the clean code too"
            r["diff"] = diff_of(r["name"], r["module"])
    log(f"clean re-run of {len(killers)} killing tests: {len(bad)} fail on the clean code")
    wall = time.perf_counter() - t0
    data = {"schema": 1, "tool": f"mutmut {mutmut_version()} (mutants; quick runner)",
            "settings": {"core": args.core, "other": args.other, "seed": args.seed,
                         "max_children": args.jobs, "runner": "quick", "cap_s": args.cap,
                         "selection": list(SELECTION)},
            "test_files": files,
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": commit, "wall_s": round(wall, 1), "machine": machine(),
            "generated": {p: len(v) for p, v in names.items()}, "mutants": rows}
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_text(json.dumps(data, indent=1) + "\n")
    log(f"wrote {SAMPLE.relative_to(ROOT)} in {wall / 60:.0f} min")
    return 0


def cmd_record_log(args: argparse.Namespace) -> int:
    """Record a quick run that was stopped before its end from its progress log: the mutants
    it finished (status, time) and the rest as "not checked".  Without the end of the run
    there is no killing test per mutant and no clean re-run of the killing tests."""
    text = Path(args.log).read_text()
    m = re.search(r"quick sample: (\d+) mutants \(core (\d+)/module, other (\d+)/module, "
                  r"seed (\d+)\), (\d+) at a time, at most (\d+) s", text)
    if not m:
        raise SystemExit(f"{args.log}: not a quick-run log")
    core, other, seed, jobs, cap = (int(v) for v in m.groups()[1:])
    done = {g[2]: (g[0], float(g[1])) for g in re.findall(
        r"^\[mutation [\d:]+\]\s+\d+/\d+ (killed|survived|no tests|not checked|suspicious)"
        r"\s+(\d+) s (\S+)$", text, flags=re.M)}
    names = mutant_names()
    chosen = draw_sample(names, core, other, seed)
    rows = []
    for name in chosen:
        status, dur = done.get(name, ("not checked", None))
        row = {"name": name, "module": module_of(name), "status": status, "duration_s": dur,
               "killed_by": None}
        if name not in done:
            row["note"] = "the run was stopped before this mutant"
        if status != "killed":
            row["diff"] = diff_of(name, row["module"])
        rows.append(row)
    data = {"schema": 1, "tool": f"mutmut {mutmut_version()} (mutants; quick runner)",
            "settings": {"core": core, "other": other, "seed": seed, "max_children": jobs,
                         "runner": "quick", "cap_s": float(cap),
                         "selection": list(SELECTION), "stopped": True,
                         "finished": len(done)},
            "test_files": {mod: test_files_for(mod) for mod in {r["module"] for r in rows}},
            "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": args.commit, "wall_s": float(args.wall_s), "machine": machine(),
            "generated": {p: len(v) for p, v in names.items()}, "mutants": rows}
    SAMPLE.parent.mkdir(parents=True, exist_ok=True)
    SAMPLE.write_text(json.dumps(data, indent=1) + "\n")
    log(f"wrote {SAMPLE.relative_to(ROOT)}: {len(done)} of {len(chosen)} mutants finished")
    return 0


# ---------------------------------------------------------------------------------------------
# smoke


def _pytest(cwd: Path, tests: list[str], mutant: str, timeout: float,
            extra: tuple[str, ...] = ()) -> tuple[int, str]:
    env = run_env()
    env["MUTANT_UNDER_TEST"] = mutant
    env["PYTHONPATH"] = str(cwd)
    env["POISONCURV_SYMPY_CACHE"] = str(cwd / ".symcache")
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p",
           "no:xdist", "--claim-progress=off", "-rf", "--rootdir=.", *extra, *tests]
    try:
        r = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return 124, "timed out"
    return r.returncode, r.stdout + r.stderr


def _workspace(files: set[str]) -> Path:
    """A temporary copy of the repository with mutants/ generated for ``files`` only."""
    ws = Path(tempfile.mkdtemp(prefix="poisoncurv-smoke-"))
    for item in ("derivations", "numerics", "tests", "proofs_check", "conftest.py",
                 "pyproject.toml", "book", "results", "scripts", "README.md"):
        src = ROOT / item
        if src.is_dir():
            shutil.copytree(src, ws / item, ignore=shutil.ignore_patterns("__pycache__",
                                                                             "_build"))
        elif src.exists():
            shutil.copy2(src, ws / item)
    code = ("import sys, os\nfrom pathlib import Path\n"
            "from mutmut.__main__ import create_mutants_for_file\n"
            "from mutmut.utils.file_utils import copy_src_dir, copy_also_copy_files\n"
            "os.makedirs('mutants', exist_ok=True); copy_src_dir(); copy_also_copy_files()\n"
            "for f in sys.argv[1:]:\n"
            "    r = create_mutants_for_file(Path(f), Path('mutants') / f)\n"
            "    assert r.error is None, r.error\n")
    subprocess.run([sys.executable, "-c", code, *sorted(files)], cwd=ws, check=True,
                   env=run_env(), stdout=subprocess.DEVNULL)
    write_sitecustomize(ws / "mutants")
    shutil.copytree(ws / "results", ws / "mutants" / "results", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("cache"))
    rebase_summaries(ws / "mutants")
    return ws


def cmd_smoke(args: argparse.Namespace) -> int:
    spec = json.loads(SMOKE.read_text())
    mutants = spec["mutants"]
    t0 = time.perf_counter()
    files = {m["module"] for m in mutants}
    log(f"smoke: {len(mutants)} fixed mutants in {len(files)} files; generating their mutants")
    ws = _workspace(files)
    try:
        stale = [m["name"] for m in mutants if diff_of(m["name"], m["module"], ws) != m["diff"]]
        if stale:
            log(f"STALE smoke list (the code changed under these mutants): {stale}; rebuild "
                "it with `python scripts/mutation.py smoke-select`")
            return 1
        tests = sorted({t for m in mutants for t in m["tests"]})
        rc, out = _pytest(ws / "mutants", tests, "", args.timeout * 4)
        if rc != 0:
            print(out[-4000:])
            log("the smoke's tests fail on the clean code: the smoke means nothing; fix them")
            return 1
        log(f"clean code: {len(tests)} tests pass")
        survivors = []

        def one(m: dict) -> tuple[dict, int, str]:
            rc, out = _pytest(ws / "mutants", m["tests"], m["name"], args.timeout)
            return m, rc, out

        with cf.ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for i, (m, rc, out) in enumerate(pool.map(one, mutants), 1):
                verdict = "killed" if rc in (1, 2) else ("SURVIVED" if rc == 0 else f"rc={rc}")
                log(f"  {i:2d}/{len(mutants)} {verdict:8s} {m['name']}")
                if rc not in (1, 2):
                    survivors.append((m, rc, out))
        for m, rc, out in survivors:
            print(f"--- {m['name']} (pytest exit {rc}) ---\n{m['diff']}\n{out[-1500:]}")
        log(f"smoke: {len(mutants) - len(survivors)}/{len(mutants)} killed in "
            f"{time.perf_counter() - t0:.0f} s")
        return 1 if survivors else 0
    finally:
        shutil.rmtree(ws, ignore_errors=True)


def cmd_smoke_select(args: argparse.Namespace) -> int:
    """``--count`` mutants the sample killed, spread over the modules (seeded), preferring
    quick kills, each with the test that killed it; each is re-checked here (killed by that
    test alone) before it is listed.  ``--keep``: the current list's mutants whose code is
    unchanged come first, and only the rest are searched for."""
    data = json.loads(SAMPLE.read_text())
    out: list[dict] = []
    generate()
    if args.keep and SMOKE.is_file():  # the current list first, where the code is unchanged
        for m in json.loads(SMOKE.read_text())["mutants"]:
            if diff_of(m["name"], m["module"]) == m["diff"]:
                out.append(m)
            else:
                log(f"  drop {m['name']}: the code changed under it")
        log(f"  kept {len(out)} mutants of the current list")
    chosen = {m["name"] for m in out}
    # first the survivors a new test kills (confirmed by a rerun; their test is known), then
    # the mutants the sampled run killed
    later = [dict(m, killed_by=m["rerun"]["killed_by"], duration_s=0.0)
             for m in data["mutants"] if m["status"] != "killed"
             and m.get("rerun", {}).get("status") == "killed" and m["rerun"].get("killed_by")
             and m["rerun"].get("diff") == m.get("diff") and m["name"] not in chosen]
    for m in later[: max(args.count - len(out), 0)]:
        out.append({"name": m["name"], "module": m["module"],
                    "diff": diff_of(m["name"], m["module"]), "tests": [m["killed_by"]]})
        log(f"  {len(out):2d} {m['name']}: killed by {m['killed_by']} (rerun)")
    killed = [m for m in data["mutants"] if m["status"] == "killed"
              and m.get("killed_by") != "conftest.py" and m["name"] not in chosen]
    t0 = time.perf_counter()
    by_module: dict[str, list[dict]] = {}
    for m in sorted(killed, key=lambda m: (m["duration_s"] or 0.0, m["name"])):
        by_module.setdefault(m["module"], []).append(m)
    rng = random.Random(args.seed)
    order = sorted(by_module)
    rng.shuffle(order)
    while len(out) < args.count and any(by_module.values()):
        for mod in order:
            if time.perf_counter() - t0 > args.budget:
                log(f"  time budget of {args.budget:.0f} s spent")
                by_module = {}
                break
            if not by_module[mod] or len(out) >= args.count:
                continue
            m = by_module[mod].pop(0)  # the quickest kill left in this module
            test = m.get("killed_by")
            if not test:  # a run recorded from its log: find the first failing test
                rc, text = _pytest(MUTANTS, test_files_for(m["module"]), m["name"],
                                   args.timeout, SELECTION)
                failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, flags=re.M)
                if not failed:
                    log(f"  skip {m['name']}: no failing test found (rc={rc})")
                    continue
                test = failed[0]
            rc, _ = _pytest(MUTANTS, [test], m["name"], args.timeout)
            if rc not in (1, 2):
                log(f"  skip {m['name']}: {test} alone does not kill it (rc={rc})")
                continue
            out.append({"name": m["name"], "module": m["module"],
                        "diff": diff_of(m["name"], m["module"]), "tests": [test]})
            log(f"  {len(out):2d} {m['name']}: killed by {test}")
    SMOKE.write_text(json.dumps({"schema": 1, "seed": args.seed, "from": "sample.json",
                                 "mutants": out[: args.count]}, indent=1) + "\n")
    log(f"wrote {SMOKE.relative_to(ROOT)} ({len(out)} mutants)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample", help="stratified sample of mutants (the default job)")
    s.add_argument("--core", type=int, default=25, help="mutants per core module")
    s.add_argument("--other", type=int, default=3, help="mutants per other module")
    s.add_argument("--seed", type=int, default=15)
    s.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    f = sub.add_parser("full", help="every mutant (many cores)")
    f.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    r = sub.add_parser("rerun", help="re-run named mutants (default: the sample's survivors)")
    r.add_argument("names", nargs="*")
    r.add_argument("--cap", type=float, default=240.0, help="seconds per mutant")
    r.add_argument("--jobs", type=int, default=2)
    k = sub.add_parser("quick", help="sample run with a per-module test map (no recorded run)")
    k.add_argument("--core", type=int, default=15, help="mutants per core module")
    k.add_argument("--other", type=int, default=1, help="mutants per other module")
    k.add_argument("--seed", type=int, default=15)
    k.add_argument("--jobs", type=int, default=2)
    k.add_argument("--cap", type=float, default=240.0, help="seconds per mutant")
    g = sub.add_parser("record-log", help="record a stopped quick run from its log")
    g.add_argument("log")
    g.add_argument("--commit", required=True, help="the commit the run's mutants came from")
    g.add_argument("--wall-s", required=True, help="wall time of the run (s)")
    m = sub.add_parser("smoke", help="CI smoke: the fixed mutants must all be killed")
    m.add_argument("--jobs", type=int, default=2)
    m.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    q = sub.add_parser("smoke-select", help="rebuild results/mutation/smoke.json")
    q.add_argument("--count", type=int, default=30)
    q.add_argument("--budget", type=float, default=1800.0, help="seconds for the search")
    q.add_argument("--seed", type=int, default=15)
    q.add_argument("--timeout", type=float, default=300.0)
    q.add_argument("--keep", action="store_true",
                   help="keep the current list (where its code is unchanged) and add to it")
    args = p.parse_args(argv)
    return {"sample": cmd_sample, "full": cmd_full, "quick": cmd_quick, "rerun": cmd_rerun,
            "record-log": cmd_record_log,
            "smoke": cmd_smoke, "smoke-select": cmd_smoke_select}[args.cmd](args)


if __name__ == "__main__":
    raise SystemExit(main())
