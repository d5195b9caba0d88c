"""The README's quick start runs: its Python block is extracted from README.md (the block after
the ``<!-- quickstart`` marker) and executed on a temporary ``my_data.npz``, so the example can
never rot."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
MARKER = "<!-- quickstart"


def quickstart_block(text: str) -> str:
    """The first fenced ``python`` block after the quick-start marker."""
    start = text.find(MARKER)
    if start < 0:
        raise AssertionError(f"README.md has no {MARKER!r} marker")
    m = re.compile(r"^```python\n(.*?)^```", re.S | re.M).search(text, start)
    if m is None:
        raise AssertionError("no ```python block after the quick-start marker")
    return m.group(1)


def test_quickstart_block_is_found():
    code = quickstart_block(README.read_text())
    assert "shift_and_spike" in code and "my_data.npz" in code
    with pytest.raises(AssertionError, match="marker"):
        quickstart_block("no marker here")


def test_readme_quickstart_runs(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.normal(size=30)
    zeta = np.array([1.5, -0.5, 0.0, 0.5])
    np.savez(tmp_path / "my_data.npz", X=X, y=y, zeta=zeta, x0=zeta + 0.3)
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
