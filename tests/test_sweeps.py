"""numerics.sweeps: stable keys, serial vs LocalCluster vs existing cluster, atomic
point-by-point writing, resume after SIGKILL, failures, stale files, progress output.

The task functions live in tests/_sweep_tasks.py so that Dask worker processes can import them.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from numerics.sweeps import (
    DuplicatePointError,
    NotJSONableError,
    OutDirError,
    StaleResultWarning,
    SweepFailed,
    error_path,
    load_sweep,
    point_key,
    result_path,
    run_sweep,
    sweep_status,
)
from tests import _sweep_tasks as tasks

ROOT = Path(__file__).resolve().parents[1]
RESULT_NAME = re.compile(r"^[0-9a-f]{64}\.json$")
VOLATILE = ("seconds", "finished_utc", "worker")


def _stable(records):
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in records]


def _result_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in out.iterdir() if RESULT_NAME.match(p.name)}


# --------------------------------------------------------------------------- keys


def test_point_key_is_canonical_json_sha256():
    assert point_key({"x": 1}) == hashlib.sha256(b'{"x":1}').hexdigest()
    assert point_key({"b": "s", "a": 0.1}) == hashlib.sha256(b'{"a":0.1,"b":"s"}').hexdigest()
    # order of keys, tuples vs lists and float subclasses do not matter
    assert point_key({"a": 1, "b": (2, 3)}) == point_key({"b": [2, 3], "a": 1})
    np = pytest.importorskip("numpy")
    assert point_key({"x": np.float64(0.25)}) == point_key({"x": 0.25})


def test_point_keys_differ_for_different_settings():
    pts = [{"x": 1}, {"x": 1.0}, {"x": True}, {"x": "1"}, {"x": 2}, {"x": 1, "y": None},
           {"x": [1, 2]}, {"x": [2, 1]}, {"x": {"a": 1}}, {"x": 0.1}, {"x": 0.1 + 1e-17 + 1e-16}]
    keys = [point_key(p) for p in pts]
    assert len(set(keys)) == len(pts)


def test_point_keys_are_stable_across_processes():
    pts = [{"kappa": 0.1, "seed": 3, "trigger": "patch"}, {"frac": 1e-3, "arch": ["cnn", 2]},
           {"nested": {"z": 1.5, "a": [True, None]}}]
    code = ("import json, sys; from numerics.sweeps import point_key; "
            "print(json.dumps([point_key(p) for p in json.loads(sys.argv[1])]))")
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code, json.dumps(pts)], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [point_key(p) for p in pts]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("bad", [
    {"x": object()},
    {"x": float("nan")},
    {"x": float("inf")},
    {1: 2},
    {"x": {"y": {3}}},
    ["not", "a", "mapping"],
])
def test_non_jsonable_points_are_rejected(tmp_path, bad):
    with pytest.raises(NotJSONableError):
        run_sweep(tasks.square, [{"x": 1}, bad], tmp_path / "out", n_workers=0)
    assert not (tmp_path / "out").exists()
    with pytest.raises(NotJSONableError):
        point_key(bad)


def test_non_jsonable_settings_are_rejected(tmp_path):
    with pytest.raises(NotJSONableError, match="settings"):
        run_sweep(tasks.square, [{"x": 1}], tmp_path, n_workers=0, settings={"f": print})


def test_duplicate_points_are_rejected(tmp_path):
    with pytest.raises(DuplicatePointError, match=r"points\[0\] and points\[2\]"):
        run_sweep(tasks.square, [{"x": (1, 2)}, {"x": 3}, {"x": [1, 2]}], tmp_path,
                  n_workers=0)


def test_out_dir_that_is_a_file_is_rejected(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    for call in (lambda: run_sweep(tasks.square, [{"x": 1}], f, n_workers=0),
                 lambda: load_sweep([{"x": 1}], f),
                 lambda: sweep_status([{"x": 1}], f)):
        with pytest.raises(OutDirError) as exc:
            call()
        assert isinstance(exc.value, NotADirectoryError)


@pytest.mark.parametrize("task, message", [
    (tasks.not_a_dict, "InvalidResultError: .* returned list, not a dict"),
    (tasks.not_jsonable, r"InvalidResultError: result\['obj'\] is <object"),
])
def test_result_that_is_not_a_jsonable_dict_is_a_failed_point(tmp_path, task, message):
    with pytest.raises(SweepFailed, match=message) as exc:
        run_sweep(task, [{"x": 1}, {"x": 2}], tmp_path, n_workers=0, progress=False)
    assert [f["index"] for f in exc.value.failed] == [0, 1]
    assert _result_files(tmp_path) == {}


# --------------------------------------------------------------------------- runs


def test_serial_and_local_cluster_give_the_same_records_in_point_order(tmp_path):
    pts = [{"x": x, "name": n} for x in (3, 1, 2, 0, 5) for n in ("a", "b")]
    serial = run_sweep(tasks.square, pts, tmp_path / "serial", n_workers=0, progress=False)
    local = run_sweep(tasks.square, pts, tmp_path / "local", n_workers=2, progress=False)
    assert _stable(serial) == _stable(local)
    assert [r["point"] for r in local] == pts
    assert [r["result"]["y"] for r in local] == [p["x"] ** 2 for p in pts]
    assert local[0]["result"]["pair"] == [3, -3]  # stored as JSON: tuples become lists
    assert any(r["worker"].startswith("tcp://") for r in local)
    assert all(r["worker"].startswith("in-process") for r in serial)
    # what is on disk is what was returned
    assert _stable(load_sweep(pts, tmp_path / "local")) == _stable(local)
    assert sweep_status(pts, tmp_path / "local") == {
        "total": 10, "done": 10, "missing": 0, "failed": 0, "stale": 0}
    # nothing left behind by the atomic writes
    assert sorted(p.name for p in (tmp_path / "local").iterdir()) == sorted(
        f"{point_key(p)}.json" for p in pts)


def test_resume_reuses_finished_points(tmp_path):
    pts = [{"x": x} for x in range(6)]
    first = run_sweep(tasks.square, pts[:4], tmp_path, n_workers=0, progress=False)
    before = _result_files(tmp_path)
    again = run_sweep(tasks.square, pts, tmp_path, n_workers=0, progress=False)
    assert again[:4] == first  # reused, identical records (times included)
    after = _result_files(tmp_path)
    assert {k: after[k] for k in before} == before
    assert len(after) == 6
    assert load_sweep(pts + [{"x": 99}], tmp_path)[-1] is None
    assert sweep_status(pts + [{"x": 99}], tmp_path)["missing"] == 1


def test_failing_task_is_recorded_and_retried(tmp_path):
    out = tmp_path / "out"
    flag = tmp_path / "flag"
    pts = [{"x": x, "ok_flag": str(flag)} for x in range(5)]
    with pytest.raises(SweepFailed) as exc:
        run_sweep(tasks.fail_on_odd, pts, out, n_workers=0, progress=False)
    err = exc.value
    assert [f["index"] for f in err.failed] == [1, 3]
    assert "ValueError: odd x = 3" in str(err)
    assert [r is None for r in err.records] == [False, True, False, True, False]
    for i in (1, 3):
        rec = json.loads(error_path(out, point_key(pts[i])).read_text())
        assert rec["point"] == pts[i]
        assert "Traceback" in rec["traceback"] and "ValueError: odd x" in rec["traceback"]
    assert sweep_status(pts, out) == {
        "total": 5, "done": 3, "missing": 2, "failed": 2, "stale": 0}

    kept = _result_files(out)
    flag.write_text("now odd points succeed")
    recs = run_sweep(tasks.fail_on_odd, pts, out, n_workers=0, progress=False)
    assert [r["result"]["y"] for r in recs] == [0, 10, 20, 30, 40]
    assert all(not error_path(out, point_key(p)).exists() for p in pts)
    after = _result_files(out)
    assert {k: after[k] for k in kept} == kept  # the even points were not recomputed


def test_corrupt_and_mismatching_files_are_recomputed(tmp_path):
    pts = [{"x": x} for x in range(4)]
    run_sweep(tasks.square, pts, tmp_path, n_workers=0, progress=False)
    paths = [result_path(tmp_path, point_key(p)) for p in pts]
    paths[0].write_text('{"key": "trunc')                          # torn / corrupt
    paths[1].write_bytes(b"\xff\xfe not json")                     # garbage
    paths[2].write_text(paths[3].read_text())                      # another point's record
    untouched = paths[3].read_bytes()
    assert sweep_status(pts, tmp_path)["stale"] == 3
    with pytest.warns(StaleResultWarning, match="3 result file") as rec:
        out = run_sweep(tasks.square, pts, tmp_path, n_workers=0, progress=False)
    msg = str(rec[0].message)
    assert "corrupt" in msg and "point mismatch" in msg
    assert [r["result"]["y"] for r in out] == [0, 1, 4, 9]
    assert paths[3].read_bytes() == untouched
    assert sweep_status(pts, tmp_path)["done"] == 4


def test_mismatching_settings_are_recomputed(tmp_path):
    pts = [{"x": x} for x in range(3)]
    old = run_sweep(tasks.square, pts, tmp_path, n_workers=0, progress=False,
                    settings={"data": "mnist", "n": 100})
    assert all(r["settings"] == {"data": "mnist", "n": 100} for r in old)
    assert load_sweep(pts, tmp_path, settings={"n": 100, "data": "mnist"}) == old
    assert load_sweep(pts, tmp_path, settings={"data": "mnist", "n": 200}) == [None] * 3
    with pytest.warns(StaleResultWarning, match="settings mismatch"):
        new = run_sweep(tasks.square, pts, tmp_path, n_workers=0, progress=False,
                        settings={"data": "mnist", "n": 200})
    assert all(r["settings"] == {"data": "mnist", "n": 200} for r in new)
    assert load_sweep(pts, tmp_path, settings={"data": "mnist", "n": 100}) == [None] * 3


def test_existing_cluster_by_address(tmp_path):
    from distributed import Client, LocalCluster

    flag = tmp_path / "flag"
    pts = [{"x": x, "ok_flag": str(flag)} for x in range(6)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None, silence_logs=40) as cluster:
        addr = cluster.scheduler_address
        with pytest.raises(ValueError, match="n_workers"):
            run_sweep(tasks.square, pts, tmp_path, scheduler=addr, n_workers=2)
        with pytest.raises(SweepFailed) as exc:  # a failing task on a worker process
            run_sweep(tasks.fail_on_odd, pts, tmp_path, scheduler=addr, progress=False)
        assert [f["index"] for f in exc.value.failed] == [1, 3, 5]
        flag.write_text("ok")
        recs = run_sweep(tasks.fail_on_odd, pts, tmp_path, scheduler=addr, progress=False)
        assert [r["result"]["y"] for r in recs] == [10 * x for x in range(6)]
        workers = set(cluster.scheduler_info["workers"])
        assert {r["worker"].split(" ")[0] for r in recs} <= workers
        # the cluster was used, not shut down
        with Client(addr) as client:
            assert len(client.scheduler_info()["workers"]) == 2


def test_keyboard_interrupt_closes_the_cluster_and_keeps_finished_points(tmp_path):
    out = tmp_path / "out"
    marker = tmp_path / "marker"
    pts = tasks.slow_points(str(marker), 24, sleep=0.3)
    main = threading.main_thread().ident
    caught = threading.Event()
    sent = []

    def interrupt_after_first_result():
        """Ctrl-C once the first result is on disk.  Again if results are still being
        written 0.5-1.5 s later: the interrupt was lost (seen twice in five -n 2 runs of
        tests/, cause not captured; Python swallows e.g. a KeyboardInterrupt raised inside a
        finaliser), as a user would press Ctrl-C again.  Only the sweep's main loop writes
        result files, so none appear while the KeyboardInterrupt is being handled."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < 60:
            if out.is_dir() and _result_files(out):
                break
            time.sleep(0.02)
        while len(sent) < 5 and not caught.is_set():
            signal.pthread_kill(main, signal.SIGINT)
            sent.append(1)
            if caught.wait(0.5):  # (a result being written as the signal came may land)
                return
            n = len(_result_files(out))
            if caught.wait(1.0) or len(_result_files(out)) == n:
                return

    interrupter = threading.Thread(target=interrupt_after_first_result, daemon=True)
    interrupter.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(tasks.slow_marked, pts, out, n_workers=2, progress=False)
    finally:
        caught.set()
        interrupter.join()
    assert multiprocessing.active_children() == []  # the LocalCluster's processes are gone
    kept = _result_files(out)
    assert 1 <= len(kept) < len(pts)
    recs = run_sweep(tasks.slow_marked, pts, out, n_workers=0, progress=False)
    assert [r["result"]["i"] for r in recs] == list(range(len(pts)))
    after = _result_files(out)
    assert {k: after[k] for k in kept} == kept


def test_kill_and_resume(tmp_path):
    """SIGKILL a sweep (its whole process group: driver, nannies, workers) midway; the rerun
    computes only the points without a result file, and every file written before the kill is
    kept as it was."""
    out = tmp_path / "out"
    marker = tmp_path / "marker"
    n = 16
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests._sweep_tasks", str(out), str(marker), str(n)],
        cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        t0 = time.monotonic()
        while len(_result_files(out) if out.is_dir() else {}) < 4:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() - t0 < 90, "the sweep wrote no results"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stderr.close()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 10:  # until no process of the group is left
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("processes of the killed sweep are still running")

    before = _result_files(out)
    starts_before = Counter(line.split()[1] for line in marker.read_text().splitlines()
                            if line.startswith("start"))
    assert 4 <= len(before) < n, "the kill should come midway"
    pts = tasks.slow_points(str(marker), n)
    keys = [point_key(p) for p in pts]
    done_before = {i for i, k in enumerate(keys) if f"{k}.json" in before}
    assert sweep_status(pts, out, settings={"test": "kill"})["done"] == len(done_before)

    recs = run_sweep(tasks.slow_marked, pts, out, n_workers=2, progress=False,
                     settings={"test": "kill"})

    assert [r["result"]["i2"] for r in recs] == [i * i for i in range(n)]
    after = _result_files(out)
    assert len(after) == n
    assert {k: after[k] for k in before} == before  # nothing finished was lost or rewritten
    starts = Counter(line.split()[1] for line in marker.read_text().splitlines()
                     if line.startswith("start"))
    for i in range(n):
        new_runs = starts[str(i)] - starts_before[str(i)]
        # finished before the kill: not recomputed; the others: computed exactly once now
        assert new_runs == (0 if i in done_before else 1), (i, starts, starts_before)
    assert all(starts[str(i)] == 1 for i in done_before)


# --------------------------------------------------------------------------- progress


def test_progress_bar_shows_resumed_count_and_eta(tmp_path, capsys):
    pts = [{"x": x} for x in range(7)]
    run_sweep(tasks.square, pts[:3], tmp_path, n_workers=0, progress=False)
    assert capsys.readouterr().err == ""  # progress=False is silent
    run_sweep(tasks.square, pts, tmp_path, n_workers=0, desc="squares")
    err = capsys.readouterr().err
    assert "squares" in err
    assert "3/7 points" in err and "7/7 points" in err
    assert "resumed=3" in err
    assert re.search(r"ETA \d\d:\d\d", err), err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(r"squares: 7 points: 4 computed, 3 reused, 0 failed; wall \d+\.\d s",
                        last), last
