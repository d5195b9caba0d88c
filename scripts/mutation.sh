#!/usr/bin/env bash
# Mutation testing of derivations/ and numerics/ (mutmut 3.x, configured in pyproject.toml's
# [tool.mutmut]); set-up first (scripts/bootstrap.sh installs the `mutation` extra).
#
#   bash scripts/mutation.sh                 # the sampled job (quick runner): a stratified,
#                                            #   seeded sample -> results/mutation/sample.json
#                                            #   (book page "How strong are the checks")
#   bash scripts/mutation.sh quick --core 40 --other 6 --jobs 8
#   bash scripts/mutation.sh rerun           # re-run the sample's survivors after new tests
#   bash scripts/mutation.sh smoke           # the CI smoke: ~30 fixed mutants must be killed
#   bash scripts/mutation.sh full --max-children 32   # every mutant, mutmut's own scheduler
#
# Work happens in mutants/ (git-ignored; delete it to start over). See scripts/mutation.py.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/bootstrap.sh
if [[ $# -eq 0 ]]; then
    set -- quick
fi
exec .venv/bin/python scripts/mutation.py "$@"
