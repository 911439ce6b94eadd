"""The 1-D FCN tutorial on made rays of the real length (200 samples, 2 channels) and the
tutorial's batches of 1024: dltut's default mode beside the original code on theano-pymc, the
seconds of each epoch (training and validation), timed in one run.

    python benchmarks/bench_segm.py [--rays 2400] [--epochs 3] [--floatX float32]
        [--original DLT --lasagne LASAGNE --dataset-loaders DATASET_LOADERS
         --theano .venv-theano/bin/python]

The rays are benchmarks/segm_original.py's made ones (``make_rays``), ``--rays`` of them (85 %
for training: 2,040 of 2,400 are two batches, one short, and one validation batch of 360), written
in the tutorial's text files to a temporary folder. dltut runs ``train_fcn1D(num_epochs=E,
batch_size=(1024, 1024, 1), data_path=...)`` in its own process and times each epoch from the
end of the previous one's validation (the first epoch also compiles each batch size in JAX
mode); the original runs train_fcn1D.py's ``train`` through segm_original.py (part fcn1d_one_update,
the same computation) with the sources ``--original``, ``--lasagne`` and ``--dataset-loaders``
name, one OpenBLAS thread, and prints its own ``took %f s`` per epoch (it compiles before).
Without ``--original`` only dltut runs. Not part of the tests.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_cpu  # noqa: E402  (the theano environment's flags)
import segm_original  # noqa: E402  (the made rays and the original's driver)

DLTUT_RUN = """
import json, sys, time
from dltut.tutorials.fcn1D import train_fcn1D
marks = []
train_fcn1D(num_epochs={epochs}, batch_size=(1024, 1024, 1), data_path={data!r},
            floatX={floatX!r}, callbacks=[lambda record: marks.append(time.perf_counter())])
print(json.dumps(marks))
"""


def time_dltut(data, epochs, floatX):
    """Seconds of each epoch of dltut's run after the first (from one epoch's end to the next:
    the first also compiles its batch sizes)."""
    out = subprocess.run([sys.executable, "-c", DLTUT_RUN.format(epochs=epochs, data=data,
                                                                 floatX=floatX)],
                         capture_output=True, text=True, check=True).stdout
    marks = json.loads(out.strip().splitlines()[-1])
    return [b - a for a, b in zip(marks, marks[1:])]


def time_original(args, toy, epochs, floatX):
    """Seconds of each epoch the original printed (``took %f s``)."""
    with tempfile.TemporaryDirectory() as work:
        env = bench_cpu.theano_environment(Path(work), args.theano)
        env.update(OPENBLAS_NUM_THREADS="1")
        env["THEANO_FLAGS"] += f",floatX={floatX}"
        out = subprocess.run(
            [args.theano, os.path.join(HERE, "segm_original.py"), "--original", args.original,
             "--lasagne", args.lasagne, "--dataset-loaders", args.dataset_loaders, "--toy", toy,
             "--parts", "fcn1d_one_update", "--epochs", str(epochs), "--batch-size", "1024",
             "1024", "1", "--work", work, "--out", os.path.join(work, "out.json")],
            capture_output=True, text=True, env=env)
    if out.returncode:
        raise SystemExit(f"the original's run failed:\n{out.stderr[-3000:]}")
    out = out.stdout
    return [float(t) for t in re.findall(r"^EPOCH \d+:.* took ([0-9.]+) s$", out, re.M)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rays", type=int, default=2400)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--floatX", default="float32", choices=("float32", "float64"))
    parser.add_argument("--original", help="DeepLearningTutorials' tree (with code/)")
    parser.add_argument("--lasagne", help="Lasagne's tree (with lasagne/)")
    parser.add_argument("--dataset-loaders", help="dataset_loaders' tree")
    parser.add_argument("--theano", default=".venv-theano/bin/python",
                        help="the theano-pymc environment's Python")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch compiles)")
    with tempfile.TemporaryDirectory() as toy:
        segm_original.write_cortical(os.path.join(toy, "cortical_layers"), n=args.rays)
        seconds = time_dltut(os.path.join(toy, "cortical_layers"), args.epochs, args.floatX)
        rows = [("dltut (default mode)", seconds)]
        if args.original:
            rows.append(("original (theano-pymc, C)",
                         time_original(args, toy, args.epochs, args.floatX)[1:]))
    print(f"fcn1D, {args.rays} made rays, batches of 1024, {args.floatX}: seconds per epoch "
          "after the first (training and validation)")
    for name, times in rows:
        print(f"  {name:28s} " + "  ".join(f"{t:.2f}" for t in times))
    if len(rows) == 2:
        mine, theirs = min(rows[0][1]), min(rows[1][1])
        print(f"  original / dltut (fastest epochs): {theirs / mine:.2f}x")


if __name__ == "__main__":
    main()
