#!/usr/bin/env bash
# Idempotent set-up of the project's virtual environment (.venv) from a clean clone.
#
#   bash scripts/bootstrap.sh          # create/refresh .venv when needed (quiet)
#   FORCE=1 bash scripts/bootstrap.sh  # redo the pip work even if the stamp is current
#
# 1. creates .venv with `python3 -m venv` if it is missing (PYTHON=... picks the interpreter);
# 2. installs torch==2.13.0 FIRST: the CPU wheel that pip finds through its configured
#    find-links (/opt/wheels here); the later install is constrained to that exact version,
#    so pip can never swap in another (e.g. multi-GB CUDA) torch build;
# 3. installs the project editable with its test, book and matrix-free extras:
#    pip install -e ".[test,book,matrixfree,mutation]".
# Steps 2-3 are skipped while .venv/.stamp matches the hash of pyproject.toml, this script
# and the interpreter version. Output is quiet; pip's errors are shown and abort the script.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/scripts/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT"

TORCH_VERSION="2.13.0"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
STAMP="$VENV/.stamp"

log() { printf 'bootstrap: %s\n' "$*" >&2; }

if [[ ! -x "$PY" ]]; then
    BASE_PY="${PYTHON:-python3}"
    if ! command -v "$BASE_PY" >/dev/null 2>&1; then
        log "error: '$BASE_PY' not found; install Python >= 3.11 or set PYTHON=/path/to/python3.11"
        exit 1
    fi
    if ! "$BASE_PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
        log "error: $("$BASE_PY" --version 2>&1) is too old; Python >= 3.11 is required" \
            "(set PYTHON=/path/to/python3.11)"
        exit 1
    fi
    log "creating .venv with $("$BASE_PY" --version 2>&1)"
    "$BASE_PY" -m venv "$VENV"
fi

want="$(
    {
        cat pyproject.toml "$SELF"
        "$PY" -c 'import sys; print(sys.version)'
    } | sha256sum | cut -d' ' -f1
)"
if [[ -z "${FORCE:-}" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    exit 0
fi

constraints="$(mktemp)"
trap 'rm -f "$constraints"' EXIT
echo "torch==${TORCH_VERSION}" >"$constraints"

pip_install() {
    "$PY" -m pip install -qq --disable-pip-version-check --no-input "$@"
}

log "installing torch==${TORCH_VERSION} (CPU wheel via pip's find-links)"
pip_install "torch==${TORCH_VERSION}"
log "installing poisoncurv (editable) with extras [test,book,matrixfree,mutation]"
pip_install -c "$constraints" -e ".[test,book,matrixfree,mutation]"

# refuse to go on with a torch other than the pinned one
"$PY" - "$TORCH_VERSION" <<'PYEOF'
import sys
import torch
want = sys.argv[1]
if torch.__version__.split("+")[0] != want:
    sys.exit(f"bootstrap: error: torch {torch.__version__} installed, expected {want}")
PYEOF

echo "$want" >"$STAMP"
log "environment ready ($VENV)"
