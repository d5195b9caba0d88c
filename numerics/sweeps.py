"""Experiment grids as independent tasks on Dask, written point by point and resumable.

One job: run ``task(point)`` for every point of a grid and keep every finished result.

* :func:`run_sweep` runs the points on a ``distributed.LocalCluster`` (worker processes, no
  dashboard) by default, on an existing cluster when given its scheduler address (it never
  starts one then), or serially in this process with ``n_workers=0`` (debugging, tests).
* Each result is written the moment it arrives (``as_completed``), atomically (a temporary
  file, then :func:`os.replace`), as ``out_dir/<point_key(point)>.json``::

      {"key", "point", "settings", "result", "seconds", "finished_utc", "worker"}

  so a sweep killed at any moment loses no finished point.  On the next run the points whose
  file parses and matches the point and the ``settings`` are reused; a corrupt or mismatching
  file is recomputed (reported with a :class:`StaleResultWarning`).
* A task that raises (or returns something that is not a JSON-able dict,
  :class:`InvalidResultError`) is recorded as ``out_dir/<key>.error.json`` with its traceback;
  the other points go on, and :func:`run_sweep` then raises :class:`SweepFailed` naming the
  failed points.  They are retried on the next run.
* A tqdm bar (stderr) counts points done out of all points, starting at the number reused
  ("resumed"), with the time left; a last line gives the computed / reused / failed counts and
  the wall time.

The task must be a module-level function (the workers import it by name); with a
``LocalCluster`` the worker processes are *spawned*, so a driver script needs the usual
``if __name__ == "__main__":`` guard.  Worker processes start with ``OMP_NUM_THREADS`` (and
MKL / OpenBLAS) equal to ``threads_per_worker``, so torch imported in a task uses that many
threads; a task that must be sure calls ``torch.set_num_threads`` itself.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import socket
import sys
import time
import traceback
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "point_key",
    "run_sweep",
    "load_sweep",
    "sweep_status",
    "result_path",
    "error_path",
    "SweepError",
    "SweepFailed",
    "DuplicatePointError",
    "NotJSONableError",
    "OutDirError",
    "InvalidResultError",
    "StaleResultWarning",
]

#: fields of a result file, in the order written
RECORD_FIELDS = ("key", "point", "settings", "result", "seconds", "finished_utc", "worker")

#: environment variables set to ``threads_per_worker`` in LocalCluster worker processes
THREAD_ENV_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


# --------------------------------------------------------------------------- errors


class SweepError(Exception):
    """Base class of the errors raised by this module."""


class NotJSONableError(SweepError, TypeError):
    """A point or the settings hold a value that has no canonical JSON form."""


class DuplicatePointError(SweepError, ValueError):
    """Two points of the grid have the same settings (hence the same key)."""


class OutDirError(SweepError, NotADirectoryError):
    """``out_dir`` exists and is not a directory."""


class InvalidResultError(SweepError, TypeError):
    """A task returned something that is not a JSON-able ``dict`` (recorded as a failure)."""


class SweepFailed(SweepError):
    """Some points failed; their tracebacks are in ``out_dir/<key>.error.json``.

    ``failed``: one dict per failed point (``index``, ``key``, ``point``, ``error``: the last line
    of the traceback); ``records``: the records of all points in point order, ``None`` for the
    failed ones.  The failed points are retried on the next run; finished ones are kept.
    """

    def __init__(self, failed: list[dict], records: list[dict | None], out_dir: Path):
        failed = sorted(failed, key=lambda f: f["index"])  # point order
        self.failed = failed
        self.records = records
        self.out_dir = out_dir
        lines = [
            f"  #{f['index']} {json.dumps(f['point'], sort_keys=True)} (key {f['key'][:12]}): "
            f"{f['error']}"
            for f in failed[:10]
        ]
        if len(failed) > 10:
            lines.append(f"  ... and {len(failed) - 10} more")
        super().__init__(
            f"{len(failed)} of {len(records)} sweep point(s) failed (tracebacks in "
            f"{out_dir}/<key>.error.json; they are retried on the next run):\n" + "\n".join(lines)
        )


class StaleResultWarning(UserWarning):
    """A result file was corrupt or did not match its point / settings; it is recomputed."""


# --------------------------------------------------------------------------- canonical JSON


def _canonical(value: Any, where: str, *, finite: bool) -> Any:
    """The JSON-native copy of ``value`` (dicts with str keys, lists, str, int, float, bool,
    None); tuples become lists, int/float subclasses (numpy float64, IntEnum) plain int/float.
    Raises :class:`NotJSONableError` naming the offending entry."""
    if value is None or type(value) is bool:
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if finite and not math.isfinite(value):
            raise NotJSONableError(f"{where} is {value!r}: only finite floats have a stable key")
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise NotJSONableError(f"{where} has a key {k!r} of type {type(k).__name__}; "
                                       "JSON object keys must be str")
            out[str(k)] = _canonical(v, f"{where}[{k!r}]", finite=finite)
        return out
    if isinstance(value, list | tuple):
        return [_canonical(v, f"{where}[{i}]", finite=finite) for i, v in enumerate(value)]
    raise NotJSONableError(
        f"{where} is {value!r} of type {type(value).__module__}.{type(value).__qualname__}, "
        "which is not JSON-able (use str, int, float, bool, None, lists and dicts with str "
        "keys; convert numpy values with int()/float()/.tolist())"
    )


def _canonical_point(point: Mapping[str, object], where: str = "point") -> dict:
    if not isinstance(point, Mapping):
        raise NotJSONableError(f"{where} must be a mapping of settings, got "
                               f"{type(point).__name__}")
    return _canonical(point, where, finite=True)


def _dumps_canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                      allow_nan=False)


def point_key(point: Mapping[str, object]) -> str:
    """The stable key of a grid point: sha256 (hex) of its canonical JSON (sorted keys, no
    spaces, floats by ``repr``, tuples as lists).  Equal settings give equal keys in every
    process and run; ``1`` and ``1.0`` and ``True`` are different settings."""
    return hashlib.sha256(_dumps_canonical(_canonical_point(point)).encode("ascii")).hexdigest()


def result_path(out_dir: str | Path, key: str) -> Path:
    """Where the result of the point with ``key`` is written."""
    return Path(out_dir) / f"{key}.json"


def error_path(out_dir: str | Path, key: str) -> Path:
    """Where the traceback of the point with ``key`` is written when its task fails."""
    return Path(out_dir) / f"{key}.error.json"


# --------------------------------------------------------------------------- files


def _atomic_write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` to ``path`` so that a reader (or a later run after a kill) sees either the
    old file or the complete new one, never a partial file."""
    text = json.dumps(obj, indent=1, allow_nan=True) + "\n"
    tmp = path.parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.tmp"
    # O_EXCL: a fresh file of our own; mode 0o666 & ~umask, like an ordinary file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _check_out_dir(out_dir: str | Path, *, create: bool) -> Path:
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise OutDirError(f"out_dir {str(out)!r} exists and is not a directory")
    if create:
        out.mkdir(parents=True, exist_ok=True)
    return out


def _read_record(path: Path, key: str, point: dict, settings: Any) -> tuple[dict | None, str]:
    """(record, "") when ``path`` holds a valid record of this point and settings; else
    (None, reason), reason "" when there is no file."""
    if not path.exists():
        return None, ""
    try:
        rec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"corrupt ({type(exc).__name__}: {exc})"
    if not isinstance(rec, dict) or any(f not in rec for f in RECORD_FIELDS):
        return None, "corrupt (not a result record)"
    if not isinstance(rec["result"], dict):
        return None, "corrupt (result is not a dict)"
    if rec["key"] != key or rec["point"] != point:
        return None, f"point mismatch (file has {json.dumps(rec['point'], sort_keys=True)})"
    if rec["settings"] != settings:
        return None, (f"settings mismatch (file has {json.dumps(rec['settings'], sort_keys=True)}"
                      f", this run {json.dumps(settings, sort_keys=True)})")
    return rec, ""


def _prepare(points: Sequence[Mapping], settings: Mapping | None) -> tuple[list, list, Any]:
    if isinstance(points, Mapping | str | bytes):
        raise TypeError("points must be a sequence of mappings (one per grid point)")
    points = list(points)
    canon = [_canonical_point(p, f"points[{i}]") for i, p in enumerate(points)]
    keys = [hashlib.sha256(_dumps_canonical(c).encode("ascii")).hexdigest() for c in canon]
    first: dict[str, int] = {}
    dups = []
    for i, k in enumerate(keys):
        if k in first:
            dups.append(f"points[{first[k]}] and points[{i}] ({_dumps_canonical(canon[i])})")
        else:
            first[k] = i
    if dups:
        raise DuplicatePointError(
            f"{len(dups)} duplicate grid point(s): " + "; ".join(dups[:5])
            + ("; ..." if len(dups) > 5 else "")
        )
    if settings is not None and not isinstance(settings, Mapping):
        raise NotJSONableError(f"settings must be a mapping or None, got {type(settings).__name__}")
    settings_c = None if settings is None else _canonical(settings, "settings", finite=True)
    return canon, keys, settings_c


# --------------------------------------------------------------------------- execution


def _execute(point: dict, task: Callable[[dict], dict]) -> dict:
    """Run one point (on a worker or in-process); never raises for a failing task."""
    worker = _worker_name()
    t0 = time.perf_counter()
    try:
        result = task(dict(point))
        if not isinstance(result, Mapping):
            raise InvalidResultError(
                f"task {getattr(task, '__qualname__', task)!r} returned "
                f"{type(result).__name__}, not a dict"
            )
        try:
            result = _canonical(result, "result", finite=False)
        except NotJSONableError as exc:
            raise InvalidResultError(str(exc)) from None
        ok, payload = True, result
    except Exception:
        ok, payload = False, traceback.format_exc()
    return {
        "ok": ok,
        "payload": payload,
        "seconds": time.perf_counter() - t0,
        "finished_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="milliseconds"),
        "worker": worker,
    }


def _worker_name() -> str:
    try:
        from distributed import get_worker

        w = get_worker()
        return f"{w.address} (pid {os.getpid()})"
    except (ImportError, ValueError):
        return f"in-process {socket.gethostname()} (pid {os.getpid()})"


@contextlib.contextmanager
def _client(scheduler: str | None, n_workers: int, threads_per_worker: int) -> Iterator[Any]:
    """A distributed Client on a new LocalCluster or on ``scheduler``; always closed."""
    import dask
    from distributed import Client, LocalCluster

    cluster = None
    client = None
    try:
        if scheduler is not None:
            client = Client(scheduler)
        else:
            t = str(threads_per_worker)
            saved = {v: os.environ.get(v) for v in THREAD_ENV_VARS}
            try:
                # set before the worker processes are spawned (numpy/torch read them on import)
                with dask.config.set(
                    {f"distributed.nanny.pre-spawn-environ.{v}": t for v in THREAD_ENV_VARS}
                ):
                    cluster = LocalCluster(
                        n_workers=n_workers,
                        threads_per_worker=threads_per_worker,
                        processes=True,
                        dashboard_address=None,
                        silence_logs=logging.ERROR,
                    )
            finally:
                # the nanny sets them in this process too; give the caller its own back
                for v, old in saved.items():
                    if old is None:
                        os.environ.pop(v, None)
                    else:
                        os.environ[v] = old
            client = Client(cluster)
        yield client
    finally:
        quiet = logging.getLogger("distributed")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL)  # no shutdown chatter about cancelled tasks
        try:
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()
        finally:
            quiet.setLevel(level)


def _fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min"


def run_sweep(
    task: Callable[[dict], dict],
    points: Sequence[Mapping],
    out_dir: str | Path,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    progress: bool = True,
    desc: str = "",
    settings: Mapping | None = None,
) -> list[dict]:
    """Run ``task(dict(point))`` for every point not already done in ``out_dir``; return the
    records (see the module docstring) in the order of ``points``.

    ``scheduler``: address of an existing Dask scheduler (``"tcp://host:port"``); a
    ``LocalCluster`` is started (and closed) only when it is None.  ``n_workers``: worker
    processes of the LocalCluster (default: ``min(os.cpu_count(), pending points)``); ``0`` runs
    serially in this process.  ``settings``: the sweep-wide settings (data, sizes, seeds, code
    version, ...) recorded with every result; a file made with other settings is recomputed.

    Raises :class:`SweepFailed` after all points ran when some failed; the finished points are
    on disk (and in ``SweepFailed.records``).  Interrupting (KeyboardInterrupt) closes the
    cluster / client; rerunning resumes.
    """
    if not callable(task):
        raise TypeError(f"task must be callable, got {type(task).__name__}")
    if threads_per_worker < 1:
        raise ValueError(f"threads_per_worker must be >= 1, got {threads_per_worker}")
    if n_workers is not None and n_workers < 0:
        raise ValueError(f"n_workers must be >= 0 (0: serial, in-process), got {n_workers}")
    if scheduler is not None and n_workers is not None:
        raise ValueError("n_workers applies to a LocalCluster or serial run; with scheduler= "
                         "the existing cluster's workers are used")
    canon, keys, settings_c = _prepare(points, settings)
    out = _check_out_dir(out_dir, create=True)

    t_start = time.perf_counter()
    records: list[dict | None] = [None] * len(canon)
    stale: list[str] = []
    pending: list[int] = []
    for i, (p, k) in enumerate(zip(canon, keys, strict=True)):
        rec, why = _read_record(result_path(out, k), k, p, settings_c)
        if rec is not None:
            records[i] = rec
        else:
            pending.append(i)
            if why:
                stale.append(f"#{i} (key {k[:12]}): {why}")
    reused = len(canon) - len(pending)
    if stale:
        warnings.warn(
            StaleResultWarning(
                f"{len(stale)} result file(s) in {out} are recomputed: " + "; ".join(stale[:5])
                + ("; ..." if len(stale) > 5 else "")
            ),
            stacklevel=2,
        )

    failed: list[dict] = []
    n_done = 0

    from tqdm import tqdm

    bar = None

    def open_bar() -> Any:
        # opened once the workers are up, so that the rate and ETA count task time only
        return tqdm(
            total=len(canon),
            initial=reused,
            desc=desc or "sweep",
            unit="pt",
            disable=not progress,
            file=sys.stderr,
            dynamic_ncols=True,
            postfix=f"resumed={reused}, failed=0",
            bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} points "
            "[{elapsed} elapsed, ETA {remaining}, {rate_fmt}{postfix}]",
        )

    def finish(i: int, outcome: dict) -> None:
        nonlocal n_done
        k = keys[i]
        if outcome["ok"]:
            rec = {
                "key": k,
                "point": canon[i],
                "settings": settings_c,
                "result": outcome["payload"],
                "seconds": outcome["seconds"],
                "finished_utc": outcome["finished_utc"],
                "worker": outcome["worker"],
            }
            _atomic_write_json(result_path(out, k), rec)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(error_path(out, k))
            records[i] = rec
            n_done += 1
        else:
            tb = outcome["payload"]
            _atomic_write_json(error_path(out, k), {
                "key": k,
                "point": canon[i],
                "settings": settings_c,
                "traceback": tb,
                "seconds": outcome["seconds"],
                "finished_utc": outcome["finished_utc"],
                "worker": outcome["worker"],
            })
            last = tb.strip().splitlines()[-1] if tb.strip() else "unknown error"
            failed.append({"index": i, "key": k, "point": canon[i], "error": last})
        bar.set_postfix_str(f"resumed={reused}, failed={len(failed)}", refresh=False)
        bar.update(1)

    try:
        if not pending:
            bar = open_bar()
        elif n_workers == 0:
            bar = open_bar()
            for i in pending:
                finish(i, _execute(canon[i], task))
        else:
            from distributed import as_completed

            n = n_workers if n_workers is not None else min(os.cpu_count() or 1, len(pending))
            with _client(scheduler, max(n, 1), threads_per_worker) as client:
                bar = open_bar()
                futures = client.map(_execute, [canon[i] for i in pending], task=task,
                                     pure=False)
                index = {f.key: i for f, i in zip(futures, pending, strict=True)}
                live = {f.key: f for f in futures}  # dropped as they finish (frees memory)
                results = as_completed(futures)
                del futures
                try:
                    for fut in results:
                        i = index[fut.key]
                        try:
                            outcome = fut.result()
                        except Exception:  # the worker died (KilledWorker), ...
                            outcome = {
                                "ok": False,
                                "payload": traceback.format_exc(),
                                "seconds": float("nan"),
                                "finished_utc": _dt.datetime.now(_dt.UTC).isoformat(
                                    timespec="milliseconds"),
                                "worker": "unknown",
                            }
                        live.pop(fut.key, None)
                        del fut
                        finish(i, outcome)
                finally:
                    if live:
                        with contextlib.suppress(Exception):
                            client.cancel(list(live.values()))
    finally:
        if bar is not None:
            bar.close()
        if progress:
            wall = time.perf_counter() - t_start
            todo = len(pending) - n_done - len(failed)
            msg = (f"{desc or 'sweep'}: {len(canon)} points: {n_done} computed, {reused} reused, "
                   f"{len(failed)} failed" + (f", {todo} not run (interrupted)" if todo else "")
                   + f"; wall {_fmt_seconds(wall)}")
            print(msg, file=sys.stderr, flush=True)

    if failed:
        raise SweepFailed(failed, records, out)
    return records  # type: ignore[return-value]  # every entry is set when nothing failed


def load_sweep(
    points: Sequence[Mapping],
    out_dir: str | Path,
    *,
    settings: Mapping | None = None,
) -> list[dict | None]:
    """The records of ``points`` in ``out_dir`` (in point order), ``None`` for a point whose
    file is missing, corrupt, or made for another point or other ``settings``."""
    canon, keys, settings_c = _prepare(points, settings)
    out = _check_out_dir(out_dir, create=False)
    return [_read_record(result_path(out, k), k, p, settings_c)[0]
            for p, k in zip(canon, keys, strict=True)]


def sweep_status(
    points: Sequence[Mapping],
    out_dir: str | Path,
    settings: Mapping | None = None,
) -> dict[str, int]:
    """Counts for ``points`` in ``out_dir``: ``total``, ``done`` (a valid result for these
    settings), ``missing`` (= total - done), and among the missing ``failed`` (an error file
    from the last attempt) and ``stale`` (a corrupt or mismatching result file)."""
    canon, keys, settings_c = _prepare(points, settings)
    out = _check_out_dir(out_dir, create=False)
    done = failed = stale = 0
    for p, k in zip(canon, keys, strict=True):
        rec, why = _read_record(result_path(out, k), k, p, settings_c)
        if rec is not None:
            done += 1
            continue
        stale += bool(why)
        failed += error_path(out, k).exists()
    return {"total": len(canon), "done": done, "missing": len(canon) - done, "failed": failed,
            "stale": stale}
