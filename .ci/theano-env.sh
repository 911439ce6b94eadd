#!/usr/bin/env bash
# The environment of dltut's second engine, `theano` (theano-pymc 1.1.2), built idempotently.
#
#   bash .ci/theano-env.sh [VENV]        VENV defaults to .venv-theano (relative to the repo root)
#
# It installs what Theano's C code needs (g++, OpenBLAS headers) where they are missing, makes a
# Python 3.11 venv at VENV, installs requirements-theano.txt into it, then dltut itself with
# --no-deps (dltut's declared dependencies are PyTensor's and numpy 2, which must not go there),
# and checks that a compiled function runs. A second run only re-checks.
#
# It writes VENV/theano-env, to source in the shell that runs the theano engine, and prints the
# same export lines on stdout (progress goes to stderr), so either of these works:
#   . .venv-theano/theano-env
#   eval "$(bash .ci/theano-env.sh)"
# then: .venv-theano/bin/python -m pytest ...
#
# Settings (environment):
#   PYTHON              the interpreter to build the venv with; it must be Python 3.11
#                       (default: the first 3.11 among python3.11, python3)
#   DLTUT_THEANO_BLAS   openblas (default: link Theano's BLAS ops against the system OpenBLAS,
#                       installing libopenblas-dev if needed) or numpy (blas__ldflags empty:
#                       NumPy's BLAS through Python, no system library needed, slower)
#   DLTUT_THEANO_CACHE  Theano's base_compiledir, the cache of compiled C modules
#                       (default: ~/.cache/dltut-theano, or VENV/theano-cache if that is not writable)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="${1:-.venv-theano}"
case "$venv" in /*) ;; *) venv="$root/$venv" ;; esac
start=$SECONDS

say() { echo "theano-env [$((SECONDS - start)) s]: $*" >&2; }
die() { say "error: $*"; exit 1; }

# --- system packages ------------------------------------------------------------------------------
apt_updated=0
apt_install() {
    local sudo=""
    if [ "$(id -u)" != 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo -n"; else return 1; fi
    fi
    command -v apt-get >/dev/null || return 1
    if [ "$apt_updated" = 0 ]; then
        say "apt-get update"
        $sudo apt-get update -qq >&2 || return 1
        apt_updated=1
    fi
    say "apt-get install $*"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >&2
}

links() {  # links() FLAGS...: can g++ link a program with these flags?
    echo 'int main(){return 0;}' | g++ -x c++ - "$@" -o /dev/null >/dev/null 2>&1
}

if ! command -v g++ >/dev/null; then
    apt_install g++ || die "Theano compiles C++ at run time: install g++"
fi

blas="${DLTUT_THEANO_BLAS:-openblas}"
case "$blas" in
    openblas)
        if ! links -lopenblas; then
            apt_install libopenblas-dev || true
        fi
        if links -lopenblas; then
            ldflags="-lopenblas"
        else
            say "warning: cannot link -lopenblas (no libopenblas-dev); using NumPy's BLAS (slower)"
            ldflags=""
        fi
        ;;
    numpy) ldflags="" ;;
    *) die "DLTUT_THEANO_BLAS must be openblas or numpy, not '$blas'" ;;
esac

# --- the venv -------------------------------------------------------------------------------------
is_311() { "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; }

if [ -x "$venv/bin/python" ] && is_311 "$venv/bin/python"; then
    say "reusing $venv"
else
    python=""
    for candidate in ${PYTHON:-} python3.11 python3; do
        if command -v "$candidate" >/dev/null && is_311 "$candidate"; then python="$candidate"; break; fi
    done
    [ -n "$python" ] || die "no Python 3.11 found (theano-pymc 1.1.2 needs <= 3.11, dltut >= 3.11): set PYTHON"
    if [ -e "$venv" ]; then
        [ -f "$venv/pyvenv.cfg" ] || die "$venv exists and is not a venv"
        say "replacing $venv (not a Python 3.11 venv)"
        rm -rf "$venv"
    fi
    say "creating $venv with $(command -v "$python") ($("$python" -V 2>&1))"
    "$python" -m venv "$venv"
fi
py="$venv/bin/python"

# Theano's C code includes Python.h: Debian's python3.11 ships it in python3.11-dev.
has_headers() {
    "$py" -c 'import os, sys, sysconfig
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'
}
if ! has_headers; then
    apt_install python3.11-dev || true
    has_headers || die "$py has no Python.h: install its development headers"
fi

# requirements-theano.txt: reinstalled only when it (or the venv's Python) changed.
stamp="$venv/.requirements-theano.sha256"
want="$( (sha256sum requirements-theano.txt; "$py" -V) 2>&1 | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "pip install -r requirements-theano.txt"
    "$py" -m pip install --quiet --disable-pip-version-check -r requirements-theano.txt >&2
    echo "$want" > "$stamp"
else
    say "requirements-theano.txt already installed"
fi

# theano-pymc 1.1.2 puts each Op's __props__ into the version of a compiled module's cache key,
# and an empty __props__ (Dot22, Softmax, SoftmaxGrad, the crossentropy ops, AdvancedSubtensor1,
# Alloc, Shape, DeepCopyOp...) makes the whole key "unversioned": those modules are deleted at
# exit and compiled again by every process (about 4 s more per process for the logistic regression
# alone). PyTensor fixed it the same way: only a non-empty __props__ goes into the version.
basic="$("$py" -c 'import importlib.util, os; print(os.path.join(os.path.dirname(importlib.util.find_spec("theano").origin), "link", "c", "basic.py"))')"
if grep -q 'if hasattr(node.op, "__props__"):$' "$basic"; then
    say "patching $basic: cache the C modules of Ops with empty __props__"
    sed -i 's/^\( *\)if hasattr(node.op, "__props__"):$/\1if getattr(node.op, "__props__", None):  # dltut: .ci\/theano-env.sh/' "$basic"
elif ! grep -q 'if getattr(node.op, "__props__", None):  # dltut' "$basic"; then
    say "warning: $basic is not the theano-pymc 1.1.2 expected; its C module cache left as it is"
fi

# dltut itself, without its (PyTensor) dependencies; an editable install of this checkout.
installed="$("$py" -I -c 'import os, dltut; print(os.path.dirname(os.path.dirname(os.path.abspath(dltut.__file__))))' 2>/dev/null || true)"
if [ "$installed" = "$root" ]; then
    say "dltut already installed from $root"
else
    say "pip install --no-deps -e $root"
    "$py" -m pip install --quiet --disable-pip-version-check --no-deps -e "$root" >&2
fi

# --- the flags ------------------------------------------------------------------------------------
cache="${DLTUT_THEANO_CACHE:-${HOME:-/nonexistent}/.cache/dltut-theano}"
if ! { mkdir -p "$cache" && [ -w "$cache" ]; } 2>/dev/null; then
    cache="$venv/theano-cache"
    mkdir -p "$cache"
fi
flags="blas__ldflags=$ldflags,base_compiledir=$cache"

cat > "$venv/theano-env" <<EOF
# Source this file to run dltut on its theano engine with $venv/bin/python
# (written by .ci/theano-env.sh; THEANO_FLAGS already set in the environment come after, so they win).
export DLTUT_ENGINE=theano
export THEANO_FLAGS="$flags\${THEANO_FLAGS:+,\$THEANO_FLAGS}"
EOF

# --- check: a compiled BLAS dot and dltut's engine ------------------------------------------------
say "checking: a compiled dot product, dltut.engine on theano"
DLTUT_ENGINE=theano THEANO_FLAGS="$flags" "$py" - <<'EOF' >&2 2> >(grep -v "Using NumPy C-API based implementation for BLAS" >&2)
import numpy as np
from dltut import engine
from dltut.engine import T
assert engine.name() == "theano", engine.name()
x = T.matrix("x")
W = engine.shared(np.arange(12.0).reshape(4, 3).astype(engine.floatX()), "W")
f = engine.function([x], engine.softmax(T.dot(x, W)))
a = np.linspace(-1, 1, 8).reshape(2, 4).astype(engine.floatX())
z = np.exp(a @ W.get_value()); z /= z.sum(1, keepdims=True)
assert np.allclose(f(a), z), (f(a), z)
th = engine.backend()
print(f"theano-env: theano {engine.version()}, numpy {np.__version__}, blas__ldflags={th.config.blas__ldflags!r}, "
      f"compiledir {th.config.compiledir}: ok")
EOF

say "ready in $((SECONDS - start)) s; use it with:  . $venv/theano-env"
echo "export DLTUT_ENGINE=theano"
echo "export THEANO_FLAGS=\"$flags\${THEANO_FLAGS:+,\$THEANO_FLAGS}\""
