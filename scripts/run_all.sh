#!/usr/bin/env bash
# The main command: verify every claim, then build the book from code.
#
#   bash scripts/run_all.sh              # all claim checks (slow ones too), then the book
#   bash scripts/run_all.sh -k gaussian  # extra arguments go to the claim-check pytest run
#                                        # (a selection makes the run partial: not published,
#                                        # and the book build then refuses to run)
#
# 1. set-up (scripts/bootstrap.sh), the real data (scripts/get_data.sh) and the experiments
#    on real data (scripts/run_experiments.sh --if-stale: the reduced grids, re-run only when
#    their committed summaries were made with other settings or code);
# 2. pytest proofs_check/ -n 2 (every claim check, slow ones included): the claim-evidence
#    plugin writes reports/runs/<run id>.json and, for a complete run, publishes it as
#    reports/claims.json (read by the book); JUnit XML in reports/proofs_check.xml.
#    A failing check does NOT stop the book build (the book reports the verdict on every
#    claim); it makes this script exit non-zero;
# 3. the strict book build (scripts/build_book.sh): warnings are errors, every page executes;
# 4. the browser check of the built book when chromium is installed (skipped otherwise);
# 5. prints the absolute path of the book's index.html.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/bootstrap.sh
bash scripts/get_data.sh || echo "warning: scripts/get_data.sh failed; real-data checks will skip" >&2

mkdir -p reports
te=$(date +%s)
echo "== experiments on real data (reduced grids; reused when their committed summaries are current)" >&2
exp_rc=0
bash scripts/run_experiments.sh --if-stale || exp_rc=$?
t0=$(date +%s)
echo "== claim checks: pytest proofs_check/ -n 2 -> reports/runs/ (published as reports/claims.json when complete)" >&2
checks_rc=0
.venv/bin/python -m pytest proofs_check/ -n 2 --junitxml=reports/proofs_check.xml "$@" \
    || checks_rc=$?
t1=$(date +%s)

echo "== book" >&2
book_rc=0
bash scripts/build_book.sh || book_rc=$?
t2=$(date +%s)

browser_rc=0
if [[ $book_rc -eq 0 ]]; then
    echo "== browser check of the built book (headless chromium; skipped when not installed)" >&2
    .venv/bin/python -m pytest -m browser tests/test_book_browser.py -q -rs -p no:cacheprovider \
        || browser_rc=$?
fi
t3=$(date +%s)

index="$ROOT/book/_build/html/index.html"
echo
echo "timings: experiments $((t0 - te)) s, claim checks $((t1 - t0)) s, book build $((t2 - t1)) s, browser check $((t3 - t2)) s"
if [[ $checks_rc -eq 5 ]]; then
    echo "CLAIM CHECKS FAILED: pytest collected no claim checks under proofs_check/"
elif [[ $checks_rc -ne 0 ]]; then
    echo "CLAIM CHECKS FAILED (pytest exit code $checks_rc); see reports/claims.json and the book"
else
    echo "claim checks passed (report: $ROOT/reports/claims.json)"
fi
if ! .venv/bin/python -m numerics.claim_report check >/dev/null; then
    echo "NO COMPLETE CLAIM REPORT: the run was partial (a selection, -x, an interruption);" \
         "the book needs a complete run (see reports/runs/)"
fi
if [[ $book_rc -ne 0 ]]; then
    echo "BOOK BUILD FAILED (exit code $book_rc; warnings count as errors, see the log above)"
else
    echo "book built without warnings"
fi
if [[ $browser_rc -ne 0 ]]; then
    echo "BROWSER CHECK FAILED (pytest exit code $browser_rc)"
fi
if [[ -f "$index" ]]; then
    echo "open the book: $index"
    echo "         (URL: file://$index; claim statuses: file://$ROOT/book/_build/html/claims.html)"
fi
if [[ $exp_rc -ne 0 ]]; then
    echo "EXPERIMENTS FAILED (scripts/run_experiments.sh exit code $exp_rc)"
fi
if [[ $exp_rc -ne 0 || $checks_rc -ne 0 || $book_rc -ne 0 || $browser_rc -ne 0 ]]; then
    exit 1
fi
