"""A time budget for symbolic steps: a SymPy call that runs too long raises, never hangs.

SymPy's ``limit``, ``simplify`` and ``series`` have no time-out and can run for minutes
on an innocent-looking expression (``limit`` on ``Max(0, 1 - r)`` did not return in nine
minutes).  Every symbolic step of a kernel's registration therefore runs inside
:func:`symbolic_budget`, which raises :class:`SymbolicTimeout` naming the kernel and the
step once the budget is spent.

Two mechanisms, chosen automatically:

* on the main thread of a platform with ``SIGALRM``: a real-time interval timer
  (``signal.setitimer``) whose handler raises in the running step, and raises again every
  :data:`REPEAT_SECONDS` until the step has stopped (a raise that lands in a finaliser is
  swallowed by Python; the next one is not); ``SIGALRM`` is unblocked on the main thread
  while the step runs (a mask inherited from a job runner would hold it back for good); an
  enclosing timer set by other code, e.g. a test time-out, is re-armed afterwards;
* elsewhere (another thread, Windows): a trace function (``sys.settrace``) that checks
  the deadline at every Python function call of the step.  SymPy is pure Python, so a
  step is interrupted within one call; a single long call into a C extension is not.

The default budget is :data:`DEFAULT_SECONDS` per step, overridden by the environment
variable ``POISONCURV_SYMBOLIC_BUDGET`` (seconds; ``0`` or ``none`` disables it).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator

__all__ = [
    "SymbolicTimeout",
    "DEFAULT_SECONDS",
    "ENV_VAR",
    "REPEAT_SECONDS",
    "budget_seconds",
    "symbolic_budget",
]

#: environment variable holding the per-step budget in seconds
ENV_VAR = "POISONCURV_SYMBOLIC_BUDGET"

#: per-step budget when the environment does not set one (seconds)
DEFAULT_SECONDS = 5.0


class SymbolicTimeout(ValueError):
    """A symbolic step of a kernel's registration exceeded its time budget.

    Attributes ``kernel``, ``step`` and ``seconds`` name what ran out of time.
    """

    def __init__(self, kernel: str, step: str, seconds: float) -> None:
        self.kernel, self.step, self.seconds = kernel, step, seconds
        super().__init__(
            f"kernel {kernel!r}: the symbolic step {step!r} did not finish within its budget "
            f"of {seconds:g} s (SymPy cannot handle this expression in reasonable time; "
            f"simplify the definition, or raise the budget with {ENV_VAR}=<seconds>)"
        )


def budget_seconds(seconds: float | None = None) -> float | None:
    """The budget to use: ``seconds`` when given, else ``$POISONCURV_SYMBOLIC_BUDGET``,
    else :data:`DEFAULT_SECONDS`; ``None`` (no limit) for ``0``, ``none`` or ``off``.

    Raises
    ------
    ValueError
        For a negative, non-finite or unreadable value (naming the variable).
    """
    if seconds is None:
        raw = os.environ.get(ENV_VAR, "").strip()
        if not raw:
            return DEFAULT_SECONDS
        if raw.lower() in ("none", "off", "0"):
            return None
        try:
            seconds = float(raw)
        except ValueError:
            raise ValueError(f"{ENV_VAR} must be a number of seconds, got {raw!r}") from None
    seconds = float(seconds)
    if not seconds == seconds or seconds < 0 or seconds == float("inf"):
        raise ValueError(f"symbolic budget must be a finite number of seconds >= 0, "
                         f"got {seconds!r}")
    return seconds or None


class _Expired(BaseException):
    """Internal: raised inside the step (a BaseException, so that SymPy's own
    ``except Exception`` clauses cannot swallow it); turned into SymbolicTimeout."""


def _use_alarm() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


#: after the budget is spent the alarm keeps firing at this interval (seconds) until the
#: step has stopped: a raise that lands where Python cannot propagate it (a finaliser, a
#: weakref callback: "Exception ignored in ...") is repeated instead of lost
REPEAT_SECONDS = 0.25


@contextlib.contextmanager
def _alarm(seconds: float) -> Iterator[None]:
    armed = [True]

    def handler(signum, frame):
        if armed[0]:  # a tick that arrives while the guard is closing is ignored
            raise _Expired

    start = time.monotonic()
    # a signal mask inherited from the parent process (some job runners block SIGALRM)
    # would hold the alarm back for good: unblock it on this thread while the step runs
    blocked = (hasattr(signal, "pthread_sigmask")
               and signal.SIGALRM in signal.pthread_sigmask(signal.SIG_BLOCK, []))
    if blocked:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGALRM])
    old_handler = signal.signal(signal.SIGALRM, handler)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds, REPEAT_SECONDS)
    if old_delay and old_delay < seconds:  # an enclosing timer fires first: keep it
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        old_handler = None
        signal.setitimer(signal.ITIMER_REAL, old_delay, old_interval)
    try:
        yield
    finally:
        if old_handler is not None:
            # disarm first; a tick landing before the store is caught and the store retried
            # (ticks are REPEAT_SECONDS apart, so the retry is not interrupted again)
            while armed[0]:
                try:
                    armed[0] = False
                except _Expired:
                    pass
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old_handler)
            if old_delay:  # re-arm the enclosing timer with what is left of it
                left = max(old_delay - (time.monotonic() - start), 1e-3)
                signal.setitimer(signal.ITIMER_REAL, left, old_interval)
        if blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])


@contextlib.contextmanager
def _traced(seconds: float) -> Iterator[None]:
    deadline = time.monotonic() + seconds
    previous = sys.gettrace()

    def tracer(frame, event, arg):
        if time.monotonic() > deadline:
            raise _Expired
        # keep an existing tracer (coverage, a debugger) working
        return previous(frame, event, arg) if previous is not None else None

    sys.settrace(tracer)
    try:
        yield
    finally:
        sys.settrace(previous)


@contextlib.contextmanager
def symbolic_budget(kernel: str, step: str, seconds: float | None = None, *,
                    mechanism: str | None = None) -> Iterator[None]:
    """Run the body with a time budget; raise :class:`SymbolicTimeout` when it is spent.

    Parameters
    ----------
    kernel, step:
        Named in the error (e.g. ``"my_kernel"``, ``"limit of A at r -> 0"``).
    seconds:
        The budget; ``None`` reads :func:`budget_seconds` (the environment / default).
        A budget of ``0`` means no limit.
    mechanism:
        ``"alarm"`` or ``"trace"`` to force one (tests); default: the alarm on the main
        thread where the platform has it, else the trace function.
    """
    limit = budget_seconds(seconds)
    if limit is None:
        yield
        return
    if mechanism is None:
        mechanism = "alarm" if _use_alarm() else "trace"
    if mechanism not in ("alarm", "trace"):
        raise ValueError(f"mechanism must be 'alarm' or 'trace', got {mechanism!r}")
    if mechanism == "alarm" and not _use_alarm():
        raise ValueError("the 'alarm' mechanism needs SIGALRM and the main thread")
    guard = _alarm(limit) if mechanism == "alarm" else _traced(limit)
    try:
        with guard:
            yield
    except _Expired:
        raise SymbolicTimeout(kernel, step, limit) from None
