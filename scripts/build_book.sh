#!/usr/bin/env bash
# The strict book build (what scripts/run_all.sh and .ci/run call).
#
#   bash scripts/build_book.sh           # pages whose notebook and build inputs are unchanged
#                                        # reuse their cached outputs (jupyter-cache)
#   bash scripts/build_book.sh --force   # empty the execution cache first: every page executes
#
# Every notebook page is executed against the code (a failing cell fails the build); Sphinx
# warnings are errors (-W), references are nit-picky (-n), every warning is shown before
# failing (--keep-going) and every page is re-read (--all). The claims index and the status
# boxes read reports/claims.json (written by the claim checks; $CLAIMS_REPORT overrides).
# Exits with jupyter-book's status; prints the build time and each page's execution time.
set -euo pipefail

force=0
for arg in "$@"; do
    case "$arg" in
        --force) force=1 ;;
        *) echo "build_book.sh: unknown argument $arg (only --force)" >&2; exit 2 ;;
    esac
done

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

cache="book/_build/.jupyter_cache"
if [[ $force -eq 1 && -d "$cache" ]]; then
    echo "== --force: emptying the execution cache $cache" >&2
    rm -rf "$cache"
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
reused=$(grep -c "Using cached notebook" "$log" || true)
executed=$(grep -c "Executed notebook in" "$log" || true)
echo "== pages executed: $executed; reused from the execution cache (inputs unchanged): $reused" >&2
rm -f "$log"
exit "$rc"
