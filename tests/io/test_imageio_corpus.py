"""The bad-input corpus (tests/fixtures/bad_inputs.py) through pipeline.io.imageio.decode_image."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import ImageDecodeError
from pipeline.io.imageio import IMAGE_EXTENSIONS, decode_image
from tests.fixtures.bad_inputs import (
    BAD_INPUTS,
    CASES,
    DESCRIPTIONS,
    EXPECTED,
    UPRIGHT_QUADRANTS,
    UPRIGHT_WH,
    write_corpus,
)

REQUIRED_KINDS = [
    "jpeg_truncated", "png_truncated", "empty", "html_named_jpg", "plain_text", "random_bytes", "gif", "bmp",
    "jpeg_cmyk", "png_gray16", "png_rgb16", "png_palette_transparency", "png_la", "png_1bit", "png_1x1",
    "png_bomb_30000", "jpeg_bomb_30000", "jpeg_all_white", "webp_lossy", "tiff_rgb", "tiff_float32", "tiff_i16",
    "jpeg_corrupt_exif", "png_bad_crc_ihdr", "png_rgba_opaque", "png_rgba_transparent",
    *[f"jpeg_exif_orientation_{k}" for k in range(1, 9)],
]


def test_corpus_is_complete_and_self_describing():
    assert len(CASES) >= 22
    assert set(REQUIRED_KINDS) <= set(CASES)
    assert set(BAD_INPUTS) == set(EXPECTED) == set(DESCRIPTIONS) == set(CASES)
    for key, case in CASES.items():
        assert case.expected in ("ok", "error"), key
        assert case.description and "\n" not in case.description, key
        assert (case.reason_contains is not None) == (case.expected == "error"), key
        assert (case.alpha is not None) == (case.expected == "ok"), key
        assert "/" not in case.filename and "." in case.filename, key
    assert {c.expected for c in CASES.values()} == {"ok", "error"}


def test_corpus_is_deterministic():
    for key, build in BAD_INPUTS.items():
        assert build() == build(), key


@pytest.mark.parametrize("key", sorted(CASES))
def test_corpus_case(key):
    case = CASES[key]
    data = case.build()
    try:
        decoded = decode_image(data, name=case.filename)
    except ImageDecodeError as exc:
        message = str(exc)
        assert case.expected == "error", f"{key}: expected ok, got error {message!r}"
        assert message and "\n" not in message and len(message) <= 200
        assert case.reason_contains in message, f"{key}: {message!r} lacks {case.reason_contains!r}"
        return
    # anything other than ImageDecodeError propagates and fails the test
    assert case.expected == "ok", f"{key}: expected an ImageDecodeError, decoded {decoded.info}"
    rgb, alpha = decoded.rgb, decoded.alpha
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and min(rgb.shape[:2]) >= 8
    if alpha is not None:
        assert alpha.dtype == np.float32 and alpha.shape == rgb.shape[:2]
        assert 0.0 <= float(alpha.min()) < 1.0 and float(alpha.max()) <= 1.0
    assert (alpha is not None) is case.alpha, f"{key}: alpha presence"
    for field in ("format", "mode", "size", "orientation", "orientation_applied", "had_alpha", "bit_depth"):
        assert field in decoded.info, (key, field)


@pytest.mark.parametrize("fmt", ["jpeg", "tiff"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_corpus_orientations_upright(orientation, fmt):
    """JPEG and TIFF (issue 16: a TIFF with orientation 6 was refused as "1 of 2 strips missing":
    Pillow reports a quarter-turned TIFF's size swapped, and turns it upright itself while loading)."""
    decoded = decode_image(BAD_INPUTS[f"{fmt}_exif_orientation_{orientation}"]())
    assert decoded.info["orientation"] == orientation and decoded.info["size"] == (
        UPRIGHT_WH if orientation < 5 else UPRIGHT_WH[::-1])  # as stored
    rgb = decoded.rgb.astype(int)
    w, h = UPRIGHT_WH
    assert rgb.shape == (h, w, 3)
    centres = {"top_left": (h // 4, w // 4), "top_right": (h // 4, 3 * w // 4),
               "bottom_left": (3 * h // 4, w // 4), "bottom_right": (3 * h // 4, 3 * w // 4)}
    for name, (y, x) in centres.items():
        assert np.abs(rgb[y, x] - UPRIGHT_QUADRANTS[name]).max() < 16, (orientation, name, rgb[y, x])


def test_extreme_aspect_is_refused_with_one_line_and_the_limit_is_derived():
    from pipeline.config import DecodeConfig, SegmentConfig
    from pipeline.io.imageio import MAX_ASPECT

    assert MAX_ASPECT == SegmentConfig().work_side // DecodeConfig().min_side
    for key in ("png_strip_2048x8", "png_strip_9000x8"):
        with pytest.raises(ImageDecodeError, match=r"^image too narrow: \d+x8, its long side is \d+ times"):
            decode_image(BAD_INPUTS[key]())
    assert decode_image(BAD_INPUTS["png_aspect_64"]()).rgb.shape == (8, 512, 3)


def test_corpus_specific_outcomes():
    assert decode_image(BAD_INPUTS["jpeg_all_white"]()).rgb.min() >= 250
    gray16 = decode_image(BAD_INPUTS["png_gray16"]()).rgb
    assert gray16.max() > 200 and gray16.min() < 10  # spread over the range, not clipped to 255
    rgb16 = decode_image(BAD_INPUTS["png_rgb16"]()).rgb
    assert not (rgb16[..., 0] == rgb16[..., 1]).all()  # colour survives
    cutout = decode_image(BAD_INPUTS["png_rgba_transparent"]())
    assert cutout.alpha is not None and (cutout.alpha[:, :16] == 0).all() and (cutout.alpha[:, 24:] == 1).all()


def test_write_corpus(tmp_path):
    paths = write_corpus(tmp_path / "corpus")
    assert set(paths) == set(CASES)
    for key, path in paths.items():
        assert path.read_bytes() == BAD_INPUTS[key]()
    lying = [p for k, p in paths.items() if EXPECTED[k] == "error" and p.suffix in IMAGE_EXTENSIONS]
    assert lying  # error cases that an extension filter alone would let through
