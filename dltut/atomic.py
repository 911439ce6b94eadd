"""Writing files so that readers see the old file or the whole new one, never a partial one.

One rule for every place dltut writes (``--out``, ``--checkpoint``, ``--plot``, ``--report``,
``--output-folder``, ...): a missing folder is created, and the place is checked before any
training starts (``check_output``), so a run never fails at its end for want of a folder.
"""

import errno
import os
import re
import tempfile


class OutputError(OSError, ValueError):
    """A place dltut was asked to write to cannot be written (an ``OSError`` that names it)."""


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _reason(error):
    """An ``OSError`` as a few words: its strerror, and what to do for the common ones."""
    text = error.strerror or str(error)
    if error.errno == errno.ENOSPC:
        return f"{text}: free some space or choose another place"
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return f"{text}: choose a writable place"
    return text


def _make_folder(folder, what, path):
    try:
        os.makedirs(folder, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{what} {path}: {folder} is a file, not a folder; choose another path") \
            from None
    except OSError as error:
        raise OutputError(f"{what} {path}: cannot create folder {folder} ({_reason(error)})") \
            from None


def _probe(folder, what, path):
    """Create and remove a file in ``folder``: the one check that the file system agrees (a
    read-only mount refuses even root, whatever the permission bits say)."""
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".dltut-probe.")
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise OutputError(f"{what} {path}: cannot write in {folder} ({_reason(error)})") from None


def check_output(path, what):
    """Make sure the file ``path`` can be written later: its folder is created if missing and
    probed; ``path`` must not be a folder. Raises ``OutputError`` naming ``what`` (the flag)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise OutputError(f"{what} {path} is a folder: give a file name such as "
                          f"{os.path.join(path, 'model.npz')}")
    folder = os.path.dirname(os.path.abspath(path))
    _make_folder(folder, what, path)
    _probe(folder, what, path)


def check_output_folder(folder, what):
    """Make sure files can be written in ``folder``, creating it if missing."""
    folder = os.fspath(folder)
    _make_folder(folder, what, folder)
    _probe(folder, what, folder)


# dltut's temporary files: ".NAME.PID.RANDOM.tmp" beside NAME (earlier versions: ".NAME.RANDOM.tmp")
def _temporary_pattern(name):
    return re.compile(rf"\.{re.escape(name)}\.(?:(\d+)\.)?[A-Za-z0-9_]+\.tmp")


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_temporaries(path):
    """Remove what writes of ``path`` left behind when killed (``kill -9``, a power cut): dltut's
    temporary files beside it whose writing process is gone."""
    folder, name = os.path.split(os.path.abspath(os.fspath(path)))
    pattern = _temporary_pattern(name)
    try:
        entries = os.listdir(folder)
    except OSError:
        return
    for entry in entries:
        match = pattern.fullmatch(entry)
        if match and (match.group(1) is None or not _alive(int(match.group(1)))):
            try:
                os.unlink(os.path.join(folder, entry))
            except OSError:
                pass


def atomic_write(path, write):
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``
    (its folder is created if missing).

    On any error the temporary file is removed and ``path`` is left as it was; an ``OSError``
    (a full disk, a read-only folder) becomes an ``OutputError`` that names ``path``.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    _make_folder(directory, "output", path)
    remove_stale_temporaries(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.{os.getpid()}.",
                                   suffix=".tmp")
    except OSError as error:
        raise OutputError(f"{path}: cannot write ({_reason(error)})") from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; give what open() would
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except OSError as error:
        _unlink_quietly(tmp)
        raise OutputError(f"{path}: cannot write ({_reason(error)})") from None
    except BaseException:
        _unlink_quietly(tmp)
        raise


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass
