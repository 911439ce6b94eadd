"""Writers of the segmentation datasets' file formats, for the tests: small BMP and TIFF files
written byte by byte from their specifications (independent of dltut.imagefiles, and able to
write the variants Pillow does not: big-endian, top-down, several strips, MinIsWhite), and the
made folders of the three datasets."""

import os
import struct

import numpy


def write_bmp(path, pixels, palette=None, top_down=False, header=40):
    """``pixels`` (rows, cols, 3) uint8 RGB as a 24-bit BMP, or (rows, cols) indices into
    ``palette`` ((n, 3) RGB) as an 8-bit one; bottom-up unless ``top_down``."""
    pixels = numpy.asarray(pixels, dtype=numpy.uint8)
    rows, cols = pixels.shape[:2]
    bits = 8 if palette is not None else 24
    stride = (cols * bits + 31) // 32 * 4
    body = bytearray()
    for r in (range(rows) if top_down else range(rows - 1, -1, -1)):
        row = pixels[r] if bits == 8 else pixels[r][:, ::-1]  # BGR
        line = row.tobytes()
        body += line + b"\0" * (stride - len(line))
    quads = b""
    if palette is not None:
        quads = b"".join(bytes((int(b), int(g), int(r), 0)) for r, g, b in palette)
    offset = 14 + header + len(quads)
    info = struct.pack("<IiiHHIIiiII", header, cols, -rows if top_down else rows, 1, bits, 0,
                       len(body), 2835, 2835, len(palette) if palette is not None else 0, 0)
    info += b"\0" * (header - len(info))
    data = b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + quads + body
    with open(path, "wb") as f:
        f.write(data)
    return path


def packbits(data):
    """``data`` (bytes) PackBits-encoded: runs of 3 or more equal bytes as repeats, the rest as
    literal runs of at most 128."""
    out, i, n = bytearray(), 0, len(data)
    while i < n:
        j = i
        while j + 1 < n and data[j + 1] == data[i] and j - i < 127:
            j += 1
        if j - i >= 2:
            out += bytes((257 - (j - i + 1),)) + data[i:i + 1]
            i = j + 1
            continue
        start = i
        while i < n and i - start < 128:
            if i + 2 < n and data[i] == data[i + 1] == data[i + 2]:
                break
            i += 1
        out += bytes((i - start - 1,)) + data[start:i]
    return bytes(out)


def write_tiff(path, pages, order="<", compression=1, rows_per_strip=None, photometric=None,
               extra=()):
    """``pages`` (each (rows, cols) or (rows, cols, 3) uint8) as a baseline TIFF: byte
    ``order`` '<' or '>', ``compression`` 1 (none) or 32773 (PackBits), ``rows_per_strip`` (all
    the rows if None), ``photometric`` (1 for greyscale, 2 for RGB if None); ``extra`` more
    ``(tag, type, values)`` entries on every page. Returns the path."""
    blobs = []  # (page directory entries, strips) laid out below
    out = bytearray(b"II*\0" if order == "<" else b"MM\0*") + b"\0\0\0\0"
    directory_offsets = []
    for page in pages:
        page = numpy.asarray(page, dtype=numpy.uint8)
        rows, cols = page.shape[:2]
        samples = 1 if page.ndim == 2 else page.shape[2]
        per_strip = rows if rows_per_strip is None else rows_per_strip
        offsets, counts = [], []
        for start in range(0, rows, per_strip):
            strip = page[start:start + per_strip].tobytes()
            if compression == 32773:
                strip = packbits(strip)
            offsets.append(len(out))
            counts.append(len(strip))
            out += strip
            if len(out) % 2:
                out += b"\0"
        kind = photometric if photometric is not None else (2 if samples == 3 else 1)
        entries = [(256, 4, [cols]), (257, 4, [rows]), (258, 3, [8] * samples),
                   (259, 3, [compression]), (262, 3, [kind]), (273, 4, offsets),
                   (277, 3, [samples]), (278, 4, [per_strip]), (279, 4, counts), *extra]
        blobs.append(sorted(entries))
        directory_offsets.append(None)
    for index, entries in enumerate(blobs):
        values = {}
        for tag, kind, vals in entries:  # values longer than 4 bytes go before the directory
            code, size = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4)}[kind]
            packed = struct.pack(f"{order}{len(vals)}{code}", *vals)
            if len(packed) > 4:
                values[tag] = len(out)
                out += packed + (b"\0" if len(packed) % 2 else b"")
            else:
                values[tag] = packed + b"\0" * (4 - len(packed))
        directory_offsets[index] = len(out)
        out += struct.pack(order + "H", len(entries))
        for tag, kind, vals in entries:
            value = values[tag]
            field = value if isinstance(value, bytes) else struct.pack(order + "I", value)
            out += struct.pack(order + "HHI", tag, kind, len(vals)) + field
        out += b"\0\0\0\0"  # next directory, patched below
    struct.pack_into(order + "I", out, 4, directory_offsets[0])
    for here, following in zip(directory_offsets, directory_offsets[1:]):
        count = struct.unpack_from(order + "H", out, here)[0]
        struct.pack_into(order + "I", out, here + 2 + 12 * count, following)
    with open(path, "wb") as f:
        f.write(bytes(out))
    return path


# ----------------------------------------------------------------------------------------------
# Made datasets


def make_polyps(folder, sizes=None, seed=0):
    """A made polyps912 folder: ``sizes`` {set: [(rows, cols), ...]} frames (BMP, RGB) with
    masks (TIFF, labels 0-2) named ``frame_<set>_<i>``; returns ``{set: {name: (image,
    mask)}}``."""
    rng = numpy.random.RandomState(seed)
    sizes = sizes or {"train": [(12, 16)] * 5 + [(10, 14)] * 2, "valid": [(12, 16)] * 3,
                      "test": [(10, 14), (12, 16)]}
    made = {}
    for which, shapes in sizes.items():
        os.makedirs(os.path.join(folder, which, "images"))
        os.makedirs(os.path.join(folder, which, "masks2"))
        made[which] = {}
        for i, (rows, cols) in enumerate(shapes):
            name = f"frame_{which}_{i}"
            image = rng.randint(0, 256, (rows, cols, 3)).astype(numpy.uint8)
            mask = rng.randint(0, 3, (rows, cols)).astype(numpy.uint8)
            write_bmp(os.path.join(folder, which, "images", name + ".bmp"), image)
            write_tiff(os.path.join(folder, which, "masks2", name + ".tif"), [mask])
            made[which][name] = (image, mask)
    return made


def make_isbi(folder, n=30, rows=16, cols=12, seed=0):
    """A made isbi_em_stacks folder: three stacks of ``n`` pages; returns (train volume, train
    labels, test volume) as (n, rows, cols) uint8 arrays (labels 0, 255 and a few 128)."""
    rng = numpy.random.RandomState(seed)
    volume = rng.randint(0, 256, (n, rows, cols)).astype(numpy.uint8)
    labels = (rng.rand(n, rows, cols) < 0.3).astype(numpy.uint8) * 255
    labels[:, 0, 0] = 128
    test = rng.randint(0, 256, (n, rows, cols)).astype(numpy.uint8)
    os.makedirs(folder, exist_ok=True)
    write_tiff(os.path.join(folder, "train-volume.tif"), volume)
    write_tiff(os.path.join(folder, "train-labels.tif"), labels, compression=32773)
    write_tiff(os.path.join(folder, "test-volume.tif"), test, order=">")
    return volume, labels, test


def make_cortical(folder, n=40, length=200, seed=0):
    """A made cortical_layers folder (6layers_segmentation/ and its four files) of ``n`` rays;
    returns (raw, smooth, labels, regions) as parsed: float64, float64, int, int."""
    rng = numpy.random.RandomState(seed)
    raw = numpy.round(rng.rand(n, length) * 1000, 4)
    smooth = numpy.round(rng.rand(n, length) * 1000, 6)
    labels = rng.randint(0, 7, (n, length))
    regions = rng.randint(0, 5, (n, 1))
    files = os.path.join(folder, "6layers_segmentation")
    os.makedirs(files)
    for name, values, form in (("training_raw.txt", raw, "{!r}"),
                               ("training_geo.txt", smooth, "{!r}"),
                               ("training_cls.txt", labels, "{}"),
                               ("training_regions.txt", regions, "{}")):
        with open(os.path.join(files, name), "w") as f:
            for row in values:
                f.write(" ".join(form.format(v.item()) for v in row) + "\n")
    return raw, smooth, labels, regions


# ----------------------------------------------------------------------------------------------
# What the original loaders gave on the shipped made data (benchmarks/segm_original.py)

RECORDED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "segm_original.json")


def recorded_original(*keys):
    """The part of tests/segm_original.json at ``keys`` (the original loaders' batches on the
    made data in dltut/toy, recorded by benchmarks/segm_original.py); the test is skipped where
    that file or part, or the made data, is not there."""
    import json

    import pytest

    from dltut.tutorials.dataset_loaders import TOY

    if not os.path.exists(RECORDED):
        pytest.skip("no tests/segm_original.json (benchmarks/segm_original.py records it)")
    with open(RECORDED) as f:
        part = json.load(f)
    for key in keys:
        if key not in part:
            pytest.skip(f"tests/segm_original.json has no {'/'.join(keys)}")
        part = part[key]
    if not os.path.isdir(TOY):
        pytest.skip("no made data in dltut/toy")
    return part


def assert_batch_as_recorded(batch, record, labels_dtype=None):
    """``batch`` (a loader's dict) against ``record`` (segm_original.py's batch_record): the
    same examples, shapes, dtypes (the labels' ``labels_dtype`` where given) and sums."""
    import pytest

    data, labels = batch["data"], numpy.asarray(batch["labels"])
    names = [f if isinstance(f, str) else int(f) for f in numpy.ravel(batch["filenames"])]
    assert names == record["filenames"]
    assert list(data.shape) == record["data_shape"] and str(data.dtype) == record["data_dtype"]
    assert float(numpy.sum(data, dtype=numpy.float64)) == pytest.approx(record["data_sum"],
                                                                        rel=1e-12)
    assert [float(numpy.sum(a, dtype=numpy.float64)) for a in data] == pytest.approx(
        record["data_sum_per_item"], rel=1e-12)
    assert list(labels.shape) == record["labels_shape"]
    assert str(labels.dtype) == (labels_dtype or record["labels_dtype"])
    as_int = labels.astype(numpy.int64)
    assert numpy.bincount(as_int.ravel(), minlength=4).tolist() == record["label_counts"]
    weights = numpy.arange(as_int[0].size).reshape(as_int[0].shape)
    assert float(numpy.sum(as_int * weights)) == record["labels_weighted_sum"]
