"""The segmentation tutorials on made data of the real sizes: dltut's default mode beside the
original code on theano-pymc, the seconds of each epoch (training and validation), each side in
its own process, one after the other.

    python benchmarks/bench_segm.py [--tutorial fcn1D|unet|fcn8] [--epochs 3] [--floatX float32]
        [--rays 2400] [--frames 10 2 2] [--crop 224 224] [--batch-size T V S] [--filters 64]
        [--original DLT --lasagne LASAGNE --dataset-loaders DATASET_LOADERS
         --theano .venv-theano/bin/python [--pythonpath DIR]] [--logs DIR]

The data are benchmarks/segm_original.py's made ones, written to a temporary folder in the
datasets' own formats, of the real sizes:

* fcn1D: ``--rays`` rays of 200 samples (``make_rays``; 85 % for training: 2,040 of 2,400 are two
  batches, one short, and one validation batch of 360), the tutorial's batches of 1024.
* unet: ISBI stacks of 30 slices of 512 x 512 (``make_em_stack``; the loader splits 30 slices
  into 25 for training and 5 for validation whatever the file holds), the tutorial's network
  (``--filters`` 64), batches (5, 5, 1) and augmentation (train_unet.py's command line's:
  rotation, shear, flips, reflection, the spline warp of sigma 10, the crop ``--crop`` 224 x 224;
  validation on whole slices).
* fcn8: polyps frames of 288 x 384 (``make_polyp_frame``), ``--frames`` of them for training,
  validation and test (the real set has 547, 183 and 182), the command line's crop 224 x 224,
  flips and batches (10, 1, 1), VGG-16's widths.

dltut runs ``train_<tutorial>(num_epochs=E, data_path=..., floatX=..., callbacks=[...])`` with
those sizes in its default mode and times each epoch from the end of the previous one's
validation (the first epoch also compiles, in JAX mode). The original runs the tutorial's
training script through segm_original.py (parts ``fcn1d_one_update``, ``unet_train``,
``fcn8_train``, with the sizes above as its options) with the sources ``--original``,
``--lasagne`` and ``--dataset-loaders`` name, on theano-pymc in C mode with one OpenBLAS thread,
and its own ``took %f s`` per epoch is read (it compiles before its first epoch; the FCN-8 script
then tests the best model, outside the epochs). U-Net's warp needs SimpleITK in the original's
environment: ``--pythonpath`` names a folder with it (``pip install --target DIR SimpleITK``).
The table shows every epoch and each process's wall time; the ratio compares the fastest epoch
after the first. Without ``--original`` only dltut runs; ``--only`` runs one side. Not part of
the tests.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_cpu  # noqa: E402  (the theano environment's flags)
import segm_original  # noqa: E402  (the made data and the original's driver)

ISBI_SIZE = 512  # the ISBI 2012 slices' side
POLYPS_SIZE = (288, 384)  # the CVC-912 polyps frames' (rows, cols)

# each tutorial: its module and function in dltut, the original's part in segm_original.py,
# the data's folder under the made data, and its default batches
TUTORIALS = {
    "fcn1D": dict(module="fcn1D", function="train_fcn1D", part="fcn1d_one_update",
                  folder="cortical_layers", batch_size=(1024, 1024, 1)),
    "unet": dict(module="unet", function="train_unet", part="unet_train",
                 folder="isbi_em_stacks", batch_size=(5, 5, 1)),
    "fcn8": dict(module="fcn8", function="train_fcn8", part="fcn8_train",
                 folder="polyps912", batch_size=(10, 1, 1)),
}

DLTUT_RUN = """
import json, sys, time
from dltut.tutorials import {module} as tutorial
marks = []


def mark(record):
    marks.append(time.perf_counter())
    print("epoch", record.epoch, "validated at", marks[-1], file=sys.stderr, flush=True)


tutorial.{function}(num_epochs={epochs}, data_path={data!r}, floatX={floatX!r},
                    callbacks=[mark], {keywords})
print(json.dumps(marks))
"""


def write_data(args, toy):
    """The made data of the real size for ``args.tutorial`` under ``toy``; returns its folder."""
    folder = os.path.join(toy, TUTORIALS[args.tutorial]["folder"])
    if args.tutorial == "fcn1D":
        segm_original.write_cortical(folder, n=args.rays)
    elif args.tutorial == "unet":
        segm_original.write_isbi(folder, size=ISBI_SIZE)
    else:
        segm_original.write_polyps(folder, splits=tuple(zip(("train", "valid", "test"),
                                                            args.frames)),
                                   shape=POLYPS_SIZE)
    return folder


def dltut_keywords(args):
    """train_<tutorial>'s keywords beside the epochs, the data and floatX (Python source)."""
    keywords = f"batch_size={tuple(args.batch_size)!r}"
    if args.tutorial == "unet":
        keywords += (f", base_n_filters={args.filters}, data_augmentation=dict("
                     f"tutorial.DATA_AUGMENTATION, crop_size={tuple(args.crop)!r})")
    elif args.tutorial == "fcn8":
        keywords += f", crop_size={tuple(args.crop)!r}"
    return keywords


def original_options(args):
    """segm_original.py's options for the same sizes."""
    options = ["--batch-size", *map(str, args.batch_size)]
    if args.tutorial in ("unet", "fcn8"):
        options += ["--crop", *map(str, args.crop)]
    if args.tutorial == "unet":
        options += ["--unet-filters", str(args.filters), "--warp-sigma", "10"]
    return options


def run_logged(args, name, command, env=None):
    """Runs ``command``, its output written as it comes to ``--logs`` (or a temporary folder);
    returns its standard output and its wall seconds."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.logs or scratch
        os.makedirs(folder, exist_ok=True)
        paths = [Path(folder, f"{args.tutorial}-{name}.{stream}") for stream in ("stdout",
                                                                                 "stderr")]
        start = time.perf_counter()
        with open(paths[0], "w") as stdout, open(paths[1], "w") as stderr:
            returncode = subprocess.run(command, stdout=stdout, stderr=stderr, text=True,
                                        env=env).returncode
        seconds = time.perf_counter() - start
        out, err = (path.read_text() for path in paths)
    if returncode:
        raise SystemExit(f"{name}'s run failed ({returncode}):\n{err[-3000:]}")
    return out, seconds


def time_dltut(args, data):
    """Seconds of each epoch of dltut's run (from one epoch's end to the next; the first from
    the start of the process, with the imports, the data's reading and the compiling), and the
    process's wall seconds."""
    code = DLTUT_RUN.format(epochs=args.epochs, data=data, floatX=args.floatX,
                            keywords=dltut_keywords(args), **TUTORIALS[args.tutorial])
    start = time.perf_counter()
    out, seconds = run_logged(args, "dltut", [sys.executable, "-c", code])
    marks = [start] + json.loads(out.strip().splitlines()[-1])
    return [b - a for a, b in zip(marks, marks[1:])], seconds


def time_original(args, toy):
    """Seconds of each epoch the original printed (``took %f s``), and the process's wall
    seconds (with Theano's compiling: a new compile cache each time)."""
    with tempfile.TemporaryDirectory() as work:
        env = bench_cpu.theano_environment(Path(work), args.theano)
        env.update(OPENBLAS_NUM_THREADS="1")
        env["THEANO_FLAGS"] += f",floatX={args.floatX}"
        if args.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.pythonpath,
                                                              env.get("PYTHONPATH")]))
        out, seconds = run_logged(args, "original", [
            args.theano, os.path.join(HERE, "segm_original.py"), "--original", args.original,
            "--lasagne", args.lasagne, "--dataset-loaders", args.dataset_loaders, "--toy", toy,
            "--parts", TUTORIALS[args.tutorial]["part"], "--epochs", str(args.epochs),
            *original_options(args), "--work", work, "--out", os.path.join(work, "out.json")],
            env=env)
    return [float(t) for t in re.findall(r"^EPOCH \d+:.* took ([0-9.]+) s$", out, re.M)], seconds


def describe(args):
    if args.tutorial == "fcn1D":
        return f"fcn1D, {args.rays} made rays, batches of 1024"
    if args.tutorial == "unet":
        return (f"unet, made ISBI stacks of 30 x {ISBI_SIZE} x {ISBI_SIZE} (25 training slices, "
                f"5 validation), base_n_filters {args.filters}, crop {args.crop[0]}x"
                f"{args.crop[1]}, batches {tuple(args.batch_size)}")
    return (f"fcn8, made polyps of {POLYPS_SIZE[0]}x{POLYPS_SIZE[1]} ({args.frames[0]} "
            f"training, {args.frames[1]} validation, {args.frames[2]} test), crop "
            f"{args.crop[0]}x{args.crop[1]}, batches {tuple(args.batch_size)}, VGG-16 widths")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tutorial", choices=sorted(TUTORIALS), default="fcn1D")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--floatX", default="float32", choices=("float32", "float64"))
    parser.add_argument("--rays", type=int, default=2400, help="fcn1D's made rays")
    parser.add_argument("--frames", type=int, nargs=3, default=[10, 2, 2],
                        metavar=("TRAIN", "VALID", "TEST"), help="fcn8's made frames")
    parser.add_argument("--crop", type=int, nargs=2, default=[224, 224],
                        metavar=("ROWS", "COLS"), help="unet's and fcn8's training crop")
    parser.add_argument("--batch-size", type=int, nargs=3, metavar=("TRAIN", "VALID", "TEST"),
                        help="default: the tutorial's (1024 1024 1, 5 5 1, 10 1 1)")
    parser.add_argument("--filters", type=int, default=64, help="unet's base_n_filters")
    parser.add_argument("--original", help="DeepLearningTutorials' tree (with code/)")
    parser.add_argument("--lasagne", help="Lasagne's tree (with lasagne/)")
    parser.add_argument("--dataset-loaders", help="dataset_loaders' tree")
    parser.add_argument("--theano", default=".venv-theano/bin/python",
                        help="the theano-pymc environment's Python")
    parser.add_argument("--pythonpath", help="a folder put on the original's PYTHONPATH "
                        "(SimpleITK's, for unet's warp)")
    parser.add_argument("--logs", help="a folder for each run's output")
    parser.add_argument("--only", choices=("dltut", "original"),
                        help="run one side (where the two do not fit in one sitting)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error("--epochs must be at least 2 (the first epoch compiles)")
    args.batch_size = args.batch_size or TUTORIALS[args.tutorial]["batch_size"]
    with tempfile.TemporaryDirectory() as toy:
        data = write_data(args, toy)
        rows = []
        if args.only != "original":
            rows.append(("dltut (default mode)", *time_dltut(args, data)))
        if args.original and args.only != "dltut":
            rows.append(("original (theano-pymc, C)", *time_original(args, toy)))
    print(f"{describe(args)}, {args.floatX}: seconds per epoch (training and validation; the "
          "first compiles in dltut's JAX mode, the original compiles before it), and each "
          "process's wall seconds")
    for name, times, seconds in rows:
        print(f"  {name:28s} " + "  ".join(f"{t:.2f}" for t in times)
              + f"   (process {seconds:.0f})")
    if len(rows) == 2:
        mine, theirs = min(rows[0][1][1:]), min(rows[1][1][1:])
        print(f"  original / dltut (fastest epochs after the first): {theirs / mine:.2f}x")


if __name__ == "__main__":
    main()
