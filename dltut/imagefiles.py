"""The two image formats of the segmentation datasets, read with no library but NumPy.

* ``read_bmp(path)``: a Windows bitmap, 24-bit (BGR) or 8-bit (through its palette), stored
  uncompressed (``BI_RGB``), bottom-up or top-down: the polyps' images. Returns the pixels as a
  ``(rows, cols, 3)`` uint8 array in RGB order, as Pillow (and so scikit-image) gives them.
* ``read_tiff(path)``: a baseline TIFF, little- or big-endian, of one or many pages (the ISBI
  stacks are 30 pages), 8 bits a sample, greyscale (``MinIsBlack``, or ``MinIsWhite``, given as
  Pillow gives it: inverted), RGB (three interleaved samples) or palette indices, in strips,
  uncompressed or PackBits. Returns one uint8 array a page: ``(rows, cols)`` or
  ``(rows, cols, 3)``.

Every file is read as hostile: each header field is checked before it is used, every offset and
size against the file's length, and the size of an image against ``MAX_PIXELS`` (and, for
PackBits, against what its bytes can hold) before anything is allocated. A file that is not one
of these forms is refused with one ``DataError`` that names the file, the value found and how to
convert it (``tiffcp -c none`` from libtiff's tools, or Pillow).
"""

import os
import struct

import numpy

from dltut.data import DataError

MAX_PIXELS = 1 << 28  # samples in one image (256 MiB of uint8): far above the datasets' 512x512
MAX_TOTAL = 1 << 30  # samples in all the pages of one TIFF together
PACKBITS_RATIO = 64  # at most 128 bytes out for 2 in: a PackBits strip's most output a byte

TIFF_CONVERT = ("convert it with `tiffcp -c none IN OUT` (libtiff's tools) or Pillow "
                "(Image.open(IN).save(OUT, compression=None), save_all=True for a stack)")
BMP_CONVERT = ("convert it with Pillow: Image.open(IN).convert('RGB').save(OUT) writes a 24-bit "
               "uncompressed BMP")


# ----------------------------------------------------------------------------------------------
# BMP

BMP_INFO_HEADERS = {40: "BITMAPINFOHEADER", 52: "BITMAPV2INFOHEADER",
                    56: "BITMAPV3INFOHEADER", 108: "BITMAPV4HEADER", 124: "BITMAPV5HEADER"}
BMP_COMPRESSIONS = {1: "RLE8", 2: "RLE4", 3: "BITFIELDS", 4: "JPEG", 5: "PNG", 6: "ALPHABITFIELDS"}


def read_bmp(path):
    """The pixels of the BMP file ``path`` as a ``(rows, cols, 3)`` uint8 RGB array (the top row
    first, whichever way the file stores them); a ``DataError`` for anything else."""
    data = _read(path, "BMP image")
    name = os.fspath(path)
    if len(data) < 18:
        raise DataError(f"{name}: {len(data)} bytes, too short for a BMP header (14 + 4 bytes); "
                        "not a BMP image?")
    if data[:2] != b"BM":
        raise DataError(f"{name}: starts with {data[:2]!r}, not b'BM': not a Windows BMP image; "
                        f"{BMP_CONVERT}")
    pixel_offset, dib_size = struct.unpack_from("<II", data, 10)
    if dib_size not in BMP_INFO_HEADERS:
        kind = {12: "an OS/2 BITMAPCOREHEADER", 64: "an OS/2 2.x header"}.get(
            dib_size, "an unknown header")
        raise DataError(f"{name}: a {dib_size}-byte bitmap header ({kind}); dltut reads the "
                        f"40-, 52-, 56-, 108- and 124-byte Windows headers: {BMP_CONVERT}")
    if len(data) < 14 + dib_size:
        raise DataError(f"{name}: truncated, {len(data)} bytes, shorter than its "
                        f"{14 + dib_size}-byte headers; copy the file again")
    width, height, planes, bits, compression = struct.unpack_from("<iiHHI", data, 18)
    colors_used = struct.unpack_from("<I", data, 46)[0]
    if width <= 0:
        raise DataError(f"{name}: width {width}; a BMP's width is positive; the file is damaged")
    if height == 0 or height == -2**31:
        raise DataError(f"{name}: height {height}; the file is damaged")
    rows, cols = abs(height), width
    if planes != 1:
        raise DataError(f"{name}: {planes} colour planes, a BMP has 1; the file is damaged")
    if bits not in (8, 24):
        raise DataError(f"{name}: {bits} bits a pixel; dltut reads 24-bit and 8-bit (palette) "
                        f"BMP images: {BMP_CONVERT}")
    if compression != 0:
        kind = BMP_COMPRESSIONS.get(compression, "unknown")
        raise DataError(f"{name}: compression {compression} ({kind}); dltut reads uncompressed "
                        f"(BI_RGB) BMP images: {BMP_CONVERT}")
    _check_pixels(name, rows, cols, 3)
    stride = (cols * bits + 31) // 32 * 4  # each row padded to 4 bytes
    if pixel_offset < 14 + dib_size:
        raise DataError(f"{name}: pixel data at byte {pixel_offset}, inside the "
                        f"{14 + dib_size} bytes of headers; the file is damaged")
    end = pixel_offset + stride * rows
    if end > len(data):
        raise DataError(f"{name}: truncated, {rows} rows of {stride} bytes from byte "
                        f"{pixel_offset} need {end} bytes, the file has {len(data)}; copy the "
                        "file again")
    raw = numpy.frombuffer(data, numpy.uint8, stride * rows, pixel_offset).reshape(rows, stride)
    if height > 0:  # bottom-up, the usual order
        raw = raw[::-1]
    if bits == 24:
        return numpy.ascontiguousarray(raw[:, :cols * 3].reshape(rows, cols, 3)[:, :, ::-1])
    return _palette_pixels(name, data, dib_size, pixel_offset, colors_used, raw[:, :cols])


def _palette_pixels(name, data, dib_size, pixel_offset, colors_used, indices):
    """An 8-bit BMP's ``indices`` looked up in its palette (BGRA quads after the headers)."""
    colors = colors_used or 256
    if colors > 256:
        raise DataError(f"{name}: {colors} palette colours, an 8-bit BMP has at most 256; the "
                        "file is damaged")
    start = 14 + dib_size
    if start + 4 * colors > pixel_offset:
        raise DataError(f"{name}: a palette of {colors} colours from byte {start} runs past the "
                        f"pixel data at byte {pixel_offset}; the file is damaged")
    palette = numpy.frombuffer(data, numpy.uint8, 4 * colors, start).reshape(colors, 4)
    top = int(indices.max())
    if top >= colors:
        raise DataError(f"{name}: pixel index {top} past the {colors}-colour palette; the file "
                        "is damaged")
    return numpy.ascontiguousarray(palette[:, 2::-1][indices])


# ----------------------------------------------------------------------------------------------
# TIFF

# tag: its name, for the messages
TAGS = {256: "ImageWidth", 257: "ImageLength", 258: "BitsPerSample", 259: "Compression",
        262: "PhotometricInterpretation", 273: "StripOffsets", 277: "SamplesPerPixel",
        278: "RowsPerStrip", 279: "StripByteCounts", 284: "PlanarConfiguration",
        317: "Predictor", 322: "TileWidth", 323: "TileLength", 324: "TileOffsets",
        325: "TileByteCounts", 339: "SampleFormat"}
# field type: (struct code, bytes) of the integer types a tag here may have
INTEGER_TYPES = {1: ("B", 1), 3: ("H", 2), 4: ("I", 4)}
FIELD_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8,
               13: 4, 16: 8, 17: 8, 18: 8}
COMPRESSIONS = {1: "none", 2: "CCITT RLE", 3: "CCITT G3", 4: "CCITT G4", 5: "LZW",
                6: "old JPEG", 7: "JPEG", 8: "Deflate", 32773: "PackBits", 32946: "Deflate",
                34712: "JPEG 2000", 50000: "Zstd", 34925: "LZMA", 50001: "WebP"}
PHOTOMETRICS = {0: "MinIsWhite", 1: "MinIsBlack", 2: "RGB", 3: "Palette", 4: "Mask",
                5: "Separated (CMYK)", 6: "YCbCr", 8: "CIELab"}


def read_tiff(path):
    """The pages of the TIFF file ``path``, in file order, each a uint8 array ``(rows, cols)``
    (greyscale or palette indices) or ``(rows, cols, 3)`` (RGB); a ``DataError`` for any other
    kind of TIFF or a damaged file."""
    data = _read(path, "TIFF image")
    name = os.fspath(path)
    if len(data) < 8:
        raise DataError(f"{name}: {len(data)} bytes, too short for a TIFF header (8 bytes); not "
                        "a TIFF image?")
    order = {b"II": "<", b"MM": ">"}.get(data[:2])
    if order is None:
        raise DataError(f"{name}: starts with {data[:2]!r}, neither b'II' nor b'MM': not a TIFF "
                        f"image; {TIFF_CONVERT}")
    magic, offset = struct.unpack_from(order + "HI", data, 2)
    if magic == 43:
        raise DataError(f"{name}: a BigTIFF (version 43); dltut reads classic TIFF (version 42): "
                        f"{TIFF_CONVERT}")
    if magic != 42:
        raise DataError(f"{name}: TIFF version {magic}, expected 42; not a TIFF image?")
    pages, seen, total = [], set(), 0
    while offset:
        if offset in seen:
            raise DataError(f"{name}: page {len(pages)}'s directory at byte {offset} was read "
                            "before (a loop of pages); the file is damaged")
        seen.add(offset)
        tags, offset = _directory(name, data, order, offset, len(pages))
        page = _page(name, data, order, tags, len(pages), MAX_TOTAL - total)
        total += page.size
        pages.append(page)
    if not pages:
        raise DataError(f"{name}: no page (the first directory's offset is 0); the file is "
                        "damaged")
    return pages


def _directory(name, data, order, offset, index):
    """The entries of the image file directory at ``offset`` as ``{tag: (type, count, value
    offset)}``, and the offset of the next one."""
    where = f"{name}: page {index}'s directory"
    if offset < 8 or offset + 2 > len(data):
        raise DataError(f"{where} at byte {offset} lies outside the file's {len(data)} bytes; "
                        "the file is truncated or damaged")
    count = struct.unpack_from(order + "H", data, offset)[0]
    end = offset + 2 + 12 * count
    if end + 4 > len(data):
        raise DataError(f"{where} at byte {offset} has {count} entries, which run past the "
                        f"file's {len(data)} bytes; the file is truncated or damaged")
    tags = {}
    for at in range(offset + 2, end, 12):
        tag, kind, n, value = struct.unpack_from(order + "HHII", data, at)
        if tag not in TAGS:
            continue  # a tag this reader does not need: its value is never read
        size = FIELD_SIZES.get(kind)
        if size is None:
            raise DataError(f"{where}: tag {TAGS[tag]} ({tag}) has field type {kind}, not a "
                            "TIFF type; the file is damaged")
        start = at + 8 if size * n <= 4 else value
        if start + size * n > len(data):
            raise DataError(f"{where}: tag {TAGS[tag]} ({tag}) holds {n} values from byte "
                            f"{start}, past the file's {len(data)} bytes; the file is damaged")
        tags[tag] = (kind, n, start)
    return tags, struct.unpack_from(order + "I", data, end)[0]


def _values(name, data, order, tags, tag, index, default=None):
    """The integer values of ``tag`` (a tuple), ``default`` where it is absent."""
    if tag not in tags:
        if default is None:
            raise DataError(f"{name}: page {index} has no {TAGS[tag]} ({tag}) tag, which a "
                            f"baseline TIFF needs; {TIFF_CONVERT}")
        return default
    kind, n, start = tags[tag]
    if kind not in INTEGER_TYPES:
        raise DataError(f"{name}: page {index}'s {TAGS[tag]} ({tag}) has field type {kind}, "
                        "not an unsigned integer type; the file is damaged")
    if n == 0:
        raise DataError(f"{name}: page {index}'s {TAGS[tag]} ({tag}) holds no value; the file "
                        "is damaged")
    code, _ = INTEGER_TYPES[kind]
    return struct.unpack_from(f"{order}{n}{code}", data, start)


def _one(name, data, order, tags, tag, index, default=None, allowed=None, fix=TIFF_CONVERT):
    """The single value of ``tag`` (every value of a per-sample tag must be the same), checked
    against ``allowed``."""
    values = _values(name, data, order, tags, tag, index, default)
    if len(set(values)) != 1:
        raise DataError(f"{name}: page {index}'s {TAGS[tag]} ({tag}) is {list(values)[:8]}; "
                        f"dltut reads images whose samples are all alike: {fix}")
    value = values[0]
    if allowed is not None and value not in allowed:
        raise DataError(f"{name}: page {index}'s {TAGS[tag]} ({tag}) is {value}; dltut reads "
                        f"{' or '.join(map(str, allowed))}: {fix}")
    return value


def _page(name, data, order, tags, index, room):
    """Page ``index`` (its directory's ``tags``) decoded, after every check."""
    for tiled in (322, 323, 324, 325):
        if tiled in tags:
            raise DataError(f"{name}: page {index} is stored in tiles ({TAGS[tiled]}); dltut "
                            f"reads TIFF images stored in strips: {TIFF_CONVERT}")
    cols = _one(name, data, order, tags, 256, index)
    rows = _one(name, data, order, tags, 257, index)
    compression = _one(name, data, order, tags, 259, index, default=(1,))
    if compression not in (1, 32773):
        raise DataError(f"{name}: page {index} is compressed with {compression} "
                        f"({COMPRESSIONS.get(compression, 'unknown')}); dltut reads "
                        f"uncompressed and PackBits TIFF images: {TIFF_CONVERT}")
    photometric = _one(name, data, order, tags, 262, index)
    if photometric not in (0, 1, 2, 3):
        raise DataError(f"{name}: page {index}'s PhotometricInterpretation is {photometric} "
                        f"({PHOTOMETRICS.get(photometric, 'unknown')}); dltut reads greyscale, "
                        f"RGB and palette images: {TIFF_CONVERT}")
    samples = _one(name, data, order, tags, 277, index, default=(1,))
    expected = 3 if photometric == 2 else 1
    if samples != expected:
        raise DataError(f"{name}: page {index} has {samples} samples a pixel; dltut reads "
                        f"{PHOTOMETRICS[photometric]} pages of {expected} (no alpha or extra "
                        f"samples): {TIFF_CONVERT}")
    bits = _values(name, data, order, tags, 258, index, default=(1,))
    if set(bits) != {8} or len(bits) not in (1, samples):
        raise DataError(f"{name}: page {index} has {list(bits)[:8]} bits a sample; dltut reads "
                        f"8-bit samples: {TIFF_CONVERT}")
    _one(name, data, order, tags, 339, index, default=(1,), allowed=(1,))  # unsigned integers
    _one(name, data, order, tags, 317, index, default=(1,), allowed=(1,))  # no predictor
    if samples > 1:
        _one(name, data, order, tags, 284, index, default=(1,), allowed=(1,))  # interleaved
    _check_pixels(f"{name}: page {index}", rows, cols, samples)
    if rows * cols * samples > room:
        raise DataError(f"{name}: the pages up to page {index} hold more than {MAX_TOTAL} "
                        "samples, more than dltut reads from one file; split the stack")
    per_strip = min(_one(name, data, order, tags, 278, index, default=(2**32 - 1,)), rows)
    if per_strip == 0:
        raise DataError(f"{name}: page {index}'s RowsPerStrip is 0; the file is damaged")
    strips = -(-rows // per_strip)
    offsets = _values(name, data, order, tags, 273, index)
    counts = _values(name, data, order, tags, 279, index)
    if len(offsets) != strips or len(counts) != strips:
        raise DataError(f"{name}: page {index} has {len(offsets)} strip offsets and "
                        f"{len(counts)} strip byte counts, its {rows} rows of {per_strip} a "
                        f"strip make {strips} strips; the file is damaged")
    row_bytes = cols * samples
    sizes = [min(per_strip, rows - i * per_strip) * row_bytes for i in range(strips)]
    for i, (start, count, size) in enumerate(zip(offsets, counts, sizes)):
        if start + count > len(data):
            raise DataError(f"{name}: page {index}, strip {i}: {count} bytes from byte {start} "
                            f"run past the file's {len(data)} bytes; the file is truncated")
        limit = size if compression == 1 else -(-size // PACKBITS_RATIO)
        if count < limit:
            raise DataError(f"{name}: page {index}, strip {i} has {count} bytes, too few for "
                            f"its {size} samples; the file is truncated or damaged")
    pixels = numpy.empty(rows * row_bytes, numpy.uint8)
    at = 0
    for i, (start, count, size) in enumerate(zip(offsets, counts, sizes)):
        if compression == 1:
            pixels[at:at + size] = numpy.frombuffer(data, numpy.uint8, size, start)
        else:
            pixels[at:at + size] = _unpackbits(data[start:start + count], size,
                                               f"{name}: page {index}, strip {i}")
        at += size
    if photometric == 0:
        pixels = 255 - pixels  # MinIsWhite: 0 is white; Pillow gives the inverted values
    return pixels.reshape((rows, cols, 3) if samples == 3 else (rows, cols))


def _unpackbits(packed, size, where):
    """A PackBits run of bytes decoded into exactly ``size`` bytes (header n: 0..127, the next
    n + 1 bytes as they are; -127..-1, the next byte 1 - n times; -128, nothing)."""
    out = bytearray()
    i, end = 0, len(packed)
    while len(out) < size:
        if i >= end:
            raise DataError(f"{where}: the PackBits data ends after {len(out)} of {size} bytes; "
                            "the file is truncated or damaged")
        n = packed[i]
        if n < 128:
            if i + 1 + n + 1 > end:
                raise DataError(f"{where}: a PackBits run of {n + 1} bytes runs past the "
                                "strip's end; the file is damaged")
            out += packed[i + 1:i + 2 + n]
            i += n + 2
        elif n > 128:
            if i + 1 >= end:
                raise DataError(f"{where}: a PackBits repeat runs past the strip's end; the "
                                "file is damaged")
            out += packed[i + 1:i + 2] * (257 - n)
            i += 2
        else:
            i += 1
    if len(out) != size:
        raise DataError(f"{where}: PackBits data decodes to {len(out)} bytes, more than the "
                        f"strip's {size}; the file is damaged")
    return numpy.frombuffer(bytes(out), numpy.uint8)


# ----------------------------------------------------------------------------------------------
# Shared checks


def _read(path, kind):
    """The bytes of ``path``, or a DataError saying why not."""
    name = os.fspath(path)
    if not os.path.isfile(name):
        what = "a folder" if os.path.isdir(name) else "no such file"
        raise DataError(f"{name}: {what}; expected a {kind}")
    try:
        with open(name, "rb") as f:
            return f.read()
    except OSError as error:
        raise DataError(f"{name}: cannot be read ({error.strerror})") from error


def _check_pixels(where, rows, cols, samples):
    if rows < 1 or cols < 1:
        raise DataError(f"{where}: an image of {rows}x{cols} pixels; the file is damaged")
    if rows * cols * samples > MAX_PIXELS:
        raise DataError(f"{where}: an image of {rows}x{cols} pixels ({samples} samples each), "
                        f"more than the {MAX_PIXELS} samples dltut reads in one image; the "
                        "header is damaged, or scale the image down")
