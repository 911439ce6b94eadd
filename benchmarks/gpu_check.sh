#!/usr/bin/env bash
# The GPU checks of dltut, prepared for a lent GPU machine (the image there has Python 3.12, JAX
# with CUDA and PyTorch, but no PyTensor). It installs what is missing from carried wheels, runs
# the GPU tests and the benchmark, and writes every result under $OUT. One call, ~6 minutes.
#
# Prepare the wheels here, once, in the repository root (they are ignored by git):
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl pytensor==3.0.7 numba==0.65.1 llvmlite==0.47.0 \
#       etuples cons logical-unification miniKanren multipledispatch toolz filelock
# then run this with `.whl` carried:  bash benchmarks/gpu_check.sh
set -uo pipefail
OUT="${OUT:-/tmp/dltut-gpu}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl 2>&1 | tail -3
export PYTHONPATH="/tmp/site:$PWD"

step() {  # step NAME COMMAND...: run it, keep its output and time, go on whatever it returns
    local name=$1; shift
    local start=$SECONDS
    "$@" > "$OUT/$name.log" 2>&1
    echo "$name: exit $? in $((SECONDS - start)) s" | tee -a "$OUT/summary.txt"
}

step info python3 -m dltut info
step nvidia-smi nvidia-smi
# GPU tests: fused == unfused on the GPU, the published run with --device gpu
step tests python3 -m pytest -q -rs tests/test_gpu.py tests/test_compiled.py -m "slow or not slow"
# ms/epoch: dltut's GPU path against pure JAX (lax.scan) and PyTorch eager, float32 and TF32
step bench python3 benchmarks/bench_gpu.py --device gpu --epochs 5
step bench_tf32 python3 benchmarks/bench_gpu.py --device gpu --epochs 5 --tf32
# whole default runs, compilation included
step lenet /usr/bin/time -v python3 scripts/lenet.py --device gpu --floatX float32 --out "$OUT/lenet.npz"
step logreg python3 scripts/logreg.py --device gpu --floatX float32 --out "$OUT/logreg.npz"
grep -E "Optimization|Best validation|ran for|Elapsed" "$OUT/lenet.log" "$OUT/logreg.log" \
    | tee -a "$OUT/summary.txt"
tail -6 "$OUT/bench.log" | tee -a "$OUT/summary.txt"
