#!/usr/bin/env bash
# One command per experiment on real 28x28 data (issue 12), seeded, resumable, cached.
#
#   bash scripts/run_experiments.sh                  # all: e2 e3 c7 c13 e1 (the reduced grids)
#   bash scripts/run_experiments.sh e2 e3            # some of them
#   bash scripts/run_experiments.sh e2 --device cuda --grid full
#   bash scripts/run_experiments.sh e3 --scheduler tcp://127.0.0.1:8786   # an existing Dask cluster
#
# Experiments: e2 (deep networks, three dirty-label triggers: numerics/e2.py), e3 (kappa x
# augmentation defence: numerics/e3.py), c7, c13, e1 (feature near-clones, finite width and
# E1 on 28x28 images: numerics/real_data_claims.py). Each grid point is an independent task on a
# Dask LocalCluster (or the cluster named by --scheduler); every finished point is written at
# once under results/cache/ (an interrupted run resumes where it stopped), and the driver
# writes the committed summary and figures under results/<experiment>/ with the settings and
# code hashes the book checks. Options: --grid check|reduced|full (default reduced: what the
# main command runs on 2 CPU cores), --device cpu|cuda, --scheduler ADDR, --workers N;
# --if-stale: skip an experiment whose committed reduced summary was made with the current
# settings and code (what the main command passes; FORCE_EXPERIMENTS=1 runs them anyway).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

exps=()
opts=()
if_stale=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        e2|e3|c7|c13|e1) exps+=("$1"); shift ;;
        all) exps+=(e2 e3 c7 c13 e1); shift ;;
        --grid|--device|--scheduler|--workers) opts+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
        --if-stale) if_stale=1; shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
        *) echo "run_experiments.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
done
[[ ${#exps[@]} -gt 0 ]] || exps=(e2 e3 c7 c13 e1)

bash scripts/bootstrap.sh
bash scripts/get_data.sh

# is the committed reduced summary of experiment $1 current (same settings and code)?
current() {
    .venv/bin/python - "$1" <<'PYEOF' 2>/dev/null
import sys
name = sys.argv[1]
if name in ("e2", "e3"):
    import importlib
    mod = importlib.import_module(f"numerics.{name}")
    getattr(mod, f"load_{name}_summary")()
else:
    from numerics.real_data_claims import EXPERIMENTS, load_real_summary
    load_real_summary(EXPERIMENTS[name])
PYEOF
}

real=()
rc=0
for e in "${exps[@]}"; do
    if [[ $if_stale -eq 1 && -z "${FORCE_EXPERIMENTS:-}" ]] && current "$e"; then
        echo "== experiment $e: the committed summary is current (settings and code); reused" \
             "(FORCE_EXPERIMENTS=1 re-runs it)" >&2
        continue
    fi
    t0=$(date +%s)
    case "$e" in
        e2|e3)
            echo "== experiment $e: python -m numerics.$e ${opts[*]:-}" >&2
            .venv/bin/python -m "numerics.$e" "${opts[@]}" || rc=1 ;;
        c7|c13|e1) real+=("$e"); continue ;;
    esac
    echo "== experiment $e: $(( $(date +%s) - t0 )) s" >&2
done
if [[ ${#real[@]} -gt 0 ]]; then
    t0=$(date +%s)
    echo "== experiments ${real[*]}: python -m numerics.real_data_claims ${opts[*]:-}" >&2
    .venv/bin/python -m numerics.real_data_claims "${real[@]}" "${opts[@]}" || rc=1
    echo "== experiments ${real[*]}: $(( $(date +%s) - t0 )) s" >&2
fi
exit $rc
