"""A tutorial from the command line: ``dltut run TUTORIAL`` (``dltut.__main__``) and
``scripts/TUTORIAL.py``, the same flags, lines and exit codes; the tutorials are
``dltut.catalogue``'s.

``python scripts/logreg.py [train] [--learning-rate ...]`` runs the tutorial and writes its best
model to ``--out``; ``python scripts/logreg.py predict`` prints the predicted labels of the first
test images with that model, like the tutorial's ``predict()``; so do ``mlp.py``, ``lenet.py``,
``SdA.py`` and ``DBN.py``. The unsupervised ``dA.py``, ``cA.py`` and ``rbm.py`` train and write
their pictures to ``--output-folder`` (``rbm.py`` then samples); ``logistic_cg.py`` runs
``scipy.optimize.fmin_cg`` for at most ``--n-epochs`` iterations: none of the four has a model
file, patience or predict. Each script has the flags its tutorial function takes:
``--checkpoint``/``--resume`` where it takes them (the SdA's, DBN's and dA's cover their
unsupervised epochs too). ``hmc.py`` samples a Gaussian: no data, no training, only
``--floatX``, ``--mode`` and ``--engine`` beside its own flags. Defaults come from the tutorial
functions' signatures, and the run options a tutorial takes from its module's ``RUN_OPTIONS``,
so the two cannot disagree.
"""

import argparse
import dataclasses
import inspect
import logging
import os
import sys

from dltut import catalogue, engine
from dltut.epochs import Interrupted
from dltut.progress import ProgressBar
from dltut.trainer import Diverged

def supervised(script):
    """Whether ``script`` trains a classifier with early stopping (a best model, predict)."""
    return catalogue.get(script).supervised


def _flag(name):
    return "--" + name.replace("_", "-")


def build_parser(script, prog=None):
    tutorial = catalogue.get(script)
    function_name, flags = tutorial.entry, tutorial.flags
    defaults = catalogue.defaults(script)
    if catalogue.uses_data(script):
        description = (f"Train the {script} tutorial on MNIST ({function_name})"
                       + (" or predict with it." if supervised(script) else "."))
    else:
        description = f"Run the {script} tutorial ({function_name}): {tutorial.summary}."
    parser = argparse.ArgumentParser(prog=prog or f"{script}.py", description=description,
                                     epilog=tutorial.data)
    if supervised(script):
        parser.add_argument("command", nargs="?", choices=("train", "predict"), default="train",
                            help="train (default) or predict the first test images with --out's "
                                 "model")
    for name in flags:
        if name in catalogue.SWITCHES:
            text = catalogue.SWITCHES[name]
            if name == "toy":
                text += f": {_toy_text(script)}"
            parser.add_argument(_flag(name), action="store_true", help=text)
            continue
        parser.add_argument(_flag(name), type=catalogue.TYPES.get(name, int), default=defaults[name],
                            metavar=name.upper(), help=f"default {defaults[name]}",
                            nargs=catalogue.nargs(script, name))
    _add_run_flags(parser, _run_options(script), catalogue.uses_data(script))
    if not supervised(script) and "out" in _run_options(script):
        parser.add_argument("--out", default=None,
                            help="where the best model is written (.npz; default: not written)")
    if supervised(script):
        _add_model_flags(parser, script)
    return parser


_RUN_HELP = {
    "dataset": "MNIST as a folder of IDX files, the tutorial's mnist.pkl.gz or an .npz (default: "
               "the copy shipped with dltut, dltut/mnist)",
    "floatX": "float dtype (default: float32, unless the engine's flags set it)",
    "mode": "compile mode (default: jax on PyTensor where JAX is installed, else c; c on Theano)",
    "engine": "pytensor (default) or theano (theano-pymc in its own environment, see README); also "
              "DLTUT_ENGINE",
}


def _run_options(script):
    """The ``fitting.Options`` fields the tutorial takes: its module's ``RUN_OPTIONS``, else all
    of them (the supervised tutorials)."""
    from dltut.fitting import Options

    return getattr(catalogue.module(script), "RUN_OPTIONS",
                   tuple(field.name for field in dataclasses.fields(Options)))


def _add_run_flags(parser, options, dataset=True, verbose=True, modes=engine.MODES, **texts):
    """The flags of how a run runs, shared by every command line: its data (if ``dataset``),
    floatX, mode (one of ``modes``), engine, those of the ``options`` (``fitting.Options`` fields)
    the tutorial takes, --verbose (if ``verbose``) and the checkpoint's; ``texts`` replace the help
    of the first four."""
    texts = {**_RUN_HELP, **texts}
    if dataset:
        parser.add_argument("--dataset", default=None, help=texts["dataset"])
    parser.add_argument("--floatX", choices=engine.FLOATX, default=None, help=texts["floatX"])
    parser.add_argument("--mode", choices=modes, default=None, help=texts["mode"])
    if "device" in options:
        parser.add_argument("--device", choices=engine.DEVICES, default=None,
                            help="gpu: JAX mode on the GPU (pip install -e .[gpu]); auto: the GPU "
                                 "if there is one, else the CPU; cpu (default)")
    if "tf32" in options:
        parser.add_argument("--tf32", action="store_true",
                            help="on the GPU, allow TensorFloat-32 matrix products (faster, not "
                                 "the tutorials' numbers)")
    parser.add_argument("--engine", choices=engine.ENGINES, default=None, help=texts["engine"])
    if "fused" in options:
        parser.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None,
                            help="train each span between validations (dA, cA, rbm: each "
                                 "epoch) in one compiled call (default: on in JAX mode, off in "
                                 "the C and Numba modes)")
    if verbose:
        parser.add_argument("--verbose", action="store_true",
                            help="also log the seconds spent compiling and training, apart")
    if "checkpoint" in options:
        parser.add_argument("--checkpoint", default=None,
                            help="write the training state there every --checkpoint-every epochs "
                                 "and at the end (also on Ctrl-C/SIGTERM)")
        parser.add_argument("--checkpoint-every", type=int, default=1, metavar="EPOCHS",
                            help="epochs between checkpoints (default %(default)s)")
        parser.add_argument("--resume", default=None,
                            help="go on from this checkpoint (same settings as the run that wrote "
                                 "it)")
        parser.add_argument("--overwrite", action="store_true",
                            help="start afresh over an existing --checkpoint file (without it, "
                                 "such a run is refused: resume it with --resume)")


def _add_model_flags(parser, script):
    """The flags of a supervised tutorial's best model, pictures and predict."""
    parser.add_argument("--out", default=_default_out(script),
                        help="where the best model is written (default %(default)s)")
    parser.add_argument("--plot", default=None, metavar="PNG",
                        help="draw the patience plot of the run there (needs matplotlib)")
    parser.add_argument("--filters", default=None, metavar="PNG",
                        help="draw the best model's first-layer weights there (needs matplotlib)")
    parser.add_argument("--count", type=int, default=10,
                        help="predict: how many test images (default %(default)s)")


def main(script, argv=None, prog=None):
    """Run a tutorial as ``scripts/SCRIPT.py`` (or ``dltut run SCRIPT``, its ``prog``) with the
    command-line arguments ``argv``; returns the exit status."""
    prog = prog or f"{script}.py"
    build, run = _COMMAND_LINES.get(script, (build_parser, _run))
    parser = build(script, prog)
    args = parser.parse_args(argv)
    if getattr(args, "toy", False):  # the made data: the quick settings, unless flags say more
        parser.set_defaults(**toy_defaults(script, vars(args)))
        args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    # the tutorial's lines (and with --verbose the timings); other libraries' INFO stays out
    verbose = getattr(args, "verbose", False)
    logging.getLogger("dltut").setLevel(logging.DEBUG if verbose else logging.INFO)
    return exit_status(prog, lambda: run(script, args))


def toy_defaults(script, flags):
    """The defaults of ``--toy``: the tutorial's quick settings (``catalogue.Quick``: those of
    the original's run recorded on the same made data; rnnslu's param dict entries) that are
    among ``flags`` (the parsed arguments' names)."""
    settings = dict(catalogue.get(script).quick.settings)
    settings.update(settings.pop("param", {}))
    return {name: value for name, value in settings.items() if name in flags}


def _run(script, args):
    _check_numbers(args)
    if args.engine is not None:
        engine.use(args.engine)
    if not supervised(script):
        return _run_unsupervised(script, args)
    if args.command == "predict":
        return _predict(args)
    return _train(script, args)


def exit_status(prog, run):
    """The exit status of ``run()`` (what it returns if that is an int, else 0), an error as one
    line on stderr: 1 for a run that diverged, 130 for one stopped by Ctrl-C (as a shell reports
    it), 2 for a bad setting or file."""
    try:
        status = run()
        return status if isinstance(status, int) else 0
    except Diverged as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 1
    except Interrupted as stopped:
        print(f"{prog}: {stopped}", file=sys.stderr)
        return 130
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2


def _check_numbers(args):
    """Every numeric flag in its range (``catalogue.check_value``: sizes, counts and epochs >= 1,
    rates finite and > 0, ...), before anything is read or built; the error names the flag."""
    for name, value in vars(args).items():
        items = value if isinstance(value, list) else [value]
        if items and all(isinstance(item, (int, float)) and not isinstance(item, bool)
                         for item in items):
            try:
                catalogue.check_value(name, value)
            except ValueError as error:
                raise ValueError(f"{error} ({_flag(name)})") from None


def _hyperparameters(script, args):
    return {name: getattr(args, name) for name in catalogue.get(script).flags}


def _run_unsupervised(script, args):
    """Run a tutorial that trains without labels and writes pictures (dA, cA, rbm), or samples
    (hmc)."""
    names = _run_options(script)
    options = {name: getattr(args, name) for name in names if name != "callbacks"}
    if catalogue.uses_data(script):
        options["dataset"] = args.dataset
    if "callbacks" not in names:
        catalogue.function(script)(**options, **_hyperparameters(script, args))
        return 0
    with ProgressBar(getattr(args, catalogue.get(script).epochs)) as bar:
        result = catalogue.function(script)(**options, callbacks=[bar],
                                            **_hyperparameters(script, args))
    return 130 if result.stop_reason == "interrupted" else 0


def _train(script, args):
    kwargs = _hyperparameters(script, args)
    # every place written is checked (its folder made) before training: --out and --checkpoint
    # by the tutorial (fitting.prepare), the pictures here
    pictures = [(path, draw) for path, draw in ((args.plot, "save_patience_plot"),
                                                (args.filters, "save_filters")) if path]
    if pictures:
        from dltut import plots
        from dltut.saving import check_writable

        plots.check_matplotlib("--plot and --filters")  # before training, not after it
        for path, draw in pictures:
            check_writable(path, "--plot" if draw == "save_patience_plot" else "--filters")
    with ProgressBar(getattr(args, catalogue.get(script).epochs)) as bar:
        result = catalogue.function(script)(
            dataset=args.dataset, out=args.out, floatX=args.floatX, mode=args.mode,
            device=args.device, tf32=args.tf32, fused=args.fused, checkpoint=args.checkpoint,
            checkpoint_every=args.checkpoint_every, resume=args.resume, overwrite=args.overwrite,
            callbacks=[bar], **kwargs,
        )
    for path, draw in pictures:
        getattr(plots, draw)(result if draw == "save_patience_plot" else result.model, path)
        print(f"{draw.removeprefix('save_').replace('_', ' ')} saved to {path}")
    if result.stop_reason == "interrupted":
        return 130  # as a shell reports a command stopped by Ctrl-C
    return 0


def _default_out(script):
    return os.path.join("out", f"{script}.npz")


def _predict(args):
    from dltut import data, fitting, saving

    fitting.configure(args.floatX, args.mode, args.device, args.tf32)
    model = saving.load_model(args.out)
    _, _, (test_x, _) = data.load_data(args.dataset)
    count = min(args.count, len(test_x))
    predicted = model.predict(test_x[:count])
    print(f"Predicted values for the first {count} examples in test set:")
    print(predicted)
    return 0


# ----------------------------------------------------------------------------------------------
# rnnslu, whose settings are a dict


# the numbers of the tutorial's DEFAULT_PARAM that are flags
_RNNSLU_FLAGS = ("fold", "lr", "win", "nhidden", "seed", "emb_dimension", "nepochs")


def build_rnnslu_parser(script="rnnslu", prog="rnnslu.py"):
    defaults = catalogue.module(script).DEFAULT_PARAM
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train the Elman network of the tutorial rnnslu.py on an ATIS fold: F1 of "
                    "the validation and test slots (conlleval) after each epoch, NEW BEST lines "
                    "and the BEST RESULT.", epilog=catalogue.get(script).data)
    for name in _RNNSLU_FLAGS:
        parser.add_argument(_flag(name), type=type(defaults[name]), default=defaults[name],
                            metavar=name.upper(), help=f"default {defaults[name]}")
    parser.add_argument("--no-decay", dest="decay", action="store_false",
                        help="keep the learning rate (default: halve it after 10 epochs without "
                             "a new best)")
    parser.add_argument("--savemodel", action="store_true",
                        help="write the best model to OUTPUT_FOLDER/model.npz")
    parser.add_argument("--dataset", default=None,
                        help="the folder of atis.fold0-4.pkl.gz, or one fold file (default: "
                             "$ATISDATA, else ./data)")
    parser.add_argument("--toy", action="store_true",
                        help="train on a made fold (rnnslu.toy_fold: 300 requests, 7 slot labels; "
                             "param data 'toy') instead of ATIS, offline, with the small settings "
                             f"of the original's reference run ({_toy_text(script)}; flags given "
                             "still apply)")
    parser.add_argument("--output-folder", default="rnnslu",
                        help="where conlleval's input files (current/best.valid/test.txt) and "
                             "the model go; created if missing, checked before training "
                             "(default %(default)s)")
    _add_run_flags(parser, _run_options(script), dataset=False, verbose=False,
                   modes=("c", "numba"),
                   mode="compile mode (default: c; JAX mode cannot compile the scan)",
                   engine="pytensor (default) or theano; also DLTUT_ENGINE")
    return parser


def _run_rnnslu(script, args):
    """rnnslu's run: its settings are the tutorial's param dict, so it has its own flags rather
    than those of a tutorial function's keyword arguments."""
    if args.engine is not None:
        engine.use(args.engine)
    rnnslu = catalogue.module(script)
    param = {name: getattr(args, name) for name in _RNNSLU_FLAGS}
    param.update(decay=args.decay, savemodel=args.savemodel, data="toy" if args.toy else "atis")
    rnnslu.main(param, dataset=args.dataset, output_folder=args.output_folder, floatX=args.floatX,
                mode=args.mode, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                resume=args.resume, overwrite=args.overwrite)


# ----------------------------------------------------------------------------------------------
# lstm, whose flags are train_lstm's arguments with the tutorial's __main__ defaults


# the tutorial's __main__: train_lstm(max_epochs=100, test_size=500)
_LSTM_MAIN_DEFAULTS = {"max_epochs": 100, "test_size": 500}
_LSTM_HELP = {
    "data_path": "imdb.pkl (the tutorial's file) or an .npz built by "
                 "dltut.tutorials.imdb_preprocess; None: imdb.pkl, or for --dataset toy the made "
                 "reviews shipped with dltut",
    "dataset": "imdb (the tutorial's) or toy (made reviews in its format, shipped with dltut)",
    "optimizer": "sgd, adadelta or rmsprop",
    "saveto": "where the best model is written ('' for nowhere)",
    "reload_model": "a model file (.npz) to start from",
    "use_dropout": "dropout on the pooled LSTM states (--no-use-dropout: none)",
    "floatX": "float32 or float64",
    "mode": "jax (each minibatch padded to a few compiled lengths), c or numba; None: the "
            "engine's default",
    "checkpoint": "write the training state there (.npz) every --checkpoint-every epochs",
    "resume": "go on from this checkpoint",
    "overwrite": "replace an existing --checkpoint file (a fresh run refuses to otherwise)",
}


def build_lstm_parser(script="lstm", prog="lstm.py"):
    """Every argument of ``train_lstm`` as a flag, with the defaults of the tutorial's
    ``__main__`` (``max_epochs=100, test_size=500``)."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Train the LSTM tutorial on IMDB reviews (train_lstm).",
        epilog=catalogue.get(script).data)
    parser.add_argument("--toy", action="store_true",
                        help="train on made reviews in imdb.pkl's format shipped with dltut "
                             "(dataset 'toy') instead of IMDB, offline, with the small settings "
                             f"of the original's reference run ({_toy_text(script)}; flags given "
                             "still apply)")
    for name, parameter in inspect.signature(catalogue.function(script)).parameters.items():
        if name == "callbacks":
            continue
        default = _LSTM_MAIN_DEFAULTS.get(name, parameter.default)
        if name == "optimizer":
            default = default.__name__
        flag = _flag(name)
        text = _LSTM_HELP.get(name, "")
        if isinstance(default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default,
                                help=f"{text} (default {default})")
        else:
            kind = type(default) if isinstance(default, (int, float)) else str
            parser.add_argument(flag, type=kind, default=default, metavar=name.upper(),
                                help=f"{text}{' ' if text else ''}(default {default})")
    return parser


def _run_lstm(script, args):
    """The LSTM's run (the tutorial's ``python lstm.py``)."""
    settings = vars(args)
    settings.pop("toy")  # its settings are in the others (dataset 'toy')
    return catalogue.function(script)(**settings)


def _toy_text(script):
    """The quick settings ``--toy`` takes, as its help lists them."""
    settings = dict(catalogue.get(script).quick.settings)
    settings.update(settings.pop("param", {}))
    return ", ".join(f"{_flag(name)} {value}" for name, value in settings.items()
                     if name not in ("toy", "data", "dataset"))


# the tutorials whose settings are not their entry point's keywords: their parser and run
_COMMAND_LINES = {"rnnslu": (build_rnnslu_parser, _run_rnnslu),
                  "lstm": (build_lstm_parser, _run_lstm)}


# ----------------------------------------------------------------------------------------------
# dltut sweep TUTORIAL


def build_sweep_parser(tutorial):
    """The flags of ``python -m dltut sweep TUTORIAL``: each hyperparameter flag takes the values
    to sweep (``--batch-size 300 600``; a list-valued one as ``--nkerns 20,50 10,20``), or one
    value that every run shares (``--n-epochs 50``)."""
    from dltut import sweep

    defaults = catalogue.hyperparameters(tutorial)
    parser = argparse.ArgumentParser(
        prog=f"dltut sweep {tutorial}",
        description=f"Run the {tutorial} tutorial ({catalogue.get(tutorial).entry}) once per point of a "
                    "grid: a hyperparameter flag given several values sweeps them, one value is "
                    "shared by every run; the runs are every combination. A sweep started again "
                    "runs only what is unfinished.")
    for name, default in defaults.items():
        kind = catalogue.TYPES.get(name, int)
        shown = f"the tutorial's default: {default!r}" if default is not None \
            else f"{tutorial} draws nothing: no seed to sweep"
        parser.add_argument(_flag(name), nargs="+", default=None, metavar=name.upper(),
                            type=_comma_list(kind) if name in catalogue.LISTS else kind,
                            help=f"value(s) ({shown})")
    parser.add_argument("--backend", choices=sweep.BACKENDS, default="pool",
                        help="pool: a process per core (default); serial: one run (or "
                             "group) after the other; ray: Ray tasks (pip install "
                             "'dltut[ray]')")
    parser.add_argument("--batched", action=argparse.BooleanOptionalAction, default=None,
                        help="train the runs of equal shapes together, one group a task "
                             "(logreg, mlp, lenet; JAX mode), or not (--no-batched); default: "
                             "together where they can be")
    parser.add_argument("--workers", type=int, default=None,
                        help="processes (pool) or CPUs of the local Ray (default: the cores)")
    parser.add_argument("--address", default=None,
                        help="ray: the address of a running Ray cluster (default: start one)")
    parser.add_argument("--out-dir", default=os.path.join("out", f"sweep_{tutorial}"),
                        help="where each run's files and the results table go (default "
                             "%(default)s)")
    parser.add_argument("--plot", action="store_true",
                        help="draw all runs in OUT_DIR/sweep.png (needs matplotlib)")
    parser.add_argument("--checkpoint-every", type=int, default=None, metavar="EPOCHS",
                        help="epochs between each run's checkpoints (default 1)")
    # each run's --checkpoint is the sweep's, in its folder
    _add_run_flags(parser, set(_run_options(tutorial)) - {"checkpoint"})
    return parser


def _comma_list(kind):
    def parse(text):
        return [kind(part) for part in text.split(",")]

    parse.__name__ = f"comma-separated {kind.__name__}"  # what argparse names in an error
    return parse


def sweep_main(tutorial, argv=None):
    """Run ``python -m dltut sweep TUTORIAL ARGV``; returns the exit status."""
    from dltut import sweep

    parser = build_sweep_parser(tutorial)
    args = parser.parse_args(argv)
    root = logging.getLogger()
    if not root.handlers:  # as basicConfig, with the runs' lines left to their log.txt
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(logging.Formatter("%(message)s"))
        if not args.verbose:
            console.addFilter(_sweep_lines)
        root.addHandler(console)
    logging.getLogger("dltut").setLevel(logging.DEBUG if args.verbose else logging.INFO)
    given = {name: getattr(args, name) for name in catalogue.hyperparameters(tutorial)
             if getattr(args, name) is not None}
    grid = {name: values for name, values in given.items() if len(values) > 1}
    options = {name: values[0] for name, values in given.items() if len(values) == 1}
    for name in ("floatX", "mode", "device", "fused", "checkpoint_every"):
        if getattr(args, name, None) is not None:
            options[name] = getattr(args, name)
    if getattr(args, "tf32", False):
        options["tf32"] = True
    try:
        if args.engine is not None:
            engine.use(args.engine)
        checked = sweep.plan(tutorial, grid, out_dir=args.out_dir, backend=args.backend,
                             batched=args.batched, workers=args.workers, address=args.address,
                             plot=args.plot, dataset=args.dataset, **options)
    except (ValueError, TypeError, ImportError, NotImplementedError, RuntimeError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)  # one line, as exit_status
        return 2
    try:
        sweep.run(checked)
    except sweep.SweepInterrupted as stopped:
        print(f"{parser.prog}: {stopped}", file=sys.stderr)
        return stopped.status  # 130 for Ctrl-C or SIGTERM, as exit_status
    except (ValueError, OSError, ImportError, RuntimeError) as error:
        print(f"{parser.prog}: error: {error}", file=sys.stderr)
        return 2
    print(f"results table: {os.path.join(checked.out_dir, 'results.csv')} (and results.json)")
    if args.plot:
        print(f"sweep plot saved to {os.path.join(checked.out_dir, 'sweep.png')}")
    return 0


def _sweep_lines(record):
    """The console of a sweep: the sweep's own lines, and warnings from anywhere."""
    return record.name.startswith("dltut.sweep") or record.levelno >= logging.WARNING
