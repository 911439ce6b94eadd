"""What every tutorial's entry point does around its model: options, training, the best model.

An entry point (``dltut.tutorials.logistic_sgd.sgd_optimization_mnist``, ``mlp.test_mlp``,
``convolutional_mlp.evaluate_lenet5``) checks its ``Options`` with ``prepare``, loads MNIST into
shared variables and calls ``fit``, which builds the model from its architecture with the
tutorial's seed, compiles ``train_model`` / ``validate_model`` / ``test_model``, runs the shared
early-stopping trainer, writes the checkpoints and the best model to ``out`` (if given) and
returns the ``TrainResult``; the entry point then logs the tutorial's closing lines.
"""

import dataclasses
import logging
import math
import os

import numpy

from dltut import engine, registry, saving
from dltut.atomic import check_output
from dltut.compiled import CompiledModel, batch_counts
from dltut.engine import T
from dltut.trainer import Diverged, StopRequest, train
from dltut.updates import sgd

log = logging.getLogger(__name__)

N_OUT = 10  # ten digit classes
RUN = "training"  # the name of the checkpoints of runs on the early-stopping trainer (save_run)


def configure(floatX=None, mode=None, device=None, tf32=False):
    """Set the engine's floatX, compile mode and device, where given.

    The GPU runs in JAX mode only: ``device="gpu"`` with another mode is an error, and
    ``device="auto"`` with another mode stays on the CPU.
    """
    if device == "gpu" and mode not in (None, "jax"):
        raise ValueError(f"device 'gpu' runs in mode 'jax', not {mode!r}: drop --mode {mode}")
    if floatX is not None:
        engine.set_floatX(floatX)
    if mode is not None:
        engine.set_mode(mode)
    if device is not None and (device != "auto" or mode in (None, "jax")):
        engine.set_device(device, tf32)


@dataclasses.dataclass
class Options:
    """How a tutorial runs, beside its hyperparameters (keyword arguments of every entry point)."""

    out: str | None = None  # where the best model is written (.npz)
    floatX: str | None = None  # "float32" or "float64"; None keeps the current one
    mode: str | None = None  # "c", "numba" or "jax"; None keeps the engine's
    device: str | None = None  # "cpu", "gpu" (JAX mode on the GPU) or "auto"; None: as the mode
    tf32: bool = False  # on the GPU, let float32 matrix products use TensorFloat-32
    fused: bool | None = None  # one compiled call per span between validations; None: in JAX mode
    checkpoint: str | None = None  # where the training state is written (.npz)
    checkpoint_every: int = 1  # epochs between checkpoints; one is also written at the end
    resume: str | None = None  # a checkpoint to go on from
    overwrite: bool = False  # a run not resumed may replace an existing checkpoint file
    callbacks: tuple = ()  # called with each Validation as it happens


def prepare(options, only=None):
    """``Options`` from keyword arguments, configured and checked before any data or compiling.

    ``only`` names the fields an entry point uses (``test_dA`` saves no model: no ``out``); any
    other is an error rather than silently ignored.
    """
    if only is not None and set(options) - set(only):
        raise TypeError(f"unexpected options {sorted(set(options) - set(only))}: this tutorial "
                        f"takes {', '.join(only)}")
    options = Options(**options)
    engine.backend()  # a missing engine fails here, before any data is read
    configure(options.floatX, options.mode, options.device, options.tf32)
    check_positive_integers(checkpoint_every=options.checkpoint_every)
    check_resume(options.resume)
    check_fresh_checkpoint(options.checkpoint, options.resume, options.overwrite)
    for what, path in (("out", options.out), ("checkpoint", options.checkpoint)):
        if path is not None:  # its folder made if missing, and probed
            saving.check_writable(path, what)
    return options


def check_resume(path):
    """``path`` (a checkpoint to go on from, or None) is a file; a ValueError otherwise."""
    if path is not None and not os.path.isfile(path):
        raise ValueError(f"resume {path}: no such checkpoint file")


def check_fresh_checkpoint(checkpoint, resume, overwrite):
    """A run that is not resumed does not replace an existing checkpoint, which holds another
    run's progress, unless ``overwrite`` says so; a ValueError naming it otherwise."""
    if checkpoint is not None and resume is None and not overwrite \
            and os.path.exists(checkpoint):
        raise ValueError(f"checkpoint {checkpoint} exists: resume it with --resume {checkpoint}, "
                         "or pass --overwrite to start again (overwrite=True)")


def checkpoint_writer(path, arch, hyperparameters, model):
    """``write(state)``: the checkpoint of ``model``'s run at ``path`` (``saving.save_run``: its
    parameters, the best ones and the ``TrainState``, with ``_run_settings``); a write that fails
    is a warning, not the run's end (``saving.CheckpointWriter``)."""
    params = saving.by_name(model.params)
    return saving.CheckpointWriter(path, lambda state: saving.save_run(
        path, RUN, _run_settings(arch, hyperparameters), params, params, state))


def input_size(datasets):
    """Pixels per image of the shared ``datasets``: the first layer's ``n_in``."""
    return int(datasets[0][0].get_value(borrow=True).shape[1])


def fit(arch, rng, datasets, hyperparameters, stopping, options, regularize=None, log_every=None,
        training_message="... training", model=None):
    """Build the model ``arch``, train it with SGD and early stopping, save the best model.

    ``model``, if given, is the model ``arch`` already built (on its symbolic ``model.input``)
    and trained some other way before (the SdA after pretraining): it is fine-tuned as it is.

    ``hyperparameters`` holds ``learning_rate`` and ``batch_size`` (and whatever else defines the
    run, such as the MLP's ``L1_reg``: a checkpoint resumes only a run with the same ones).
    ``regularize(model, nll)`` turns the negative log-likelihood into the cost (the MLP's L1/L2).
    Returns the ``TrainResult``; ``result.model`` is the model with the best parameters set.
    A run stopped by SIGINT/SIGTERM returns with ``stop_reason == "interrupted"``; a diverging one
    raises ``Diverged``. Either way the checkpoint and the best model so far are written first.
    """
    _check_hyperparameters(hyperparameters, datasets)
    registry.param_shapes(arch)  # its sizes, before anything is built
    hyperparameters = {**hyperparameters, **dataclasses.asdict(stopping)}
    # a checkpoint is read and checked before anything is built or compiled
    resumed = read_resume(options.resume, arch, hyperparameters) if options.resume else None
    if model is None:
        log.info("... building the model")
        x = T.matrix("x")  # the data, presented as rasterized images
        classifier = registry.build(arch, rng, x)
    else:
        x, classifier = model.input, model
    y = T.ivector("y")  # the labels, presented as a vector of int labels
    cost = classifier.negative_log_likelihood(y)
    if regularize is not None:
        cost = regularize(classifier, cost)
    updates = sgd(cost, classifier.params, hyperparameters["learning_rate"])
    compiled = CompiledModel(x, y, cost, classifier.y_pred, classifier.params, updates, datasets,
                             hyperparameters["batch_size"], fused=options.fused)
    return _train(compiled, classifier, arch, hyperparameters, stopping, options, log_every,
                  resumed, training_message)


def train_functions(model, classifier, arch, hyperparameters, stopping, options, log_every=None,
                    training_message=None):
    """Train a tutorial's compiled functions (``trainer.Minibatches``) of ``classifier`` by the
    early-stopping rules of ``stopping``; the checkpoints, the resume and the best model as
    ``options`` ask, the model saved as ``arch`` (what ``dltut predict`` rebuilds).

    ``hyperparameters`` are what defines the run besides ``arch`` (a checkpoint resumes only a
    run with the same ones). Returns the ``TrainResult``; ``result.model`` is ``classifier`` with
    the best parameters set. A run stopped by SIGINT/SIGTERM returns with ``stop_reason ==
    "interrupted"``; a diverging one raises ``Diverged``. Either way the checkpoint and the best
    model so far are written first. ``training_message``, if given, is logged as training starts
    (after the resume's line).
    """
    hyperparameters = {**hyperparameters, **dataclasses.asdict(stopping)}
    resumed = read_resume(options.resume, arch, hyperparameters) if options.resume else None
    return _train(model, classifier, arch, hyperparameters, stopping, options, log_every,
                  resumed, training_message)


def _train(compiled, classifier, arch, hyperparameters, stopping, options, log_every, resumed,
           training_message=None):
    """The run of ``fit`` and ``train_functions`` once the functions are compiled."""
    state = _resume_into(resumed, classifier) if resumed is not None else None
    if state is not None and hasattr(compiled, "resume"):  # iterators of batches (Batches)
        compiled.resume(state)
    if training_message is not None:
        log.info(training_message)
    write_checkpoint = (checkpoint_writer(options.checkpoint, arch, hyperparameters, classifier)
                        if options.checkpoint is not None else None)
    try:
        with StopRequest() as stop:
            result = train(compiled, compiled.n_train_batches, stopping,
                           callbacks=options.callbacks, log_every=log_every, state=state,
                           checkpoint=write_checkpoint, checkpoint_every=options.checkpoint_every,
                           stop_requested=stop)
    except Diverged as error:
        _keep_best(error.result, compiled, classifier, arch, hyperparameters, options)
        error.args = (f"{error.args[0]}; lower the learning rate (learning_rate="
                      f"{hyperparameters['learning_rate']})"
                      f"{_saved_note(options, write_checkpoint)}",)
        raise
    _keep_best(result, compiled, classifier, arch, hyperparameters, options)
    if result.stop_reason == "interrupted":
        log.warning("interrupted at iteration %i%s", result.iterations - 1,
                    _saved_note(options, write_checkpoint))
    return result


def _check_hyperparameters(hyperparameters, datasets):
    """The learning rate and batch size, checked before anything is built."""
    check_sgd_settings(hyperparameters["learning_rate"], hyperparameters["batch_size"])
    batch_counts(datasets, hyperparameters["batch_size"])


def check_architecture(arch):
    """The model ``arch`` (as saved and rebuilt by ``dltut predict``) is one that can be built:
    known settings, each in range, not too many parameters; an error naming the setting
    otherwise, before anything is allocated."""
    registry.param_shapes(arch)
    return arch


def check_batch_size(datasets, batch_size):
    """Each split of ``datasets`` holds at least one minibatch of ``batch_size``; a ValueError
    naming the first that does not."""
    batch_counts(datasets, batch_size)


def check_sgd_settings(learning_rate, batch_size):
    """A positive learning rate and a positive integer batch size, or a ValueError naming it."""
    if not (isinstance(learning_rate, (int, float)) and 0 < learning_rate < math.inf):
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    check_positive_integers(batch_size=batch_size)


def check_positive_integers(**values):
    """Each ``name=value`` an int >= 1 (not a bool), or a ValueError naming the first that is
    not."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def check_segmentation_settings(learning_rate, weight_decay, batch_size, **counts):
    """The segmentation tutorials' settings: a positive learning rate, a weight decay >= 0, the
    three batch sizes (training, validation, test) and ``counts`` (epochs, patience...) positive
    integers; a ValueError naming the first that is not."""
    if not 0 <= weight_decay < math.inf:
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if not 0 < learning_rate < math.inf:
        raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
    if len(batch_size) != 3:
        raise ValueError(f"batch_size must be (training, validation, test), got {batch_size!r}")
    check_positive_integers(**counts, **dict(zip(("train batch", "valid batch", "test batch"),
                                                 batch_size)))


class NotEnoughMemory(ValueError):
    """A run that would need more memory than the machine has available."""


# the memory a training run holds per byte of its parameters (the parameters, Adam's two
# moments, the gradients and the compiled step's buffers), measured on FCN-8 (docs/speed.md):
# in JAX mode on frames of the real size, in the C mode on the made frames (on the real ones the
# C mode's im2col needs more than this machine's 23 GiB)
_MEMORY_PER_PARAMETER_BYTE = {"jax": 27, "c": 14, "numba": 14}


def check_memory(params, what):
    """Refuse, before the updates and the compiled functions allocate anything, a run of
    ``params`` (shared variables) that would need more memory than the machine has available
    (Linux's MemAvailable; no check where it cannot be read): a NotEnoughMemory naming the need
    and what needs less, rather than the kernel stopping the process midway."""
    available = _available_bytes()
    weights = sum(param.get_value(borrow=True).nbytes for param in params)
    mode = engine.mode()
    need = weights * _MEMORY_PER_PARAMETER_BYTE.get(mode, _MEMORY_PER_PARAMETER_BYTE["c"])
    if available is None or need <= available:
        return
    fixes = ["use a machine with more memory"]
    if engine.floatX() == "float64":
        fixes.append("--floatX float32 (half as much)")
    raise NotEnoughMemory(
        f"{what}: {weights / 2 ** 30:.1f} GiB of parameters ({engine.floatX()}) need about "
        f"{need / 2 ** 30:.0f} GiB of memory to train in mode {mode}, "
        f"and {available / 2 ** 30:.0f} GiB are available: {', or '.join(fixes)}")


def _available_bytes():
    try:
        with open("/proc/meminfo") as meminfo:
            fields = dict(line.split(":", 1) for line in meminfo)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return None


def flag(name):
    """The command line's flag of an entry point's argument ``name`` (``dltut run``'s parsers)."""
    return "--" + name.replace("_", "-")


def is_integer(value):
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


def is_number(value):
    return (isinstance(value, (int, float, numpy.integer, numpy.floating))
            and not isinstance(value, (bool, numpy.bool_)))


POSITIVE = (lambda v: is_integer(v) and v >= 1, "a positive integer")
NOT_NEGATIVE = (lambda v: is_number(v) and 0 <= v < math.inf, "a finite number >= 0")


def one_of(choices):
    """The rule of a setting that names one of ``choices``."""
    return (lambda v: v in choices, f"one of {sorted(choices)}")


# what each of lstm.train_lstm's settings must be: (test, what to say it must be); its encoder
# and dataset are one_of the tutorial's
LSTM_SETTINGS = {
    **dict.fromkeys(("dim_proj", "patience", "max_epochs", "dispFreq", "batch_size",
                     "valid_batch_size", "checkpoint_every"), POSITIVE),
    "n_words": (lambda v: is_integer(v) and v >= 2,
                "an integer >= 2 (0 pads, 1 is the unknown word)"),
    **dict.fromkeys(("validFreq", "saveFreq"), (lambda v: is_integer(v) and (v >= 1 or v == -1),
                                                "a positive integer of updates, or -1 (each "
                                                "epoch)")),
    "maxlen": (lambda v: v is None or (is_integer(v) and v >= 0), "an integer >= 0 (0: no limit)"),
    "test_size": (is_integer, "an integer (<= 0: the whole test set)"),
    "lrate": (lambda v: is_number(v) and 0 < v < math.inf, "a finite number > 0"),
    "decay_c": NOT_NEGATIVE,
    "noise_std": NOT_NEGATIVE,
}
LSTM_FLOATS = ("lrate", "decay_c", "noise_std")  # the settings the graph takes in floatX


def check_settings(rules, settings, floats=()):
    """Refuse, with a ValueError naming the argument, its flag and its value, a setting an entry
    point cannot run with: ``rules`` maps each name to ``(test, what it must be)``; each of
    ``floats`` must also stay finite as the graph takes it, cast to floatX."""
    for name, value in settings.items():
        if name not in rules:
            raise TypeError(f"check_settings: no rule for {name!r}")
        test, wanted = rules[name]
        if not test(value):
            _refuse(name, value, wanted)
        if name in floats:
            with numpy.errstate(over="ignore"):
                if not numpy.isfinite(numpy.asarray(value, dtype=engine.floatX())):
                    _refuse(name, value, f"finite in {engine.floatX()}, the graph's floats "
                                         f"(--floatX float64 holds more)")


def _refuse(name, value, wanted):
    raise ValueError(f"{name} must be {wanted}, got {value!r} ({flag(name)})")


def check_outputs(resume, overwrite, **outputs):
    """Before any data is read: ``resume`` (if given) is a file; each of ``outputs`` (``saveto=``,
    ``checkpoint=``: a path, or empty for none) can be written (``atomic.check_output``: a
    missing folder is created); the checkpoint is not a file a fresh run would replace, unless
    ``overwrite`` (``check_fresh_checkpoint``, the rule of every tutorial). Errors name the
    flags."""
    if resume and not os.path.isfile(resume):
        raise ValueError(f"{flag('resume')} {resume}: no such checkpoint file")
    for name, path in outputs.items():
        if path:
            check_output(path, flag(name))
    check_fresh_checkpoint(outputs.get("checkpoint") or None, resume or None, overwrite)


def check_seed(seed):
    """A seed ``numpy.random.RandomState`` takes: an integer in [0, 2 ** 32), or a ValueError."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2 ** 32:
        raise ValueError(f"seed must be an integer in [0, 2 ** 32), got {seed!r}")
    return seed


def check_draws_nothing(seed, tutorial):
    """``seed`` of a tutorial whose weights start at zero: None, or a ValueError (any seed would
    give the same run)."""
    if seed is not None:
        raise ValueError(f"seed {seed!r}: {tutorial} draws nothing (its weights start at zero), "
                         "so every seed gives the same run; leave seed out")


def _resume(path, arch, hyperparameters, classifier):
    """Set the model's parameters from a checkpoint and return its TrainState."""
    return _resume_into(read_resume(path, arch, hyperparameters), classifier)


def _resume_into(saved, classifier):
    """Set the parameters of ``read_resume``'s checkpoint into the model, each array checked
    against the model's first; its TrainState."""
    params = saving.by_name(classifier.params)
    return saved.restore(params, params)


def read_resume(path, arch, hyperparameters):
    """The checkpoint ``path`` (``saving.read_run``), checked before anything is built to be one
    of this run: the same architecture, settings, engine and floatX (``_run_settings``)."""
    return saving.read_run(path, RUN, _run_settings(arch, hyperparameters))


def _run_settings(arch, hyperparameters):
    """What a checkpoint resumes only with; not ``n_epochs``, a limit rather than part of the
    run (a resumed run may be given more epochs)."""
    return {"architecture": arch, "engine": engine.name(), "floatX": engine.floatX(),
            **{key: value for key, value in hyperparameters.items() if key != "n_epochs"}}


def _keep_best(result, compiled, classifier, arch, hyperparameters, options):
    """Set the best parameters into the model and write it to ``options.out``."""
    result.model = classifier
    if result.best_params is None:
        log.warning("no best model to keep: %s", "no validation was run" if not result.history
                    else "no validation was a new best (the segmentation tutorials keep none "
                         "before their third epoch)")
        return
    compiled.set_params(result.best_params)
    if options.out is not None:
        info = {**_counters(result), "hyperparameters": hyperparameters}
        saving.save_model(options.out, arch, registry.param_values(classifier), info)
        log.info("best model saved to %s", options.out)


def _saved_note(options, checkpoint_writer=None):
    saved = [f"{what} in {path}" for what, path in (("checkpoint", options.checkpoint),
                                                    ("best model so far", options.out))
             if path and os.path.exists(path)]
    if checkpoint_writer is not None and checkpoint_writer.failed and saved:
        saved[0] += " (an earlier one: the last write failed)"
    return "; " + ", ".join(saved) if saved else ""


def _counters(result):
    return {
        "best_validation_loss": result.best_validation_loss,
        "best_iter": result.best_iter,
        "test_score": result.test_score,
        "epochs": result.epochs,
        "iterations": result.iterations,
        "stop_reason": result.stop_reason,
    }
