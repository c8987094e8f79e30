"""pipeline.io.imageio: decoding, validation, orientation, mode conversion, encoders; property tests."""

from __future__ import annotations

import base64
import io
import os
import struct
import subprocess
import sys
import textwrap
import warnings
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from PIL import Image, ImageFile, ImageOps

from pipeline.config import DecodeConfig
from pipeline.errors import ImageDecodeError
from pipeline.io.imageio import (
    IMAGE_EXTENSIONS,
    decode_image,
    encode_jpeg,
    encode_png,
    sniff_format,
    thumbnail_data_uri,
)
from pipeline.io.imageio_convert import orient_array, png_chunks_fit, scale_to_uint8
from tests.fixtures.bad_inputs import BAD_INPUTS, CASES, oriented_jpeg

REPO = Path(__file__).resolve().parents[2]
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _save(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **params)
    return buf.getvalue()


def _rand_rgb(h: int = 24, w: int = 32, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _assert_valid(decoded) -> None:
    rgb, alpha = decoded.rgb, decoded.alpha
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.flags.c_contiguous
    if alpha is not None:
        assert alpha.dtype == np.float32 and alpha.shape == rgb.shape[:2]
        assert float(alpha.min()) >= 0.0 and float(alpha.max()) <= 1.0 and float(alpha.min()) < 1.0


def _decode_or_error(data: bytes) -> None:
    """The contract for arbitrary bytes: a valid DecodedImage or ImageDecodeError, nothing else."""
    try:
        decoded = decode_image(data)
    except ImageDecodeError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    _assert_valid(decoded)


# ------------------------------------------------------------------------------------------- smoke

def test_smoke_png_rgb_exact_and_info():
    rgb = _rand_rgb()
    decoded = decode_image(_save(Image.fromarray(rgb), "PNG"), name="x.png")
    np.testing.assert_array_equal(decoded.rgb, rgb)
    assert decoded.alpha is None
    info = decoded.info
    assert info["format"] == "PNG" and info["mode"] == "RGB" and info["size"] == (32, 24)
    assert info["orientation"] == 1 and info["orientation_applied"] is False
    assert info["had_alpha"] is False and info["bit_depth"] == 8
    assert decoded.size_hw == (24, 32)


def test_image_extensions_constant():
    from PIL import features

    always = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif")
    assert IMAGE_EXTENSIONS[:len(always)] == always
    assert (".avif" in IMAGE_EXTENSIONS) == features.check("avif") or _installed("pillow_avif")
    assert (".heic" in IMAGE_EXTENSIONS) == _installed("pillow_heif")


def _installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


@pytest.mark.parametrize(
    ("data", "label"),
    [
        (b"\xff\xd8\xff\xe0", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"RIFF\0\0\0\0WEBPVP8 ", "WEBP"),
        (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"), (b"GIF89a", "GIF"), (b"BM" + bytes(12) + b"\x28\x00\x00\x00", "BMP"), (b"BMW price list", "plain text"),
        (b"  <!doctype HTML><html>", "HTML"), (b"\xef\xbb\xbf<html>", "HTML"), (b"<svg xmlns=''/>", "SVG"),
        (b"<?xml version='1.0'?><a/>", "XML"), (b'{"a": 1}', "JSON"), ("caf\u00e9 menu".encode(), "plain text"),
        (b"\x00\x00\x00\x18ftypavif", "AVIF"), (b"\x00\x01\x02\x03\xfe", "unknown"),
    ],
)
def test_sniff_format(data, label):
    assert sniff_format(data) == label


# ------------------------------------------------------------------------------------- validation

def test_non_bytes_input_is_type_error():
    with pytest.raises(TypeError, match="data must be bytes"):
        decode_image("not bytes")  # type: ignore[arg-type]


def test_bytearray_and_memoryview_accepted_and_not_modified():
    data = bytearray(_save(Image.fromarray(_rand_rgb()), "PNG"))
    before = bytes(data)
    decode_image(data)
    decode_image(memoryview(data))
    assert bytes(data) == before


def test_max_bytes_limit():
    data = _save(Image.fromarray(_rand_rgb()), "PNG")
    with pytest.raises(ImageDecodeError, match=rf"file too large: {len(data)} bytes > limit 100"):
        decode_image(data, config=DecodeConfig(max_bytes=100))


def test_max_pixels_limit_is_the_configs():
    data = _save(Image.fromarray(_rand_rgb(24, 32)), "PNG")
    with pytest.raises(ImageDecodeError, match=r"^image too large: 32x24 = 768 pixels > limit 767$"):
        decode_image(data, config=DecodeConfig(max_pixels=767))
    assert decode_image(data, config=DecodeConfig(max_pixels=768)).rgb.shape == (24, 32, 3)


def test_min_side_limit():
    data = _save(Image.fromarray(_rand_rgb(10, 40)), "PNG")
    with pytest.raises(ImageDecodeError, match=r"image too small: 40x10, each side must be >= 11"):
        decode_image(data, config=DecodeConfig(min_side=11))
    assert decode_image(data, config=DecodeConfig(min_side=10)).rgb.shape == (10, 40, 3)


def test_no_global_side_effects_and_no_warnings_escape():
    max_pixels, load_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    bomb = _png_with_ihdr(20000, 10000)  # 200M pixels: above Pillow's own bomb *error* threshold
    jpeg = _save(Image.fromarray(_rand_rgb()), "JPEG")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in (bomb, jpeg[: len(jpeg) // 2]):
            with pytest.raises(ImageDecodeError):
                decode_image(data)
        decode_image(jpeg)
    assert Image.MAX_IMAGE_PIXELS == max_pixels
    assert ImageFile.LOAD_TRUNCATED_IMAGES == load_truncated


def _png_with_ihdr(w: int, h: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")


def test_pillow_warning_range_is_decided_by_config():
    # 100M pixels: Pillow would only warn; our default limit (50M) rejects with our message.
    with pytest.raises(ImageDecodeError, match=r"image too large: 10000x10000 = 100000000 pixels > limit 50000000"):
        decode_image(_png_with_ihdr(10000, 10000))


def test_bomb_rejected_before_any_pixel_decoding(monkeypatch):
    calls = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: calls.append("pil"))
    monkeypatch.setattr(cv2, "imdecode", lambda *a: calls.append("cv2"))
    with pytest.raises(ImageDecodeError, match="image too large: 30000x30000"):
        decode_image(_png_with_ihdr(30000, 30000))
    assert calls == []


MEMORY_CASES = ("png_bomb_30000", "jpeg_bomb_30000", "png16_huge_chunk_length", "tiff_missing_strips")


def test_hostile_headers_decode_in_small_memory():
    """Decode the size-lying corpus cases in a child whose address space is capped at +300 MiB (a 30000x30000
    decode needs 2.7 GB, libpng honouring a corrupt 855 MB chunk length ~0.8 GB); the cap is shown to bite."""
    pytest.importorskip("resource")
    if not Path("/proc/self/status").exists():
        pytest.skip("needs /proc")
    script = textwrap.dedent(f"""
        import re, resource
        from pipeline.errors import ImageDecodeError
        from pipeline.io.imageio import decode_image
        from tests.fixtures.bad_inputs import BAD_INPUTS
        from PIL import Image
        blobs = [BAD_INPUTS[k]() for k in {MEMORY_CASES!r}]
        vm = int(re.search(r"VmSize:\\s+(\\d+)", open("/proc/self/status").read()).group(1)) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (vm + 300 * 2**20, resource.RLIM_INFINITY))
        for data in blobs:
            try:
                decode_image(data)
                print("DECODED")
            except ImageDecodeError as exc:
                print("ERR", exc)
        try:
            Image.new("RGB", (30000, 30000))
            print("ALLOCATED")
        except MemoryError:
            print("CAP-BITES")
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=60)
    lines = out.stdout.splitlines()
    assert len(lines) == len(MEMORY_CASES) + 1 and lines[-1] == "CAP-BITES", out.stdout + out.stderr
    for key, line in zip(MEMORY_CASES, lines, strict=False):
        if CASES[key].expected == "ok":
            assert line == "DECODED", (key, line)
        else:
            assert line.startswith("ERR ") and CASES[key].reason_contains in line, (key, line)
            assert "too large" not in line or "30000x30000" in line, (key, line)  # not a MemoryError in disguise


def test_png_with_lying_chunk_length_never_reaches_opencv(monkeypatch):
    monkeypatch.setattr(cv2, "imdecode", lambda *args: pytest.fail("cv2.imdecode must not see this file"))
    decoded = decode_image(BAD_INPUTS["png16_huge_chunk_length"]())
    assert decoded.info["decoder"] == "pillow" and decoded.rgb.shape == (32, 40, 3)


def test_png_chunks_fit():
    good = cv2.imencode(".png", np.zeros((8, 8, 3), np.uint16))[1].tobytes()
    assert png_chunks_fit(good)
    assert not png_chunks_fit(good[:-1])
    assert not png_chunks_fit(BAD_INPUTS["png16_huge_chunk_length"]())


# ------------------------------------------------------------------------------------ orientation

def test_orient_array_matches_pillow_exif_transpose_for_all_8():
    stored = Image.fromarray(_rand_rgb(5, 7, seed=3))
    for k in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = k
        img = Image.open(io.BytesIO(_save(stored, "PNG", exif=exif.tobytes())))
        expected = np.asarray(ImageOps.exif_transpose(img))
        np.testing.assert_array_equal(orient_array(np.asarray(stored), k), expected, err_msg=f"orientation {k}")


def test_orient_array_rejects_bad_value():
    with pytest.raises(ValueError, match="orientation must be an int in 1..8, got 9"):
        orient_array(np.zeros((2, 2), np.uint8), 9)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_picture(orientation):
    decoded = decode_image(oriented_jpeg(orientation))
    rgb = decoded.rgb.astype(int)
    assert rgb.shape == (32, 48, 3)
    quadrants = {"tl": rgb[4:12, 4:20], "tr": rgb[4:12, 28:44], "bl": rgb[20:28, 4:20], "br": rgb[20:28, 28:44]}
    want = {"tl": (255, 0, 0), "tr": (0, 255, 0), "bl": (0, 0, 255), "br": (255, 255, 0)}
    for key, block in quadrants.items():
        assert np.abs(block.mean(axis=(0, 1)) - want[key]).max() < 12, (orientation, key)
    assert decoded.info["orientation"] == orientation
    assert decoded.info["orientation_applied"] is (orientation != 1)


def test_orientation_applied_once_on_opencv_16bit_path():
    """16-bit colour goes through OpenCV; the EXIF orientation (PNG eXIf chunk) is applied exactly once."""
    rgb16 = np.random.default_rng(5).integers(0, 65536, (10, 16, 3), dtype=np.uint16)
    png = cv2.imencode(".png", rgb16[:, :, ::-1].copy())[1].tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6
    raw = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif\x00\x00") else exif.tobytes()
    chunk = struct.pack(">I", len(raw)) + b"eXIf" + raw + struct.pack(">I", zlib.crc32(b"eXIf" + raw))
    iend = png.rindex(b"IEND") - 4
    decoded = decode_image(png[:iend] + chunk + png[iend:])
    assert decoded.info["decoder"] == "opencv" and decoded.info["orientation"] == 6
    np.testing.assert_array_equal(decoded.rgb, np.rot90(scale_to_uint8(rgb16, 16), -1))


# --------------------------------------------------------------------------------- mode conversion

def test_16bit_gray_png_scaled_not_clipped():
    gray = np.array([[0, 257, 32896, 65535, 128, 129, 1000, 65534]] * 8, np.uint16)
    decoded = decode_image(cv2.imencode(".png", gray)[1].tobytes())
    np.testing.assert_array_equal(decoded.rgb[0, :, 0], [0, 1, 128, 255, 0, 1, 4, 255])
    assert decoded.info["bit_depth"] == 16
    assert (decoded.rgb[..., 0] == decoded.rgb[..., 2]).all()


@pytest.mark.parametrize("ext", [".png", ".tiff"])
def test_16bit_rgb_exact_rounding_and_channel_order(ext):
    rgb16 = np.random.default_rng(1).integers(0, 65536, (12, 9, 3), dtype=np.uint16)
    rgb16[0, 0] = (65535, 0, 0)  # pure red must stay red (BGR -> RGB)
    data = cv2.imencode(ext, rgb16[:, :, ::-1].copy())[1].tobytes()
    decoded = decode_image(data)
    expected = ((rgb16.astype(np.uint32) + 128) // 257).astype(np.uint8)
    np.testing.assert_array_equal(decoded.rgb, expected)
    assert tuple(decoded.rgb[0, 0]) == (255, 0, 0) and decoded.info["bit_depth"] == 16


def test_16bit_rgba_png_alpha_full_precision():
    rgba16 = np.zeros((8, 8, 4), np.uint16)
    rgba16[..., 0] = 65535
    rgba16[..., 3] = 32768
    rgba16[0, 0, 3] = 0
    decoded = decode_image(cv2.imencode(".png", rgba16[:, :, [2, 1, 0, 3]].copy())[1].tobytes())
    assert decoded.alpha is not None
    assert decoded.alpha[0, 0] == 0.0 and decoded.alpha[1, 1] == pytest.approx(32768 / 65535, abs=1e-7)
    assert tuple(decoded.rgb[1, 1]) == (255, 0, 0)


def test_16bit_grey_alpha_png_via_opencv():
    la = np.zeros((8, 8, 2), np.uint16)
    la[..., 0], la[..., 1] = 1000, 30000
    raw = b"".join(b"\x00" + row.astype(">u2").tobytes() for row in la)

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 16, 4, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    decoded = decode_image(png)
    assert tuple(decoded.rgb[0, 0]) == (4, 4, 4)
    assert decoded.alpha is not None and decoded.alpha[0, 0] == pytest.approx(30000 / 65535, abs=1e-7)


def test_float_tiff_scaled():
    values = np.linspace(0.0, 1.0, 64, dtype=np.float32).reshape(8, 8)
    values[0, 0] = np.nan
    decoded = decode_image(_save(Image.fromarray(values), "TIFF"))
    expected = np.rint(np.nan_to_num(values) * 255).astype(np.uint8)
    np.testing.assert_array_equal(decoded.rgb[..., 1], expected)


def test_i16_tiff_scaled():
    gray = np.full((8, 8), 65535, np.uint16)
    gray[0] = 257
    decoded = decode_image(_save(Image.fromarray(gray), "TIFF"))
    assert decoded.info["mode"].startswith("I;16")
    assert decoded.rgb[0, 0, 0] == 1 and decoded.rgb[1, 0, 0] == 255


def test_cmyk_jpeg_colours():
    cmyk = Image.new("CMYK", (16, 16), (0, 0, 0, 0))
    cmyk.paste((255, 0, 0, 0), (0, 0, 8, 16))  # left half pure cyan
    decoded = decode_image(_save(cmyk, "JPEG", quality=95))
    assert decoded.info["mode"] == "CMYK"
    assert np.abs(decoded.rgb[4, 12].astype(int) - 255).max() < 8  # white
    assert np.abs(decoded.rgb[4, 2].astype(int) - (0, 255, 255)).max() < 12  # cyan


def test_palette_transparency_becomes_alpha():
    img = Image.new("P", (10, 10), 1)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(0, (0, 0, 5, 10))
    decoded = decode_image(_save(img, "PNG", transparency=0))
    assert decoded.alpha is not None
    assert (decoded.alpha[:, :5] == 0).all() and (decoded.alpha[:, 5:] == 1).all()
    assert tuple(decoded.rgb[0, 7]) == (255, 0, 0)


def test_rgb_colour_key_transparency_becomes_alpha():
    arr = np.full((8, 8, 3), 200, np.uint8)
    arr[:, :3] = (1, 2, 3)
    decoded = decode_image(_save(Image.fromarray(arr), "PNG", transparency=(1, 2, 3)))
    assert decoded.alpha is not None and (decoded.alpha[:, :3] == 0).all() and (decoded.alpha[:, 3:] == 1).all()


def test_rgba_alpha_values_and_opaque_is_none():
    arr = np.dstack([_rand_rgb(8, 8), np.full((8, 8), 255, np.uint8)])
    assert decode_image(_save(Image.fromarray(arr), "PNG")).alpha is None
    assert decode_image(_save(Image.fromarray(arr), "PNG")).info["had_alpha"] is True
    arr[0, 0, 3], arr[0, 1, 3] = 0, 51
    decoded = decode_image(_save(Image.fromarray(arr), "PNG"))
    assert decoded.alpha[0, 0] == 0.0 and decoded.alpha[0, 1] == pytest.approx(0.2) and decoded.alpha[1, 1] == 1.0
    np.testing.assert_array_equal(decoded.rgb, arr[:, :, :3])  # transparent pixels' colours left as stored


def test_one_bit_and_la():
    bits = np.zeros((8, 8), bool)
    bits[:, 4:] = True
    decoded = decode_image(_save(Image.fromarray(bits), "PNG"))
    assert decoded.info["bit_depth"] == 1
    assert (decoded.rgb[:, :4] == 0).all() and (decoded.rgb[:, 4:] == 255).all()
    la = np.dstack([np.full((8, 8), 90, np.uint8), np.full((8, 8), 255, np.uint8)])
    la[0, 0, 1] = 0
    decoded = decode_image(_save(Image.fromarray(la, "LA"), "PNG"))
    assert tuple(decoded.rgb[3, 3]) == (90, 90, 90) and decoded.alpha[0, 0] == 0.0


def test_corrupt_exif_is_ignored():
    data = _save(Image.fromarray(_rand_rgb()), "JPEG")
    junk = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"
    data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(junk) + 2) + junk + data[2:]
    decoded = decode_image(data)
    assert decoded.info["orientation"] == 1 and decoded.rgb.shape == (24, 32, 3)


def test_scale_to_uint8_other_depths():
    np.testing.assert_array_equal(scale_to_uint8(np.array([0, 2, 4, 15]), 4), [0, 34, 68, 255])
    np.testing.assert_array_equal(scale_to_uint8(np.array([-5, 2**32 - 1], np.int64), 32), [0, 255])
    with pytest.raises(ValueError, match="bits must be in 1..32, got 0"):
        scale_to_uint8(np.zeros(2), 0)


# ---------------------------------------------------------------------------------------- errors

def test_error_messages_are_one_line_and_specific():
    jpeg = _save(Image.fromarray(_rand_rgb(64, 64)), "JPEG")
    truncated = r"^truncated JPEG: image file is truncated \(\d+ bytes not processed\)$"
    with pytest.raises(ImageDecodeError, match=truncated):
        decode_image(jpeg[: len(jpeg) * 2 // 3])
    with pytest.raises(ImageDecodeError, match=r"^not an image: looks like HTML$"):
        decode_image(b"<!DOCTYPE html><html><body>Forbidden</body></html>")
    with pytest.raises(ImageDecodeError, match=r"^unsupported format BMP; convert to PNG or JPEG$"):
        decode_image(_save(Image.fromarray(_rand_rgb()), "BMP"))
    with pytest.raises(ImageDecodeError, match=r"^empty file \(0 bytes\)$"):
        decode_image(b"")


# ------------------------------------------------------------------------------------- encoders

def test_encode_png_roundtrip_rgb_gray_rgba():
    rgb = _rand_rgb()
    np.testing.assert_array_equal(decode_image(encode_png(rgb)).rgb, rgb)
    gray = rgb[:, :, 0].copy()
    np.testing.assert_array_equal(decode_image(encode_png(gray)).rgb[..., 0], gray)
    np.testing.assert_array_equal(decode_image(encode_png(gray[:, :, None])).rgb[..., 2], gray)
    rgba = np.dstack([rgb, np.full(gray.shape, 128, np.uint8)])
    decoded = decode_image(encode_png(rgba))
    np.testing.assert_array_equal(decoded.rgb, rgb)
    assert decoded.alpha is not None and decoded.alpha[0, 0] == pytest.approx(128 / 255)


def test_encode_jpeg_roundtrip_and_quality():
    y, x = np.mgrid[0:48, 0:64]
    smooth = np.dstack([x * 3, y * 4, np.full_like(x, 99)]).astype(np.uint8)
    data = encode_jpeg(smooth, quality=95)
    assert data[:3] == b"\xff\xd8\xff"
    assert np.abs(decode_image(data).rgb.astype(int) - smooth).mean() < 2.0
    assert len(encode_jpeg(_rand_rgb(), quality=10)) < len(encode_jpeg(_rand_rgb(), quality=95))


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: encode_png(np.zeros((4, 4), np.float32)), "rgb_or_gray must be a uint8 numpy array"),
        (lambda: encode_png(np.zeros((4, 4, 2), np.uint8)), r"rgb_or_gray must be HW or HWC with C in \(1, 3, 4\)"),
        (lambda: encode_png(np.zeros((0, 4), np.uint8)), "got shape"),
        (lambda: encode_jpeg(np.zeros((4, 4, 4), np.uint8)), r"rgb must be HW or HWC with C in \(1, 3\)"),
        (lambda: encode_jpeg(np.zeros((4, 4, 3), np.uint8), quality=0), "quality must be an int in 1..100, got 0"),
        (lambda: thumbnail_data_uri(np.zeros((4, 4, 3), np.uint8), max_side=0), "max_side must be an int >= 1"),
        (lambda: thumbnail_data_uri([[1]]), "rgb must be a uint8 numpy array"),  # type: ignore[arg-type]
    ],
)
def test_encoder_validation(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize(("shape", "thumb_hw"), [((300, 600, 3), (80, 160)), ((90, 40, 3), (90, 40)),
                                                  ((1000, 500), (160, 80))])
def test_thumbnail_data_uri(shape, thumb_hw):
    uri = thumbnail_data_uri(np.full(shape, 77, np.uint8))
    prefix = "data:image/jpeg;base64,"
    assert uri.startswith(prefix)
    decoded = decode_image(base64.b64decode(uri[len(prefix):]), config=DecodeConfig(min_side=1))
    assert decoded.rgb.shape[:2] == thumb_hw


# ------------------------------------------------------------------------------ property tests

_LOSSLESS = {"PNG": {}, "TIFF": {}, "WEBP": {"lossless": True, "exact": True}}
_image_arrays = st.sampled_from([(), (3,), (4,)]).flatmap(
    lambda extra: arrays(np.uint8, st.tuples(st.integers(8, 20), st.integers(8, 20)).map(lambda hw: hw + extra)))


@PROPERTY
@given(arr=_image_arrays, fmt=st.sampled_from(["PNG", "TIFF", "WEBP"]))
def test_property_lossless_roundtrip_exact(arr, fmt):
    data = _save(Image.fromarray(arr), fmt, **_LOSSLESS[fmt])
    decoded = decode_image(data)
    _assert_valid(decoded)
    h, w = arr.shape[:2]
    assert decoded.rgb.shape == (h, w, 3)
    if arr.ndim == 2:
        for c in range(3):
            np.testing.assert_array_equal(decoded.rgb[..., c], arr)
        assert decoded.alpha is None
        return
    visible = arr[..., 3] > 0 if arr.shape[2] == 4 else np.ones((h, w), bool)
    np.testing.assert_array_equal(decoded.rgb[visible], arr[..., :3][visible])
    if arr.shape[2] == 4 and (arr[..., 3] < 255).any():
        np.testing.assert_allclose(decoded.alpha, arr[..., 3] / 255.0, atol=1e-6)
    else:
        assert decoded.alpha is None


@PROPERTY
@given(arr=_image_arrays, fmt=st.sampled_from(["JPEG", "WEBP"]), quality=st.integers(30, 95))
def test_property_lossy_roundtrip_shape(arr, fmt, quality):
    img = Image.fromarray(arr)
    if fmt == "JPEG" and img.mode == "RGBA":
        img = img.convert("RGB")
    decoded = decode_image(_save(img, fmt, quality=quality))
    _assert_valid(decoded)
    assert decoded.rgb.shape == arr.shape[:2] + (3,)


@PROPERTY
@given(data=st.binary(max_size=2048))
def test_property_random_bytes_only_decode_error(data):
    _decode_or_error(data)


_MAGICS = [b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"RIFF\x00\x01\x00\x00WEBPVP8 "]


@PROPERTY
@given(magic=st.sampled_from(_MAGICS), tail=st.binary(max_size=1024))
def test_property_magic_prefixed_garbage_only_decode_error(magic, tail):
    _decode_or_error(magic + tail)


def _valid_files() -> dict[str, bytes]:
    y, x = np.mgrid[0:40, 0:48]
    smooth = np.dstack([x * 5, y * 6, (x + y) * 2]).astype(np.uint8)
    rgba = np.dstack([smooth, np.where(x > 10, 255, 0).astype(np.uint8)])
    return {
        "JPEG": _save(Image.fromarray(smooth), "JPEG"),
        "JPEG-progressive": _save(Image.fromarray(smooth), "JPEG", progressive=True),
        "PNG": _save(Image.fromarray(smooth), "PNG"),
        "PNG-RGBA": _save(Image.fromarray(rgba), "PNG"),
        "PNG-16": cv2.imencode(".png", smooth.astype(np.uint16) * 257)[1].tobytes(),
        "WEBP": _save(Image.fromarray(smooth), "WEBP"),
        "TIFF": _save(Image.fromarray(smooth), "TIFF", compression="tiff_lzw"),
    }


VALID_FILES = _valid_files()


@PROPERTY
@given(key=st.sampled_from(sorted(VALID_FILES)), frac=st.floats(0.0, 1.0))
def test_property_random_truncation_only_decode_error(key, frac):
    data = VALID_FILES[key]
    _decode_or_error(data[: int(len(data) * frac)])


@PROPERTY
@given(key=st.sampled_from(sorted(VALID_FILES)), data=st.data())
def test_property_random_byte_corruption_only_decode_error(key, data):
    blob = bytearray(VALID_FILES[key])
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    _decode_or_error(bytes(blob))
