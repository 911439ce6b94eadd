"""Many runs of one tutorial: a grid of its hyperparameters and seeds, each run exactly as the
tutorial runs alone, and one table of what they found.

>>> results = dltut.sweep("logreg", {"batch_size": [300, 600]}, out_dir="out/sweep_logreg")

or ``python -m dltut sweep logreg --batch-size 300 600``. The supervised tutorials are swept
(``catalogue.names(supervised=True)``: logreg, mlp, lenet, SdA, DBN, whose entry points return a ``TrainResult``).

The grid maps hyperparameters (the keyword arguments of the tutorial's entry point, ``seed``
among them) to lists of values. The runs are the cartesian product, in the order of the entry
point's signature and of each list; a run's id is made of its settings
(``batch_size=300,learning_rate=0.13``), so that a sweep started again finds its runs. The whole
grid is checked before anything runs or any file is written: an unknown name, an empty list, a
value of the wrong type (against the entry point's default), a value out of range, a seed for a
tutorial that draws nothing, a batch larger than the data each give one ValueError or TypeError
that names the value and the fix.

A run is one call of the entry point, so its log lines and numbers are those of the solo run with
the same settings. Everything it writes lies in ``out_dir/<run id>/``:

* ``run.json``: the call (its settings, the fixed hyperparameters, floatX, mode, engine, data),
  written when it starts; a sweep started again with other fixed settings in the same ``out_dir``
  is refused.
* ``log.txt``: its log lines (appended to when it goes on from a checkpoint).
* ``checkpoint.npz``: its training state after every epoch (``checkpoint_every``) and at the end.
* ``model.npz``: its best model.
* ``result.json``: what it found, written when it has ended: the numbers of its ``TrainResult``,
  its validation history and the seconds it took.

After each run ``out_dir/results.csv`` and ``results.json`` hold one row per finished run, in run
order: its settings, best validation and test error, best iteration, epochs, updates, stop reason
and seconds; ``plot=True`` draws ``sweep.png`` at the end (``dltut.plots.plot_sweep``). Every
file is written atomically (``dltut.atomic``).

A sweep that was killed and is started again runs only what is unfinished: a run with a
``result.json`` is done and not run again; one without goes on from its checkpoint (its log and
numbers are those of an unbroken run). A run whose training diverged is done, with stop reason
``"diverged"``; one stopped by Ctrl-C/SIGTERM is not: the sweep stops (``SweepInterrupted``).
The files a sweep reads back (each run's ``run.json``, ``result.json``, ``checkpoint.npz`` and a
done run's ``model.npz``) are checked before anything runs: one ValueError names a file that is
not what this sweep wrote there. ``results.csv`` and ``results.json`` are only written.

Ctrl-C reaches the workers too: each run stops at its next minibatch and writes its checkpoint,
and the sweep waits for that. SIGTERM (``kill``) reaches this process alone: it is passed on to
the workers, which get ``STOP_SECONDS`` to do the same before they are killed, and the sweep ends
within two seconds; the runs keep their last checkpoints, which atomic writes leave whole. Either
way the command exits with status 130, as every dltut command stopped by Ctrl-C or SIGTERM.

The runs go to the backend in groups, one task a group: with ``batched`` (logreg, mlp, lenet;
JAX mode) the runs that share their shapes (``groups``: tutorial, architecture, batch size),
trained together by ``dltut.batched.fit_group`` on one device, else each run alone. ``batched``
defaults to None: batched where fit_group can train the runs (those tutorials, JAX mode, not
``fused=False``), one run a task elsewhere. Batched runs give their solo runs' numbers (bit for
bit on the CPU) and were measured faster: 8 MLP runs of one epoch, ``python -m dltut sweep
mlp --learning-rate 0.01 0.02 --seed 1 2 3 4 --n-epochs 1`` on the project's 2-core CPU, took
19-20 s batched, 24-26 s in the pool of two processes, 30 s one after the other. Each run of a
group writes its checkpoint.npz as a solo run does, so a group stopped midway goes on from
there. Backends:

* ``"pool"`` (default): a process pool, one worker per core (``workers``), started by ``spawn``; each
  worker loads the same engine and runs with the parent's floatX and mode (BLAS on one thread,
  dltut's default). A single task (one group) runs in this process instead.
* ``"serial"``: one group after the other in this process.
* ``"ray"``: each group a Ray task (``pip install 'dltut[ray]'``), on a local Ray started for the
  sweep with ``workers`` CPUs, or on the cluster at ``address`` (whose workers need dltut and
  ``out_dir``); a task whose worker is lost is retried (``RAY_RETRIES``) and its runs go on from
  their checkpoints. Ray starts its local processes by fork and exec, which JAX's threads make
  unsafe: the sweep's own process runs no JAX (``plan`` reads the data with NumPy; ``device``
  alone starts JAX's devices here), and a program that ran JAX before calling ``sweep`` with
  Ray should give ``address`` (a Ray started apart, ``ray start --head``).
"""

import contextlib
import csv
import dataclasses
import importlib.util
import io
import itertools
import json
import logging
import math
import multiprocessing
import numbers
import os
import signal
import sys
import threading
import time
import timeit
import types
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing.connection import wait

import numpy

from dltut import catalogue, engine
from dltut.atomic import atomic_write, check_output_folder
from dltut.fitting import Options, prepare
from dltut.trainer import Diverged, TrainResult, Validation

log = logging.getLogger(__name__)

BACKENDS = ("pool", "serial", "ray")
RAY_RETRIES = 3  # times a Ray task is run again when its worker dies
SET_PER_RUN = ("out", "checkpoint", "resume", "callbacks")  # the Options a sweep sets itself
# the Options a sweep passes on to every run (and to fit_group): all the others
RUN_OPTIONS = tuple(field.name for field in dataclasses.fields(Options)
                    if field.name not in SET_PER_RUN)
COLUMNS = ("best_validation_loss", "test_score", "best_iter", "epochs", "iterations",
           "stop_reason", "seconds")  # what results.csv holds of each run, after its settings
MAY_BE_ZERO = ("L1_reg", "L2_reg", "pretraining_epochs", "seed", "corruption_levels")
STOP_SECONDS = 1.0  # after SIGTERM: the workers' time to stop at a minibatch, then they are killed
FORCE_SECONDS = 1.5  # after SIGTERM: this process exits (130) if it has not ended by then
STOPPED_STATUS = 130  # the exit status of a command stopped by Ctrl-C or SIGTERM (a shell's 128 +
#                       SIGINT), the same for every dltut command
MAX_JSON_BYTES = 64 * 2 ** 20  # a run's run.json or result.json (a long run's history: a few MB)


class SweepInterrupted(Exception):
    """Ctrl-C or SIGTERM stopped the sweep; the runs done keep their results, the others their
    checkpoints: the same sweep started again goes on. ``signal_number``: which signal;
    ``status``: the command's exit status (``STOPPED_STATUS``)."""

    def __init__(self, message, signal_number=signal.SIGINT):
        super().__init__(message)
        self.signal_number, self.status = signal_number, STOPPED_STATUS


@dataclasses.dataclass
class Run:
    """One point of the grid."""

    id: str  # its settings as text: its folder's name
    settings: dict  # the grid's value of each swept hyperparameter
    directory: str  # out_dir/id

    def path(self, name):
        return os.path.join(self.directory, name)


@dataclasses.dataclass
class Plan:
    """A checked sweep: what ``run`` does. ``plan`` makes one, ``run`` carries it out."""

    tutorial: str
    grid: dict  # hyperparameter -> values, in the entry point's order
    runs: list  # of Run, in run order
    call: dict  # what every run's call holds beside its settings (run.json's "call")
    out_dir: str
    backend: str
    batched: bool  # groups of runs of equal shapes trained together (else one run a group)
    workers: int | None
    address: str | None
    plot: bool


def sweep(tutorial, grid, *, out_dir=None, backend="pool", batched=None, workers=None,
          address=None, plot=False, progress=True, dataset=None, **options):
    """Run ``tutorial`` (``"logreg"``, ``"mlp"``, ``"lenet"``, ``"SdA"``, ``"DBN"``) once per
    point of ``grid`` and return one ``TrainResult`` per run, in run order (see the module's
    docstring for the files, the backends and restarts).

    ``grid`` maps hyperparameters of the tutorial's entry point (and ``seed``) to non-empty lists
    of values. ``options`` are the hyperparameters every run shares (``n_epochs=5``) and the run
    options of ``fitting.Options`` (``floatX``, ``mode``, ``device``, ``tf32``, ``fused``,
    ``checkpoint_every``); ``out``, ``checkpoint`` and ``resume`` are each run's own. ``out_dir``
    defaults to ``out/sweep_<tutorial>``; ``progress`` shows a bar on a terminal.

    The results are read back from each run's ``result.json``, the same for every backend and for
    runs done before a restart: the numbers, the ``history`` and the stop of the ``TrainResult``;
    ``costs`` is empty and ``best_params`` and ``state`` are None (the checkpoint holds them).
    Each also has ``run_id``, ``settings``, ``seconds`` (the run's wall time, in the process that
    finished it), ``model_path`` and ``model`` (its best model, ``dltut.load_model``'s
    ``SavedModel``, or None if no validation ran), and for the SdA and DBN ``pretraining_costs``.
    """
    return run(plan(tutorial, grid, out_dir=out_dir, backend=backend, batched=batched,
                    workers=workers, address=address, plot=plot, dataset=dataset, **options),
               progress=progress)


# ----------------------------------------------------------------------------------------------
# The plan: the grid checked, the runs named


def plan(tutorial, grid, *, out_dir=None, backend="pool", batched=None, workers=None,
         address=None, plot=False, dataset=None, **options):
    """The checked ``Plan`` of ``sweep``'s arguments: one ValueError or TypeError, naming the
    value and the fix, for the first thing wrong. Writes nothing."""
    supervised = catalogue.names(supervised=True)
    if tutorial not in supervised:
        raise ValueError(f"cannot sweep {tutorial!r}: choose one of {', '.join(supervised)} "
                         "(the tutorials with early stopping)")
    defaults = catalogue.hyperparameters(tutorial)
    if not isinstance(grid, dict):
        raise TypeError(f"grid must be a dict of hyperparameter -> list of values, got "
                        f"{grid!r}: e.g. {{'batch_size': [300, 600]}}")
    grid = {name: grid[name] for name in sorted(grid, key=_order(defaults))}
    for name, values in grid.items():
        _check_name(tutorial, name, defaults, "the grid")
        if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
            raise TypeError(f"grid[{name!r}] must be a list of values, got {values!r}: write "
                            f"[{values!r}]")
        if not values:
            raise ValueError(f"grid[{name!r}] is empty: give at least one value (the tutorial's "
                             f"default is {defaults[name]!r})")
        grid[name] = [_plain(value) for value in values]
        _check_values(tutorial, name, grid[name], defaults[name])
    run_options = {}
    for name, value in options.items():
        if name in grid:
            raise ValueError(f"{name} is both in the grid and fixed ({name}={value!r}): give it "
                             "in one place")
        if name in defaults:
            _check_values(tutorial, name, [_plain(value)], defaults[name])
        elif name in SET_PER_RUN:
            raise ValueError(f"{name}: a sweep sets each run's {', '.join(SET_PER_RUN)} itself "
                             "(under out_dir); leave it out")
        elif name in RUN_OPTIONS:
            run_options[name] = value
        else:
            _check_name(tutorial, name, defaults, "the fixed settings")
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(BACKENDS)}")
    _check_backend(tutorial, backend, batched, workers, address)
    if plot:
        from dltut.plots import check_matplotlib

        check_matplotlib("plot")
    dataset = None if dataset is None else os.path.abspath(os.fspath(dataset))
    _check_batch_sizes(grid, options, defaults, dataset)
    prepare(dict(run_options))  # checks them and sets floatX and mode, as an entry point does
    from dltut import batched as group_training

    if batched is None:  # where fit_group can train the runs: it is the faster way
        batched = (tutorial in group_training.TUTORIALS and engine.mode() == "jax"
                   and run_options.get("fused") is not False)
    if batched:  # fit_group's own checks (JAX mode, fused), before anything runs
        group_training.check_options(dict(run_options))
    fixed = {name: value for name, value in options.items() if name in defaults}
    call = {**fixed, "dataset": dataset, **run_options, "floatX": engine.floatX(),
            "mode": engine.mode(), "engine": engine.name()}
    out_dir = os.path.abspath(out_dir if out_dir is not None else f"out/sweep_{tutorial}")
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir {out_dir} is a file: give a folder for the runs")
    grid_points = (dict(zip(grid, values)) for values in itertools.product(*grid.values()))
    runs = [Run(run_id, settings, os.path.join(out_dir, run_id))
            for settings, run_id in ((s, catalogue.run_id(s)) for s in grid_points)]
    for each in runs:
        _check_previous(each, call)
    return Plan(tutorial, grid, runs, call, out_dir, backend, batched, workers, address, plot)


def _order(defaults):
    names = list(defaults)
    return lambda name: (names.index(name) if name in names else len(names), name)


def _check_name(tutorial, name, defaults, where):
    if name in defaults:
        return
    hint = ""
    if name in {field.name for field in dataclasses.fields(Options)} or name == "dataset":
        hint = f" ({name} is a setting of the whole sweep: pass it as {name}=..., not in a grid)"
    raise ValueError(f"unknown hyperparameter {name!r} in {where} of {tutorial} "
                     f"({catalogue.get(tutorial).entry}): choose among {', '.join(defaults)}{hint}")


def _check_values(tutorial, name, values, default):
    """Each value of the same kind as the entry point's ``default`` and in range; no repeats."""
    if default is None and name == "seed":
        raise ValueError(f"seed {values[0]!r}: {tutorial} draws nothing (its weights start at "
                         "zero), so every seed gives the same run; drop seed from the sweep")
    for value in values:
        problem = _kind_problem(value, default)
        if problem:
            raise TypeError(f"{name}={value!r} ({type(value).__name__}): {name} takes "
                            f"{problem}, like its default {default!r}")
        for number in (value if isinstance(value, list) else [value]):
            in_range = number >= 0 if name in MAY_BE_ZERO else number > 0
            if not (in_range and math.isfinite(number)):
                bound = ">= 0" if name in MAY_BE_ZERO else "> 0"
                raise ValueError(f"{name}={value!r}: {name} must be a finite number {bound}")
        length = catalogue.LISTS.get(name)
        if isinstance(length, int) and len(value) != length:
            raise ValueError(f"{name}={value!r}: {name} takes {length} values, like its default "
                             f"{default!r}")
        if name == "seed" and value >= 2 ** 32:
            raise ValueError(f"seed={value!r}: a seed must be below 2 ** 32")
        if name == "corruption_levels" and max(value) >= 1:
            raise ValueError(f"{name}={value!r}: a corruption level is a fraction in [0, 1)")
    for a, b in itertools.combinations(values, 2):
        if a == b:
            raise ValueError(f"{name} lists {a!r} twice: give each value once")


def _kind_problem(value, default):
    """What kind of value ``default`` asks for, if ``value`` is not one; else None."""
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "True or False"
    if isinstance(default, numbers.Integral):
        ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
        return None if ok else "an integer"
    if isinstance(default, numbers.Real):
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
        return None if ok else "a number"
    if isinstance(default, (list, tuple)):
        if not isinstance(value, (list, tuple)) or not value:
            return "a non-empty list"
        for item in value:
            problem = _kind_problem(item, default[0])
            if problem:
                return f"a list, each item {problem}"
        return None
    return None


def _check_batch_sizes(grid, options, defaults, dataset):
    """Every batch size fits every split of the data (read once here)."""
    from dltut import data

    sizes = grid.get("batch_size", [options.get("batch_size", defaults.get("batch_size"))])
    splits = data.load_data(dataset)
    smallest = min(len(y) for _, y in splits)
    for size in sizes:
        if size > smallest:
            raise ValueError(f"batch_size {size} is larger than a split of the data ({smallest} "
                             f"examples): use batch sizes of at most {smallest}")


def _check_backend(tutorial, backend, batched, workers, address):
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers {workers!r}: give a positive number of processes (pool) or "
                         "Ray CPUs, or leave it out for one per core")
    if address is not None and backend != "ray":
        raise ValueError(f"address {address!r} is a Ray cluster's: use it with backend 'ray'")
    if backend == "ray" and importlib.util.find_spec("ray") is None:
        raise ImportError("backend 'ray' needs Ray, which is not installed: "
                          "pip install 'dltut[ray]'")
    from dltut import batched as group_training

    if batched is not None and not isinstance(batched, bool):
        raise TypeError(f"batched must be True, False or None (where it pays), got {batched!r}")
    if batched and tutorial not in group_training.TUTORIALS:
        raise ValueError(f"batched=True trains {', '.join(group_training.TUTORIALS)} runs "
                         f"together, not {tutorial}'s: leave batched out")


def _check_previous(each, call):
    """A run already started in this folder must have been started with the same call."""
    path = each.path("run.json")
    if not os.path.isfile(path):
        return
    started = _read_json(path, each)
    if not isinstance(started, dict) or not isinstance(started.get("call"), dict):
        raise ValueError(f"{path}: not a run.json of a dltut sweep (no call of a run in it); "
                         f"delete {each.directory} to run {each.id} from the start")
    before = started["call"]
    now = _jsonable({**call, **each.settings})
    if before != now:
        differ = {key: (before.get(key), now.get(key))
                  for key in sorted(set(before) | set(now)) if before.get(key) != now.get(key)}
        raise ValueError(f"{path}: run {each.id} was started with other settings (before, now: "
                         f"{differ}); use another out_dir, or the same settings to go on")


# ----------------------------------------------------------------------------------------------
# Running the plan


def run(sweep_plan, progress=True):
    """Carry out ``sweep_plan`` (a ``Plan``): run what is not done yet, write the table; the
    results in run order. Raises ``SweepInterrupted`` if a run was stopped by Ctrl-C/SIGTERM."""
    from dltut.progress import SweepBar

    records, models = _read_back(sweep_plan)  # before anything is written
    check_output_folder(sweep_plan.out_dir, "out_dir")
    for each in sweep_plan.runs:
        if each.id in records:
            log.info("%s: done before (its result.json is there), not run again", each.id)
    todo = [each for each in sweep_plan.runs if each.id not in records]
    log.info("sweep of %s: %i runs, %i done before, %i to run (%s backend%s)",
             sweep_plan.tutorial, len(sweep_plan.runs), len(records), len(todo),
             sweep_plan.backend, ", batched" if sweep_plan.batched else "")

    def stopped(signum):
        return (f"sweep stopped by {signal.Signals(signum).name}: {len(records)} of "
                f"{len(sweep_plan.runs)} runs done, the others keep their checkpoints; run the "
                "same sweep again to go on")

    interrupted = False
    with SweepBar(len(sweep_plan.runs), len(records), sweep_plan.tutorial, enabled=progress) \
            as bar, Termination(f"dltut sweep {sweep_plan.tutorial}", stopped) as termination:
        try:
            for finished in _execute(sweep_plan, todo, bar):
                for record in finished:
                    if record is None:
                        interrupted = True
                        continue
                    records[record["run"]] = record
                    bar.finished(record)
                    log.info("%s: %s", record["run"], summary(record))
                write_table(sweep_plan, records)
                if interrupted:
                    break
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (Termination): the workers stop too
            interrupted = True
        if interrupted:
            signum = termination.signal_number or signal.SIGINT
            raise SweepInterrupted(stopped(signum), signum)
    write_table(sweep_plan, records)
    results = [result_of(records[each.id], each, models.get(each.id)) for each in sweep_plan.runs]
    if sweep_plan.plot:
        from dltut.plots import save_sweep_plot

        save_sweep_plot(results, os.path.join(sweep_plan.out_dir, "sweep.png"))
    return results


def _read_back(sweep_plan):
    """``(records, models)`` of the runs done before: each ``result.json`` checked against its
    run, and its ``model.npz`` read; the checkpoints of the runs to go on are read too. One
    ValueError names the first file that is not what this sweep wrote there."""
    from dltut import saving

    records, models = {}, {}
    for each in sweep_plan.runs:
        path = each.path("result.json")
        if os.path.isfile(path):
            records[each.id] = _check_record(path, _read_json(path, each), sweep_plan.tutorial,
                                             each)
            if os.path.isfile(each.path("model.npz")):
                models[each.id] = saving.load_model(each.path("model.npz"))
        elif os.path.isfile(each.path("checkpoint.npz")):
            saving.load_model(each.path("checkpoint.npz"))  # whole; the run checks it is its own
    return records, models


def summary(record):
    """One line of what a run found."""
    return (f"best validation {record['best_validation_loss'] * 100:f} %, test "
            f"{record['test_score'] * 100:f} % at iter {record['best_iter']}; stopped by "
            f"{record['stop_reason']} after {record['epochs']} epochs ({record['seconds']:.1f}s)")


def groups(tutorial, runs):
    """The runs (dicts of the entry point's hyperparameters) that can be trained together, as
    lists in first-appearance order: those of equal ``dltut.batched.shape_key`` (architecture
    and batch size; what a setting leaves out is the tutorial's default)."""
    from dltut import batched

    grouped = {}
    for each in runs:
        grouped.setdefault(batched.shape_key(tutorial, each), []).append(each)
    return list(grouped.values())


def _execute(sweep_plan, todo, bar):
    """Yield, for each group as it finishes, its runs' records (None for a run interrupted)."""
    if not todo:
        return
    if sweep_plan.batched:
        by_settings = {id(each.settings): each for each in todo}
        task = run_batched
        work = [(sweep_plan.tutorial, [by_settings[id(s)] for s in group], sweep_plan.call)
                for group in groups(sweep_plan.tutorial, [each.settings for each in todo])]
    else:
        task = run_group
        work = [(sweep_plan.tutorial, [each], sweep_plan.call) for each in todo]
    if sweep_plan.backend == "serial" or (sweep_plan.backend == "pool" and len(work) == 1):
        for args in work:  # one task: a pool would only start a process for it
            watches = [bar.watch(each.id) for each in args[1]]
            if sweep_plan.batched:  # a group's callback is told the run's index
                yield task(*args, callback=lambda index, validation: watches[index](validation))
            else:
                yield task(*args, callback=watches[0])
    elif sweep_plan.backend == "pool":
        yield from pool_tasks(task, work, sweep_plan.workers)
    else:
        yield from ray_tasks(task, work, sweep_plan.workers, sweep_plan.address)


def pool_tasks(task, work, workers):
    """Yield ``task(*args)`` for each ``args`` of ``work`` as each finishes, in a pool of
    ``workers`` spawned processes (default: the cores)."""
    workers = min(workers or os.cpu_count() or 1, len(work))
    context = multiprocessing.get_context("spawn")
    stop = context.Event()  # set when the sweep ends early: the workers start no more runs
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                             initargs=(stop,)) as pool:
        futures = [pool.submit(task, *args) for args in work]
        try:
            for future in as_completed(futures):
                yield future.result()
        finally:  # ended early (Ctrl-C, an error): what is queued must not start
            stop.set()
            for future in futures:
                future.cancel()


class Termination:
    """Around a sweep's runs, in the main thread: SIGTERM ends the sweep within two seconds, its
    worker processes with it (Ctrl-C keeps its way: see the module's docstring).

    ``kill`` sends SIGTERM to this process alone. The handler stops this process's wait for the
    workers as Ctrl-C does (``KeyboardInterrupt``), and a watcher thread sends SIGTERM to every
    worker (``multiprocessing.active_children``: a run stops at its next minibatch and writes
    its checkpoint), kills those still alive ``STOP_SECONDS`` later, and if this process has
    not ended ``FORCE_SECONDS`` after the signal (a run in this process inside a long compiled
    span), prints ``prefix: message(SIGTERM)`` as the sweep's last line and exits with
    ``STOPPED_STATUS`` (``SweepInterrupted``'s line and status, which end it otherwise). A run
    in this process puts its own handler meanwhile (``trainer.StopRequest``); the watcher sees the
    signal all the same through ``signal.set_wakeup_fd``, to which the interpreter writes the
    number of every signal it catches. ``signal_number`` is the signal that came (SIGTERM if
    both did), None if none.
    """

    def __init__(self, prefix, message):
        self.prefix, self.message = prefix, message
        self.signal_number = None
        self._watcher = None

    def __enter__(self):
        if threading.current_thread() is not threading.main_thread():
            return self  # only the main thread may set handlers: no SIGTERM handling then
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)
        self._ended, self._lock, self._closed = threading.Event(), threading.Lock(), False
        self._previous_fd = signal.set_wakeup_fd(self._write)
        self._previous = signal.signal(signal.SIGTERM, self._handle)
        self._watcher = threading.Thread(target=self._watch, name="dltut-sweep-sigterm",
                                         daemon=True)
        self._watcher.start()
        return self

    def __exit__(self, *exc):
        if self._watcher is None:
            return
        signal.signal(signal.SIGTERM, self._previous)
        signal.set_wakeup_fd(self._previous_fd)
        self._ended.set()
        os.close(self._write)  # the watcher's read ends, unless a SIGTERM came
        self._watcher.join(FORCE_SECONDS)  # it kills what is left of the workers first
        with self._lock:
            self._closed = True
        os.close(self._read)

    def _handle(self, signum, frame):
        self.signal_number = signum
        raise KeyboardInterrupt  # out of the wait for the workers, as Ctrl-C

    def _watch(self):
        while True:
            try:
                numbers = os.read(self._read, 64)
            except OSError:
                return
            if not numbers:
                return
            if signal.SIGTERM in numbers:
                break
            if signal.SIGINT in numbers and self.signal_number is None:
                self.signal_number = signal.SIGINT  # Ctrl-C: the runs stop on their own
        self.signal_number = signal.SIGTERM
        start = time.monotonic()
        workers = multiprocessing.active_children()
        for worker in workers:
            _send(worker.pid, signal.SIGTERM)
        alive = {worker.sentinel: worker for worker in workers}
        while alive and time.monotonic() < start + STOP_SECONDS:
            for ended in wait(list(alive), start + STOP_SECONDS - time.monotonic()):
                del alive[ended]
        for worker in alive.values():
            _send(worker.pid, signal.SIGKILL)
        if self._ended.wait(max(0.0, start + FORCE_SECONDS - time.monotonic())):
            return
        with self._lock:
            if not self._closed:
                print(f"{self.prefix}: {self.message(signal.SIGTERM)}", file=sys.stderr,
                      flush=True)
                os._exit(STOPPED_STATUS)


def _send(pid, signum):
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # it has ended meanwhile
        pass


_stop = None  # in a pool worker, the parent's event saying to start no more runs


def _start_worker(stop):
    """A pool worker leaves Ctrl-C to its runs (``StopRequest``: they stop at the next minibatch
    and write their checkpoints) and to the parent; between runs it ignores it. It starts no
    run once ``stop`` is set (the executor may have handed it one more than it runs)."""
    global _stop
    _stop = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def ray_tasks(task, work, workers, address):
    """Yield ``task(*args)`` for each ``args`` of ``work`` as each finishes, as Ray tasks on the
    cluster at ``address`` (default: a local Ray of ``workers`` CPUs); a task whose worker is
    lost runs again (``RAY_RETRIES``)."""
    import ray

    started = not ray.is_initialized()
    if started and address is not None:
        ray.init(address=address)
    elif started:
        ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False)
    remote = ray.remote(num_cpus=1, max_retries=RAY_RETRIES)(task)
    pending = [remote.remote(*args) for args in work]
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            yield ray.get(ready[0])
    finally:
        for ref in pending:
            ray.cancel(ref)
        if started:
            ray.shutdown()


def run_group(tutorial, runs, call, callback=None):
    """Run each of ``runs`` in this process, one after the other; their records (None for one
    stopped by Ctrl-C/SIGTERM, and the runs after it are not started). What a pool worker or a
    Ray task does; ``callback(validation)`` watches the runs (this process only)."""
    engine.use(call["engine"])
    records = []
    for each in runs:
        if _stop is not None and _stop.is_set():
            records.append(None)
            break
        record = run_one(tutorial, each, call, callback)
        records.append(record)
        if record is None:
            break
    return records


def run_one(tutorial, each, call, callback=None):
    """One run: the entry point called with the run's settings and files; its record, written
    to ``result.json`` (None, and no result.json, if Ctrl-C/SIGTERM stopped it)."""
    _started(tutorial, each, call)
    kwargs = {name: value for name, value in {**call, **each.settings}.items()
              if name != "engine"}  # the engine is chosen for the process (run_group)
    checkpoint = each.path("checkpoint.npz")
    # a run killed after its last checkpoint goes on from there (one that had ended, ends)
    resume = checkpoint if os.path.isfile(checkpoint) else None
    start = timeit.default_timer()
    with _log_to(each.path("log.txt")):
        try:
            result = catalogue.function(tutorial)(
                **kwargs, out=each.path("model.npz"), checkpoint=checkpoint, resume=resume,
                callbacks=[callback] if callback else ())
        except Diverged as error:  # a finding of the sweep, not a failure of it
            log.warning("%s: %s", each.id, error)
            result = error.result
    return _finished(tutorial, each, result, timeit.default_timer() - start)


def run_batched(tutorial, runs, call, callback=None):
    """A group of runs sharing their shapes, trained together by ``dltut.batched.fit_group``,
    each run with its checkpoint.npz (a group stopped midway goes on from its runs'
    checkpoints); their records, None for a run stopped by Ctrl-C/SIGTERM (all None if the sweep
    ended before the group started). Each run's log.txt gets the group's lines and its own (the
    records ``fit_group`` marks with ``record.run``, the run's index). What a pool worker or a
    Ray task does with ``batched=True``; ``callback(index, validation)`` watches the runs (this
    process only)."""
    from dltut import batched

    if _stop is not None and _stop.is_set():
        return [None] * len(runs)
    engine.use(call["engine"])
    names = catalogue.hyperparameters(tutorial)
    shared = {name: value for name, value in call.items() if name in names}
    options = {name: call[name] for name in RUN_OPTIONS if name in call}
    if callback is not None:
        options["callbacks"] = [callback]
    for each in runs:
        _started(tutorial, each, call)
    start = timeit.default_timer()
    with contextlib.ExitStack() as logs:
        for index, each in enumerate(runs):
            logs.enter_context(_log_to(each.path("log.txt"), run=index))
        checkpoints = [each.path("checkpoint.npz") for each in runs]
        results = batched.fit_group(
            tutorial, [{**shared, **each.settings} for each in runs], dataset=call["dataset"],
            outs=[each.path("model.npz") for each in runs], checkpoints=checkpoints,
            resume=[path if os.path.isfile(path) else None for path in checkpoints], **options)
    seconds = timeit.default_timer() - start  # the group's, the same for each of its runs
    return [_finished(tutorial, each, result, seconds) for each, result in zip(runs, results)]


def _started(tutorial, each, call):
    """The run's folder and its run.json, the call it is started with."""
    os.makedirs(each.directory, exist_ok=True)
    _write_json(each.path("run.json"), {"tutorial": tutorial, "run": each.id,
                                        "settings": each.settings,
                                        "call": _jsonable({**call, **each.settings})})


def _finished(tutorial, each, result, seconds):
    """The run's record, written to its result.json; None (and no result.json) if Ctrl-C or
    SIGTERM stopped it."""
    if result.stop_reason == "interrupted":
        return None
    record = _record(tutorial, each, result, seconds)
    _write_json(each.path("result.json"), record)
    return record


@contextlib.contextmanager
def _log_to(path, run=None):
    """The ``dltut`` loggers' records, INFO and up, also go to ``path`` (appended) meanwhile;
    with ``run``, those of a batched group that are the group's or that run's."""
    logger = logging.getLogger("dltut")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    if run is not None:
        handler.addFilter(lambda record: getattr(record, "run", run) == run)
    level = logger.level
    logger.addHandler(handler)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(level)


# ----------------------------------------------------------------------------------------------
# Records and the table


def _record(tutorial, each, result, seconds):
    """What ``result.json`` holds of a run's ``TrainResult`` (its call is in ``run.json``)."""
    record = {"run": each.id, "tutorial": tutorial, "settings": each.settings, "seconds": seconds}
    for field in ("best_validation_loss", "best_iter", "test_score", "epochs", "iterations",
                  "stop_reason", "patience", "validation_frequency", "n_train_batches",
                  "elapsed"):
        record[field] = getattr(result, field)
    record["history"] = [dataclasses.asdict(v) for v in result.history]
    for extra in ("pretraining_costs", "pretraining_time"):  # the SdA's and the DBN's
        if hasattr(result, extra):
            record[extra] = getattr(result, extra)
    return _jsonable(record)


def result_of(record, each, model=None):
    """The ``TrainResult`` of a run's record (see ``sweep`` for what it holds); ``model``: its
    model.npz read already (else it is read here)."""
    from dltut.saving import load_model

    fields = {name: record[name] for name in ("best_validation_loss", "best_iter", "test_score",
                                                "epochs", "iterations", "stop_reason",
                                                "patience", "validation_frequency",
                                                "n_train_batches", "elapsed")}
    result = TrainResult(**fields, history=[Validation(**v) for v in record["history"]],
                         costs=numpy.zeros(0))
    result.run_id, result.settings, result.seconds = each.id, each.settings, record["seconds"]
    result.model_path = each.path("model.npz")
    if model is None and os.path.isfile(result.model_path):
        model = load_model(result.model_path)
    result.model = model
    for extra in ("pretraining_costs", "pretraining_time"):
        if extra in record:
            setattr(result, extra, record[extra])
    return result


def write_table(sweep_plan, records):
    """``results.csv`` and ``results.json``: one row per finished run, in run order."""
    rows = [{"run": each.id, **each.settings,
             **{column: records[each.id][column] for column in COLUMNS}}
            for each in sweep_plan.runs if each.id in records]
    text = io.StringIO()
    writer = csv.DictWriter(text, ["run", *sweep_plan.grid, *COLUMNS], lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: catalogue.value_text(value) if key in sweep_plan.grid else value
                         for key, value in row.items()})
    atomic_write(os.path.join(sweep_plan.out_dir, "results.csv"),
                 lambda file: file.write(text.getvalue().encode()))
    _write_json(os.path.join(sweep_plan.out_dir, "results.json"),
                {"tutorial": sweep_plan.tutorial, "grid": sweep_plan.grid,
                 "call": sweep_plan.call, "runs": rows})


def _plain(value):
    """``value`` as JSON holds it: a tuple as a list, a NumPy scalar or array as Python's."""
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    return value.tolist() if isinstance(value, (numpy.generic, numpy.ndarray)) else value


def _jsonable(value):
    """``value`` as JSON gives it back (tuples as lists, NumPy numbers as Python's)."""
    return json.loads(json.dumps(value, default=_plain))


def _write_json(path, value):
    text = json.dumps(value, indent=1, default=_plain)
    atomic_write(path, lambda file: file.write(text.encode() + b"\n"))


def _read_json(path, each):
    """The JSON value in the run file ``path`` of run ``each``; a ValueError naming the file if
    it is not JSON (or too large for a run file)."""
    delete = f"delete it to run {each.id} again"
    try:
        if os.path.getsize(path) > MAX_JSON_BYTES:
            raise ValueError(f"{path}: {os.path.getsize(path)} bytes, more than a run file "
                             f"holds ({MAX_JSON_BYTES}); {delete}")
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        raise ValueError(f"{path}: not readable as JSON ({reason}); {delete}") from None


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_seconds(value):
    return _is_number(value) and value >= 0


def _is_optional(test):
    return lambda value: value is None or test(value)


# what a result.json holds (``_record``): each field and its test
_RECORD_FIELDS = {
    "best_validation_loss": _is_number, "best_iter": _is_count, "test_score": _is_number,
    "epochs": _is_count, "iterations": _is_count, "patience": _is_number,
    "stop_reason": lambda value: value in ("patience", "validation_patience", "n_epochs",
                                           "diverged"),
    "validation_frequency": _is_count, "n_train_batches": _is_count, "elapsed": _is_seconds,
    "seconds": _is_seconds, "history": lambda value: isinstance(value, list),
}
_VALIDATION_FIELDS = {  # trainer.Validation's
    "iter": _is_count, "epoch": _is_count, "minibatch": _is_count,
    "validation_loss": _is_number, "patience": _is_number,
    "new_best": lambda value: isinstance(value, bool),
    "extended": lambda value: isinstance(value, bool), "test_score": _is_optional(_is_number),
    "train_loss": _is_optional(_is_number), "bad_counter": _is_optional(_is_count),
    "scores": lambda value: value is None,  # EpochPatience's: no sweep trains a segmentation
}
_PRETRAINING_FIELDS = {  # the SdA's and DBN's
    "pretraining_costs": lambda value: isinstance(value, list) and all(
        isinstance(costs, list) and all(map(_is_number, costs)) for costs in value),
    "pretraining_time": _is_seconds,
}


def _check_record(path, record, tutorial, each):
    """``record``, read from ``path``, if it is the result.json ``_record`` wrote for run
    ``each`` of ``tutorial``; else a ValueError naming the file and what is wrong."""
    def refuse(problem):
        raise ValueError(f"{path}: {problem}, not the result of run {each.id} of this sweep; "
                         f"delete it to run {each.id} again")

    if not isinstance(record, dict):
        refuse(f"a JSON {type(record).__name__}")
    owner = {"run": each.id, "tutorial": tutorial, "settings": _jsonable(each.settings)}
    for key, expected in owner.items():
        if record.get(key) != expected:
            refuse(f"{key} {_short(record.get(key))}")
    fields = {**_RECORD_FIELDS, **_PRETRAINING_FIELDS}
    unknown = sorted(set(record) - set(owner) - set(fields))
    missing = sorted(set(_RECORD_FIELDS) - set(record))
    if unknown or missing:
        refuse(f"fields {unknown} unknown" if unknown else f"no {', '.join(missing)}")
    for name, test in fields.items():
        if name in record and not test(record[name]):
            refuse(f"{name} {_short(record[name])}")
    for index, validation in enumerate(record["history"]):
        if not isinstance(validation, dict) or not set(_VALIDATION_FIELDS) - {
                "test_score", "train_loss", "bad_counter", "scores"} <= set(validation) <= \
                set(_VALIDATION_FIELDS):
            refuse(f"history[{index}] {_short(validation)}")
        for name, value in validation.items():
            if not _VALIDATION_FIELDS[name](value):
                refuse(f"history[{index}].{name} {_short(value)}")
    return record


def _short(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class _CallableModule(types.ModuleType):
    """This module, callable as its ``sweep`` function: ``dltut.sweep(...)`` is the function
    whether ``dltut.sweep`` resolved to it (``dltut``'s lazy names) or, once anything imported
    the module ``dltut.sweep``, to the module itself (Python sets a package's attribute to its
    submodule of that name)."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
