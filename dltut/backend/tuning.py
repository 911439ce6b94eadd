"""XLA's CPU settings chosen by measurement on the CPU that runs dltut, and remembered.

Which of XLA's CPU code paths multiplies the tutorials' matrices fastest depends on the CPU: on
an AVX2-only AMD EPYC the logistic regression's update (the skinny ``[600,784]x[784,10]``
products) is faster without XLA's YNNPACK dot fusion (its default), on an AVX-512 EPYC with it
(docs/speed.md, "XLA's CPU settings"; docs/tuning.md). No table written on one machine is right
on the other, so dltut measures, once per CPU:

* The first time a JAX-mode loop (``loops.JaxLoop``: a span of updates, or the error
  count of a split) of a new *program* (its step's name and the shapes and dtypes it reads)
  is compiled on the CPU, a short probe of it (``PROBE_LENGTH`` steps) is compiled under each of
  ``CANDIDATES`` and timed, the candidates in turn, for some rounds (``ROUNDS``, ``TIME_BUDGET``);
  each one's best call counts, and the fastest is kept unless it saves less than ``MARGIN`` of
  XLA's default's time (a difference that small is the shared machine's noise, and the default
  is then kept). It costs a first run one more compile of the program per candidate, and a
  fraction of a second to seconds of probe calls (docs/speed.md).
* The choice is written to ``cache_dir()/xla_cpu_settings.json`` (``modes.cache_dir``) under
  the *machine key*: the CPU's model name, a digest of its instruction-set flags, the jaxlib
  version and the user's ``XLA_FLAGS``. Once settled, a later run on the same machine reads it
  and pays nothing; another CPU, jaxlib or ``XLA_FLAGS`` measures anew.
* A choice settles when two runs' measurements on a quiet machine agree (``settle``); until then
  each new run measures again (its candidates' programs come from JAX's compile cache, so mostly
  the probe calls are paid), and one made while the machine was busy never replaces a quiet one:
  a first run on a busy machine cannot lock in the setting that noise favoured. *Busy* is what
  other processes did while the probes ran (``machine_is_quiet``), not the load average, which
  lags by a minute: it called a run quiet that started as two other jobs took both cores.

Why per program and at compile time: JAX compiles each program with its own options
(``Lowered.compile(compiler_options=...)``), which override ``XLA_FLAGS`` for that program only, so
the choice needs no new process and no flag set before JAX starts its CPU backend: the first run
tunes in place, in the seconds it spends compiling before the training clock starts, and JAX's
compile cache keys each program by its options, so a cached program is never one compiled under
another setting.

Every candidate computes the same operations (the same graph, differently tiled products); the
results can differ in the last bits of a float, as any change of the summation order does. The
tutorials' printed numbers were checked under each (``tests/test_tuning.py``, docs/tuning.md).

Who decides, in order: ``DLTUT_XLA_CPU=NAME`` (one of ``CANDIDATES``, or ``auto``, the default);
an ``XLA_FLAGS`` that sets a flag some candidate sets (the user's choice stands: no tuning); the
remembered choice; a measurement. ``settings_report()`` says which, for ``python -m dltut info``;
``--verbose`` logs each choice as it is made or read.
"""

import collections
import concurrent.futures
import hashlib
import importlib.metadata
import json
import logging
import os
import platform
import time

from dltut.backend import modes
from dltut.atomic import atomic_write

log = logging.getLogger(__name__)

# The settings measured: XLA compiler options as JAX's ``compiler_options`` takes them (the names
# of XLA_FLAGS' flags without their dashes). "xla-default" passes none: XLA's own defaults
# (YNNPACK fuses each dot). "ynn-off" turns that fusion off: XLA's own dot emitter (Eigen) then
# multiplies, the faster on an AVX2-only EPYC. Other XLA CPU flags were never the fastest, so they
# are not candidates (docs/speed.md, "XLA's CPU settings").
CANDIDATES = {
    "xla-default": {},
    "ynn-off": {"xla_cpu_experimental_ynn_fusion_type": ""},
}
DEFAULT = "xla-default"
PROBE_LENGTH = 3  # steps of the probe loop: enough to time, short for LeNet's slow updates
ROUNDS = (2, 20)  # timed calls of each candidate's probe, taken in turn: at least, at most
TIME_BUDGET = 0.5  # seconds of probe calls after which no new round starts (past the least)
MARGIN = 0.05  # a candidate replaces the default only if it saves more than this fraction
QUIET_SHARE = 0.25  # other processes using less of the CPUs than this many cores: quiet
FILE_NAME = "xla_cpu_settings.json"
_FORMAT = 1  # the file's layout; a file of another layout is measured anew
_ENVIRONMENT = "DLTUT_XLA_CPU"

_chosen = {}  # program key -> (setting, why), this process's choices (read or measured)


def cache_file():
    """The file of remembered choices: ``cache_dir()/xla_cpu_settings.json``."""
    return os.path.join(modes.cache_dir(), FILE_NAME)


# ----------------------------------------------------------------------------------------------
# The machine key


def cpu_description():
    """``(model name, instruction-set flags)`` of this CPU, as the kernel reports them (Linux's
    /proc/cpuinfo); elsewhere the platform's processor name and no flags."""
    model, flags = None, ()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                field, _, value = line.partition(":")
                field = field.strip()
                if field in ("model name", "Model", "CPU part") and model is None:
                    model = value.strip()
                elif field in ("flags", "Features") and not flags:
                    flags = tuple(sorted(value.split()))
                if model is not None and flags:
                    break
    except OSError:
        pass
    return model or platform.processor() or platform.machine(), flags


def machine_key():
    """The key under which this machine's choices are kept: CPU model, a digest of its flags,
    jaxlib's version and the XLA_FLAGS set (dltut's own included)."""
    model, flags = cpu_description()
    digest = hashlib.sha256(" ".join(flags).encode()).hexdigest()[:16]
    return (f"{model} | flags {digest} | jaxlib {_jaxlib_version()} | "
            f"XLA_FLAGS {os.environ.get('XLA_FLAGS', '')}")


def _jaxlib_version():
    try:
        return importlib.metadata.version("jaxlib")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def simd_flags():
    """The vector instruction sets among this CPU's flags (for reports: avx2, avx512f, ...)."""
    _, flags = cpu_description()
    vector = ("avx", "fma", "amx", "sve", "neon", "asimd")
    return [flag for flag in flags if flag.startswith(vector)]


# ----------------------------------------------------------------------------------------------
# The file of remembered choices


def _read():
    """The file's choices for every machine key: ``{machine key: {program: entry}}``; empty when
    there is no file, and (with a warning) when it cannot be read as this layout."""
    path = cache_file()
    try:
        with open(path) as file:
            content = json.load(file)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        log.warning("%s: cannot be read (%s): XLA's CPU settings are measured anew and the file "
                    "replaced", path, error)
        return {}
    if not (isinstance(content, dict) and content.get("format") == _FORMAT
            and isinstance(content.get("machines"), dict)
            and all(isinstance(programs, dict) for programs in content["machines"].values())):
        log.warning("%s: not a file of XLA CPU settings of format %d: they are measured anew "
                    "and the file replaced", path, _FORMAT)
        return {}
    return content["machines"]


def _write(machines):
    path = cache_file()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = json.dumps({"format": _FORMAT, "machines": machines}, indent=1, sort_keys=True)
    atomic_write(path, lambda file: file.write(text.encode()))


def remembered(machine=None):
    """``{program: entry}`` remembered for ``machine`` (this machine's key by default)."""
    return _read().get(machine or machine_key(), {})


def _remember(program, entry):
    machines = _read()
    machines.setdefault(machine_key(), {})[program] = entry
    try:
        _write(machines)
    except OSError as error:  # a read-only home: tune again next time, but run
        log.warning("could not remember XLA's CPU setting in %s (%s)", cache_file(), error)


# ----------------------------------------------------------------------------------------------
# Choosing


def forced():
    """``(setting, why)`` when the environment decides, else None: ``DLTUT_XLA_CPU=NAME``, or an
    ``XLA_FLAGS`` that sets a flag of a candidate (setting None: no options added, XLA_FLAGS
    rules)."""
    requested = os.environ.get(_ENVIRONMENT, "auto")
    if requested != "auto":
        if requested not in CANDIDATES:
            raise ValueError(f"{_ENVIRONMENT}={requested!r}: choose one of "
                             f"{', '.join(['auto', *CANDIDATES])}")
        return requested, f"{_ENVIRONMENT}={requested}"
    flags = os.environ.get("XLA_FLAGS", "")
    named = sorted({name for options in CANDIDATES.values() for name in options
                    if f"--{name}" in flags})
    if named:
        return None, f"XLA_FLAGS sets {', '.join(named)}"
    return None


def options(setting):
    """The compiler options of a setting (None for none: XLA_FLAGS and XLA's defaults)."""
    if setting is None or not CANDIDATES[setting]:
        return None
    return dict(CANDIDATES[setting])


def choose(program, probe):
    """``(setting, why)`` for ``program`` (a key naming the program and its shapes).

    ``probe(options)`` compiles a short run of the program under compiler ``options`` and
    returns a function that runs it once and waits for it; it is called only when a
    measurement is needed.
    """
    decided = forced()
    if decided is not None:
        return decided
    if program in _chosen:
        return _chosen[program]
    entry = remembered().get(program)
    previous = entry if isinstance(entry, dict) and entry.get("setting") in CANDIDATES else None
    if previous is not None and previous.get("settled") is True:
        choice = previous["setting"], f"remembered in {cache_file()}: {_describe(previous)}"
    else:
        entry = settle(previous, measure(probe))
        _remember(program, entry)
        choice = entry["setting"], f"measured now: {_describe(entry)}"
    _chosen[program] = choice
    log.debug("XLA CPU setting for %s: %s (%s)", program, *choice)
    return choice


def settle(previous, measured):
    """The entry to remember after a measurement, given the one remembered before (or None).

    One measurement never settles a choice: a shared machine's noise can favour the slower
    setting. A choice is *settled* (no more measuring) when two measurements on a quiet machine
    pick the same setting; until then each run measures again and uses the latest quiet
    measurement's pick: one made while the machine was busy does not replace a quiet one."""
    if previous is not None:
        previous_quiet = previous.get("quiet", True)
        if previous_quiet and not measured["quiet"]:
            return previous
        if previous_quiet and measured["setting"] == previous["setting"]:
            return {**measured, "settled": True}
    return measured


def cpu_use():
    """``(busy, own, wall)`` seconds now: the CPUs' busy time (all processes, Linux's /proc/stat;
    None where it cannot be read), this process's CPU time (all its threads) and a wall clock."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:9]]
        # user nice system idle iowait irq softirq steal: all but idle and iowait are busy
        busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        busy = None
    own = os.times()
    return busy, own.user + own.system, time.perf_counter()


def machine_is_quiet(since):
    """Whether other processes used less than ``QUIET_SHARE`` of a core, on average, between
    ``since`` (a ``cpu_use()``) and now: a measurement taken then is trusted to settle a choice.
    Where the CPUs' busy time is unknown, whether the 1-minute load average is below the cores."""
    busy, own, wall = cpu_use()
    if busy is None or since[0] is None:
        try:
            return os.getloadavg()[0] < (os.cpu_count() or 1)
        except OSError:  # no load average on this system either: trust it
            return True
    others = (busy - since[0]) - (own - since[1])
    return others < QUIET_SHARE * max(wall - since[2], 1e-3)


def measure(probe):
    """Time each candidate's probe in turn; the entry to remember: the setting kept, the best
    seconds of a probe call under each, and whether the machine was quiet meanwhile."""
    since = cpu_use()
    # XLA compiles without Python's lock: the probes compile side by side, on as many cores
    with concurrent.futures.ThreadPoolExecutor(len(CANDIDATES)) as pool:
        runs = dict(zip(CANDIDATES, pool.map(lambda setting: probe(options(setting)), CANDIDATES)))
    best = {setting: float("inf") for setting in CANDIDATES}
    spent, least, most = 0.0, *ROUNDS
    for round_ in range(most):
        if round_ >= least and spent > TIME_BUDGET:
            break
        for setting, run in runs.items():
            start = time.perf_counter()
            run()
            seconds = time.perf_counter() - start
            best[setting] = min(best[setting], seconds)
            spent += seconds
    return {"setting": pick(best), "seconds": best, "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "quiet": machine_is_quiet(since), "settled": False}


def pick(seconds):
    """The fastest setting of ``{setting: seconds}``, or ``DEFAULT`` unless that saves more than
    ``MARGIN`` of the default's time."""
    fastest = min(seconds, key=seconds.get)
    if seconds[fastest] < (1 - MARGIN) * seconds[DEFAULT]:
        return fastest
    return DEFAULT


def _describe(entry):
    seconds = entry.get("seconds", {})
    times = ", ".join(f"{setting} {value * 1e3:.2f} ms" for setting, value in seconds.items())
    when = f", {entry['when']}" if "when" in entry else ""
    state = ("settled" if entry.get("settled") is True else "measured again at the next run"
             if entry.get("quiet", True) else "measured on a busy machine: again at the next run")
    return f"{entry.get('setting')} ({times} a probe{when}; {state})"


def settings_report(verbose=False):
    """Lines for ``python -m dltut info``: who decides XLA's CPU settings, and what this machine
    has chosen so far (a count per choice; each program with ``verbose``)."""
    lines = [("XLA CPU key", f"{machine_key()}; vector ISA: {' '.join(simd_flags()) or 'unknown'}")]
    decided = forced()
    if decided is not None:
        setting, why = decided
        lines.append(("XLA CPU setting", f"{setting or 'as XLA_FLAGS says'}: {why}"))
        return lines
    programs = {key: entry for key, entry in remembered().items() if isinstance(entry, dict)}
    lines.append(("XLA CPU setting", f"measured per program on its first run (candidates: "
                                     f"{', '.join(CANDIDATES)}; {_ENVIRONMENT}=NAME chooses one)"))
    choices = collections.Counter(entry.get("setting") for entry in programs.values())
    settled = sum(entry.get("settled") is True for entry in programs.values())
    summary = ", ".join(f"{setting} {count}" for setting, count in sorted(choices.items()))
    lines.append(("XLA programs remembered",
                  f"{len(programs)} ({summary or 'none yet'}; {settled} settled) in {cache_file()}"
                  + ("" if verbose or not programs else "; each with dltut info --verbose")))
    if verbose:
        for program, entry in sorted(programs.items()):
            lines.append((f"  {program}", _describe(entry)))
    return lines
