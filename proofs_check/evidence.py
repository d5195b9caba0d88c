"""What a claim check calls to record its evidence (test harness; not part of the library).

A check states *what it actually asserted*, so that the claim report never credits a
kernel, or a refutation, that did not happen:

* :func:`asserted_for` -- after the assertions for a kernel have run (a check that loops
  over kernels and ``continue``\\ s past one must not call it for that kernel);
* :func:`not_applicable` -- the check cannot handle this kernel: the test is skipped with
  the reason, and the claims x kernels matrix shows "not applicable";
* :func:`note_not_applicable` -- the same record without skipping (a loop over several
  user kernels that goes on with the others);
* :func:`refute_unless_close` / :func:`refute_unless` -- the only way an ``as_stated``
  check refutes: it raises :class:`derivations.claims.Refuted` carrying the numbers.  A
  shape mismatch or a non-finite value is a harness error (``ValueError``), never a
  refutation;
* :func:`record_measured` -- the numbers an ``experiment`` check measured (kept in the run
  report under ``evidence.measured``; they decide nothing, the check's assertions do).

The plugin :mod:`proofs_check.plugin` resets the record before each test and attaches it
to the test's report (it travels from xdist workers to the controller with the report).
"""

from __future__ import annotations

from typing import NoReturn

import numpy as np
import torch

from derivations.claims import Refuted
from numerics.tolerances import TOL, is_close, max_rel_error

__all__ = [
    "asserted_for",
    "not_applicable",
    "note_not_applicable",
    "refute_unless_close",
    "refute_unless",
    "record_measured",
    "NOT_APPLICABLE_PREFIX",
    "begin_test",
    "end_test",
]

#: prefix of the skip reason written by :func:`not_applicable`
NOT_APPLICABLE_PREFIX = "not applicable to kernel"

_STATE: dict[str, object] = {"asserted": [], "not_applicable": {}, "measured": {}}


def begin_test() -> None:
    """Reset the record (called by the plugin before each test)."""
    _STATE["asserted"] = []
    _STATE["not_applicable"] = {}
    _STATE["measured"] = {}


def end_test() -> dict:
    """The record of the test that just ran (called by the plugin after each test)."""
    out = {"asserted": list(dict.fromkeys(_STATE["asserted"])),  # type: ignore[arg-type]
           "not_applicable": dict(_STATE["not_applicable"])}  # type: ignore[arg-type]
    if _STATE["measured"]:
        out["measured"] = dict(_STATE["measured"])  # type: ignore[arg-type]
    begin_test()
    return out


def record_measured(**numbers: object) -> None:
    """Record numbers an experiment check measured (plain values: numbers, strings, booleans,
    ``None``, or lists/dicts of them; NumPy/torch scalars are converted).  Later calls add to
    (and override keys of) earlier ones."""
    from derivations.claims import _plain

    def conv(v: object) -> object:
        if isinstance(v, dict):
            return {str(k): conv(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [conv(x) for x in v]
        return _plain(v)

    _STATE["measured"].update({k: conv(v) for k, v in numbers.items()})  # type: ignore[union-attr]


def asserted_for(*kernels: str) -> None:
    """Record that the current check ran its assertions for ``kernels`` (call it after them)."""
    for k in kernels:
        if not isinstance(k, str) or not k:
            raise TypeError(f"asserted_for takes kernel names, got {k!r}")
        _STATE["asserted"].append(k)  # type: ignore[union-attr]


def note_not_applicable(kernel: str, reason: str) -> None:
    """Record that the current check does not apply to ``kernel`` (without skipping)."""
    if not reason:
        raise ValueError("note_not_applicable needs a reason")
    _STATE["not_applicable"][kernel] = reason  # type: ignore[index]


def not_applicable(kernel: str, reason: str) -> NoReturn:
    """Skip the current check for ``kernel`` with ``reason`` (recorded as not applicable)."""
    import pytest

    note_not_applicable(kernel, reason)
    pytest.skip(f"{NOT_APPLICABLE_PREFIX} {kernel}: {reason}")


def _array(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    return np.asarray(x, dtype=np.float64)


def refute_unless_close(claim: str, measured, stated, kind: str, what: str, *,
                        kernel: str | None = None, **numbers: object) -> None:
    """Raise :class:`Refuted` unless ``measured`` is close to ``stated`` at tolerance ``kind``.

    ``stated`` is the value the claim predicts as stated, ``measured`` the independent
    value.  The exception carries both (the worst entry), their relative error and the
    extra ``numbers``.  Shapes must agree and both must be finite: otherwise the check is
    broken, and a ``ValueError`` (not a refutation) is raised.
    """
    if kind not in TOL:
        raise KeyError(f"unknown tolerance kind {kind!r}; known: {sorted(TOL)}")
    a, e = _array(measured), _array(stated)
    if a.shape != e.shape:
        raise ValueError(f"{what}: shape {a.shape} of the measured value != shape {e.shape} "
                         "of the stated value (a harness error, not a refutation)")
    if not (np.isfinite(a).all() and np.isfinite(e).all()):
        raise ValueError(f"{what}: non-finite values (measured {a!r}, stated {e!r}); a "
                         "harness error, not a refutation")
    if is_close(a, e, kind):
        return
    tol = TOL[kind]
    excess = np.abs(a - e) - (tol.atol + tol.rtol * np.abs(e))
    i = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    raise Refuted(claim, what, kernel=kernel, measured=float(a[i]), stated=float(e[i]),
                  rel_error=max_rel_error(a, e, tol.atol), tolerance=kind, **numbers)


def refute_unless(claim: str, holds: bool, what: str, *, kernel: str | None = None,
                  **numbers: object) -> None:
    """Raise :class:`Refuted` with ``numbers`` unless ``holds`` (a plain ``bool``)."""
    if not isinstance(holds, (bool, np.bool_)):
        raise TypeError(f"refute_unless needs a bool, got {type(holds).__name__}")
    if not holds:
        raise Refuted(claim, what, kernel=kernel, **numbers)
