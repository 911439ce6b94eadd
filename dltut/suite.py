"""``dltut suite``: run the tutorials and write a reproduction report.

``--quick`` (the default) runs each tutorial with the small settings under which the original
code's printed lines are known (``catalogue.Quick``: code/test.py's settings, in float64) and
checks that each of those lines is printed again: the same words, the same numbers (to the printed
digits, or to a relative tolerance where the original printed a full ``repr``). ``--full`` runs
the supervised tutorials' default runs and sets their best validation and test errors beside the
published figures, with the binomial standard error of each (``sqrt(p (1 - p) / n)`` on the
10,000 validation or test images) to say whether a difference means anything.

Each row has a verdict: equal, within noise (``--full`` only: at most two standard errors off),
differs, or failed. The report (Markdown) also gives each run's wall time beside code/test.py's
2012 ``speed()`` times, which were taken with other settings (``benchmarks/bench_cpu.py`` times
both codes with those settings on this machine). Beside it go the results as JSON, written after
each tutorial, so that a suite stopped and started again runs only what is unfinished, and a
figure of each tutorial's verdict and time (said to be skipped, and why, without matplotlib). The
terminal gets a table of each tutorial's verdict, lines equal and seconds at the end.

The sequence tutorials (rnnslu, lstm, rnnrbm) run their quick settings on the made data shipped
with dltut, on which the original code's lines were recorded; a ``Quick`` may prepare its run
(lstm: its first weights with the original's column signs) in the run's own folder.

Before anything runs, the settings, the place of the report (its folder is created if missing,
then written to and cleaned, ``dltut.atomic``) and the results file read back are checked: a bad
one is one line and exit status 2. A results file that is not what a suite wrote is refused
(``--fresh`` runs everything and replaces it). Ctrl-C or SIGTERM stop the suite with one line
and exit status 130, as every dltut command (``sweep.Termination``: within two seconds for
SIGTERM, the pool's workers with it); the results of the tutorials finished by then are kept.
"""

import dataclasses
import json
import logging
import math
import os
import re
import signal
import sys
import tempfile
import timeit

from dltut import catalogue
from dltut.atomic import atomic_write, check_output
from dltut.fitting import NotEnoughMemory

N_IMAGES = 10_000  # MNIST's validation and test sets: the n of an error rate's standard error
MAX_RESULTS_BYTES = 64 * 2 ** 20  # the results file: a few KB a tutorial
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


class ResultsError(ValueError):
    """The results file beside the report is not one a suite wrote."""


@dataclasses.dataclass
class Check:
    """One expected line and what the run printed for it."""

    expected: str
    printed: str | None  # the run's line of the same words, nearest in its numbers (None: none)
    difference: float  # the largest relative difference of their numbers (inf: no such line)
    agrees: bool


@dataclasses.dataclass
class Outcome:
    """One tutorial's run in the suite."""

    name: str
    settings: dict
    seconds: float
    checks: list = dataclasses.field(default_factory=list)  # --quick
    errors: tuple | None = None  # --full: (best validation error, test error), in percent
    failure: str | None = None  # the run's error, if it raised one
    skipped: str | None = None  # why it did not run (the machine lacks the memory it needs)

    @property
    def agrees(self):
        return self.failure is None and self.verdict in ("equal", "within noise")

    @property
    def verdict(self):
        """equal, within noise (--full: at most two standard errors off), differs, failed or
        skipped."""
        if self.skipped is not None:
            return "skipped"
        if self.failure is not None:
            return "failed"
        if self.errors is None:
            return "equal" if all(check.agrees for check in self.checks) else "differs"
        return verdict_of(self.errors[1], catalogue.get(self.name).published.test)

    def as_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, record):
        record = dict(record, checks=[Check(**check) for check in record["checks"]])
        if record["errors"] is not None:
            record["errors"] = tuple(record["errors"])
        return cls(**record)


def _words_and_numbers(line):
    return _NUMBER.sub("#", line), [float(number) for number in _NUMBER.findall(line)]


def _relative(a, b):
    return 0.0 if a == b else abs(a - b) / max(abs(a), abs(b))


def check_line(expected, printed_lines, rel=0.0):
    """The ``Check`` of ``expected`` among ``printed_lines``: the line with the same words whose
    numbers are nearest; it agrees if each number is within ``rel`` relative (0: equal)."""
    words, numbers = _words_and_numbers(expected)
    best = Check(expected, None, math.inf, False)
    for line in printed_lines:
        line_words, line_numbers = _words_and_numbers(line)
        if line_words != words or len(line_numbers) != len(numbers):
            continue
        difference = max(map(_relative, numbers, line_numbers), default=0.0)
        if difference < best.difference:
            best = Check(expected, line, difference, difference <= rel)
    return best


class _Lines(logging.Handler):
    """Keeps the messages of the ``dltut`` loggers as a run prints them."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


# where a tutorial's entry point writes its files, when it writes any: those places in the run's
# folder (a suite writes nothing into the folder it runs from)
_OUTPUTS = {"output_folder": lambda folder: os.path.join(folder, "plots"),
            "out": lambda folder: os.path.join(folder, "model.npz"),
            "saveto": lambda folder: os.path.join(folder, "model.npz"),
            "samples": lambda folder: [os.path.join(folder, "sample1.mid"),
                                       os.path.join(folder, "sample2.mid")]}


# ----------------------------------------------------------------------------------------------
# What a quick run prepares (catalogue.Quick.prepare names one of these)


def write_signed_init(folder, settings, signs):
    """Write ``folder/init.npz``: the first parameters of a ``train_lstm(**settings)`` run (the
    tutorial's draws after the validation split and the ``test_size`` selection, in the run's
    floatX) with the columns of ``lstm_W`` and ``lstm_U`` signed as ``signs`` says (``{name:
    "+-+..."}``, the signs of the first row). Returns ``{"reload_model": that file}``.

    Why: ``numpy.linalg.svd`` of another NumPy (the original's reference runs: numpy 1.23) gives
    the orthogonal blocks with some columns' signs flipped (LAPACK's convention); started from
    the original's signs, a run prints the original's numbers.
    """
    import numpy

    from dltut import engine
    from dltut.tutorials import lstm

    if settings.get("floatX"):
        engine.set_floatX(settings["floatX"])  # as the run sets it
    dataset = settings.get("dataset", "imdb")
    rng = numpy.random.RandomState(lstm.SEED)
    load_data, _ = lstm.get_dataset(dataset)
    _, _, test = load_data(settings.get("data_path") or lstm.DATA_PATHS[dataset],
                           n_words=settings["n_words"], valid_portion=0.05,
                           maxlen=settings["maxlen"], rng=rng)
    if settings.get("test_size", -1) > 0:
        rng.shuffle(numpy.arange(len(test[0])))  # train_lstm's draw for the test selection
    params = lstm.init_params(dict(settings, encoder="lstm", ydim=2), rng)
    for name, signed in signs.items():
        wanted = numpy.array([1.0 if sign == "+" else -1.0 for sign in signed])
        if params[name].shape[1] != len(wanted):
            raise ValueError(f"{name}: {len(wanted)} signs for {params[name].shape[1]} columns")
        params[name] = (params[name] * numpy.sign(params[name][0]) * wanted) \
            .astype(engine.floatX())
    path = os.path.join(folder, "init.npz")
    atomic_write(path, lambda file: numpy.savez(file, **params))
    return {"reload_model": path}


_PREPARATIONS = {"write_signed_init": write_signed_init}


def _call(name, settings, folder, mode, prepare=None):
    """Run tutorial ``name`` with ``settings`` (its files into ``folder/name``, after
    ``prepare`` if given: a ``Quick``'s); (result, lines, seconds)."""
    defaults = catalogue.defaults(name)
    folder = os.path.join(folder, name)
    os.makedirs(folder, exist_ok=True)
    options = dict(settings)
    for option, place in _OUTPUTS.items():
        if option in defaults:
            options[option] = place(folder)
    if prepare is not None and prepare.prepare is not None:
        options.update(_PREPARATIONS[prepare.prepare](folder, options, **prepare.prepare_args))
    if mode is not None:
        options["mode"] = mode
    handler, logger = _Lines(), logging.getLogger("dltut")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    start = timeit.default_timer()
    try:
        result = catalogue.function(name)(**options)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    return result, handler.lines, timeit.default_timer() - start


def run_quick(name, folder, mode=None):
    """``name``'s quick run in float64, each of the original's lines checked."""
    quick = catalogue.get(name).quick
    settings = dict(quick.settings, floatX="float64")
    try:
        _, lines, seconds = _call(name, settings, folder, mode or quick.mode, prepare=quick)
    except NotEnoughMemory as error:
        return Outcome(name, settings, math.nan, skipped=str(error))
    except Exception as error:  # noqa: BLE001 - a failed run is a line of the report
        return Outcome(name, settings, math.nan, failure=f"{type(error).__name__}: {error}")
    checks = [check_line(line, lines, quick.rel) for line in quick.lines]
    return Outcome(name, settings, seconds, checks)


def run_full(name, folder, mode=None, floatX=None):
    """``name``'s default run: its best validation and test errors, in percent."""
    settings = {} if floatX is None else {"floatX": floatX}
    try:
        result, _, seconds = _call(name, settings, folder, mode)
    except NotEnoughMemory as error:
        return Outcome(name, settings, math.nan, skipped=str(error))
    except Exception as error:  # noqa: BLE001 - a failed run is a line of the report
        return Outcome(name, settings, math.nan, failure=f"{type(error).__name__}: {error}")
    errors = (result.best_validation_loss * 100.0, result.test_score * 100.0)
    return Outcome(name, settings, seconds, errors=errors)


def verdict_of(measured, published):
    """A measured error rate (percent) beside a published one: equal to the published digits,
    within noise (two binomial standard errors), or differs."""
    digits = len(str(published).partition(".")[2])
    if round(measured, digits) == published:
        return "equal"
    return "within noise" if abs(measured - published) <= 2 * standard_error(published) \
        else "differs"


def run_task(kind, name, folder, mode=None, floatX=None):
    """One tutorial of a suite (``kind`` quick or full), as a serial run, a pool's or Ray's task."""
    print(f"... {name}", flush=True)
    if kind == "quick":
        return run_quick(name, folder, mode)
    return run_full(name, folder, mode, floatX)


def standard_error(percent, n=N_IMAGES):
    """The binomial standard error, in percentage points, of an error rate measured on n images."""
    p = percent / 100.0
    return 100.0 * math.sqrt(p * (1.0 - p) / n)


def report(outcomes, kind, environment=""):
    """The Markdown report of ``outcomes`` (``kind``: "quick" or "full")."""
    lines = [f"# dltut suite --{kind}", ""]
    if environment:
        lines += [environment, ""]
    if kind == "quick":
        lines += ["Each line the original code printed under the same settings (float64, CPU), "
                  "and whether dltut printed it again: the same words, the same numbers.", "",
                  "| tutorial | settings | verdict | lines agreeing | largest relative difference | "
                  "seconds | 2012 speed() s, CPU / GPU |", "|---|---|---|---|---|---|---|"]
    else:
        lines += ["Best validation and test errors of the default runs beside the published "
                  "figures; a difference is given in binomial standard errors (10,000 images).",
                  "", "| tutorial | verdict | validation % (published) | test % (published) | "
                  "test difference / SE | seconds | source |", "|---|---|---|---|---|---|---|"]
    for outcome in outcomes:
        tutorial = catalogue.get(outcome.name)
        settings = ", ".join(f"{k}={v}" for k, v in outcome.settings.items()) or "defaults"
        if outcome.failure or outcome.skipped:
            why = f"failed: {outcome.failure}" if outcome.failure else f"skipped: {outcome.skipped}"
            lines.append(f"| {outcome.name} | {settings} | {why} | | | | |")
            continue
        if kind == "quick":
            agreeing = sum(check.agrees for check in outcome.checks)
            largest = max((check.difference for check in outcome.checks), default=0.0)
            speed = " / ".join(map(str, tutorial.speed_2012)) if tutorial.speed_2012 else "-"
            lines.append(f"| {outcome.name} | {settings} | {outcome.verdict} | "
                         f"{agreeing}/{len(outcome.checks)} | "
                         f"{largest:.1e} | {outcome.seconds:.1f} | {speed} |")
        else:
            published = tutorial.published
            valid, test = outcome.errors
            se = standard_error(published.test)
            lines.append(
                f"| {outcome.name} | {outcome.verdict} | {valid:.6f} ({published.validation}) | "
                f"{test:.6f} "
                f"({published.test}) | {(test - published.test) / se:+.2f} | "
                f"{outcome.seconds:.1f} | {published.source} |")
    disagreeing = [(o.name, c) for o in outcomes for c in o.checks if not c.agrees]
    if disagreeing:
        lines += ["", "## Lines that differ", ""]
        for name, check in disagreeing:
            lines.append(f"- {name}: expected `{check.expected}`, printed "
                         f"`{check.printed}`" if check.printed else
                         f"- {name}: expected `{check.expected}`, printed no such line")
    lines += ["", "## Where the original's numbers come from", ""]
    for outcome in outcomes:
        tutorial = catalogue.get(outcome.name)
        source = tutorial.quick.source if kind == "quick" else tutorial.published.source
        lines.append(f"- {outcome.name} ({tutorial.original}): {source}")
    return "\n".join(lines) + "\n"


def add_arguments(parser):
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", dest="kind", action="store_const", const="quick",
                       help="the original code's small settings, its printed lines checked "
                            "(default; minutes)")
    which.add_argument("--full", dest="kind", action="store_const", const="full",
                       help="the supervised tutorials' default runs beside the published "
                            "figures (hours: one tutorial at a time with --only)")
    parser.set_defaults(kind="quick")
    parser.add_argument("--only", nargs="+", metavar="TUTORIAL", default=None,
                        help="these tutorials only (default: every one with reference figures)")
    parser.add_argument("--report", default=os.path.join("out", "suite.md"),
                        help="the Markdown report; beside it the results as JSON (.json, which a "
                             "suite started again reads to run only what is unfinished) and a "
                             "figure (.png, with matplotlib) (default %(default)s)")
    parser.add_argument("--fresh", action="store_true",
                        help="run every tutorial again, not only those the results lack")
    parser.add_argument("--backend", choices=("serial", "pool", "ray"), default="serial",
                        help="serial: one tutorial after the other (default: each run's time "
                             "is its own); pool: a process per core; ray: Ray tasks (pip install "
                             "'dltut[ray]'), on the cluster at --address or a local one")
    parser.add_argument("--workers", type=int, default=None,
                        help="pool: processes; ray: CPUs of the local Ray (default: the cores)")
    parser.add_argument("--address", default=None,
                        help="ray: the address of a running Ray cluster (default: start one)")
    parser.add_argument("--mode", default=None, choices=("c", "numba", "jax"),
                        help="compile mode (default: dltut's)")
    parser.add_argument("--floatX", default=None, choices=("float32", "float64"),
                        help="--full: float dtype of the runs (default float32; --quick runs "
                             "in float64, where the original's numbers were printed)")


def main(args):
    """``dltut suite`` with parsed ``args``: 0 if every run agrees, 1 if one differs, 2 for a
    bad setting (before anything runs)."""
    field = "quick" if args.kind == "quick" else "published"
    eligible = [t.name for t in catalogue.TUTORIALS.values() if getattr(t, field) is not None]
    names = args.only or eligible
    wrong = [name for name in names if name not in eligible]
    if wrong:
        print(f"dltut suite: error: no --{args.kind} figures for {', '.join(wrong)}: choose "
              f"among {', '.join(eligible)}", file=sys.stderr)
        return 2
    base, extension = os.path.splitext(args.report)
    if extension != ".md":
        print(f"dltut suite: error: --report {args.report}: give a .md file (the JSON results "
              "and the figure go beside it)", file=sys.stderr)
        return 2
    if args.workers is not None and args.workers < 1:
        print(f"dltut suite: error: --workers {args.workers}: give a positive number of "
              "processes (pool) or Ray CPUs, or leave it out for one per core", file=sys.stderr)
        return 2
    from dltut import engine

    key = {"kind": args.kind, "engine": engine.name(), "mode": args.mode, "floatX": args.floatX}
    try:
        for path in (args.report, base + ".json", base + ".png"):
            check_output(path, "--report")  # its folder created if missing, then probed
        done = {} if args.fresh else _finished(base + ".json", key)
    except ValueError as error:  # OutputError, ResultsError
        print(f"dltut suite: error: {error}", file=sys.stderr)
        return 2
    from dltut import sweep
    from dltut.progress import SuiteBar

    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stdout)
    for name in names:
        if name in done:
            print(f"... {name}: {done[name].verdict} (finished before; --fresh runs it again)")
    todo = [name for name in names if name not in done]

    def stopped(signum):
        return (f"suite stopped by {signal.Signals(signum).name}: {len(done)} of {len(names)} "
                f"tutorials done, their results in {base}.json; run the same suite again to go "
                "on")

    with tempfile.TemporaryDirectory() as scratch, SuiteBar(len(names), len(names) - len(todo)) \
            as bar, sweep.Termination("dltut suite", stopped) as termination:
        work = [(args.kind, name, scratch, args.mode, args.floatX) for name in todo]
        if args.backend == "serial":
            finished = (run_task(*each) for each in work)
        else:
            finished = sweep.pool_tasks(run_task, work, args.workers) if args.backend == "pool" \
                else sweep.ray_tasks(run_task, work, args.workers, args.address)
        try:
            for outcome in finished:
                if termination.signal_number is not None:  # a run the signal stopped: no result
                    raise KeyboardInterrupt
                done[outcome.name] = outcome
                _save(base + ".json", key, done)  # a suite stopped here goes on after this one
                print(f"    {outcome.name}: skipped: {outcome.skipped}" if outcome.skipped else
                      f"    {outcome.name}: {outcome.verdict} in {outcome.seconds:.1f} s",
                      flush=True)
                bar.finished(outcome.name, outcome.verdict)
        except KeyboardInterrupt:  # Ctrl-C, or SIGTERM (sweep.Termination)
            signum = termination.signal_number or signal.SIGINT
            print(f"dltut suite: {stopped(signum)}", file=sys.stderr)
            return sweep.STOPPED_STATUS
    ordered = [done[name] for name in names]
    environment = f"engine {engine.name()} {engine.version()}, mode {engine.mode()}"
    text = report(ordered, args.kind, environment)
    atomic_write(args.report, lambda stream: stream.write(text.encode()))
    written = [args.report, base + ".json"]
    skipped = _draw(ordered, base + ".png")
    if skipped is None:
        written.append(base + ".png")
    print(table(ordered))
    print(f"report written to {', '.join(written)}")
    if skipped is not None:
        print(f"figure {base}.png skipped: {skipped}")
    return 0 if all(outcome.agrees for outcome in ordered) else 1


def _finished(path, key):
    """``{name: Outcome}`` of the results file at ``path`` if it was written for ``key`` (none
    if it is missing or of another kind, engine, mode or floatX); a ``ResultsError`` naming the
    file if it is not a suite's results."""
    def refuse(problem):
        raise ResultsError(f"{path}: {problem}, not the results of a dltut suite; remove it, or "
                           "run with --fresh to replace it")

    try:
        if os.path.getsize(path) > MAX_RESULTS_BYTES:
            refuse(f"{os.path.getsize(path)} bytes")
        with open(path, encoding="utf-8") as stream:
            saved = json.load(stream)
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        reason = "nested too deeply" if isinstance(error, RecursionError) else error
        refuse(f"unreadable ({reason})")
    if not isinstance(saved, dict) or set(saved) != {"key", "outcomes"} \
            or not isinstance(saved["outcomes"], dict):
        refuse("no key and outcomes in it")
    if saved["key"] != key:
        return {}
    outcomes = {}
    for name, record in saved["outcomes"].items():
        if name not in catalogue.TUTORIALS:
            continue  # a tutorial of another dltut
        problem = _record_problem(name, record, key["kind"])
        if problem:
            refuse(f"outcome {name!r}: {problem}")
        outcomes[name] = Outcome.from_dict(record)
    return {name: outcome for name, outcome in outcomes.items() if _still_valid(outcome, key)}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


_CHECK_FIELDS = {  # Check's, as results JSON holds them
    "expected": lambda value: isinstance(value, str),
    "printed": lambda value: value is None or isinstance(value, str),
    "difference": _is_number, "agrees": lambda value: isinstance(value, bool),
}
_OUTCOME_FIELDS = {  # Outcome's
    "name": lambda value: isinstance(value, str), "settings": lambda value: isinstance(value, dict),
    "seconds": _is_number, "checks": lambda value: isinstance(value, list),
    "errors": lambda value: value is None or (isinstance(value, list) and len(value) == 2
                                              and all(map(_is_number, value))),
    "failure": lambda value: value is None or isinstance(value, str),
    "skipped": lambda value: value is None or isinstance(value, str),
}


def _record_problem(name, record, kind):
    """What is wrong with the saved outcome ``record`` of tutorial ``name`` in a suite of
    ``kind`` (quick or full); None if nothing is."""
    if isinstance(record, dict):
        record = {"skipped": None, **record}  # (results written before runs could be skipped)
    if not isinstance(record, dict) or set(record) != set(_OUTCOME_FIELDS):
        return f"not an outcome ({sorted(record) if isinstance(record, dict) else record!r:.60})"
    for field, test in _OUTCOME_FIELDS.items():
        if not test(record[field]):
            return f"{field} {record[field]!r:.60}"
    if record["name"] != name:
        return f"name {record['name']!r:.60}"
    figures = catalogue.get(name).quick if kind == "quick" else catalogue.get(name).published
    if figures is None:
        return f"{name} has no --{kind} figures"
    if record["failure"] is None and record["skipped"] is None \
            and (record["errors"] is None) != (kind == "quick"):
        return f"errors {record['errors']!r:.60} in a --{kind} suite"
    for index, check in enumerate(record["checks"]):
        if not isinstance(check, dict) or set(check) != set(_CHECK_FIELDS):
            return f"checks[{index}] {check!r:.60}"
        for field, test in _CHECK_FIELDS.items():
            if not test(check[field]):
                return f"checks[{index}].{field} {check[field]!r:.60}"
    return None


def _still_valid(outcome, key):
    """A saved outcome stands if its run finished and checked what the catalogue checks now."""
    if outcome.failure is not None or outcome.skipped is not None:
        return False
    if key["kind"] != "quick":
        return True
    quick = catalogue.get(outcome.name).quick
    return [check.expected for check in outcome.checks] == list(quick.lines)


def _save(path, key, outcomes):
    record = {"key": key, "outcomes": {name: o.as_dict() for name, o in outcomes.items()}}
    text = json.dumps(record, indent=1, default=_json_number)
    atomic_write(path, lambda stream: stream.write(text.encode()))


def _json_number(value):
    return float(value)  # numpy scalars


def table(outcomes):
    """The terminal's summary of a suite: a row per tutorial with its verdict, the checked lines
    that are equal of those checked (--quick) and its seconds."""
    rows = [("tutorial", "verdict", "lines equal", "seconds")]
    for outcome in outcomes:
        equal = (f"{sum(check.agrees for check in outcome.checks)}/{len(outcome.checks)}"
                 if outcome.errors is None and outcome.verdict not in ("failed", "skipped")
                 else "-")
        seconds = "-" if math.isnan(outcome.seconds) else f"{outcome.seconds:.1f}"
        rows.append((outcome.name, outcome.verdict, equal, seconds))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    lines = ["  ".join(cell.ljust(width) if column < 2 else cell.rjust(width)
                       for column, (cell, width) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def _draw(outcomes, path):
    """Each tutorial's time, coloured by its verdict, into ``path``; None once drawn, else why
    it was not (matplotlib missing)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        return f"matplotlib is missing ({error}): pip install 'dltut[plot]'"
    colours = {"equal": "tab:green", "within noise": "tab:olive", "differs": "tab:red",
               "failed": "black", "skipped": "tab:gray"}
    figure, axes = plt.subplots(figsize=(7, 0.4 * len(outcomes) + 1.2))
    names = [o.name for o in outcomes]
    seconds = [0.0 if math.isnan(o.seconds) else o.seconds for o in outcomes]
    axes.barh(names, seconds, color=[colours[o.verdict] for o in outcomes])
    for y, outcome in enumerate(outcomes):
        axes.text(seconds[y], y, f" {outcome.verdict}", va="center", fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("seconds (the run's wall time, compiling included)")
    axes.set_title("dltut suite: agreement and time per tutorial")
    figure.tight_layout()
    atomic_write(path, lambda stream: figure.savefig(stream, format="png", dpi=100))
    plt.close(figure)
    return None
