"""Fetching a data file that a tutorial names, only when asked: a progress bar, resuming, a
checksum, and the file appearing whole or not at all.

``fetch(url, path, sha256)`` downloads into ``path + ".part"``; a broken transfer keeps what
arrived, and the next try (up to ``retries`` in the same call, or a later call) asks the server
for the rest with an HTTP ``Range`` request (a server that ignores it sends the whole file again,
which then replaces the part). The finished part is checked against ``sha256`` and only then
renamed to ``path``. A file already at ``path`` with the right checksum is not fetched again.
"""

import hashlib
import http.client
import logging
import os
import socket
import urllib.error
import urllib.parse
import urllib.request

log = logging.getLogger(__name__)

CHUNK = 1 << 16  # bytes read at a time


class DownloadError(OSError):
    """A download that could not be completed or checked."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(url, path, sha256=None, retries=3, timeout=60, progress=True):
    """Download ``url`` to ``path`` (resumed, checked, renamed into place); returns ``path``."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise DownloadError(f"{path}: directory {directory} does not exist; create it first")
    if os.path.exists(path):
        if sha256 is None or sha256_of(path) == sha256:
            log.info("%s is already there", path)
            return path
        raise DownloadError(f"{path} exists but its sha256 is {sha256_of(path)}, not {sha256}: "
                            "remove it and fetch again")
    part = path + ".part"
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout, progress)
            break
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            if isinstance(error, urllib.error.HTTPError) and error.code != 416:
                raise DownloadError(f"{url}: HTTP {error.code} {error.reason}") from error
            if isinstance(error, urllib.error.HTTPError):  # 416: the part is already whole
                break
            if _unresolved(error):  # no network or a wrong name: trying again changes nothing
                raise DownloadError(f"{url}: cannot resolve {urllib.parse.urlsplit(url).hostname}"
                                    f" ({_reason(error)}): no network, or a wrong address; "
                                    f"{_kept(part)}") from None
            have = os.path.getsize(part) if os.path.exists(part) else 0
            if attempt == retries:
                raise DownloadError(f"{url}: broken after {have} bytes ({_reason(error)}); "
                                    f"{_kept(part)}") from error
            log.warning("%s: broken after %d bytes (%s); resuming", url, have, _reason(error))
    if sha256 is not None:
        got = sha256_of(part)
        if got != sha256:
            os.unlink(part)
            raise DownloadError(f"{url}: sha256 {got}, expected {sha256}; the download was "
                                "removed: fetch again, or check the address")
    with open(part, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(part, path)
    log.info("saved %s", path)
    return path


def _unresolved(error):
    """Whether ``error`` is a failed name lookup (``socket.gaierror``, alone or in a URLError)."""
    return isinstance(error, socket.gaierror) or (
        isinstance(error, urllib.error.URLError) and isinstance(error.reason, socket.gaierror))


def _reason(error):
    return error.reason if isinstance(error, urllib.error.URLError) else error


def _kept(part):
    """What is on disk after a failed transfer, as it is: the part kept for a later resume, or
    nothing."""
    if os.path.exists(part) and os.path.getsize(part):
        return f"the {os.path.getsize(part)} bytes received are kept in {part}: fetch again to resume"
    return "nothing was written"


def _transfer(url, part, timeout, progress):
    """Append the rest of ``url`` to ``part`` (all of it if the server ignores the Range)."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = response.status == 206
        if have and not resumed:
            have = 0  # the whole file again
        length = response.headers.get("Content-Length")
        total = have + int(length) if length is not None else None
        bar = _bar(total, have, os.path.basename(part[:-len(".part")])) if progress else None
        try:
            with open(part, "ab" if resumed else "wb") as f:
                for block in iter(lambda: response.read(CHUNK), b""):
                    f.write(block)
                    if bar is not None:
                        bar.update(len(block))
        finally:
            if bar is not None:
                bar.close()
        if total is not None and os.path.getsize(part) < total:
            raise http.client.IncompleteRead(b"", total - os.path.getsize(part))


def _bar(total, initial, name):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="B", unit_scale=True, unit_divisor=1024,
                desc=name, leave=False)
