#!/usr/bin/env bash
# One short GPU check (issue 6), run by the lead on a CUDA machine:  bash scripts/gpu_check.sh
# Uses the system python3 (torch with CUDA preinstalled) with the repo root on PYTHONPATH;
# needs sympy, scipy, numpy, scikit-learn, tqdm, pytest, hypothesis there (carry wheels if
# missing:  pip install --no-index --find-links <wheels> ...).  Writes to $OUT when set.
# Target total runtime: < 5 minutes.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/reports/gpu}"
mkdir -p "$OUTDIR"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${PYTHON:-}" ] && [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; fi
PY="${PYTHON:-python3}"

"$PY" - <<'PYEOF' 2>&1 | tee "$OUTDIR/env.txt"
import torch
print("torch", torch.__version__, "cuda available:", torch.cuda.is_available())
if torch.cuda.is_available():
    print("device:", torch.cuda.get_device_name(0))
PYEOF

echo "== pytest -m gpu" | tee "$OUTDIR/pytest_gpu.txt"
timeout 150 "$PY" -m pytest -m gpu -q -p no:cacheprovider --durations=10 -s \
    tests/test_networks.py tests/test_hessian_eig.py tests/test_gpu.py proofs_check/test_finite_width.py \
    proofs_check/test_gradient_flow_contraction_nets.py proofs_check/test_feature_near_clones.py \
    2>&1 | tee -a "$OUTDIR/pytest_gpu.txt"

echo "== C13 width sweep on CUDA (erf, then relu)" | tee "$OUTDIR/sweep.txt"
OUTDIR="$OUTDIR" timeout 150 "$PY" - <<'PYEOF' 2>&1 | tee -a "$OUTDIR/sweep.txt"
import json, os, time
import torch
from numerics.network_experiments import finite_width_sweep
dev = "cuda" if torch.cuda.is_available() else "cpu"
out = {}
path = os.path.join(os.environ.get("OUTDIR", "."), "c13_sweep.json")
plan = (("erf", [64, 256, 1024, 4096, 16384], [0, 1, 2, 3], 4000),
        ("relu", [64, 256, 1024], [0, 1], 1500))  # relu never meets the GD tolerance
for act, widths, seeds, steps in plan:
    t = time.time()
    res = finite_width_sweep(widths, seeds, act, device=dev, steps=steps)
    res["seconds"] = time.time() - t
    res["device"] = dev
    out[act] = res
    print(act, dev, f"{res['seconds']:.1f}s", "shift rate", round(res["shift_rate"], 3),
          "spike rate", round(res["spike_rate"], 3), flush=True)
    for r in res["rows"]:
        print("  ", r, flush=True)
    json.dump(out, open(path, "w"), indent=1)
print("wrote", path)
PYEOF

# the real-data experiments' full grids on CUDA (issue 12): E2, E3, C7, C13 (E1 is CPU-only);
# each grid point is cached under results/cache/, so a run cut by the time limit resumes
echo "== experiments, full grids on CUDA (numerics.e2, numerics.e3, numerics.real_data_claims)" \
    | tee "$OUTDIR/experiments.txt"
for mod in numerics.e2 numerics.e3; do
    timeout 600 "$PY" -m "$mod" --grid full --device cuda --workers 0 2>&1 \
        | tail -n 5 | tee -a "$OUTDIR/experiments.txt"
done
timeout 300 "$PY" -m numerics.real_data_claims c7 c13 --grid full --device cuda --workers 0 2>&1 \
    | tail -n 20 | tee -a "$OUTDIR/experiments.txt"
