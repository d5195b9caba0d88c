#!/usr/bin/env bash
# The strict book build (what scripts/run_all.sh and .ci/run call).
#
#   bash scripts/build_book.sh
#
# Every notebook page is executed against the code (a failing cell fails the build); Sphinx
# warnings are errors (-W), references are nit-picky (-n), every warning is shown before
# failing (--keep-going) and every page is re-read (--all). The claims index and the status
# boxes read reports/claims.json (written by the claim checks; $CLAIMS_REPORT overrides).
# Exits with jupyter-book's status; prints the build time and each page's execution time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# notebooks are executed by the venv's ipykernel; prefer the venv's kernelspecs over user ones
export JUPYTER_PREFER_ENV_PATH=1
export PATH="$ROOT/.venv/bin:$PATH"

if ! .venv/bin/python scripts/gen_toc.py --check >/dev/null 2>&1; then
    echo "warning: book/_toc.yml is not what scripts/gen_toc.py writes for the pages present;" \
         "run .venv/bin/python scripts/gen_toc.py" >&2
fi

# the book shows verdicts: it is built only from a published, complete and fresh run of the
# claim checks (reports/claims.json; see numerics/claim_report.py)
if ! .venv/bin/python -m numerics.claim_report check; then
    echo "error: no complete, fresh claim report to build the book from; run the claim checks" \
         "first: bash scripts/run_all.sh (or .venv/bin/python -m pytest proofs_check/ -n 2)" >&2
    exit 1
fi

log="$(mktemp "${TMPDIR:-/tmp}/book-build.XXXXXX")"
start=$(date +%s)
set +e
.venv/bin/jupyter-book build book -W -n --keep-going --all 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e
echo "== book build: $(( $(date +%s) - start )) s, exit code $rc; page execution times:" >&2
# myst-nb logs "<page>: Executed notebook in <t> seconds"; slowest first
sed -n 's|^.*/book/\(.*\)\.md: Executed notebook in \([0-9.]*\) seconds.*$|\2 s  \1|p' "$log" \
    | sort -rn | sed 's/^/     /' >&2
rm -f "$log"
exit "$rc"
