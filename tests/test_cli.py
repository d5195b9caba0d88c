"""The ``poisoncurv`` command line (:mod:`numerics.cli`): every command in-process through
``main([...])``, ``--help`` and one real ``check`` in subprocesses, and the error cases
(each a named error and exit code 2, before anything slow starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from derivations.claims import CLAIMS
from derivations.kernels import REGISTRY, get_spec
from numerics import cli
from numerics.api import shift_and_spike
from numerics.claim_report import VERDICTS, claim_verdict, load_report

ROOT = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path) -> dict[str, str]:
    """A subprocess environment whose run reports go to ``tmp_path`` (never reports/)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "CI")}
    env.update(PYTHONPATH=str(ROOT), CLAIMS_RUNS_DIR=str(tmp_path / "runs"),
               CLAIMS_REPORT=str(tmp_path / "claims.json"))
    return env


@pytest.fixture(autouse=True)
def _isolated_reports(tmp_path, monkeypatch):
    monkeypatch.setenv("CLAIMS_RUNS_DIR", str(tmp_path / "runs"))
    monkeypatch.setenv("CLAIMS_REPORT", str(tmp_path / "claims.json"))


def _no_subprocess(*args, **kwargs):
    raise AssertionError("a subprocess was started although the command line was invalid")


# ----------------------------------------------------------------------------- --help
def test_help_in_a_subprocess(tmp_path):
    for mod in ("numerics.cli", "numerics"):
        proc = subprocess.run([sys.executable, "-m", mod, "--help"], cwd=ROOT,
                              env=_env(tmp_path), capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        for command in ("status", "check", "kernels", "spike", "book"):
            assert command in proc.stdout


def test_usage_errors_return_2(capsys):
    assert cli.main([]) == 2
    assert cli.main(["spike"]) == 2  # DATA, --kernel, ... missing
    assert cli.main(["status", "--", "-x"]) == 2
    assert "for `check` only" in capsys.readouterr().err
    assert cli.main(["check", "--help"]) == 0


# ----------------------------------------------------------------------------- status
def _item(cid: str, role: str, status: str, test: str, *, scope: str = "",
          asserted: tuple[str, ...] = ()) -> dict:
    """One item of a run report; ``kernel`` is the ``[param]`` of ``test``, as the plugin
    records it."""
    kernel = test[test.index("[") + 1:-1] if test.endswith("]") else None
    return {"test": test, "claims": [[cid, role, scope]], "kernel": kernel, "status": status,
            "evidence": {"asserted": list(asserted), "not_applicable": {}}}


def _write_report(path: Path, items: list[dict], *, commit: str | None = None) -> Path:
    """A run report as proofs_check/plugin.py writes it (schema 2)."""
    from numerics.claim_report import current_commit

    now = time.time()
    path.write_text(json.dumps({
        "schema": 2, "run_id": "20260101-000000-42", "generated_unix": now - 3 * 3600,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now - 3 * 3600)),
        "commit": (current_commit() or "") if commit is None else commit, "dirty": False,
        "hypothesis_profile": "ci", "args": ["proofs_check"], "exitstatus": 0,
        "complete": True, "items": items}))
    return path


# C1: a general symbolic proof and a passing numeric check -> proved (rules of
# numerics.claim_report); C3: a failed check -> failing; every other claim: nothing ran
ITEMS = [
    _item("C1", "symbolic", "passed", "p.py::t_sym", scope="general"),
    _item("C1", "numeric", "passed", "p.py::t_num[gaussian]", asserted=("gaussian",)),
    _item("C3", "numeric", "failed", "q.py::t_num[laplace]"),
]


def test_status_table(tmp_path, capsys):
    path = _write_report(tmp_path / "report.json", ITEMS)
    assert cli.main(["status", "--report", str(path)]) == 0
    out = capsys.readouterr().out
    rep = load_report(path)
    lines = {line.split()[0]: line for line in out.splitlines() if line.split()
             and line.split()[0] in {cl.id for cl in CLAIMS}}
    assert set(lines) == {cl.id for cl in CLAIMS}
    c1 = claim_verdict("C1", rep.items)
    assert c1.key == "proved"
    assert c1.label in lines["C1"] and "general" in lines["C1"] and "gaussian" in lines["C1"]
    assert VERDICTS["failing"] in lines["C3"]
    assert all(VERDICTS["incomplete"] in lines[c.id] for c in CLAIMS if c.id not in
               ("C1", "C3"))
    assert "run 20260101-000000-42" in out and "(3 h 0 min ago)" in out
    assert "Hypothesis profile ci" in out


def test_status_full_and_json(tmp_path, capsys):
    path = _write_report(tmp_path / "report.json", ITEMS)
    assert cli.main(["status", "--report", str(path), "--full"]) == 0
    out = capsys.readouterr().out
    assert "scope of the symbolic proofs: general" in out
    assert cli.main(["status", "--report", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["report"]["run_id"] == "20260101-000000-42"
    assert 3 * 3600 <= data["report"]["age_s"] < 3 * 3600 + 600
    by_id = {c["id"]: c for c in data["claims"]}
    assert list(by_id) == [cl.id for cl in CLAIMS]
    assert by_id["C1"]["key"] == "proved" and by_id["C1"]["kernels"] == ["gaussian"]
    assert by_id["C1"]["verdict"] == claim_verdict("C1", load_report(path).items).label
    assert by_id["C3"]["key"] == "failing" and by_id["C3"]["failures"]


def test_status_stale_report_warns(tmp_path, capsys):
    path = _write_report(tmp_path / "report.json", ITEMS, commit="0" * 40)
    assert cli.main(["status", "--report", str(path)]) == 0
    out = capsys.readouterr().out
    assert "stale" in out and "warning: the report was written at commit 0000000000" in out


@pytest.mark.parametrize("content", [None, "{not json"], ids=["missing", "invalid"])
def test_status_without_a_usable_report(tmp_path, capsys, content):
    path = tmp_path / "claims.json"
    if content is not None:
        path.write_text(content)
    assert cli.main(["status"]) == 2  # $CLAIMS_REPORT points at tmp_path/claims.json
    err = capsys.readouterr().err
    assert str(path) in err and "scripts/run_all.sh" in err


# ----------------------------------------------------------------------------- check
@pytest.mark.parametrize("argv, message", [
    (["check", "C99"], "valid ids: C1, C2, C3"),
    (["check", "C3,X"], "unknown claim id 'X'"),
    (["check", "C3", "--kernel", "nope"], "valid kernels: linear"),
    (["check", "C3", "--kernel", "gaussian", "--", "-k", "x"], "either --kernel or"),
    (["check", "C3", "-n", "-1"], "must be >= 0"),
])
def test_check_refuses_bad_values_before_pytest(monkeypatch, capsys, argv, message):
    monkeypatch.setattr(cli, "_stream", _no_subprocess)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "CliUsageError" in err


def test_check_builds_the_pytest_run_and_reads_its_report(tmp_path, monkeypatch, capsys):
    """The command, profile and run id given to pytest; the verdict printed is the one of
    the run report that run wrote (here a stand-in for pytest writes it); pytest's exit
    code is returned."""
    seen = {}

    def fake_call(cmd, cwd, env):
        seen.update(cmd=cmd, cwd=cwd, env=env)
        runs = Path(env["CLAIMS_RUNS_DIR"])
        runs.mkdir(parents=True)
        _write_report(runs / f"{env['CLAIMS_RUN_ID']}.json", [
            _item("C3", "numeric", "passed", "t.py::a[gaussian]", asserted=("gaussian",)),
            _item("C3", "numeric", "failed", "t.py::a[laplace]"),
            _item("C5", "numeric", "deselected", "u.py::b[gaussian]")])
        return 1

    monkeypatch.setattr(cli, "_stream", fake_call)
    rc = cli.main(["check", "c3", "C5", "--profile", "thorough", "--kernel", "gaussian",
                   "--kernel", "laplace", "-n", "2", "--", "-x", "--tb=short"])
    assert rc == 1
    assert seen["cmd"][1:] == ["-m", "pytest", "proofs_check", "--claim", "C3,C5", "-k",
                               "gaussian or laplace", "-n", "2", "-x", "--tb=short"]
    assert Path(seen["cwd"]) == cli.REPO_ROOT
    assert seen["env"]["HYPOTHESIS_PROFILE"] == "thorough"
    out = capsys.readouterr().out
    assert f"C3: {VERDICTS['failing']}" in out and f"C5: {VERDICTS['incomplete']}" in out
    assert "C3 for kernel gaussian: holds" in out and "C3 for kernel laplace: failing" in out
    assert "not run in this run: 1 deselected" in out and seen["env"]["CLAIMS_RUN_ID"] in out


def test_check_lines_show_refutation_numbers():
    """Refutations are printed with the numbers the run recorded, five at most."""
    items = [{**_item("C3", "as_stated", "xfailed", f"t.py::s[k{i}]"), "evidence": {
        "refutation": {"claim": "C3", "what": "stated spike", "kernel": f"k{i}",
                       "numbers": {"measured": 1.5 + i, "stated": 1.0}}}} for i in range(7)]
    lines = cli._check_lines(claim_verdict("C3", items))
    refuted = [line for line in lines if "refuted as stated" in line]
    assert refuted[0] == "  refuted as stated [k0]: stated spike (measured = 1.5, stated = 1)"
    assert len(refuted) == 5 and "  ... and 2 more refutations" in lines


def test_check_without_a_run_report(monkeypatch, capsys):
    monkeypatch.setattr(cli, "_stream", lambda cmd, cwd, env: 4)
    assert cli.main(["check", "C1"]) == 4
    assert "no run report was written" in capsys.readouterr().err


def test_check_runs_one_claim_for_one_kernel(tmp_path):
    """A real run: C8's checks for the Gaussian kernel (a few seconds of checks)."""
    env = _env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "numerics.cli", "check", "C8", "--kernel",
                           "gaussian", "--profile", "ci", "--", "-q", "-p", "no:cacheprovider"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (run_file,) = (tmp_path / "runs").glob("*.json")
    run = json.loads(run_file.read_text())
    assert run["claims_selected"] == ["C8"] and run["hypothesis_profile"] == "ci"
    assert ["-k", "gaussian"] == run["args"][run["args"].index("-k"):][:2]
    assert not run["complete"] and not (tmp_path / "claims.json").exists()
    ran = [i for i in run["items"] if i["status"] == "passed"]
    assert ran and all("gaussian" in i["test"] for i in ran)
    assert all(i["status"] == "deselected" for i in run["items"]
               if not any(c[0] == "C8" for c in i["claims"]))
    v = claim_verdict("C8", run["items"])
    assert v.key == "incomplete"  # the other kernels' checks were deselected
    assert f"C8: {v.label}" in proc.stdout
    assert "C8 for kernel gaussian: holds" in proc.stdout
    assert "running the checks of C8" in proc.stderr


# ----------------------------------------------------------------------------- kernels
def test_kernels_json(capsys):
    assert cli.main(["kernels", "--json", "gaussian", "laplace", "linear"]) == 0
    captured = capsys.readouterr()
    data = {k["name"]: k for k in json.loads(captured.out)}
    assert set(data) == {"gaussian", "laplace", "linear"}
    # R_k = (g'/g)^2: r^2 / ell^4 for the Gaussian (-> 0 like r^2); 1 / ell^2 for Laplace;
    # 1 / |zeta|^2 for the linear kernel (grad k(zeta, zeta) = zeta)
    assert data["gaussian"]["near_clone"]["verdict"] == "invisible"
    assert data["gaussian"]["near_clone"]["order"] == 2
    assert data["laplace"]["near_clone"]["verdict"] == "visible"
    assert data["linear"]["near_clone"]["verdict"] == "visible"
    (ell,) = data["gaussian"]["params"]
    spec_ell = get_spec("gaussian").params[0]
    assert (ell["name"], ell["default"], ell["positive"]) == ("ell", spec_ell.default, True)
    assert data["linear"]["params"] == [] and data["gaussian"]["family"] == "isotropic"
    assert "[1/3] linear ..." in captured.err and "[3/3]" in captured.err


def test_kernels_text_and_no_classify(capsys):
    assert cli.main(["kernels", "--no-classify"]) == 0
    out = capsys.readouterr().out
    for name in REGISTRY:
        assert any(line.startswith(f"{name}  (") for line in out.splitlines()), name
    assert "near clone" not in out
    assert "p = 2 (degree; integer, > 0)" in out
    assert cli.main(["kernels", "polynomial"]) == 0
    assert "near clone: visible" in capsys.readouterr().out


def test_kernels_unknown_name(capsys):
    assert cli.main(["kernels", "nope"]) == 2
    assert "valid kernels: linear" in capsys.readouterr().err


@pytest.mark.slow
def test_kernels_json_every_registered_kernel(capsys):
    """Every registered kernel with its near-clone class (the NTKs' limits: ~40 s)."""
    assert cli.main(["kernels", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [k["name"] for k in data] == list(REGISTRY)
    assert all(k["near_clone"]["verdict"] in ("invisible", "visible", "undetermined")
               for k in data)


# ----------------------------------------------------------------------------- spike
@pytest.fixture
def data(tmp_path):
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(15, 3)), rng.normal(size=15)
    zeta = np.array([1.0, -0.5, 0.25])
    x0 = zeta + np.array([0.1, 0.2, -0.1])
    np.savez(tmp_path / "d.npz", X=X, y=y, zeta=zeta, x0=x0)
    np.savetxt(tmp_path / "d.csv", np.c_[y, X], delimiter=",", header="label,a,b,c",
               comments="")
    np.savetxt(tmp_path / "nohead.csv", np.c_[X, y], delimiter=",")
    return tmp_path, X, y, zeta, x0


def _spike_json(capsys, argv: list[str]) -> dict:
    assert cli.main(["spike", *argv, "--json"]) == 0, capsys.readouterr().err
    out = json.loads(capsys.readouterr().out)
    out.pop("data")
    return out


def _api(*args, **kwargs) -> dict:
    return json.loads(json.dumps(shift_and_spike(*args, **kwargs).to_dict()))


def test_spike_npz_matches_the_api(data, capsys):
    d, X, y, zeta, x0 = data
    got = _spike_json(capsys, [str(d / "d.npz"), "--kernel", "matern52", "--param",
                               "ell=0.7", "--m", "4", "--y-t", "-1.5", "--c", "0.05"])
    assert got == _api("matern52", X, y, zeta, 4, -1.5, x0, 0.05, ell=0.7)


def test_spike_csv_matches_the_api(data, capsys):
    d, X, y, zeta, x0 = data
    want = _api("gaussian", X, y, X[2], 3, 2.0, X[5], 0.1)
    for argv in ([str(d / "d.csv"), "--label-column", "label"],
                 [str(d / "d.csv"), "--label-column", "0"], [str(d / "nohead.csv")]):
        got = _spike_json(capsys, [*argv, "--kernel", "gaussian", "--m", "3", "--y-t", "2",
                                   "--c", "0.1", "--zeta-row", "2", "--x0-row", "5"])
        assert got == want, argv


def test_spike_vectors_distance_and_measure(data, capsys):
    d, X, y, zeta, x0 = data
    z = np.array([0.5, 0.5, 0.0])
    got = _spike_json(capsys, [str(d / "nohead.csv"), "--kernel", "polynomial", "--param",
                               "p=3", "--m", "2", "--y-t", "1", "--c", "0.2", "--zeta",
                               "0.5,0.5,0", "--x0-distance", "0.3", "--direction", "0,0,2",
                               "--measure"])
    want = _api("polynomial", X, y, z, 2, 1.0, z + np.array([0, 0, 0.3]), 0.2, p=3,
                measure=True)
    assert got == want
    assert got["measured"] is not None and got["kernel_params"]["p"] == 3


def test_spike_text_output(data, capsys):
    d, X, y, zeta, x0 = data
    assert cli.main(["spike", str(d / "d.npz"), "--kernel", "gaussian", "--m", "4",
                     "--y-t", "1", "--c", "0.1"]) == 0
    captured = capsys.readouterr()
    res = shift_and_spike("gaussian", X, y, zeta, 4, 1.0, x0, 0.1)
    assert res.summary() in captured.out and "d.npz: arrays X, y, zeta, x0" in captured.out
    assert "loading" in captured.err and "computing the closed forms" in captured.err


def _npz(path: Path, **arrays) -> str:
    np.savez(path, **arrays)
    return str(path)


SPIKE = ["--kernel", "gaussian", "--m", "3", "--y-t", "1", "--c", "0.1"]


@pytest.mark.parametrize("case", [
    "missing file", "extension", "no y", "object array", "corrupt npz", "non-numeric csv",
    "ragged csv", "y rows", "zeta length", "zeta option length", "row out of range",
    "bad param", "unknown kernel", "bad label column", "no trigger", "negative distance",
    "one column csv", "direction alone",
])
def test_spike_errors(tmp_path, capsys, case):
    X, y = np.zeros((4, 2)) + np.arange(4)[:, None], np.arange(4.0)
    csv_bad = tmp_path / "bad.csv"
    csv_bad.write_text("a,b,label\n1,2,3\n4,x,6\n")
    ok = _npz(tmp_path / "ok.npz", X=X, y=y)
    rows = ["--zeta-row", "0", "--x0-row", "1"]
    argv, error, message = {
        "missing file": ([str(tmp_path / "none.npz"), *rows], "DataFileNotFoundError",
                         "does not exist"),
        "extension": ([str(_write(tmp_path / "d.txt", "1,2\n")), *rows],
                      "UnsupportedDataFormatError", "'.txt' is not supported"),
        "no y": ([_npz(tmp_path / "a.npz", X=X), *rows], "MissingArrayError", "'y'"),
        "object array": ([_npz(tmp_path / "o.npz", X=np.array([{"a": 1}], dtype=object),
                               y=y), *rows], "UnsupportedDataFormatError", "unpickling"),
        "corrupt npz": ([str(_write(tmp_path / "c.npz", "not a zip")), *rows],
                        "UnsupportedDataFormatError", "not a readable .npz"),
        "non-numeric csv": ([str(csv_bad), *rows], "NonNumericDataError",
                            "column 'b' is not numeric: 'x' on line 3"),
        "ragged csv": ([str(_write(tmp_path / "r.csv", "1,2,3\n4,5\n")), *rows],
                       "DimensionMismatchError", "line 2 has 2 fields"),
        "y rows": ([_npz(tmp_path / "b.npz", X=X, y=y[:3]), *rows], "DimensionMismatchError",
                   "array 'y' must have shape (4,)"),
        "zeta length": ([_npz(tmp_path / "z.npz", X=X, y=y, zeta=np.ones(3)), "--x0-row",
                         "1"], "DimensionMismatchError", "array 'zeta' must have shape (2,)"),
        "zeta option length": ([ok, "--zeta", "1,2,3", "--x0-row", "1"],
                               "DimensionMismatchError", "--zeta: 3 values given"),
        "row out of range": ([ok, "--zeta-row", "4", "--x0-row", "1"], "CliUsageError",
                             "--zeta-row 4 is out of range"),
        "bad param": ([ok, *rows, "--param", "ell"], "CliUsageError", "NAME=VALUE"),
        "unknown kernel": ([ok, *rows, "--kernel", "nope"], "UnknownKernelNameError",
                           "'nope'"),
        "bad label column": ([str(csv_bad), *rows, "--label-column", "z"], "CliUsageError",
                             "no such column"),
        "no trigger": ([ok, "--x0-row", "1"], "CliUsageError", "no trigger"),
        "negative distance": ([ok, "--zeta-row", "0", "--x0-distance", "-1"],
                              "CliUsageError", "--x0-distance must be"),
        "one column csv": ([str(_write(tmp_path / "one.csv", "1\n2\n")), *rows],
                           "DimensionMismatchError", "at least one input column"),
        "direction alone": ([ok, *rows, "--direction", "1,0"], "CliUsageError",
                            "give both"),
    }[case]
    assert cli.main(["spike", *argv[:1], *SPIKE, *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert f"error: {error}: " in err and message in err, err


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_loader_errors_are_value_errors(tmp_path):
    for cls in (cli.DataFileNotFoundError, cli.UnsupportedDataFormatError,
                cli.MissingArrayError, cli.NonNumericDataError, cli.DimensionMismatchError):
        assert issubclass(cls, cli.DataFileError) and issubclass(cls, ValueError)
    with pytest.raises(cli.DataFileNotFoundError, match="is not a file"):
        cli.load_data_file(tmp_path)
    data = cli.load_data_file(_write(tmp_path / "h.csv", "x,y\n1,2\n3,4\n"))
    assert data.X.tolist() == [[1.0], [3.0]] and data.y.tolist() == [2.0, 4.0]


# ----------------------------------------------------------------------------- book
@pytest.mark.parametrize("code, index, rc", [(0, True, 0), (3, False, 3), (0, False, 1)],
                         ids=["built", "failed", "no index page"])
def test_book(tmp_path, monkeypatch, capfd, code, index, rc):
    """A stand-in build script: its output streams through, its exit code is returned, and
    the index page is printed only when it exists."""
    script = _write(tmp_path / "build.sh", f"echo building the book\nexit {code}\n")
    page = tmp_path / "html" / "index.html"
    if index:
        page.parent.mkdir()
        page.write_text("<html></html>")
    monkeypatch.setattr(cli, "BOOK_SCRIPT", script)
    monkeypatch.setattr(cli, "BOOK_INDEX", page)
    assert cli.main(["book"]) == rc
    out, err = capfd.readouterr()
    assert "building the book" in out and "building the book:" in err
    assert (f"book: {page}" in out) == (rc == 0)
    if rc:
        assert "failed" in err or "missing" in err


# ----------------------------------------------------------------------------- --import
USER_KERNEL = '''
import sympy as sp
from derivations.kernels import KernelSpec, Param, r
from numerics.registration import register_kernel

ell = sp.Symbol("ell", positive=True)
register_kernel(KernelSpec("cauchy_cli", "isotropic", 1 / (1 + r**2 / ell**2),
                           (Param(ell, 1.0, "length scale", bounds=(0.1, 10.0)),),
                           title="Cauchy"))
'''


@pytest.fixture
def user_kernel(tmp_path):
    from derivations.kernels import unregister

    path = _write(tmp_path / "my_kernels.py", USER_KERNEL)
    yield path
    unregister("cauchy_cli")


def test_import_registers_a_user_kernel(user_kernel, data, capsys):
    assert cli.main(["kernels", "--import", str(user_kernel), "--json", "cauchy_cli"]) == 0
    (k,) = json.loads(capsys.readouterr().out)
    # g(r) = 1 / (1 + r^2/ell^2): g'(0) = 0, so R_k = (g'/g)^2 -> 0 like r^2 (C6)
    assert k["name"] == "cauchy_cli" and k["near_clone"]["verdict"] == "invisible"
    assert k["near_clone"]["order"] == 2 and k["params"][0]["bounds"] == [0.1, 10.0]
    d, X, y, zeta, x0 = data
    got = _spike_json(capsys, [str(d / "d.npz"), "--import", str(user_kernel), "--kernel",
                               "cauchy_cli", "--param", "ell=2", "--m", "3", "--y-t", "1",
                               "--c", "0.1"])
    assert got == _api("cauchy_cli", X, y, zeta, 3, 1.0, x0, 0.1, ell=2.0)
    assert cli.main(["spike", str(d / "d.npz"), "--kernel", "cauchy_cli", "--param",
                     "ell=20", "--m", "3", "--y-t", "1", "--c", "0.1"]) == 2
    assert "outside its declared range" in capsys.readouterr().err


@pytest.mark.parametrize("target, message", [
    ("no_such_module_xyz", "No module named"), ("missing.py", "no such file"),
    ("broken.py", "failed: ZeroDivisionError")])
def test_import_errors(tmp_path, capsys, target, message):
    _write(tmp_path / "broken.py", "1 / 0\n")
    if target.endswith(".py"):
        target = str(tmp_path / target)
    assert cli.main(["kernels", "--no-classify", "--import", target]) == 2
    err = capsys.readouterr().err
    assert "CliUsageError" in err and message in err


def test_stream_lets_the_child_finish_after_ctrl_c(monkeypatch):
    """On the first Ctrl-C the child (pytest, which writes its run report when interrupted)
    is waited for, not killed; its exit code is returned. A second Ctrl-C kills it."""
    class FakeChild:
        def __init__(self, interrupts):
            self.interrupts, self.killed = interrupts, False

        def wait(self):
            if self.interrupts:
                self.interrupts -= 1
                raise KeyboardInterrupt
            return 2

        def kill(self):
            self.killed = True

    once = FakeChild(1)
    monkeypatch.setattr(cli.subprocess, "Popen", lambda *a, **k: once)
    assert cli._stream(["x"], ROOT) == 2 and not once.killed
    twice = FakeChild(2)
    monkeypatch.setattr(cli.subprocess, "Popen", lambda *a, **k: twice)
    with pytest.raises(KeyboardInterrupt):
        cli._stream(["x"], ROOT)
    assert twice.killed
