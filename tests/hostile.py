"""Running a dltut command on a hostile input, the way the fuzz and regression tests check it.

``run_dltut(args, cwd)`` runs ``python -m dltut ARGS`` in a subprocess whose address space is capped
(``resource.setrlimit``), so a file that makes dltut allocate tens of GiB dies of MemoryError (a
traceback: a failure here) instead of taking the machine. ``assert_refused`` and
``assert_refused_or_ran`` state the contract: exit 2 with one line on stderr that names the file or
value, or (for valid input) exit 0; never a signal, a traceback, or a file the input asked for.
"""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The address-space cap of a hostile run: JAX, XLA and LLVM reserve a few GiB of address space
# they never touch; the tutorials' small runs stay far below this.
MEMORY_CAP = 12 * 2**30


# The caps are set by a small Python that then execs the command: a preexec_fn would run Python
# code in a fork of this process, which JAX's threads make unsafe (JAX warns of it).
_CAPPED = ("import os, resource, sys; cap = int(sys.argv[1]); "
           "resource.setrlimit(resource.RLIMIT_AS, (cap, cap)); "
           "resource.setrlimit(resource.RLIMIT_CORE, (0, 0)); "
           "os.execv(sys.executable, [sys.executable, *sys.argv[2:]])")


def capped(arguments):
    """The command line running ``python ARGUMENTS`` (this Python) with the memory cap and no
    core file."""
    return [sys.executable, "-c", _CAPPED, str(MEMORY_CAP), *map(str, arguments)]


def run_dltut(args, cwd, timeout=300, **env):
    """``python -m dltut ARGS`` (``args[0]`` may be ``-c`` code instead) in ``cwd``, memory capped;
    the CompletedProcess (text)."""
    arguments = args if args[0] == "-c" else ["-m", "dltut", *args]
    environment = dict(os.environ, PYTHONPATH=ROOT, **env)
    environment.pop("PYTHONWARNINGS", None)
    return subprocess.run(capped(arguments), cwd=cwd, env=environment, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def run_dltut_read_only(folder, args, cwd, timeout=300):
    """``run_dltut(args, cwd)`` with ``folder`` (made if missing) a read-only mount, which refuses
    even root whatever the permission bits say: ``unshare`` mounts it in a mount namespace of
    the run's own. None where namespaces are not allowed (the caller skips)."""
    import shlex

    os.makedirs(folder, exist_ok=True)
    arguments = args if args[0] == "-c" else ["-m", "dltut", *args]
    quoted = shlex.quote(str(folder))
    script = (f"mount --bind -o ro {quoted} {quoted} && exec "
              f"{' '.join(map(shlex.quote, capped(arguments)))}")
    environment = dict(os.environ, PYTHONPATH=ROOT)
    environment.pop("PYTHONWARNINGS", None)
    try:
        result = subprocess.run(["unshare", "-rm", "sh", "-c", script], cwd=cwd, env=environment,
                                capture_output=True, text=True, timeout=timeout,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:  # no unshare
        return None
    if result.returncode != 0 and ("unshare:" in result.stderr or "mount:" in result.stderr):
        return None
    return result


def _describe(result):
    return f"exit {result.returncode}\nstdout:\n{result.stdout[-3000:]}\nstderr:\n{result.stderr[-3000:]}"


def error_lines(result):
    """The lines of stderr that are not warnings of other libraries (JAX's, PyTensor's)."""
    return [line for line in result.stderr.splitlines()
            if line.strip() and "Warning" not in line and not line.startswith("  ")]


def assert_no_fault(result):
    assert result.returncode >= 0, f"killed by signal {-result.returncode}\n{_describe(result)}"
    assert "Traceback" not in result.stderr + result.stdout, _describe(result)
    assert "MemoryError" not in result.stderr, _describe(result)


def assert_refused(result, *words):
    """Exit 2 with one error line on stderr that contains each of ``words``."""
    assert_no_fault(result)
    assert result.returncode == 2, _describe(result)
    lines = error_lines(result)
    assert len(lines) == 1, _describe(result)
    for word in words:
        assert str(word) in lines[0], f"{word!r} not in the error line\n{_describe(result)}"
    return lines[0]


def assert_refused_or_ran(result):
    """Exit 0, or exit 2 with one error line; never a signal or a traceback."""
    assert_no_fault(result)
    assert result.returncode in (0, 2), _describe(result)
    if result.returncode == 2:
        assert len(error_lines(result)) == 1, _describe(result)
