"""download.fetch against a local HTTP server on 127.0.0.1: complete, broken and resumed with a
Range request, a server that ignores Range, a wrong checksum, a file already there; a name that
does not resolve fails at once; messages say what is on disk."""

import hashlib
import http.server
import socket
import threading
import urllib.error
import urllib.request

import numpy
import pytest

from dltut import download

DATA = numpy.random.RandomState(0).bytes(300_000)
SHA256 = hashlib.sha256(DATA).hexdigest()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves DATA at /data.bin; honours Range unless ``server.ignore_range``; the first
    ``server.breaks`` responses stop after ``server.break_at`` bytes."""

    def do_GET(self):
        server = self.server
        server.ranges.append(self.headers.get("Range"))
        if self.path != "/data.bin":
            self.send_error(404)
            return
        start = 0
        if self.headers.get("Range") and not server.ignore_range:
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            if start >= len(DATA):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(DATA) - 1}/{len(DATA)}")
        else:
            self.send_response(200)
        body = DATA[start:]
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if server.breaks > 0:
            server.breaks -= 1
            self.wfile.write(body[:server.break_at])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.ranges, httpd.breaks, httpd.break_at, httpd.ignore_range = [], 0, 100_000, False
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/data.bin"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def test_complete_download(server, tmp_path):
    path = tmp_path / "data.bin"
    assert download.fetch(server.url, path, SHA256, progress=False) == str(path)
    assert path.read_bytes() == DATA and not (tmp_path / "data.bin.part").exists()
    assert server.ranges == [None]
    download.fetch(server.url, path, SHA256)  # already there: not fetched again
    assert server.ranges == [None]


def test_broken_download_resumes_with_a_range_request(server, tmp_path):
    server.breaks = 2
    path = tmp_path / "data.bin"
    download.fetch(server.url, path, SHA256, retries=3)
    assert path.read_bytes() == DATA
    assert server.ranges == [None, "bytes=100000-", "bytes=200000-"]


def test_broken_download_keeps_its_part_for_the_next_call(server, tmp_path):
    server.breaks = 1
    path = tmp_path / "data.bin"
    with pytest.raises(download.DownloadError, match="broken after 100000 bytes.*resume"):
        download.fetch(server.url, path, SHA256, retries=0, progress=False)
    assert not path.exists() and (tmp_path / "data.bin.part").stat().st_size == 100_000
    download.fetch(server.url, path, SHA256, progress=False)
    assert path.read_bytes() == DATA and server.ranges == [None, "bytes=100000-"]


def test_server_ignoring_range_sends_it_all_again(server, tmp_path):
    server.breaks, server.ignore_range = 1, True
    path = tmp_path / "data.bin"
    download.fetch(server.url, path, SHA256, progress=False)
    assert path.read_bytes() == DATA


def test_wrong_checksum_leaves_nothing(server, tmp_path):
    path = tmp_path / "data.bin"
    with pytest.raises(download.DownloadError, match=f"sha256 {SHA256}, expected 0+"):
        download.fetch(server.url, path, "0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []
    path.write_bytes(b"other")
    with pytest.raises(download.DownloadError, match="exists but its sha256"):
        download.fetch(server.url, path, SHA256, progress=False)


def test_http_errors_and_bad_places(server, tmp_path):
    with pytest.raises(download.DownloadError, match="HTTP 404"):
        download.fetch(server.url.replace("data.bin", "nothing"), tmp_path / "x", progress=False)
    with pytest.raises(download.DownloadError, match="does not exist"):
        download.fetch(server.url, tmp_path / "no" / "x", progress=False)


def test_imdb_preprocess_downloads_then_builds(server, tmp_path, monkeypatch):
    """``--download`` fetches the tarball (here a made one, from the local server) and builds."""
    pytest.importorskip("sacremoses")
    from test_imdb_preprocess import write_made_tarball

    from dltut.tutorials import imdb, imdb_preprocess

    made = write_made_tarball(tmp_path / "made.tar.gz").read_bytes()
    monkeypatch.setitem(globals(), "DATA", made)
    out, tarball = tmp_path / "imdb.npz", tmp_path / "aclImdb_v1.tar.gz"
    assert imdb_preprocess.main(["--download", "--url", server.url, "--sha256",
                                 hashlib.sha256(made).hexdigest(), str(tarball), str(out)]) == 0
    assert tarball.read_bytes() == made
    assert imdb.read(out) == imdb_preprocess.preprocess(tarball)[:2]


@pytest.mark.parametrize("failure", [
    lambda: urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution")),
    lambda: socket.gaierror(-2, "Name or service not known"),
], ids=["in-URLError", "alone"])
def test_a_name_that_does_not_resolve_fails_at_once(tmp_path, monkeypatch, failure):
    """No network (or a wrong host): one try, one message, and it says what is on disk."""
    tries = []

    def urlopen(request, timeout):
        tries.append(request.full_url)
        raise failure()

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    with pytest.raises(download.DownloadError) as error:
        download.fetch("https://example.invalid/data.bin", tmp_path / "data.bin", retries=3,
                       progress=False)
    assert tries == ["https://example.invalid/data.bin"]
    assert str(error.value).startswith("https://example.invalid/data.bin: cannot resolve "
                                       "example.invalid (")
    assert str(error.value).endswith("no network, or a wrong address; nothing was written")
    assert list(tmp_path.iterdir()) == []


def test_a_refused_connection_does_not_claim_a_part_it_has_not(tmp_path):
    """Nothing received: the message says nothing was written (no .part is there to resume)."""
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(download.DownloadError, match="broken after 0 bytes .*; nothing was "
                                                     "written$"):
        download.fetch(f"http://127.0.0.1:{port}/data.bin", tmp_path / "data.bin", retries=1,
                       progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_broken_transfer_says_how_much_is_kept(server, tmp_path):
    server.breaks = 1
    with pytest.raises(download.DownloadError, match=r"the 100000 bytes received are kept in "
                                                     r".*data.bin.part: fetch again to resume"):
        download.fetch(server.url, tmp_path / "data.bin", SHA256, retries=0, progress=False)
