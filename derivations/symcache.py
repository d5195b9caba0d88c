"""An on-disk cache of symbolic derivations, shared by processes (xdist workers, book pages).

Deriving a kernel's input-derivative coefficients and printing them as torch code costs
seconds per kernel (about 10 s for the depth-2 ReLU NTK on one core), and every process
that uses a kernel used to redo it: each xdist worker, each executed book page.  This module
stores such results on disk, so that only the first process pays.

Keys
    A key is the SHA-256 of everything the result depends on: a format number, SymPy's
    version, Python's major.minor, a *namespace* naming the computation, a fingerprint of
    the source files that perform it (:func:`code_fingerprint`), and the caller's inputs
    as text (``srepr`` of the expressions, parameter symbols with their assumptions).  A
    change to any of them is a different key, never a stale hit.

Values
    Text: the ``srepr`` of SymPy expressions (inside a small JSON structure, see
    :func:`encode`), or generated Python source.  A value is stored with its own SHA-256 and
    refused (recomputed) when the file does not match it, e.g. after a torn write.  Files
    are written atomically (a temporary file, then ``os.replace``), so concurrent writers of
    one key are harmless.  Cached expressions are rebuilt by evaluating their ``srepr`` in
    SymPy's namespace only (no builtins); the cache directory holds code-like text and must
    be trusted like the code itself (it lives under the user's cache directory).

Location and switch
    ``$POISONCURV_SYMPY_CACHE``: a directory, or ``off`` (also ``0``, ``none``, ``false``)
    to disable the cache; default ``$XDG_CACHE_HOME/poisoncurv/sympy`` (``~/.cache/...``).
    An unwritable directory disables storing, with one warning, and never fails a
    derivation.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import sympy as sp

__all__ = [
    "ENV_VAR",
    "FORMAT",
    "MUTANT_ENV",
    "cache_dir",
    "code_fingerprint",
    "make_key",
    "load_text",
    "store_text",
    "cached_text",
    "encode",
    "decode",
    "cached_sympy",
    "clear",
    "stats",
]

#: environment variable: the cache directory, or ``off``
ENV_VAR = "POISONCURV_SYMPY_CACHE"

#: bumped whenever the stored layout or the meaning of a namespace changes
FORMAT = 1

_OFF = ("off", "0", "none", "false", "no")

#: mutmut's switch naming the active mutant (see :func:`code_fingerprint`)
MUTANT_ENV = "MUTANT_UNDER_TEST"
#: a mutant's name: ``<dotted module>.x_<function>__mutmut_<k>`` (methods: ``xǁClassǁ``);
#: other values (empty, ``stats``, ``fail``, ...) run the clean code
_MUTANT_NAME = re.compile(r"^([A-Za-z_][\w.]*?)\.x(?:_|\u01c1).*__mutmut_\d+$")
_ROOT = Path(__file__).resolve().parent.parent

T = TypeVar("T")

#: hits / misses / stores of this process (for tests and the progress output)
_STATS = {"hits": 0, "misses": 0, "stores": 0, "refused": 0}
_WARNED: set[str] = set()


def cache_dir() -> Path | None:
    """The cache directory, or ``None`` when the cache is switched off."""
    raw = os.environ.get(ENV_VAR, "").strip()
    if raw.lower() in _OFF:
        return None
    if raw:
        return Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "poisoncurv" / "sympy"


@functools.cache
def _file_hash(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def code_fingerprint(paths: Iterable[str | Path]) -> str:
    """SHA-256 over the bytes of ``paths`` (files; relative paths are taken from the
    repository root), in the order given: the code a cached computation depends on.

    Under mutation testing (``scripts/mutation.sh``) one file holds every mutant of its
    functions and ``$MUTANT_UNDER_TEST`` (``<module>.x_<function>__mutmut_<k>``) selects the
    active one at call time: an active mutant of one of ``paths`` is a change of that file's
    code, so its name enters the fingerprint, and no mutant reads a result computed by the
    clean code or by another mutant (a mutant of a file not in ``paths`` changes nothing the
    computation depends on, as for an ordinary edit)."""
    h = hashlib.sha256()
    mutated = _mutated_file()
    for p in paths:
        path = Path(p)
        if not path.is_absolute():
            path = _ROOT / path
        h.update(str(path.name).encode())
        h.update(_file_hash(str(path)).encode())
        if mutated is not None and path.resolve() == mutated:
            h.update(f"mutant:{os.environ[MUTANT_ENV]}".encode())
    return h.hexdigest()


def _mutated_file() -> Path | None:
    """The source file of the active mutmut mutant (see :func:`code_fingerprint`), or None."""
    m = _MUTANT_NAME.match(os.environ.get(MUTANT_ENV, ""))
    if m is None:
        return None
    return (_ROOT / (m.group(1).replace(".", "/") + ".py")).resolve()


def make_key(namespace: str, code: str, *parts: str) -> str:
    """The cache key of one computation: ``namespace`` names it, ``code`` is its
    :func:`code_fingerprint`, ``parts`` are its inputs as text."""
    if not namespace or not all(isinstance(p, str) for p in (namespace, code, *parts)):
        raise TypeError("make_key: namespace, code and parts must be non-empty strings")
    payload = json.dumps([FORMAT, sp.__version__, list(sys.version_info[:2]), namespace,
                          code, list(parts)])
    return f"{namespace}-{hashlib.sha256(payload.encode()).hexdigest()[:40]}"


def _path(key: str) -> Path | None:
    root = cache_dir()
    return None if root is None else root / key[:2] / f"{key}.json"


def load_text(key: str) -> str | None:
    """The text stored under ``key``, or ``None`` (absent, cache off, or a file that fails
    its checksum: counted as refused and ignored)."""
    path = _path(key)
    if path is None or not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        text = record["text"]
        ok = (record.get("format") == FORMAT and record.get("key") == key
              and hashlib.sha256(text.encode()).hexdigest() == record.get("sha256"))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        ok = False
    if not ok:
        _STATS["refused"] += 1
        return None
    return text


def store_text(key: str, text: str) -> bool:
    """Store ``text`` under ``key`` atomically; ``False`` (with one warning per directory)
    when the cache is off or cannot be written."""
    path = _path(key)
    if path is None:
        return False
    record = {"format": FORMAT, "key": key, "sympy": sp.__version__,
              "sha256": hashlib.sha256(text.encode()).hexdigest(), "text": text}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(record, fh)
            os.replace(tmp, path)
        except BaseException:
            with _suppress():
                os.unlink(tmp)
            raise
    except OSError as err:
        where = str(path.parent.parent)
        if where not in _WARNED:
            _WARNED.add(where)
            warnings.warn(f"symbolic cache: cannot write {where} ({err}); derivations are "
                          f"not cached (set {ENV_VAR}=<directory> or {ENV_VAR}=off)",
                          RuntimeWarning, stacklevel=2)
        return False
    _STATS["stores"] += 1
    return True


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is not None and issubclass(exc[0], OSError)  # type: ignore[arg-type]


def cached_text(key: str, compute: Callable[[], str]) -> str:
    """``compute()``, stored under ``key``; a later call (any process) reads it back."""
    text = load_text(key)
    if text is not None:
        _STATS["hits"] += 1
        return text
    _STATS["misses"] += 1
    text = compute()
    store_text(key, text)
    return text


# ------------------------------------------------------------------ SymPy values
def encode(value: Any) -> Any:
    """A JSON-able form of ``value``: SymPy objects as ``{"srepr": ...}``, mappings with
    string keys, tuples/lists, ``None``, strings, booleans, ints and floats."""
    if isinstance(value, sp.Basic):
        return {"srepr": sp.srepr(value)}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise TypeError("symbolic cache: mapping keys must be strings")
        return {"map": {k: encode(v) for k, v in value.items()}}
    if isinstance(value, (tuple, list)):
        return {"seq": [encode(v) for v in value]}
    raise TypeError(f"symbolic cache: cannot store a {type(value).__name__}")


@functools.cache
def _sympy_namespace() -> dict[str, Any]:
    """SymPy's public names plus every class derived from ``Basic`` by name (``srepr``
    prints classes that are not exported, e.g. ``ExprCondPair``); no builtins."""
    ns: dict[str, Any] = {}
    stack = [sp.Basic]
    while stack:
        cls = stack.pop()
        if (getattr(cls, "__module__", None) or "").startswith("sympy"):
            ns.setdefault(cls.__name__, cls)
        stack.extend(cls.__subclasses__())
    exec("from sympy import *", ns)  # noqa: S102 - SymPy's public names, nothing else
    ns["__builtins__"] = {}
    return ns


def decode(data: Any) -> Any:
    """The inverse of :func:`encode` (dicts come back as dicts, sequences as tuples)."""
    if isinstance(data, dict):
        if "srepr" in data:
            return eval(data["srepr"], dict(_sympy_namespace()))  # noqa: S307 - see module doc
        if "map" in data:
            return {k: decode(v) for k, v in data["map"].items()}
        if "seq" in data:
            return tuple(decode(v) for v in data["seq"])
        raise ValueError("symbolic cache: unknown record")
    return data


def cached_sympy(key: str, compute: Callable[[], T]) -> T:
    """``compute()`` (SymPy expressions in dicts/tuples, see :func:`encode`), cached on
    disk under ``key``.  A stored value that cannot be rebuilt is recomputed."""
    text = load_text(key)
    if text is not None:
        try:
            value = decode(json.loads(text))
        except Exception:  # noqa: BLE001 - a bad record is recomputed, never trusted
            _STATS["refused"] += 1
        else:
            _STATS["hits"] += 1
            return value
    _STATS["misses"] += 1
    value = compute()
    store_text(key, json.dumps(encode(value)))
    return value


def clear() -> int:
    """Delete every cached record; return how many were removed."""
    root = cache_dir()
    if root is None or not root.is_dir():
        return 0
    n = 0
    for path in root.glob("*/*.json"):
        with _suppress():
            path.unlink()
            n += 1
    return n


def stats() -> dict[str, int]:
    """Hits, misses, stores and refused records of this process so far."""
    return dict(_STATS)
