"""Module boundaries (issue 13): ``derivations/`` is symbolic only, the library does not
contain the test harness.

* importing every module of ``derivations/`` (in a fresh interpreter) loads neither torch nor
  any ``numerics`` module;
* no module of ``derivations/`` names torch or ``numerics`` in an import statement, even a
  local one inside a function (checked on the syntax tree, so a lazy import is caught too);
* the library modules of ``numerics/`` import nothing test-only (pytest, hypothesis,
  ``proofs_check``, ``numerics.strategies``, ``numerics.claim_cases``).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DERIVATIONS = sorted(p for p in (ROOT / "derivations").glob("*.py"))


def _imported_modules(path: Path) -> set[str]:
    """Every module named by an import statement anywhere in ``path`` (top level or local)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", DERIVATIONS, ids=lambda p: p.name)
def test_derivation_module_names_no_torch_or_numerics(path):
    bad = sorted(m for m in _imported_modules(path)
                 if m.split(".")[0] in ("torch", "numerics"))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}: derivations/ is symbolic only"


def test_importing_all_derivations_loads_no_torch_or_numerics():
    mods = [f"derivations.{p.stem}" for p in DERIVATIONS if p.stem != "__init__"]
    code = (
        "import importlib, json, sys\n"
        f"for m in {mods!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(k for k in sys.modules "
        "if k.split('.')[0] in ('torch', 'numerics'))))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    loaded = json.loads(res.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing derivations/ loaded {loaded[:10]}"


#: modules of numerics/ that are test or claim harness, or experiment drivers (which may
#: reuse the claim harness's instances), not library
HARNESS = {"strategies", "claim_cases", "digits_spike", "network_experiments"}
TEST_ONLY = ("pytest", "hypothesis", "proofs_check", "numerics.strategies",
             "numerics.claim_cases")


@pytest.mark.parametrize(
    "path", sorted(p for p in (ROOT / "numerics").glob("*.py") if p.stem not in HARNESS),
    ids=lambda p: p.name)
def test_library_module_imports_no_test_harness(path):
    bad = sorted(m for m in _imported_modules(path)
                 if any(m == t or m.startswith(t + ".") for t in TEST_ONLY))
    assert not bad, f"{path.relative_to(ROOT)} imports test-only modules {bad}"
