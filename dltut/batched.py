"""Runs that share shapes, trained together on one device (the batched part of sweeps).

``fit_group("mlp", [{"learning_rate": 0.01, "seed": 1}, {"learning_rate": 0.02, "seed": 2}])``
trains both runs as one model: one compiled call per span of minibatches advances all of them,
where one run alone would take a call each. ``shape_key`` says which runs can go together: the
same tutorial, architecture and batch size. Learning rate, regularization, seed and the
early-stopping settings may differ from run to run.

How (see ``dltut.compiled.CompiledGroup`` and ``dltut.trainer.train_lockstep``):

* Each run has its own copy of the model (any of the three tutorials' models), built by
  ``registry.build`` from its own ``numpy.random.RandomState(seed)`` as the tutorial builds it,
  on the same symbolic minibatch; each copy's cost and SGD updates are its solo run's (its own
  L1/L2 as constants, its learning rate an input of each step). On the CPU the copies train in
  loops (``runs_per_loop``): a loop is one compiled graph holding some runs' copies, so every
  run computes, operation for operation, what its solo run computes, and in CPU float64 its
  numbers are its solo run's exactly (``tests/test_batched.py``). A span of minibatch updates
  runs each loop over the span, one loop after the other; loops of one graph share one build
  and one compile. On a GPU the group is one program, the loop of one run ``jax.vmap``-ed over
  the runs (``CompiledGroup(vmap=True)``): the model is built once however many runs, and
  every update of all runs is one batched product; its numbers equal the solo runs' up to
  rounding. The validation (test) errors of the runs of one loop or program are one call.
* Each run keeps its own early-stopping state (patience, best model, history) under the
  trainer's rules. The runs still training move in lockstep: a span ends at the first event
  (validation, patience stop, epoch end) of any of them. A stopped run is frozen: its learning
  rate is 0 (its parameters stay as they were at its stop) while the others go on, and a loop
  whose runs are all frozen is not run.
* A run whose cost diverges stops there with ``stop_reason == "diverged"`` and the others go on
  (a solo run raises ``Diverged``).

Why it is faster than the runs one after the other or in a pool of processes: the copies share
the gathered minibatch, the Python and per-call overhead, the data loading and the compiles
(``benchmarks/bench_sweep.py``; docs/speed.md, "Batched sweeps"). Exactness comes first on the
CPU: a stacked form (``vmap``, or one ``X @ [W_1 .. W_R]``) changes XLA's products and sums in
the last bits, so the CPU keeps the copies.

Log lines: each run logs the trainer's lines of its solo run (``epoch %i, minibatch %i/%i,
validation error %f %%``, the test error of a new best, LeNet's ``training @ iter = %i``) with
the same text, through the ``dltut.trainer`` logger; each record carries ``record.run``, the
run's index in ``runs``, for a handler or filter to tell the runs apart. The entry points' own
closing lines ("Optimization complete ...") are not logged: the caller reports the results.

Batching needs JAX mode (dltut's default): in another mode ``fit_group`` raises a ValueError
(run the runs one by one with the tutorial's entry point instead).

Checkpoints: with ``checkpoints=`` each run writes its own checkpoint file, the one its solo run
writes (after every ``checkpoint_every`` epochs and at the end), and with ``resume=`` a run goes
on from such a file, whichever wrote it: a group stopped midway goes on where its runs were. Runs
resumed at different updates catch up with each other first (``train_lockstep``).
"""

import dataclasses
import logging

import numpy

from dltut import catalogue, data, engine, registry, saving, trainer
from dltut.compiled import CompiledGroup, batch_counts
from dltut.engine import T
from dltut.fitting import (N_OUT, _counters, _resume, check_draws_nothing,
                           check_fresh_checkpoint, check_resume, check_seed, check_sgd_settings,
                           checkpoint_writer, input_size, prepare)
from dltut.trainer import EarlyStopping, StopRequest, train_lockstep

log = logging.getLogger(__name__)

# the tutorials trained in groups (catalogue.TUTORIALS' names); their entry points' keyword arguments
# are a run's hyperparameters
TUTORIALS = ("logreg", "mlp", "lenet")
# the settings that shape a tutorial's model: runs that differ in one cannot go together
SHAPE_SETTINGS = {"logreg": ("batch_size",), "mlp": ("batch_size", "n_hidden"),
                  "lenet": ("batch_size", "nkerns")}
STOPPING_SETTINGS = tuple(field.name for field in EarlyStopping.__dataclass_fields__.values())
OPTIONS = ("floatX", "mode", "device", "tf32", "fused", "callbacks",  # of fitting.Options
           "checkpoint_every", "overwrite")
LOG_EVERY = {"lenet": 100}  # "training @ iter = %i" every that many updates, as the tutorial
# on the CPU, one compiled loop trains as many runs as have this many bytes of parameters at
# most (see runs_per_loop)
CPU_LOOP_BYTES = 4 * 2**20


def hyperparameters(tutorial, run):
    """The run's whole set of hyperparameters: its entry point's defaults updated by ``run``
    (and ``seed``); a ValueError names an unknown tutorial or key."""
    if tutorial not in TUTORIALS:
        raise ValueError(f"unknown tutorial {tutorial!r}: batched runs are one of "
                         f"{', '.join(TUTORIALS)}")
    if not isinstance(run, dict):
        raise ValueError(f"a run is a dict of {tutorial} hyperparameters, got {run!r}")
    defaults = catalogue.hyperparameters(tutorial)
    unknown = sorted(set(run) - set(defaults))
    if unknown:
        raise ValueError(f"unknown {tutorial} hyperparameters {unknown} in run {run!r}: use "
                         f"{', '.join(sorted(defaults))} (the data set and options are "
                         "fit_group's own arguments)")
    return {**defaults, **run}


def shape_key(tutorial, run):
    """What runs must share to be trained together: ``(tutorial, (setting, value), ...)``.

    Runs with equal keys can go into one ``fit_group`` call; the learning rate, regularization,
    seed and early-stopping settings are not part of it.
    """
    settings = hyperparameters(tutorial, run)
    return (tutorial,) + tuple((name, _hashable(settings[name]))
                               for name in SHAPE_SETTINGS[tutorial])


def _hashable(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def fit_group(tutorial, runs, dataset=None, outs=None, checkpoints=None, resume=None, **options):
    """Train ``runs`` (dicts of the tutorial's hyperparameters) together; one ``TrainResult``
    per run, in order, each equal to its solo run's.

    ``tutorial`` is "logreg", "mlp" or "lenet"; a run's missing keys take the entry point's
    defaults (``seed``: the tutorial's). ``dataset`` is shared by all runs. ``outs`` (a path or
    None per run) is where each run's best model is written, as the entry points' ``out``.
    ``options`` are ``fitting.Options`` fields: ``floatX``, ``mode`` (must be, or default to,
    "jax"), ``device``, ``tf32``, ``fused`` (None or True) and ``callbacks``, each called as
    ``callback(index, validation)``, ``checkpoint_every`` and ``overwrite``. ``result.model`` is
    each run's model with its best parameters set.

    ``checkpoints`` (a path or None per run) is where each run's training state is written, and
    ``resume`` (a checkpoint file or None per run) what each run goes on from, as the entry
    points' ``checkpoint`` and ``resume``; a run's checkpoint may come from its solo run or from
    a group. A run not resumed replaces an existing checkpoint only with ``overwrite=True``.
    """
    settings = _check_runs(tutorial, runs)
    outs = _check_paths(outs, len(runs), "outs", "out")
    checkpoints = _check_paths(checkpoints, len(runs), "checkpoints", "checkpoint")
    resume = _check_resume(resume, len(runs))
    options = check_options(options)
    for checkpoint, path in zip(checkpoints, resume):
        check_fresh_checkpoint(checkpoint, path, options.overwrite)
    datasets = data.load_shared(dataset)
    arch = _architecture(tutorial, settings[0], datasets)
    log.info("... building %i %s models", len(runs), tutorial)
    x, y = T.matrix("x"), T.ivector("y")
    models, costs = [], []
    for run in settings:
        rng = numpy.random.RandomState(run["seed"]) if run["seed"] is not None else None
        model = registry.build(arch, rng, x)
        cost = model.negative_log_likelihood(y)
        if tutorial == "mlp":
            cost = cost + run["L1_reg"] * model.L1 + run["L2_reg"] * model.L2_sqr
        models.append(model)
        costs.append(cost)
    stoppings = [_stopping(run) for run in settings]
    n_train_batches = batch_counts(datasets, settings[0]["batch_size"])["training"]
    # the spans between the validations of the most often validating run: the usual span
    span_length = min(stopping.frequency(n_train_batches) for stopping in stoppings)
    group = CompiledGroup(x, y, costs, [model.y_pred for model in models],
                          [model.params for model in models],
                          [run["learning_rate"] for run in settings], datasets,
                          settings[0]["batch_size"], span_length=min(span_length, n_train_batches),
                          runs_per_loop=runs_per_loop([model.params for model in models]),
                          vmap=engine.jax_platform() != "cpu")
    loggers = [logging.LoggerAdapter(trainer.log, {"run": index}) for index in range(len(runs))]
    callbacks = [tuple(_for_run(callback, index) for callback in options.callbacks)
                 for index in range(len(runs))]
    saved = [_saved_hyperparameters(tutorial, run) for run in settings]
    states = [_resume(path, arch, hyperparameters, model) if path is not None else None
              for path, hyperparameters, model in zip(resume, saved, models)]
    writers = [checkpoint_writer(path, arch, hyperparameters, model) if path is not None else None
               for path, hyperparameters, model in zip(checkpoints, saved, models)]
    log.info("... training %i runs together", len(runs))
    with StopRequest() as stop:
        results = train_lockstep(group, n_train_batches, stoppings, callbacks, loggers,
                                 log_every=LOG_EVERY.get(tutorial), stop_requested=stop,
                                 states=states, checkpoints=writers,
                                 checkpoint_every=options.checkpoint_every)
    for index, (result, model, out, hyperparameters) in enumerate(zip(results, models, outs,
                                                                      saved)):
        _keep_best(index, result, group, model, arch, hyperparameters, out)
    return results


def runs_per_loop(run_params):
    """How many runs one compiled loop of a group trains on the CPU (``CompiledGroup``): as many
    as have at most ``CPU_LOOP_BYTES`` of parameters (at least one). A GPU's group is vmapped
    instead (``CompiledGroup(vmap=True)``): the runs in one batched program.

    Each step of a loop reads and writes all its runs' weights: a loop whose weights fit the
    caches costs per run what one run alone costs, a larger one up to twice as much (two MLPs
    fit, eight do not; any number of logistic regressions fit; docs/speed.md, "Batched
    sweeps").
    """
    nbytes = sum(param.get_value(borrow=True).nbytes for param in run_params[0])
    return max(1, min(len(run_params), CPU_LOOP_BYTES // nbytes))


def _check_runs(tutorial, runs):
    """Each run's whole settings, checked, and all of one shape; a ValueError otherwise."""
    if not isinstance(runs, (list, tuple)) or not runs:
        raise ValueError(f"runs must be a non-empty list of dicts of hyperparameters, got {runs!r}")
    settings = [hyperparameters(tutorial, run) for run in runs]
    for index, run in enumerate(settings):
        check_sgd_settings(run["learning_rate"], run["batch_size"])
        _stopping(run)  # EarlyStopping checks its fields
        for name in ("n_hidden",) if tutorial == "mlp" else ():
            _require_positive_int(index, name, run[name])
        if tutorial == "lenet":
            if not isinstance(run["nkerns"], (list, tuple)) or len(run["nkerns"]) != 2:
                raise ValueError(f"run {index}: nkerns must be two numbers of filters, got "
                                 f"{run['nkerns']!r}")
            for n in run["nkerns"]:
                _require_positive_int(index, "nkerns", n)
        if tutorial == "logreg":
            check_draws_nothing(run["seed"], "the logistic regression")
        else:
            check_seed(run["seed"])
    keys = [shape_key(tutorial, run) for run in runs]
    for index, key in enumerate(keys):
        if key != keys[0]:
            name, first, other = next((a[0], a[1], b[1]) for a, b in zip(keys[0][1:], key[1:])
                                      if a != b)
            raise ValueError(
                f"runs 0 and {index} differ in {name} ({first!r} vs {other!r}): runs trained "
                "together must share their shapes; group them by "
                "dltut.batched.shape_key and call fit_group once per group"
            )
    return settings


def _require_positive_int(index, name, value):
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)) or value < 1:
        raise ValueError(f"run {index}: {name} must be a positive integer, got {value!r}")


def _per_run(paths, n_runs, name):
    """``paths``, one (or None) per run; None: none for every run."""
    if paths is None:
        return [None] * n_runs
    paths = list(paths)
    if len(paths) != n_runs:
        raise ValueError(f"{name} has {len(paths)} paths for {n_runs} runs: give one (or None) "
                         "per run")
    return paths


def _check_paths(paths, n_runs, name, what):
    """One path (or None) per run to write, each writable."""
    paths = _per_run(paths, n_runs, name)
    for path in paths:
        if path is not None:
            saving.check_writable(path, what)
    return paths


def _check_resume(paths, n_runs):
    """One existing checkpoint file (or None) per run."""
    paths = _per_run(paths, n_runs, "resume")
    for path in paths:
        check_resume(path)
    return paths


def check_options(options):
    """``fitting.Options`` of a group, configured; only the options a group takes."""
    unsupported = sorted(set(options) - set(OPTIONS))
    if unsupported:
        raise ValueError(f"fit_group does not take options {unsupported}: it takes "
                         f"{', '.join(OPTIONS)} (outs=, checkpoints= and resume=: one path per "
                         "run)")
    if options.get("fused") is False:
        raise ValueError("fit_group trains fused spans only: drop fused=False (or run the runs "
                         "one by one with the tutorial's entry point)")
    options = prepare(options)
    if engine.mode() != "jax":
        raise ValueError(
            f"fit_group trains runs together in JAX mode only, this is mode {engine.mode()!r}: "
            "use mode='jax' (dltut's default), or run the runs one by one with the tutorial's "
            "entry point"
        )
    return options


def _architecture(tutorial, run, datasets):
    """The model the entry point builds for these hyperparameters."""
    if tutorial == "logreg":
        return {"model": "logistic_regression", "n_in": input_size(datasets), "n_out": N_OUT}
    if tutorial == "mlp":
        return {"model": "mlp", "n_in": input_size(datasets), "n_hidden": run["n_hidden"],
                "n_out": N_OUT}
    return {"model": "lenet5", "batch_size": run["batch_size"],
            "nkerns": [int(n) for n in run["nkerns"]], "n_hidden": 500, "n_out": N_OUT}


def _stopping(run):
    return EarlyStopping(**{name: run[name] for name in STOPPING_SETTINGS if name in run})


def _saved_hyperparameters(tutorial, run):
    """What the entry point records as the run's hyperparameters in its model file."""
    saved = {"learning_rate": run["learning_rate"], "batch_size": run["batch_size"]}
    if tutorial == "mlp":
        saved.update(L1_reg=run["L1_reg"], L2_reg=run["L2_reg"])
    if run["seed"] is not None:  # the logistic regression draws nothing: no seed
        saved["seed"] = run["seed"]
    return {**saved, **dataclasses.asdict(_stopping(run))}


def _for_run(callback, index):
    return lambda validation: callback(index, validation)


def _keep_best(index, result, group, model, arch, saved_hyperparameters, out):
    """As ``fitting.fit`` does for a solo run: the best parameters set, and written to ``out``."""
    result.model = model
    if result.stop_reason == "diverged":
        log.warning("run %i diverged at iteration %i: lower its learning rate (learning_rate=%s)",
                    index, result.iterations - 1, saved_hyperparameters["learning_rate"])
    elif result.stop_reason == "interrupted":
        log.warning("run %i interrupted at iteration %i", index, result.iterations - 1)
    if result.best_params is None:
        log.warning("run %i: no validation was run: no best model to keep", index)
        return
    group.set_run_params(index, result.best_params)
    if out is not None:
        info = {**_counters(result), "hyperparameters": saved_hyperparameters}
        saving.save_model(out, arch, registry.param_values(model), info)
        log.info("run %i: best model saved to %s", index, out)
