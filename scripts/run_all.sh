#!/usr/bin/env bash
# The main command: verify every claim, then build the book from code.
#
#   bash scripts/run_all.sh              # all claim checks, then the strict book build
#   bash scripts/run_all.sh -x -k C3     # extra arguments go to the claim-check pytest run
#
# 1. set-up (scripts/bootstrap.sh);
# 2. pytest proofs_check/ (every claim check, slow ones included) writing a machine-readable
#    report to reports/proofs_check.xml (JUnit XML). A failing check does NOT stop the book
#    build (the book reports the status of every claim); it makes this script exit non-zero;
# 3. the strict book build: warnings are errors (-W), nit-picky references (-n), all
#    warnings reported before failing (--keep-going), every page re-read (--all);
# 4. prints the absolute path of the book's index.html.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh

# notebooks are executed by the venv's ipykernel; prefer the venv's kernelspecs over user ones
export JUPYTER_PREFER_ENV_PATH=1
export PATH="$ROOT/.venv/bin:$PATH"

mkdir -p reports
echo "== claim checks: pytest proofs_check/ -> reports/proofs_check.xml" >&2
checks_rc=0
.venv/bin/python -m pytest proofs_check/ --junitxml=reports/proofs_check.xml "$@" || checks_rc=$?

echo "== book: jupyter-book build book -W -n --keep-going --all" >&2
book_rc=0
.venv/bin/jupyter-book build book -W -n --keep-going --all || book_rc=$?

index="$ROOT/book/_build/html/index.html"
echo
if [[ $checks_rc -eq 5 ]]; then
    echo "CLAIM CHECKS FAILED: pytest collected no claim checks under proofs_check/"
elif [[ $checks_rc -ne 0 ]]; then
    echo "CLAIM CHECKS FAILED (pytest exit code $checks_rc); see reports/proofs_check.xml"
else
    echo "claim checks passed (report: $ROOT/reports/proofs_check.xml)"
fi
if [[ $book_rc -ne 0 ]]; then
    echo "BOOK BUILD FAILED (exit code $book_rc; warnings count as errors, see the log above)"
else
    echo "book built without warnings"
fi
if [[ -f "$index" ]]; then
    echo "open the book: $index"
    echo "         (URL: file://$index)"
fi
if [[ $checks_rc -ne 0 || $book_rc -ne 0 ]]; then
    exit 1
fi
