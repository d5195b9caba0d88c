#!/usr/bin/env bash
# The default test run (what CI runs): set-up, lint, then the fast tests in parallel.
#
#   bash scripts/run_tests.sh                 # ruff + pytest -m "not slow and not browser" -n 2
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

echo "== pytest -m 'not slow and not browser' -n 2 $*" >&2
exec .venv/bin/python -m pytest -m "not slow and not browser" -n 2 "$@"
