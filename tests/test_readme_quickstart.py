"""The README's quick start runs: its Python block (the block after the ``<!-- quickstart``
marker) is extracted from README.md and executed on a temporary ``my_data.npz``, and its
``poisoncurv spike`` line (the bash block after ``<!-- quickstart-cli``) is run through
``numerics.cli.main`` on the same file, so neither example can rot."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- quickstart"


CLI_MARKER = "<!-- quickstart-cli"


def quickstart_block(text: str, marker: str = MARKER, lang: str = "python") -> str:
    """The first fenced ``lang`` block after ``marker``."""
    start = text.find(marker + " ")
    if start < 0:
        raise AssertionError(f"README.md has no {marker!r} marker")
    m = re.compile(rf"^```{lang}\n(.*?)^```", re.S | re.M).search(text, start)
    if m is None:
        raise AssertionError(f"no ```{lang} block after the marker {marker!r}")
    return m.group(1)


def _write_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    zeta = np.array([1.5, -0.5, 0.0, 0.5])
    np.savez(tmp_path / "my_data.npz", X=X, y=y, zeta=zeta, x0=zeta + 0.3)


def test_quickstart_block_is_found():
    code = quickstart_block(README.read_text())
    assert "shift_and_spike" in code and "my_data.npz" in code
    with pytest.raises(AssertionError, match="marker"):
        quickstart_block("no marker here")


def test_readme_quickstart_runs(tmp_path, monkeypatch):
    _write_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    scope: dict = {"__name__": "__quickstart__"}
    with contextlib.redirect_stdout(out):
        exec(compile(quickstart_block(README.read_text()), "README.md quick start", "exec"),
             scope)
    res = scope["res"]
    assert "measured by refit" in out.getvalue()
    assert res.measured is not None and res.n_clean == 30 and res.d == 4
    # the quick start's result is the real one: the refit agrees with the closed form
    from numerics.tolerances import assert_close

    assert_close(res.exact_shift, res.measured["shift"], "refit", "quick start shift")


def test_readme_cli_line_runs(tmp_path, monkeypatch, capsys):
    cli = pytest.importorskip("numerics.cli", reason="the console script module is not there")
    lines = [ln for ln in quickstart_block(README.read_text(), CLI_MARKER, "bash").splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert len(lines) == 1, lines
    argv = shlex.split(lines[0])
    assert argv[:2] == ["poisoncurv", "spike"]
    _write_data(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert cli.main(argv[1:]) == 0
    out = capsys.readouterr().out
    assert "exact" in out and "measured by refit" in out
