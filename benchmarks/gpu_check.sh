#!/usr/bin/env bash
# The GPU checks of dltut, prepared for a lent GPU machine (`device` tool). Its image has Python
# 3.12 with JAX's CUDA build, PyTorch, numpy, scipy and numba, but no PyTensor: PyTensor and its
# pure-Python helpers travel as wheels, everything else is the image's own. The script installs
# them, runs the GPU tests, the benchmark (float32 and TF32), whole default runs of
# scripts/lenet.py and scripts/logreg.py and 64 MLPs batched (bench_sweep.py), and writes two
# files under $OUT: summary.txt (versions, each step's status and time, the tables and result
# lines) and logs.txt (every step's output).
# About 5 minutes on an H100/H200 (compiles included); each step goes on whatever the last did.
#
# Prepare the wheels here, once, in the repository root (.whl/ is ignored by git, ~2.4 MB):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
#       --platform manylinux2014_x86_64 -d .whl pytensor==3.0.7 etuples==0.3.10 cons==0.4.7 \
#       logical-unification==0.4.7 miniKanren==1.0.5
# then, through the device tool, with `.whl` carried:   bash benchmarks/gpu_check.sh
# To check the script itself on a machine without a GPU (the GPU tests skip there):
#   DEVICE=cpu BENCH_ARGS="--train-size 1200" RUN_ARGS="--n-epochs 1" SWEEP_ARGS="--runs 2" \
#       bash benchmarks/gpu_check.sh
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/dltut-gpu}"
DEVICE="${DEVICE:-gpu}"
SITE="${SITE:-/tmp/dltut-site}"
LOGS="$(mktemp -d)"
BENCH_ARGS="${BENCH_ARGS:-}"
RUN_ARGS="${RUN_ARGS:-}"
SWEEP_ARGS="${SWEEP_ARGS:-}"
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

# --no-deps: numba, numpy, scipy and JAX stay the image's (PyTensor pins numba <= 0.65.1, which the
# JAX mode does not import; a carried numba could shadow the image's and fail on its numpy).
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" .whl/*.whl || exit 1
export PYTHONPATH="$SITE:$PWD"
python3 -c "import pytensor, jax; print('pytensor', pytensor.__version__, 'jax', jax.__version__,
jax.devices())" 2>&1 | tee "$OUT/summary.txt" || exit 1

step() {  # step NAME COMMAND...: run it with its output in $LOGS/NAME.log; note its status and time
    local name=$1 start status ms
    shift
    start=${EPOCHREALTIME/./}
    "$@" > "$LOGS/$name.log" 2>&1
    status=$?
    ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
    printf '%s: exit %d in %d.%03d s\n' "$name" "$status" $((ms / 1000)) $((ms % 1000)) \
        | tee -a "$OUT/summary.txt"
}

step info python3 -m dltut info
step nvidia-smi nvidia-smi
# fused == one call per minibatch on the GPU (MLP, LeNet; float64 and float32), and the published
# LR run through the API (the CPU's checks of the JAX mode are CI's)
step tests python3 -m pytest -q -rA -s -p no:cacheprovider tests/test_gpu.py -m "slow or not slow"
# ms/epoch: dltut's GPU path against a hand-written lax.scan epoch and PyTorch eager
step bench python3 benchmarks/bench_gpu.py --device "$DEVICE" --epochs 5 $BENCH_ARGS
step bench_tf32 python3 benchmarks/bench_gpu.py --device "$DEVICE" --epochs 5 --tf32 $BENCH_ARGS
# whole default runs as a user starts them, compilation included
run() {  # run NAME SCRIPT FLOATX: a whole default run of scripts/SCRIPT.py on $DEVICE
    step "$1" python3 "scripts/$2.py" --device "$DEVICE" --floatX "$3" --out "$LOGS/$1.npz" \
        $RUN_ARGS
}
run lenet lenet float32
run logreg logreg float32
run logreg64 logreg float64
# issue #15: 64 MLP runs (1 epoch) batched in one vmapped program against one run
step sweep python3 benchmarks/bench_sweep.py --tutorials mlp --runs 64 --device "$DEVICE" \
    --no-serial --no-pool $SWEEP_ARGS

{
    grep -h "relative cost difference\|passed\|failed" "$LOGS/tests.log"
    cd "$LOGS" && grep -H -E "Optimization|Best validation|run for|ran for" \
        lenet.log logreg.log logreg64.log
    echo "--- float32, true float32 products"; tail -4 "$LOGS/bench.log"
    echo "--- float32, TF32 allowed"; tail -4 "$LOGS/bench_tf32.log"
    echo "--- sweep: MLP runs batched"; tail -4 "$LOGS/sweep.log"
} 2>&1 | tee -a "$OUT/summary.txt"
tail -n +1 "$LOGS"/*.log > "$OUT/logs.txt"  # one file: the device tool returns at most 8
