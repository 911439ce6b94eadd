"""atomic: whole files or none, one rule for missing folders, stale temporaries removed, disk
errors that name the file."""

import errno
import os
import subprocess
import sys

import pytest

from dltut import atomic


def test_a_missing_folder_is_created(tmp_path):
    path = tmp_path / "a" / "b" / "out.bin"
    atomic.check_output(path, "--out")
    assert (tmp_path / "a" / "b").is_dir() and not path.exists()
    atomic.atomic_write(tmp_path / "c" / "out.bin", lambda file: file.write(b"x"))
    assert (tmp_path / "c" / "out.bin").read_bytes() == b"x"


def test_a_folder_or_a_file_in_the_way_is_refused(tmp_path):
    with pytest.raises(atomic.OutputError, match=r"--out .* is a folder: give a file name"):
        atomic.check_output(tmp_path, "--out")
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(atomic.OutputError, match=r"--report .*file/r.md: .*file is a file, not a "
                                                 r"folder"):
        atomic.check_output(tmp_path / "file" / "r.md", "--report")


@pytest.mark.skipif(not os.path.exists("/proc/self/mountinfo"), reason="needs Linux mounts")
def test_a_read_only_place_is_refused_before_anything_runs(tmp_path):
    # as root the permission bits do not stop a write: a read-only bind mount does (unshare makes
    # one in a mount namespace of its own); skipped where namespaces are not allowed
    script = (f"mkdir -p {tmp_path}/ro && mount --bind -o ro {tmp_path}/ro {tmp_path}/ro && "
              f"{sys.executable} -c 'from dltut import atomic; "
              f"atomic.check_output(\"{tmp_path}/ro/out.npz\", \"--out\")'")
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=os.getcwd()))
    if "Operation not permitted" in result.stderr or result.returncode == 127:
        pytest.skip(f"no mount namespace here: {result.stderr.strip()}")
    assert "OutputError: --out" in result.stderr and "Read-only file system" in result.stderr, \
        result.stderr


def test_a_disk_error_names_the_file_and_keeps_the_old_one(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"old")

    def full(file):
        file.write(b"part")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(atomic.OutputError, match=r"model.npz: cannot write \(No space left on "
                                                 r"device: free some space"):
        atomic.atomic_write(path, full)
    assert path.read_bytes() == b"old" and os.listdir(tmp_path) == ["model.npz"]


def test_temporaries_of_killed_writers_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = [tmp_path / f".m.npz.{dead}.abc123.tmp", tmp_path / ".m.npz.k9x_2q.tmp"]
    alive = tmp_path / f".m.npz.{os.getpid()}.live01.tmp"  # a write going on now
    other = tmp_path / ".other.npz.k9x_2q.tmp"  # another file's
    for path in [*stale, alive, other]:
        path.write_bytes(b"partial")
    atomic.atomic_write(tmp_path / "m.npz", lambda file: file.write(b"new"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [alive.name, other.name, "m.npz"])
