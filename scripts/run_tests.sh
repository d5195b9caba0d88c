#!/usr/bin/env bash
# The default test run (what CI runs): set-up, lint, then the tests in parallel: every claim
# check (a complete run, published as reports/claims.json) and the fast tests of tests/.
#
#   bash scripts/run_tests.sh                 # ruff + pytest -m "not browser and (claim or not slow)" -n 2
#   bash scripts/run_tests.sh -k gaussian -x  # extra arguments go to pytest
#
# pytest's testpaths (pyproject.toml) cover tests/ and proofs_check/. The hypothesis
# profile is chosen in the root conftest.py (ci when CI=true; HYPOTHESIS_PROFILE overrides).
# Exits non-zero when the set-up, the lint or any test fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh

echo "== ruff check ." >&2
.venv/bin/ruff check .

# every claim check runs (slow ones included), so that the run is complete and its claim
# report is published (reports/claims.json); slow tests of tests/ are left out
sel="not browser and (claim or not slow)"
echo "== pytest -m '$sel' -n 2 $*" >&2
exec .venv/bin/python -m pytest -m "$sel" -n 2 "$@"
