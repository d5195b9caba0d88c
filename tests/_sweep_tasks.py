"""Task functions for tests/test_sweeps.py, importable by Dask worker processes (and a
driver for the kill-and-resume test, run as ``python -m tests._sweep_tasks OUT MARKER N``).

Kept free of heavy imports (no torch) so worker processes start fast."""

from __future__ import annotations

import os
import sys
import time


def square(point: dict) -> dict:
    """A fast deterministic task."""
    x = point["x"]
    return {"y": x * x, "tag": f"{point.get('name', '')}{x}", "pair": (x, -x)}


def fail_on_odd(point: dict) -> dict:
    """Raises for odd x unless the file named by point['ok_flag'] exists."""
    flag = point.get("ok_flag")
    if point["x"] % 2 and not (flag and os.path.exists(flag)):
        raise ValueError(f"odd x = {point['x']}")
    return {"y": point["x"] * 10}


def not_a_dict(point: dict) -> list:
    return [point["x"]]


def not_jsonable(point: dict) -> dict:
    return {"obj": object()}


def env_threads(point: dict) -> dict:
    """What thread settings a worker process sees."""
    return {"omp": os.environ.get("OMP_NUM_THREADS"), "pid": os.getpid()}


def slow_marked(point: dict) -> dict:
    """Appends 'start <i>' to the marker file, sleeps, appends 'end <i>'."""
    marker = point["marker"]
    i = point["i"]
    with open(marker, "a", encoding="utf-8") as fh:
        fh.write(f"start {i}\n")
    time.sleep(point.get("sleep", 0.3))
    with open(marker, "a", encoding="utf-8") as fh:
        fh.write(f"end {i}\n")
    return {"i": i, "i2": i * i}


def slow_points(marker: str, n: int, sleep: float = 0.3) -> list[dict]:
    return [{"i": i, "marker": marker, "sleep": sleep} for i in range(n)]


def main(argv: list[str]) -> None:
    from numerics.sweeps import run_sweep

    out, marker, n = argv[0], argv[1], int(argv[2])
    run_sweep(slow_marked, slow_points(marker, n), out, n_workers=2, progress=False,
              settings={"test": "kill"})


if __name__ == "__main__":
    main(sys.argv[1:])
