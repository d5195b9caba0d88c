#!/usr/bin/env bash
# Large-n KRR on one CUDA GPU (issue 14): NTK-KRR (kernel "ntk_relu") on all 60,000
# Fashion-MNIST training images, float64, with the exact solver (one 60k x 60k buffer,
# 26.8 GiB, Gram in blocks, Cholesky in place on the GPU) and the matrix-free CG solver
# (K never formed), then the prediction shift and spike of 10 clone poisons and the
# dense-vs-CG differences.  ONE short run for an H200 (target < 10 minutes):
#     bash scripts/gpu_large_n.sh                       # writes $OUT/cuda_ntk_relu_n60000.json
#     TIMEOUT_S=1800 bash scripts/gpu_large_n.sh --n 2000 --device cpu --in-place \
#         --shared "shared CPU machine"                # small CPU rehearsal
# Extra arguments go to scripts/large_n.py (later ones win).
# Ridge c = 100: the NTK's diagonal is ~160 on these pixels and its spectrum decays slowly;
# with c = 1 (measured, CPU rehearsal at n = 2000, shared 2-core machine) the first CG solve
# had not finished after 9.8 minutes and was stopped; with c = 100 it took 14 iterations.
# Needs the Fashion-MNIST IDX files at $POISONCURV_FASHION_MNIST or
# /usr/share/datasets/fashion-mnist, and linear_operator (the 'matrixfree' extra) for the CG
# step.  Copy $OUT/cuda_ntk_relu_n60000.json to results/scale/ to show it in book/scale.md.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
OUTDIR="${OUT:-$ROOT/results/scale/gpu_run}"
mkdir -p "$OUTDIR"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
if [ -z "${PYTHON:-}" ] && [ -x "$ROOT/.venv/bin/python" ]; then PYTHON="$ROOT/.venv/bin/python"; fi
PY="${PYTHON:-python3}"
FASHION="${POISONCURV_FASHION_MNIST:-/usr/share/datasets/fashion-mnist}"
if [ ! -e "$FASHION/train-images-idx3-ubyte.gz" ] && [ ! -e "$FASHION/train-images-idx3-ubyte" ]; then
    echo "Fashion-MNIST not found at $FASHION: set POISONCURV_FASHION_MNIST" | tee "$OUTDIR/error.txt"
    exit 2
fi
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')" \
    2>&1 | tee "$OUTDIR/env.txt"
"$PY" -c "import linear_operator" 2>/dev/null || echo "linear_operator missing: the cg step will fail (pip install linear_operator)" | tee -a "$OUTDIR/env.txt"
# TIMEOUT_S (default 570 s): the dense result is saved before the CG step starts, so a
# timeout keeps it (a CPU rehearsal needs more: TIMEOUT_S=1800)
timeout "${TIMEOUT_S:-570}" "$PY" scripts/large_n.py --n 60000 --data fashion --kernel ntk_relu \
    --ridge 100 --q 100 --device cuda --steps dense,cg --precond-rank 500 --max-iter 1500 \
    --block-elements 268435456 \
    --tol 1e-10 --out "$OUTDIR" --shared "device machine, one GPU, not shared" \
    "$@" 2>&1 | tee "$OUTDIR/log.txt"
exit "${PIPESTATUS[0]}"
