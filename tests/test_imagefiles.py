"""imagefiles: the BMP and TIFF readers give what Pillow gives on the files Pillow writes and on
the variants written byte by byte (segm_files); anything else, or a damaged file, is one
DataError naming the file, the value and what to do, before any large allocation."""

import struct

import numpy
import pytest

from dltut import imagefiles
from dltut.data import DataError
from segm_files import packbits, write_bmp, write_tiff

Image = pytest.importorskip("PIL.Image")


def pillow_pages(path):
    image = Image.open(path)
    pages = []
    for i in range(getattr(image, "n_frames", 1)):
        image.seek(i)
        pages.append(numpy.array(image))
    return pages


@pytest.fixture
def rng():
    return numpy.random.RandomState(42)


# ----------------------------------------------------------------------------------------------
# BMP


@pytest.mark.parametrize("shape", [(7, 5), (1, 1), (3, 4), (13, 10)])
def test_bmp_24_bit_as_pillow_writes_it(tmp_path, rng, shape):
    pixels = rng.randint(0, 256, shape + (3,)).astype(numpy.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.bmp")
    got = imagefiles.read_bmp(tmp_path / "a.bmp")
    assert got.dtype == numpy.uint8 and got.shape == shape + (3,)
    numpy.testing.assert_array_equal(got, pixels)
    numpy.testing.assert_array_equal(got, numpy.array(Image.open(tmp_path / "a.bmp")))


@pytest.mark.parametrize("mode", ["L", "P"])
def test_bmp_8_bit_through_its_palette_as_pillow_converts_it(tmp_path, rng, mode):
    grey = rng.randint(0, 256, (9, 6)).astype(numpy.uint8)
    image = Image.fromarray(grey)
    (image if mode == "L" else image.convert("RGB").quantize(17)).save(tmp_path / "a.bmp")
    expected = numpy.array(Image.open(tmp_path / "a.bmp").convert("RGB"))
    numpy.testing.assert_array_equal(imagefiles.read_bmp(tmp_path / "a.bmp"), expected)


def test_bmp_top_down_and_short_palettes(tmp_path, rng):
    pixels = rng.randint(0, 256, (5, 3, 3)).astype(numpy.uint8)
    write_bmp(tmp_path / "t.bmp", pixels, top_down=True)
    numpy.testing.assert_array_equal(imagefiles.read_bmp(tmp_path / "t.bmp"), pixels)
    numpy.testing.assert_array_equal(numpy.array(Image.open(tmp_path / "t.bmp")), pixels)
    palette = rng.randint(0, 256, (5, 3))
    indices = rng.randint(0, 5, (4, 7))
    write_bmp(tmp_path / "p.bmp", indices, palette=palette, header=124)
    numpy.testing.assert_array_equal(imagefiles.read_bmp(tmp_path / "p.bmp"), palette[indices])


def _bmp_bytes(tmp_path, rng, **kwargs):
    write_bmp(tmp_path / "ok.bmp", rng.randint(0, 256, (4, 5, 3)).astype(numpy.uint8), **kwargs)
    return bytearray((tmp_path / "ok.bmp").read_bytes())


def _refused(path, data, *words):
    path.write_bytes(bytes(data))
    with pytest.raises(DataError) as error:
        (imagefiles.read_tiff if path.suffix == ".tif" else imagefiles.read_bmp)(path)
    text = str(error.value)
    assert str(path) in text and "\n" not in text, text
    for word in words:
        assert word in text, text
    return text


@pytest.mark.parametrize("offset,form,value,words", [
    (0, "2s", b"PK", ["not a Windows BMP", "Pillow"]),
    (14, "<I", 12, ["OS/2", "Pillow"]),
    (14, "<I", 99, ["99-byte"]),
    (18, "<i", 0, ["width 0"]),
    (18, "<i", -3, ["width -3"]),
    (22, "<i", 0, ["height 0"]),
    (26, "<H", 2, ["2 colour planes"]),
    (28, "<H", 32, ["32 bits", "24-bit"]),
    (28, "<H", 4, ["4 bits"]),
    (30, "<I", 1, ["RLE8", "uncompressed"]),
    (30, "<I", 3, ["BITFIELDS"]),
    (10, "<I", 20, ["inside"]),
    (10, "<I", 10**6, ["truncated"]),
    (18, "<i", 2**30, ["more than"]),
    (22, "<i", -(2**30), ["more than"]),
])
def test_bmp_headers_refused(tmp_path, rng, offset, form, value, words):
    data = _bmp_bytes(tmp_path, rng)
    struct.pack_into(form, data, offset, value)
    _refused(tmp_path / "bad.bmp", data, *words)


def test_bmp_truncated_and_bad_palettes_refused(tmp_path, rng):
    data = _bmp_bytes(tmp_path, rng)
    _refused(tmp_path / "short.bmp", data[:-7], "truncated")
    _refused(tmp_path / "tiny.bmp", data[:10], "too short")
    _refused(tmp_path / "header.bmp", data[:30], "truncated")
    write_bmp(tmp_path / "p.bmp", [[0, 1, 5]], palette=[(1, 2, 3), (4, 5, 6)])
    _refused(tmp_path / "index.bmp", (tmp_path / "p.bmp").read_bytes(), "index 5")
    data = bytearray((tmp_path / "p.bmp").read_bytes())
    struct.pack_into("<I", data, 46, 300)
    _refused(tmp_path / "colours.bmp", data, "300 palette colours")
    struct.pack_into("<I", data, 46, 200)
    _refused(tmp_path / "overlap.bmp", data, "runs past the pixel data")
    _refused(tmp_path / "empty.bmp", b"", "too short")


def test_missing_and_folder(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        imagefiles.read_bmp(tmp_path / "none.bmp")
    with pytest.raises(DataError, match="a folder"):
        imagefiles.read_tiff(tmp_path)


# ----------------------------------------------------------------------------------------------
# TIFF


@pytest.mark.parametrize("compression", [None, "packbits"])
def test_tiff_stacks_as_pillow_writes_them(tmp_path, rng, compression):
    pages = [rng.randint(0, 256, (9, 7)).astype(numpy.uint8) for _ in range(5)]
    pages[2][:, :4] = 17  # runs for PackBits
    images = [Image.fromarray(p) for p in pages]
    images[0].save(tmp_path / "s.tif", save_all=True, append_images=images[1:],
                   compression=compression)
    got = imagefiles.read_tiff(tmp_path / "s.tif")
    assert len(got) == 5 and all(g.dtype == numpy.uint8 for g in got)
    for mine, theirs, made in zip(got, pillow_pages(tmp_path / "s.tif"), pages):
        numpy.testing.assert_array_equal(mine, made)
        numpy.testing.assert_array_equal(mine, theirs)


@pytest.mark.parametrize("compression", [None, "packbits"])
def test_tiff_rgb_and_palette_as_pillow_gives_them(tmp_path, rng, compression):
    rgb = rng.randint(0, 256, (6, 5, 3)).astype(numpy.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.tif", compression=compression)
    numpy.testing.assert_array_equal(imagefiles.read_tiff(tmp_path / "rgb.tif")[0], rgb)
    Image.fromarray(rgb).quantize(9).save(tmp_path / "p.tif", compression=compression)
    numpy.testing.assert_array_equal(imagefiles.read_tiff(tmp_path / "p.tif")[0],
                                     pillow_pages(tmp_path / "p.tif")[0])


@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("compression", [1, 32773])
@pytest.mark.parametrize("rows_per_strip", [None, 1, 4])
def test_tiff_byte_orders_strips_and_packbits(tmp_path, rng, order, compression,
                                              rows_per_strip):
    pages = [rng.randint(0, 4, (9, 11)).astype(numpy.uint8) * 60 for _ in range(3)]
    write_tiff(tmp_path / "s.tif", pages, order=order, compression=compression,
               rows_per_strip=rows_per_strip)
    got = imagefiles.read_tiff(tmp_path / "s.tif")
    for mine, theirs, made in zip(got, pillow_pages(tmp_path / "s.tif"), pages):
        numpy.testing.assert_array_equal(mine, made)
        numpy.testing.assert_array_equal(mine, theirs)


def test_tiff_min_is_white_inverted_as_pillow(tmp_path, rng):
    page = rng.randint(0, 256, (5, 6)).astype(numpy.uint8)
    write_tiff(tmp_path / "w.tif", [page], photometric=0)
    numpy.testing.assert_array_equal(imagefiles.read_tiff(tmp_path / "w.tif")[0], 255 - page)
    numpy.testing.assert_array_equal(pillow_pages(tmp_path / "w.tif")[0], 255 - page)


def test_packbits_decoding_against_the_encoder():
    data = bytes([0] * 300 + list(range(200)) + [7] * 3 + [1, 2] + [9] * 128)
    decoded = imagefiles._unpackbits(packbits(data), len(data), "x")
    assert decoded.tobytes() == data
    # a -128 header is skipped (no operation), as the specification says
    assert imagefiles._unpackbits(b"\x80\x01ab", 2, "x").tobytes() == b"ab"


def _tiff(tmp_path, rng, **kwargs):
    page = rng.randint(0, 256, (6, 5)).astype(numpy.uint8)
    write_tiff(tmp_path / "ok.tif", [page, page], **kwargs)
    return bytearray((tmp_path / "ok.tif").read_bytes())


def _entry(data, tag, order="<"):
    """The byte offset of ``tag``'s entry in the first directory."""
    first = struct.unpack_from(order + "I", data, 4)[0]
    count = struct.unpack_from(order + "H", data, first)[0]
    for at in range(first + 2, first + 2 + 12 * count, 12):
        if struct.unpack_from(order + "H", data, at)[0] == tag:
            return at
    raise KeyError(tag)


@pytest.mark.parametrize("tag,value,words", [
    (259, 5, ["LZW", "tiffcp -c none"]),
    (259, 8, ["Deflate"]),
    (259, 7, ["JPEG"]),
    (262, 5, ["CMYK"]),
    (262, 2, ["1 samples", "RGB pages of 3"]),
    (277, 2, ["2 samples"]),
    (258, 16, ["[16] bits", "8-bit"]),
    (258, 1, ["[1] bits"]),
    (256, 0, ["6x0 pixels"]),
    (257, 70000, ["11667 strips"]),
    (256, 2**31, ["more than"]),
    (278, 0, ["RowsPerStrip is 0"]),
    (278, 2, ["strip offsets"]),
    (273, 10**7, ["run past"]),
    (279, 3, ["too few"]),
])
def test_tiff_fields_refused(tmp_path, rng, tag, value, words):
    data = _tiff(tmp_path, rng)
    at = _entry(data, tag)
    struct.pack_into("<I", data, at + 8, value)  # (SHORT values sit in the first two bytes)
    if struct.unpack_from("<H", data, at + 2)[0] == 3:
        struct.pack_into("<HH", data, at + 8, value % 65536, 0)
        if value >= 65536:
            struct.pack_into("<HI", data, at + 2, 4, 1)
            struct.pack_into("<I", data, at + 8, value)
    _refused(tmp_path / "bad.tif", data, *words)


def test_tiff_structure_refused(tmp_path, rng):
    data = _tiff(tmp_path, rng)
    _refused(tmp_path / "magic.tif", b"GIF89a" + bytes(data[6:]), "not a TIFF")
    big = bytearray(data)
    struct.pack_into("<H", big, 2, 43)
    _refused(tmp_path / "big.tif", big, "BigTIFF", "tiffcp")
    struct.pack_into("<H", big, 2, 41)
    _refused(tmp_path / "version.tif", big, "version 41")
    _refused(tmp_path / "short.tif", data[:5], "too short")
    _refused(tmp_path / "cut.tif", data[:len(data) // 2], "page 0")
    loop = bytearray(data)
    first = struct.unpack_from("<I", loop, 4)[0]
    count = struct.unpack_from("<H", loop, first)[0]
    struct.pack_into("<I", loop, first + 2 + 12 * count, first)
    _refused(tmp_path / "loop.tif", loop, "loop")
    nowhere = bytearray(data)
    struct.pack_into("<I", nowhere, 4, 10**8)
    _refused(tmp_path / "nowhere.tif", nowhere, "outside")
    many = bytearray(data)
    struct.pack_into("<H", many, first, 60000)
    _refused(tmp_path / "many.tif", many, "60000 entries")
    zero = bytearray(data)
    struct.pack_into("<I", zero, 4, 0)
    _refused(tmp_path / "zero.tif", zero, "no page")
    kind = bytearray(data)
    struct.pack_into("<H", kind, _entry(kind, 256) + 2, 99)
    _refused(tmp_path / "kind.tif", kind, "field type 99")
    struct.pack_into("<H", kind, _entry(kind, 256) + 2, 11)
    _refused(tmp_path / "float.tif", kind, "not an unsigned integer")


def test_tiff_missing_tags_tiles_and_samples_refused(tmp_path, rng):
    page = rng.randint(0, 256, (6, 5)).astype(numpy.uint8)
    write_tiff(tmp_path / "tiles.tif", [page], extra=[(322, 3, [16])])
    _refused(tmp_path / "tiles2.tif", (tmp_path / "tiles.tif").read_bytes(), "tiles")
    write_tiff(tmp_path / "float.tif", [page], extra=[(339, 3, [3])])
    _refused(tmp_path / "float2.tif", (tmp_path / "float.tif").read_bytes(), "SampleFormat")
    write_tiff(tmp_path / "pred.tif", [page], extra=[(317, 3, [2])])
    _refused(tmp_path / "pred2.tif", (tmp_path / "pred.tif").read_bytes(), "Predictor")
    rgb = rng.randint(0, 256, (4, 4, 3)).astype(numpy.uint8)
    write_tiff(tmp_path / "planar.tif", [rgb], extra=[(284, 3, [2])])
    _refused(tmp_path / "planar2.tif", (tmp_path / "planar.tif").read_bytes(), "Planar")
    write_tiff(tmp_path / "plain.tif", [page])
    data = bytearray((tmp_path / "plain.tif").read_bytes())
    struct.pack_into("<H", data, _entry(data, 279), 1)  # StripByteCounts -> tag 1 (unknown)
    _refused(tmp_path / "nocounts.tif", data, "no StripByteCounts", "tiffcp")


def test_tiff_packbits_damage_refused(tmp_path):
    page = numpy.arange(40, dtype=numpy.uint8).reshape(5, 8)
    write_tiff(tmp_path / "p.tif", [page], compression=32773)
    data = bytearray((tmp_path / "p.tif").read_bytes())
    start = struct.unpack_from("<I", data, _entry(data, 273) + 8)[0]
    data[start] = 0x81  # a repeat of 128 bytes, past the strip's 40
    _refused(tmp_path / "over.tif", data, "more than the strip's")
    data[start] = 120  # a literal run longer than the strip's bytes
    _refused(tmp_path / "long.tif", data, "runs past")
    counts = _entry(data, 279)
    data[start] = 39
    struct.pack_into("<I", data, counts + 8, 3)  # the strip cut short
    _refused(tmp_path / "short.tif", data, "runs past")
    struct.pack_into("<I", data, counts + 8, 0)
    _refused(tmp_path / "empty.tif", data, "too few")


def test_sizes_are_checked_before_allocating(tmp_path, monkeypatch):
    """A header asking for more than MAX_PIXELS (or more than the bytes could hold) is refused
    from its header, without allocating: numpy.empty is never reached."""
    page = numpy.zeros((4, 4), numpy.uint8)
    write_tiff(tmp_path / "a.tif", [page], compression=32773)
    data = bytearray((tmp_path / "a.tif").read_bytes())
    struct.pack_into("<I", data, _entry(data, 256) + 8, 60000)
    struct.pack_into("<I", data, _entry(data, 257) + 8, 60000)
    struct.pack_into("<I", data, _entry(data, 278) + 8, 60000)

    def no_allocation(*args, **kwargs):
        raise AssertionError("allocated")

    monkeypatch.setattr(imagefiles.numpy, "empty", no_allocation)
    _refused(tmp_path / "huge.tif", data, "more than")
    monkeypatch.setattr(imagefiles, "MAX_PIXELS", 1 << 40)
    monkeypatch.setattr(imagefiles, "MAX_TOTAL", 1 << 40)
    _refused(tmp_path / "huge2.tif", data, "too few")  # 60000x60000 from a few bytes
    monkeypatch.undo()
    monkeypatch.setattr(imagefiles, "MAX_TOTAL", 20)
    write_tiff(tmp_path / "two.tif", [page, page])
    _refused(tmp_path / "two2.tif", (tmp_path / "two.tif").read_bytes(), "split the stack")
