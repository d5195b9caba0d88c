"""The on-disk symbolic cache (:mod:`derivations.symcache`) and its two users: the kernel
coefficients (:func:`derivations.kernels.gradient_coefficients`) and the generated torch
functions (:func:`numerics.kernels.lambdify_torch` with a ``cache_key``).

A cached result must be the same expression (``srepr``-equal) or the same function
(bit-identical outputs) as a fresh derivation; a damaged or foreign record is never used;
a cache that cannot be written costs speed, never a result."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
import torch

from derivations import symcache
from derivations.kernels import (
    BUILTIN_NAMES,
    KernelSpec,
    Param,
    a,
    b,
    get_spec,
    gradient_coefficients,
    r,
    spec_fingerprint,
    u,
)
from numerics.kernels import _coefficient_keys, lambdify_torch

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(symcache.ENV_VAR, str(tmp_path / "symcache"))
    return tmp_path / "symcache"


def _records(root: Path) -> list[Path]:
    return sorted(root.glob("*/*.json"))


# ------------------------------------------------------------------ the store itself
def test_location_and_switch(tmp_path, monkeypatch):
    monkeypatch.setenv(symcache.ENV_VAR, str(tmp_path / "x"))
    assert symcache.cache_dir() == tmp_path / "x"
    for off in ("off", "0", "none", "FALSE"):
        monkeypatch.setenv(symcache.ENV_VAR, off)
        assert symcache.cache_dir() is None
        assert symcache.store_text("k-1", "text") is False
        assert symcache.load_text("k-1") is None
    monkeypatch.delenv(symcache.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert symcache.cache_dir() == tmp_path / "xdg" / "poisoncurv" / "sympy"


def test_keys_depend_on_every_part():
    code = symcache.code_fingerprint(["derivations/kernels.py"])
    base = symcache.make_key("ns", code, "a", "b")
    assert base == symcache.make_key("ns", code, "a", "b")
    others = {symcache.make_key("ns2", code, "a", "b"),
              symcache.make_key("ns", code, "a", "c"),
              symcache.make_key("ns", code, "ab"),
              symcache.make_key("ns", symcache.code_fingerprint(["derivations/budget.py"]),
                                "a", "b")}
    assert base not in others and len(others) == 4
    with pytest.raises(TypeError, match="non-empty strings"):
        symcache.make_key("", code)
    with pytest.raises(TypeError, match="non-empty strings"):
        symcache.make_key("ns", code, 3)  # type: ignore[arg-type]


def test_store_load_and_damaged_records(cache):
    key = symcache.make_key("t", "c", "x")
    assert symcache.load_text(key) is None
    assert symcache.store_text(key, "hello")
    assert symcache.load_text(key) == "hello"
    (path,) = _records(cache)
    record = json.loads(path.read_text())
    # a torn or edited record fails its checksum and is ignored
    record["text"] = "hellp"
    path.write_text(json.dumps(record))
    before = symcache.stats()["refused"]
    assert symcache.load_text(key) is None
    assert symcache.stats()["refused"] == before + 1
    path.write_text("{not json")
    assert symcache.load_text(key) is None
    # a record stored under another key (a copied file) is refused too
    other = symcache.make_key("t", "c", "y")
    symcache.store_text(other, "hello")
    src = next(p for p in _records(cache) if other in p.name)
    path.write_text(src.read_text())
    assert symcache.load_text(key) is None
    assert symcache.clear() == 2 and _records(cache) == []


def test_unwritable_cache_warns_once_and_still_computes(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(symcache.ENV_VAR, str(blocker / "sub"))
    calls = []
    with pytest.warns(RuntimeWarning, match="cannot write"):
        out = symcache.cached_text(symcache.make_key("t", "c", "z"),
                                   lambda: calls.append(1) or "v")
    assert out == "v" and calls == [1]


def test_encode_decode_round_trip():
    x = sp.Symbol("x", positive=True)
    value = {"e": sp.exp(-x**2) / sp.sqrt(2 * sp.pi), "none": None, "n": 3, "f": 0.5,
             "s": "text", "seq": [x, sp.Integer(1)], "pw": sp.Piecewise((1 - x, x < 1), (0, True))}
    back = symcache.decode(json.loads(json.dumps(symcache.encode(value))))
    assert back["e"] == value["e"] and sp.srepr(back["e"]) == sp.srepr(value["e"])
    assert back["e"].free_symbols == {x}  # assumptions kept: the same symbol
    assert back["seq"] == tuple(value["seq"]) and back["pw"] == value["pw"]
    assert (back["none"], back["n"], back["f"], back["s"]) == (None, 3, 0.5, "text")
    with pytest.raises(TypeError, match="cannot store"):
        symcache.encode({"o": object()})
    with pytest.raises(TypeError, match="keys must be strings"):
        symcache.encode({1: x})


def test_decode_evaluates_sympy_names_only():
    with pytest.raises(NameError):
        symcache.decode({"srepr": "__import__('os').getcwd()"})
    with pytest.raises(NameError):
        symcache.decode({"srepr": "open('/etc/passwd')"})


# ------------------------------------------------------------------ kernel coefficients
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_cached_coefficients_equal_a_fresh_derivation(name, cache):
    spec = get_spec(name)
    misses = symcache.stats()["misses"]
    fresh = gradient_coefficients(spec)  # a miss: derives (derive_coefficients) and stores
    assert symcache.stats()["misses"] == misses + 1 and len(_records(cache)) == 1
    hits = symcache.stats()["hits"]
    cached = gradient_coefficients(spec)  # read back from disk
    assert symcache.stats()["hits"] == hits + 1
    assert cached.family == fresh.family
    assert list(cached.terms) == list(fresh.terms) == list(_coefficient_keys(spec))
    for k in fresh.terms:
        assert sp.srepr(cached.terms[k]) == sp.srepr(fresh.terms[k]), k
        want = fresh.diagonal[k]
        assert (cached.diagonal[k] is None) == (want is None)
        if want is not None:
            assert sp.srepr(cached.diagonal[k]) == sp.srepr(want), k


def test_a_changed_kernel_is_a_different_entry(cache):
    ell = sp.Symbol("ell", positive=True)
    one = KernelSpec("t_one", "isotropic", sp.exp(-r**2 / (2 * ell**2)), (Param(ell, 1.0),))
    two = KernelSpec("t_two", "isotropic", sp.exp(-r**2 / ell**2), (Param(ell, 1.0),))
    same = KernelSpec("t_same", "isotropic", sp.exp(-r**2 / (2 * ell**2)), (Param(ell, 2.0),))
    assert spec_fingerprint(one) != spec_fingerprint(two)
    assert spec_fingerprint(one) == spec_fingerprint(same)  # defaults do not enter a derivation
    a1, a2 = gradient_coefficients(one).terms["A"], gradient_coefficients(two).terms["A"]
    assert sp.simplify(a1 - (-sp.exp(-r**2 / (2 * ell**2)) / ell**2)) == 0
    assert sp.simplify(a2 - (-2 * sp.exp(-r**2 / ell**2) / ell**2)) == 0
    assert len(_records(cache)) == 2


# ------------------------------------------------------------------ generated torch code
@pytest.mark.parametrize("name", BUILTIN_NAMES)
def test_cached_torch_functions_are_bit_identical(name, cache):
    spec = get_spec(name)
    args = ((r,) if spec.family == "isotropic" else (a, b, u)) + spec.param_symbols
    exprs = list(spec.coefficients.terms.values())
    key = (*spec_fingerprint(spec), "test:all")
    plain = lambdify_torch(args, exprs)
    stored = lambdify_torch(args, exprs, cache_key=key)  # miss: stores the source
    calls = []
    loaded = lambdify_torch(args, lambda: calls.append(1) or exprs, cache_key=key)
    assert calls == []  # a hit never builds the expressions
    g = torch.Generator().manual_seed(1)
    if spec.family == "isotropic":
        xs = (torch.rand(50, generator=g, dtype=torch.float64) * 3 + 0.05,)
    else:
        x = torch.randn(50, 3, generator=g, dtype=torch.float64)
        y = torch.randn(50, 3, generator=g, dtype=torch.float64)
        xs = ((x * x).sum(1), (y * y).sum(1), (x * y).sum(1))
    params = [torch.tensor(float(p.default), dtype=torch.float64) for p in spec.params]
    want = plain(*xs, *params)
    for fn in (stored, loaded):
        for w, got in zip(want, fn(*xs, *params), strict=True):
            assert torch.equal(torch.nan_to_num(w, nan=-7.0), torch.nan_to_num(got, nan=-7.0))


def test_two_processes_share_the_cache(tmp_path):
    """A second process finds everything the first derived (hits, no misses) and computes
    bit-identical Gram matrices and input Hessians."""
    code = (
        "import json, sys, torch\n"
        "from derivations import symcache\n"
        "from numerics.kernels import TorchKernel\n"
        "from numerics.krr import KRR\n"
        "g = torch.Generator().manual_seed(0)\n"
        "X = torch.randn(6, 3, generator=g, dtype=torch.float64)\n"
        "Y = torch.randn(4, 3, generator=g, dtype=torch.float64)\n"
        "y = torch.randn(6, generator=g, dtype=torch.float64)\n"
        "out = {}\n"
        "for name in ('matern52', 'ntk_erf'):\n"
        "    m = KRR(TorchKernel(name), 0.1).fit(X, y)\n"
        "    out[name] = [m.kernel.gram(X, Y).tolist(), m.input_hessian(Y).tolist()]\n"
        "print(json.dumps({'out': out, 'stats': symcache.stats()}))\n"
    )
    env = {**os.environ, symcache.ENV_VAR: str(tmp_path / "c"), "PYTHONPATH": str(ROOT)}
    runs = []
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        runs.append(json.loads(res.stdout.strip().splitlines()[-1]))
    first, second = runs
    assert first["stats"]["stores"] > 0 and first["stats"]["hits"] == 0
    assert second["stats"]["misses"] == 0 and second["stats"]["hits"] > 0
    assert first["out"] == second["out"]


def test_active_mutant_of_a_fingerprinted_file_changes_the_fingerprint(monkeypatch):
    """mutmut keeps all mutants of a file in that one file: a mutant of a file a cached
    computation depends on must never read a result cached by the clean code (or by another
    mutant), else it would survive unseen; a mutant of another file changes nothing."""
    files = ["derivations/kernels.py", "derivations/budget.py"]
    monkeypatch.delenv(symcache.MUTANT_ENV, raising=False)
    clean = symcache.code_fingerprint(files)
    for value in ("", "stats", "list_all_tests", "fail",
                  "numerics.krr.x_solve_spd__mutmut_3",       # not a fingerprinted file
                  "derivations.kernels_extra.x_f__mutmut_1"):  # a prefix is not the module
        monkeypatch.setenv(symcache.MUTANT_ENV, value)
        assert symcache.code_fingerprint(files) == clean, value
    seen = {clean}
    for value in ("derivations.kernels.x_derive_coefficients__mutmut_1",
                  "derivations.kernels.x_derive_coefficients__mutmut_2",
                  "derivations.kernels.x\u01c1KernelSpec\u01c1__post_init____mutmut_1",
                  "derivations.budget.x_f__mutmut_1"):
        monkeypatch.setenv(symcache.MUTANT_ENV, value)
        fp = symcache.code_fingerprint(files)
        assert fp not in seen, value
        seen.add(fp)
