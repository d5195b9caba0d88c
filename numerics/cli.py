"""The command line of poisoncurv: ``poisoncurv <command>`` (or ``python -m numerics.cli``).

Commands
    ``status``   the claims table of the published claim report (``reports/claims.json``):
                 verdict, scope of the symbolic proofs, kernels covered, and the run, commit
                 and age it comes from;
    ``check``    run one or more claims' checks (``pytest proofs_check --claim ID``, optionally
                 ``-k KERNEL``) and print their verdicts computed from *that* run's report;
    ``kernels``  the registered kernels: family, parameters (defaults, declared ranges) and
                 near-clone class (:func:`numerics.api.classify_near_clone`);
    ``spike``    :func:`numerics.api.shift_and_spike` on your own data (``.npz`` or ``.csv``);
    ``book``     build the book (``scripts/build_book.sh``) and print where to open it.

Verdict strings come from :mod:`numerics.claim_report`; nothing is re-typed here.  Progress
messages go to standard error (so ``--json`` output on standard output stays parseable).
Exit codes: 0 success; 2 bad command line, bad data file or no usable report; ``check`` and
``book`` return the exit code of pytest / the book build.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "main",
    "CliUsageError",
    "DataFileError",
    "DataFileNotFoundError",
    "UnsupportedDataFormatError",
    "MissingArrayError",
    "NonNumericDataError",
    "DimensionMismatchError",
    "UserData",
    "load_data_file",
    "REPO_ROOT",
    "BOOK_SCRIPT",
    "BOOK_INDEX",
]

#: the checkout the commands act on (``check`` and ``book`` need its proofs_check/, scripts/)
REPO_ROOT = Path(__file__).resolve().parent.parent
#: the strict book build run by ``poisoncurv book``
BOOK_SCRIPT = REPO_ROOT / "scripts" / "build_book.sh"
#: the page ``poisoncurv book`` points to
BOOK_INDEX = REPO_ROOT / "book" / "_build" / "html" / "index.html"

PROFILES = ("ci", "dev", "thorough")


# ----------------------------------------------------------------------------- errors
class CliUsageError(ValueError):
    """A command-line value that cannot be used (unknown claim id or kernel, bad ``--param``,
    row index out of range); the message names the option and the valid values."""


class DataFileError(ValueError):
    """A data file given to ``poisoncurv spike`` cannot be used (base class)."""


class DataFileNotFoundError(DataFileError):
    """The data file does not exist (or is not a file)."""


class UnsupportedDataFormatError(DataFileError):
    """The file is not a readable ``.npz`` or ``.csv`` file."""


class MissingArrayError(DataFileError):
    """A ``.npz`` file lacks a required array (``X``, ``y``)."""


class NonNumericDataError(DataFileError):
    """A ``.csv`` column or a ``.npz`` array holds something other than real numbers."""


class DimensionMismatchError(DataFileError):
    """Arrays whose sizes do not fit together (``X`` vs ``y`` rows, ``zeta``/``x0`` vs ``d``)."""


def _progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _stream(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Run ``cmd`` with its output going straight to the terminal; return its exit code.

    On Ctrl-C the child (which receives the interrupt too) is left to stop cleanly -- pytest
    then writes its run report; a second Ctrl-C kills it."""
    sys.stdout.flush()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env)
    try:
        return proc.wait()
    except KeyboardInterrupt:
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.kill()
            proc.wait()
            raise


# ----------------------------------------------------------------------------- status
def _age(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def _generated_unix(generated: str) -> float | None:
    """Seconds since the epoch of a report's ``generated`` stamp (UTC), or ``None``."""
    import calendar

    for fmt in ("%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S"):
        try:
            return float(calendar.timegm(time.strptime(generated, fmt)))
        except (TypeError, ValueError):
            continue
    return None


def _report_dict(report: Any) -> dict[str, Any]:
    gen = _generated_unix(report.generated)
    return {"path": str(report.path), "state": report.state, "problems": list(report.problems),
            "run_id": report.run_id, "generated": report.generated,
            "age_s": None if gen is None else round(time.time() - gen, 1),
            "commit": report.commit, "dirty": report.dirty, "complete": report.complete,
            "hypothesis_profile": report.hypothesis_profile, "args": list(report.args),
            "exitstatus": report.exitstatus}


def _verdict_dict(v: Any) -> dict[str, Any]:
    from derivations.claims import claim_by_id

    cl = claim_by_id(v.claim)
    return {"id": v.claim, "title": cl.title, "kind": cl.kind, "verdict": v.label,
            "key": v.key, "scopes": list(v.scopes), "kernels": list(v.kernels),
            "checks": dict(v.totals()), "failures": list(v.failures),
            "missing": list(v.missing), "refutations": [dict(r) for r in v.refutations]}


def _run_header(report: Any) -> list[str]:
    lines = []
    kind = "complete run" if report.complete else "partial run"
    lines.append(f"claim report: {report.path} ({kind}; {report.state})")
    gen = _generated_unix(report.generated)
    bits = [f"run {report.run_id}"]
    if report.commit:
        bits.append(f"commit {report.commit[:10]}" + (" + uncommitted changes"
                                                       if report.dirty else ""))
    if report.generated:
        bits.append(f"written {report.generated}"
                    + (f" ({_age(time.time() - gen)} ago)" if gen is not None else ""))
    if report.hypothesis_profile:
        bits.append(f"Hypothesis profile {report.hypothesis_profile}")
    lines.append(", ".join(bits))
    for p in report.problems:
        lines.append(f"warning: {p}".replace("`", ""))
    return lines


def _table(rows: list[list[str]], header: list[str], width: int | None = None) -> list[str]:
    """Fixed-width columns; with ``width``, the last column is cut (``...``) to fit it."""
    widths = [max(len(r[j]) for r in [header, *rows]) for j in range(len(header))]
    if width is not None:
        room = width - sum(widths[:-1]) - 2 * (len(widths) - 1)
        widths[-1] = max(min(widths[-1], room), len(header[-1]), 16)

    def cut(text: str, w: int) -> str:
        return text if len(text) <= w else text[: w - 3] + "..."

    out = []
    for r in [header, ["-" * w for w in widths], *rows]:
        out.append("  ".join(cut(c, w).ljust(w) for c, w in zip(r, widths, strict=True))
                   .rstrip())
    return out


def _kernels_text(kernels: Sequence[str]) -> str:
    """``all 11 built-in`` (+ others) when every built-in kernel is covered, else the names."""
    from derivations.kernels import BUILTIN_NAMES

    if not kernels:
        return "-"
    if set(BUILTIN_NAMES) <= set(kernels):
        others = [k for k in kernels if k not in BUILTIN_NAMES]
        return f"all {len(BUILTIN_NAMES)} built-in" + (f" + {', '.join(others)}"
                                                       if others else "")
    return ", ".join(kernels)


def cmd_status(args: argparse.Namespace) -> int:
    from collections import Counter

    from numerics.claim_report import VERDICTS, all_verdicts, load_report

    report = load_report(args.report)
    if not report.usable:
        for p in report.problems:
            print(f"poisoncurv status: {p}".replace("`", ""), file=sys.stderr)
        print("make one with a complete run of the claim checks: `bash scripts/run_all.sh`, "
              "`bash scripts/run_tests.sh` or `python -m pytest proofs_check` "
              "(`poisoncurv check` runs a selection, which is never published)",
              file=sys.stderr)
        return 2
    verdicts = all_verdicts(report)
    if args.json:
        print(json.dumps({"report": _report_dict(report),
                          "claims": [_verdict_dict(v) for v in verdicts.values()]}, indent=1))
        return 0
    for line in _run_header(report):
        print(line)
    print()
    if args.full:
        for v in verdicts.values():
            print(f"{v.claim:4s} {v.label}")
            print(f"     scope of the symbolic proofs: {'; '.join(v.scopes) or '-'}")
            print(f"     kernels covered: {', '.join(v.kernels) or '-'}")
    else:
        import shutil

        rows = [[v.claim, v.label, _kernels_text(v.kernels), "; ".join(v.scopes) or "-"]
                for v in verdicts.values()]
        # on a terminal the scope column is cut to its width; piped output is whole
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        lines = _table(rows, ["Id", "Verdict", "Kernels covered", "Scope"], width)
        for line in lines:
            print(line)
        if any(line.endswith("...") for line in lines):
            print("(scopes cut to the terminal width: --full shows them whole)")
    tally = Counter(v.key for v in verdicts.values())
    print()
    print("summary: " + "; ".join(f"{VERDICTS[k]}: {tally[k]}" for k in VERDICTS
                                  if tally.get(k)))
    return 0


# ----------------------------------------------------------------------------- check
def _claim_ids(values: Sequence[str]) -> list[str]:
    from derivations.claims import CLAIMS

    valid = [cl.id for cl in CLAIMS]
    ids = [p.strip().upper() for v in values for p in v.split(",") if p.strip()]
    bad = [i for i in ids if i not in valid]
    if bad or not ids:
        raise CliUsageError(f"unknown claim id {', '.join(map(repr, bad)) or repr('')}; "
                            f"valid ids: {', '.join(valid)}")
    return list(dict.fromkeys(ids))


def _kernel_names(values: Sequence[str], option: str = "--kernel") -> list[str]:
    """``values`` checked against the registry, with the user kernels of
    ``POISONCURV_KERNELS`` / ``[tool.poisoncurv]`` / entry points loaded first (the claim
    checks see the same kernels: the test configuration loads them the same way)."""
    from derivations.kernels import REGISTRY
    from numerics.registration import load_user_kernels

    load_user_kernels()
    valid = list(REGISTRY)
    bad = [k for k in values if k not in valid]
    if bad:
        raise CliUsageError(f"{option}: unknown kernel {', '.join(map(repr, bad))}; valid "
                            f"kernels: {', '.join(valid)}")
    return list(dict.fromkeys(values))


def _needs_checkout(what: str, path: Path) -> None:
    if not path.exists():
        raise CliUsageError(f"{what} needs a source checkout of poisoncurv: {path} not found "
                            f"(the package is installed from {REPO_ROOT})")


def _check_lines(v: Any, limit: int = 5) -> list[str]:
    from derivations.claims import ROLES

    lines = []
    roles = "; ".join(f"{r}: {v.counts_text(r)}" for r in ROLES if r in v.counts)
    lines.append(f"  checks by role: {roles or 'none ran'}")
    if v.kernels:
        lines.append(f"  kernels asserted: {', '.join(v.kernels)}")
    for ref in v.refutations[:limit]:
        nums = ", ".join(f"{k} = {val:.6g}" if isinstance(val, float) else f"{k} = {val}"
                         for k, val in (ref.get("numbers") or {}).items())
        who = f" [{ref['kernel']}]" if ref.get("kernel") else ""
        lines.append(f"  refuted as stated{who}: {ref.get('what', '')}"
                     + (f" ({nums})" if nums else ""))
    if len(v.refutations) > limit:
        lines.append(f"  ... and {len(v.refutations) - limit} more refutations")
    totals = v.totals()
    absent = ", ".join(f"{totals[st]} {st.replace('_', ' ')}"
                       for st in ("deselected", "not_run", "not_collected") if totals.get(st))
    if absent:
        lines.append(f"  not run in this run: {absent}")
    required = [m for m in v.missing if m.startswith("required role")]
    for what, items in (("failing", v.failures), ("missing", required),
                        ("skipped", v.skip_reasons)):
        for x in items[:limit]:
            lines.append(f"  {what}: {x}".replace("`", ""))
        if len(items) > limit:
            lines.append(f"  ... and {len(items) - limit} more {what}")
    return lines


def cmd_check(args: argparse.Namespace, extra: list[str]) -> int:
    from numerics.claim_report import claim_verdict, kernel_cells, load_report, runs_path

    ids = _claim_ids(args.claims)
    kernels = _kernel_names(args.kernel or [])
    if kernels and any(a == "-k" or a.startswith("-k") and not a.startswith("--")
                       for a in extra):
        raise CliUsageError("give either --kernel or a pytest -k expression after --, not both")
    if args.n is not None and args.n < 0:
        raise CliUsageError(f"-n: the number of workers must be >= 0, got {args.n}")
    _needs_checkout("poisoncurv check", REPO_ROOT / "proofs_check")
    run_id = time.strftime("cli-%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    cmd = [sys.executable, "-m", "pytest", "proofs_check", "--claim", ",".join(ids)]
    if kernels:
        cmd += ["-k", " or ".join(kernels)]
    if args.n is not None:
        cmd += ["-n", str(args.n)]
    cmd += extra
    env = dict(os.environ, CLAIMS_RUN_ID=run_id)
    if args.profile:
        env["HYPOTHESIS_PROFILE"] = args.profile
    shown = " ".join(c if re.fullmatch(r"[\w.,/=:+-]+", c) else repr(c) for c in cmd[1:])
    _progress(f"running the checks of {', '.join(ids)}: python {shown} (Hypothesis profile "
              f"{env.get('HYPOTHESIS_PROFILE') or 'default'}) ...")
    rc = _stream(cmd, REPO_ROOT, env)
    run_file = runs_path() / f"{run_id}.json"
    print()
    if not run_file.is_file():
        print(f"no run report was written ({run_file}): pytest exited with {rc} before "
              "recording any claim check", file=sys.stderr)
        return rc or 1
    report = load_report(run_file)
    if not report.usable:
        print("the run report cannot be read: " + "; ".join(report.problems), file=sys.stderr)
        return rc or 1
    kind = ("a complete run, published as the claim report" if report.complete else
            "a partial run: not published; a verdict from it is never stronger than the "
            "complete run's")
    print(f"verdicts from run {report.run_id} ({_display(run_file)}; {kind}):")
    cells = kernel_cells(report, kernels=kernels) if kernels else {}
    for cid in ids:
        v = claim_verdict(cid, report.items)
        print(f"{cid}: {v.label}")
        for line in _check_lines(v):
            print(line)
        for k in kernels:
            print(f"  {cid} for kernel {k}: {cells[cid][k].replace('_', ' ')}")
    return rc


def _display(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(p)


# ----------------------------------------------------------------------------- kernels
def _param_text(p: Any) -> str:
    cons = []
    if p.bounds is not None:
        lo, hi = p.bounds
        cons.append(f"range [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
    if p.integer:
        cons.append("integer")
    if p.positive:
        cons.append("> 0")
    elif p.nonnegative:
        cons.append(">= 0")
    doc = f"{p.doc}; " if p.doc else ""
    return f"{p.name} = {p.default} ({doc}{', '.join(cons) or 'real'})"


def _near_clone_dict(nc: Any, seconds: float) -> dict[str, Any]:
    limit = ({str(k): str(v) for k, v in nc.limit.items()} if isinstance(nc.limit, dict)
             else str(nc.limit))
    return {"verdict": nc.verdict, "order": nc.order, "differentiable": nc.differentiable,
            "limit": limit, "reason": nc.reason, "seconds": round(seconds, 3)}


#: ``.py`` files imported with ``--import`` in this process (each is run once, as a module)
_IMPORTED_FILES: set[Path] = set()


def _import_user_modules(names: Sequence[str] | None) -> None:
    """Import the modules (dotted names or ``.py`` files) given with ``--import``: user code
    that registers its own kernels (:func:`numerics.registration.register_kernel`).  Like
    ``import``, each is run once per process."""
    import importlib
    import importlib.util

    for name in names or ():
        _progress(f"importing {name} ...")
        try:
            if name.endswith(".py"):
                path = Path(name)
                if not path.is_file():
                    raise CliUsageError(f"--import {name}: no such file")
                if path.resolve() in _IMPORTED_FILES:
                    continue
                spec = importlib.util.spec_from_file_location(
                    f"poisoncurv_user_{path.stem}", path)
                if spec is None or spec.loader is None:
                    raise CliUsageError(f"--import {name}: cannot be imported")
                module = importlib.util.module_from_spec(spec)
                spec.loader.exec_module(module)
                _IMPORTED_FILES.add(path.resolve())
            else:
                importlib.import_module(name)
        except CliUsageError:
            raise
        except ModuleNotFoundError as exc:
            raise CliUsageError(f"--import {name}: {exc}") from None
        except Exception as exc:  # the user's module failed (e.g. a kernel that is not PSD)
            raise CliUsageError(f"--import {name} failed: {type(exc).__name__}: {exc}"
                                ) from None


def cmd_kernels(args: argparse.Namespace) -> int:
    from numerics.api import classify_near_clone, list_kernels

    _import_user_modules(args.imports)
    infos = list_kernels()
    if args.names:
        _kernel_names(args.names, "kernels")  # unknown: a usage error
        infos = [k for k in infos if k.name in set(args.names)]
    out = []
    if not args.no_classify:
        _progress(f"classifying {len(infos)} kernels for near-clone triggers (SymPy limits: "
                  "under 5 s per kernel, about 30 s for ntk_relu; --no-classify skips them) ...")
    for i, k in enumerate(infos, 1):
        entry: dict[str, Any] = {
            "name": k.name, "family": k.family, "title": k.title,
            "params": [{"name": p.name, "default": p.default,
                        "bounds": None if p.bounds is None else list(p.bounds),
                        "positive": p.positive, "nonnegative": p.nonnegative,
                        "integer": p.integer, "doc": p.doc} for p in k.params]}
        if not args.no_classify:
            _progress(f"[{i}/{len(infos)}] {k.name} ...")
            t0 = time.perf_counter()
            nc = classify_near_clone(k.name)
            entry["near_clone"] = _near_clone_dict(nc, time.perf_counter() - t0)
        out.append(entry)
        if not args.json:
            print(f"{k.name}  ({k.family}) {k.title}")
            params = "; ".join(_param_text(p) for p in k.params) or "none"
            print(f"  parameters: {params}")
            if "near_clone" in entry:
                nc_d = entry["near_clone"]
                order = (f", R_k ~ r^{nc_d['order']}" if nc_d["verdict"] == "invisible"
                         else "")
                print(f"  near clone: {nc_d['verdict']}{order} -- {nc_d['reason']} "
                      f"[{nc_d['seconds']:.2f} s]")
            sys.stdout.flush()
    if args.json:
        print(json.dumps(out, indent=1))
    return 0


# ----------------------------------------------------------------------------- spike data
class UserData:
    """Arrays read from a user's data file: ``X`` ``(n, d)``, ``y`` ``(n,)`` or ``(n, o)``,
    optional ``zeta`` and ``x0`` ``(d,)``, and a description of where they came from."""

    def __init__(self, X: Any, y: Any, zeta: Any = None, x0: Any = None,
                 source: str = "") -> None:
        self.X, self.y, self.zeta, self.x0, self.source = X, y, zeta, x0, source


def _numeric_array(a: Any, name: str, path: Path) -> Any:
    import numpy as np

    if a.dtype.kind not in "biuf":
        raise NonNumericDataError(f"{path}: array {name!r} has dtype {a.dtype} (real numbers "
                                  "are needed)")
    a = a.astype(np.float64)
    if not np.all(np.isfinite(a)):
        raise NonNumericDataError(f"{path}: array {name!r} holds NaN or infinite values")
    return a


def _load_npz(path: Path) -> UserData:
    import numpy as np

    if not zipfile.is_zipfile(path):  # np.load would take it for a pickle
        raise UnsupportedDataFormatError(f"{path}: not a readable .npz file (not a zip "
                                         "archive of .npy arrays)")
    try:
        with np.load(path, allow_pickle=False) as f:
            names = list(f.files)
            missing = [k for k in ("X", "y") if k not in names]
            if missing:
                raise MissingArrayError(f"{path}: no array {' or '.join(map(repr, missing))} "
                                        f"(it holds {names or 'no arrays'}; needed: 'X' (n, d), "
                                        "'y' (n,) or (n, o); optional: 'zeta', 'x0' (d,))")
            arrays = {k: f[k] for k in ("X", "y", "zeta", "x0") if k in names}
    except DataFileError:
        raise
    except ValueError as exc:  # object arrays refused without pickle, bad headers
        raise UnsupportedDataFormatError(f"{path}: cannot be read as .npz without unpickling "
                                         f"({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise UnsupportedDataFormatError(f"{path}: not a readable .npz file ({exc})") from None
    arrays = {k: _numeric_array(v, k, path) for k, v in arrays.items()}
    X, y = arrays["X"], arrays["y"]
    if X.ndim != 2:
        raise DimensionMismatchError(f"{path}: array 'X' must be 2-D (n, d), got shape "
                                     f"{X.shape}")
    if y.ndim not in (1, 2) or y.shape[0] != X.shape[0]:
        raise DimensionMismatchError(f"{path}: array 'y' must have shape ({X.shape[0]},) or "
                                     f"({X.shape[0]}, o) to match 'X' {X.shape}, got {y.shape}")
    for k in ("zeta", "x0"):
        if k in arrays and arrays[k].shape != (X.shape[1],):
            raise DimensionMismatchError(f"{path}: array {k!r} must have shape "
                                         f"({X.shape[1]},) (d of 'X'), got {arrays[k].shape}")
    return UserData(X, y, arrays.get("zeta"), arrays.get("x0"),
                    f"{path.name}: arrays {', '.join(arrays)}")


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def _load_csv(path: Path, label_column: str) -> UserData:
    import numpy as np

    try:
        with open(path, newline="") as f:
            rows = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UnsupportedDataFormatError(f"{path}: not a readable .csv file ({exc})") from None
    if not rows:
        raise UnsupportedDataFormatError(f"{path}: the file holds no rows")
    header = None
    if not all(_is_number(c.strip()) for c in rows[0]):
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise UnsupportedDataFormatError(f"{path}: a header row and no data")
    ncol = len(header) if header is not None else len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != ncol:
            line = i + 1 + (header is not None)
            raise DimensionMismatchError(f"{path}: line {line} has {len(r)} fields, expected "
                                         f"{ncol}")
    if ncol < 2:
        raise DimensionMismatchError(f"{path}: {ncol} column; needed: at least one input "
                                     "column and a label column")
    names = header if header is not None else [str(j) for j in range(ncol)]
    # the label column: an index (negative from the end) or a header name
    if re.fullmatch(r"[+-]?\d+", label_column.strip()):
        j = int(label_column)
        if not -ncol <= j < ncol:
            raise CliUsageError(f"--label-column {j} is out of range for {ncol} columns")
        j %= ncol
    elif header is not None and label_column in header:
        j = header.index(label_column)
    else:
        raise CliUsageError(f"--label-column {label_column!r}: no such column "
                            f"(columns: {', '.join(names)})")
    data = np.empty((len(rows), ncol))
    for col in range(ncol):
        for i, r in enumerate(rows):
            cell = r[col].strip()
            try:
                val = float(cell)
            except ValueError:
                val = math.nan
            if not math.isfinite(val):
                line = i + 1 + (header is not None)
                raise NonNumericDataError(
                    f"{path}: column {names[col]!r} is not numeric: {cell!r} on line {line}")
            data[i, col] = val
    X = np.delete(data, j, axis=1)
    y = data[:, j]
    return UserData(X, y, source=f"{path.name}: {len(rows)} rows, label column "
                                 f"{names[j]!r}, {X.shape[1]} input columns")


def load_data_file(path: str | os.PathLike, *, label_column: str = "-1") -> UserData:
    """Read a user's data set for :func:`numerics.api.shift_and_spike`.

    Parameters
    ----------
    path : str or path-like
        A ``.npz`` file with arrays ``X`` ``(n, d)``, ``y`` ``(n,)`` or ``(n, o)`` and
        optionally ``zeta``, ``x0`` ``(d,)`` (read with ``allow_pickle=False``: nothing is
        unpickled), or a ``.csv`` file of numeric columns (comma-separated, an optional
        header row), one of which is the label.
    label_column : str, default "-1"
        For ``.csv``: the label column, as an index (negative counts from the end; default
        the last column) or a header name.

    Returns
    -------
    UserData

    Raises
    ------
    DataFileNotFoundError, UnsupportedDataFormatError, MissingArrayError,
    NonNumericDataError, DimensionMismatchError
        (all :class:`DataFileError`, a ``ValueError``) naming the file and the problem;
        :class:`CliUsageError` for a label column that does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise DataFileNotFoundError(f"data file {p} does not exist")
    if not p.is_file():
        raise DataFileNotFoundError(f"data file {p} is not a file")
    ext = p.suffix.lower()
    if ext == ".npz":
        return _load_npz(p)
    if ext == ".csv":
        return _load_csv(p, label_column)
    raise UnsupportedDataFormatError(f"data file {p}: extension {p.suffix or '(none)'!r} is not "
                                     "supported; use .npz (arrays X, y[, zeta, x0]) or .csv")


def _vector(text: str, option: str, d: int) -> Any:
    import numpy as np

    parts = [s.strip() for s in text.split(",")]
    try:
        v = np.array([float(s) for s in parts])
    except ValueError:
        raise CliUsageError(f"{option}: expected {d} comma-separated numbers, got "
                            f"{text!r}") from None
    if not np.all(np.isfinite(v)):
        raise CliUsageError(f"{option}: values must be finite, got {text!r}")
    if v.shape != (d,):
        raise DimensionMismatchError(f"{option}: {v.size} values given, the data has d = {d}")
    return v


def _row(X: Any, i: int, option: str) -> Any:
    n = X.shape[0]
    if not -n <= i < n:
        raise CliUsageError(f"{option} {i} is out of range: the data has {n} rows "
                            f"(0 .. {n - 1})")
    return X[i].copy()


def _kernel_params(values: Sequence[str]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for v in values:
        name, eq, val = v.partition("=")
        name, val = name.strip(), val.strip()
        if not eq or not name:
            raise CliUsageError(f"--param {v!r}: expected NAME=VALUE, e.g. --param ell=0.5")
        if re.fullmatch(r"[+-]?\d+", val):
            out[name] = int(val)
            continue
        try:
            out[name] = float(val)
        except ValueError:
            raise CliUsageError(f"--param {v!r}: {val!r} is not a number") from None
    return out


def cmd_spike(args: argparse.Namespace) -> int:
    import numpy as np

    _progress(f"loading {args.data} ...")
    data = load_data_file(args.data, label_column=args.label_column)
    X, y = data.X, data.y
    d = X.shape[1]
    if args.zeta_row is not None:
        zeta = _row(X, args.zeta_row, "--zeta-row")
    elif args.zeta is not None:
        zeta = _vector(args.zeta, "--zeta", d)
    elif data.zeta is not None:
        zeta = data.zeta
    else:
        raise CliUsageError("no trigger: give --zeta-row I, --zeta 'v1,v2,..' or a 'zeta' "
                            "array in the .npz file")
    if args.direction is not None and args.x0_distance is None:
        raise CliUsageError("--direction is the direction of --x0-distance; give both")
    if args.x0_row is not None:
        x0 = _row(X, args.x0_row, "--x0-row")
    elif args.x0 is not None:
        x0 = _vector(args.x0, "--x0", d)
    elif args.x0_distance is not None:
        r = args.x0_distance
        if not (math.isfinite(r) and r >= 0):
            raise CliUsageError(f"--x0-distance must be a finite number >= 0, got {r}")
        direction = (np.ones(d) if args.direction is None
                     else _vector(args.direction, "--direction", d))
        norm = float(np.linalg.norm(direction))
        if norm == 0:
            raise CliUsageError("--direction must not be the zero vector")
        x0 = zeta + r * direction / norm
    elif data.x0 is not None:
        x0 = data.x0
    else:
        raise CliUsageError("no triggered input: give --x0-row I, --x0 'v1,..', "
                            "--x0-distance R or an 'x0' array in the .npz file")
    if y.ndim == 2:
        y_t: Any = _vector(args.y_t, "--y-t", y.shape[1])
    else:
        try:
            y_t = float(args.y_t)
        except ValueError:
            raise CliUsageError(f"--y-t: expected a number, got {args.y_t!r}") from None
    params = _kernel_params(args.param or [])
    _import_user_modules(args.imports)

    from numerics.api import shift_and_spike

    what = " and refitting the clean and poisoned KRR (measure)" if args.measure else ""
    _progress(f"computing the closed forms ({args.kernel}, n = {X.shape[0]}, d = {d}, "
              f"m = {args.m}){what} ...")
    try:
        res = shift_and_spike(args.kernel, X, y, zeta, args.m, y_t, x0, args.c,
                              measure=args.measure, **params)
    except (ValueError, TypeError) as exc:  # the API's named input and fit errors
        print(f"poisoncurv spike: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"data": data.source, **res.to_dict()}, indent=1))
    else:
        print(f"data: {data.source}")
        print(res.summary())
    return 0


# ----------------------------------------------------------------------------- book
def cmd_book(args: argparse.Namespace) -> int:
    _needs_checkout("poisoncurv book", BOOK_SCRIPT)
    _progress(f"building the book: bash {_display(BOOK_SCRIPT)} (runs every notebook page; "
              "several minutes) ...")
    rc = _stream(["bash", str(BOOK_SCRIPT)], REPO_ROOT)
    if rc != 0:
        print(f"the book build failed (exit code {rc}); see the output above", file=sys.stderr)
        return rc
    if not BOOK_INDEX.is_file():
        print(f"the book build exited 0 but {BOOK_INDEX} is missing", file=sys.stderr)
        return 1
    print(f"book: {BOOK_INDEX}")
    return 0


# ----------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The ``poisoncurv`` argument parser (one sub-command per command)."""
    ap = argparse.ArgumentParser(
        prog="poisoncurv",
        description="poisoncurv: claims, checks, kernels, closed forms on your data, the book.")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("status", help="the claims table of the published claim report")
    p.add_argument("--report", default=None, metavar="PATH",
                   help="a run report (default: reports/claims.json or $CLAIMS_REPORT)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--full", action="store_true",
                   help="one block per claim with the whole scope and kernel list")

    p = sub.add_parser(
        "check", help="run claims' checks and print their verdicts from that run",
        description="Run `python -m pytest proofs_check --claim ID [-k KERNEL]` and print "
                    "the verdicts computed from that run's report (reports/runs/<id>.json). "
                    "Arguments after `--` go to pytest. Exit code: pytest's.")
    p.add_argument("claims", nargs="+", metavar="ID", help="claim ids (C1..C13, E1..E3)")
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="Hypothesis profile (HYPOTHESIS_PROFILE; default: dev, ci when CI=true)")
    p.add_argument("--kernel", action="append", metavar="NAME",
                   help="only checks whose id contains NAME (pytest -k; repeatable)")
    p.add_argument("-n", type=int, default=None, metavar="N",
                   help="pytest-xdist workers (default: none)")

    p = sub.add_parser("kernels", help="registered kernels, parameters, near-clone class")
    p.add_argument("names", nargs="*", metavar="NAME", help="only these kernels")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--no-classify", action="store_true",
                   help="skip the near-clone classification (SymPy limits; slow for NTKs)")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import a module or .py file first (one that registers your own "
                        "kernels; repeatable)")

    p = sub.add_parser(
        "spike", help="prediction shift and input-Hessian spike on your data",
        description="numerics.api.shift_and_spike on a .npz (arrays X, y[, zeta, x0]; never "
                    "unpickled) or .csv (numeric columns, optional header) file.")
    p.add_argument("data", metavar="DATA", help="a .npz or .csv file")
    p.add_argument("--kernel", required=True, metavar="NAME", help="a registered kernel")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="a kernel hyper-parameter (repeatable), e.g. --param ell=0.5")
    p.add_argument("--m", type=int, required=True, help="number of poisons (clones of zeta)")
    p.add_argument("--y-t", required=True, metavar="Y",
                   help="the attacker's label (comma-separated for multi-output y)")
    p.add_argument("--c", type=float, required=True, help="the ridge c > 0")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--zeta-row", type=int, metavar="I", help="the trigger is row I of X")
    g.add_argument("--zeta", metavar="V", help="the trigger, comma-separated")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--x0-row", type=int, metavar="I", help="x0 is row I of X")
    g.add_argument("--x0", metavar="V", help="x0, comma-separated")
    g.add_argument("--x0-distance", type=float, metavar="R",
                   help="x0 = zeta + R v, v the unit --direction (default: (1, ..., 1)/sqrt(d))")
    p.add_argument("--direction", metavar="V", help="direction for --x0-distance")
    p.add_argument("--label-column", default="-1", metavar="COL",
                   help="for .csv: label column index or header name (default: the last)")
    p.add_argument("--measure", action="store_true",
                   help="also refit the KRR and measure shift and spike (two fits)")
    p.add_argument("--import", dest="imports", action="append", metavar="MODULE",
                   help="import a module or .py file first (one that registers your own "
                        "kernels; repeatable)")
    p.add_argument("--json", action="store_true", help="machine-readable output")

    sub.add_parser("book", help="build the book and print the path of its index page")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``poisoncurv`` with ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after the program name; for ``check``, arguments after ``--`` go to
        pytest.

    Returns
    -------
    int
        0 on success; 2 for a bad command line, data file or missing report; ``check`` and
        ``book`` return pytest's / the build's exit code.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        i = argv.index("--")
        argv, extra = argv[:i], argv[i + 1:]
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or argparse's own usage errors
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if extra and args.command != "check":
        print(f"poisoncurv {args.command}: arguments after -- are for `check` only: "
              f"{' '.join(extra)}", file=sys.stderr)
        return 2
    try:
        if args.command == "status":
            return cmd_status(args)
        if args.command == "check":
            return cmd_check(args, extra)
        if args.command == "kernels":
            return cmd_kernels(args)
        if args.command == "spike":
            return cmd_spike(args)
        return cmd_book(args)
    except (CliUsageError, DataFileError) as exc:
        print(f"poisoncurv {args.command}: error: {type(exc).__name__}: {exc}",
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
