"""Decoding and validation of untrusted image bytes, plus small encode helpers.

``decode_image`` accepts JPEG, PNG, WebP, TIFF and GIF, plus HEIC/HEIF and AVIF when a plugin
is installed (``pillow-heif``; Pillow's own AVIF support or ``pillow-avif-plugin``). It checks the
byte size and the header's width*height *before* any pixel is decoded (decompression bombs),
forces a full decode so truncation is caught, applies the EXIF orientation, converts every mode
to RGB uint8 HWC and an embedded non-sRGB ICC profile to sRGB (:mod:`pipeline.io.icc`).
Animated GIF/WebP and multi-page TIFF decode their first frame (``info["n_frames"]`` says so).
Every failure on bad bytes is an :class:`~pipeline.errors.ImageDecodeError` with a one-line
reason. Nothing global is changed (no ``Image.MAX_IMAGE_PIXELS``, no ``LOAD_TRUNCATED_IMAGES``);
the warnings filter is touched only inside ``warnings.catch_warnings``, which is process-wide
and not thread-safe on Python < 3.14 (at worst a Pillow warning is shown or lost).
"""

from __future__ import annotations

import base64
import io
import logging
import struct
import warnings
from typing import Any

import cv2
import numpy as np
from PIL import Image

from pipeline.config import DecodeConfig
from pipeline.errors import ImageDecodeError
from pipeline.io.formats import IMAGE_EXTENSIONS, SUPPORTED_FORMATS, unsupported_reason
from pipeline.io.icc import SRGB_ICC, embed_srgb_jpeg, embed_srgb_png, to_srgb
from pipeline.io.imageio_convert import bit_depth, decode_pixels, orient_array, stored_size
from pipeline.types import DecodedImage

logger = logging.getLogger(__name__)

__all__ = ["IMAGE_EXTENSIONS", "SUPPORTED_FORMATS", "decode_image", "encode_image", "encode_jpeg", "encode_png",
           "sniff_format", "thumbnail_data_uri"]
_MAGIC = (  # (prefix, offset, label); labels in SUPPORTED_FORMATS are Pillow format names
    (b"\xff\xd8\xff", 0, "JPEG"), (b"\x89PNG\r\n\x1a\n", 0, "PNG"), (b"II*\x00", 0, "TIFF"),
    (b"MM\x00*", 0, "TIFF"), (b"II+\x00", 0, "TIFF"), (b"MM\x00+", 0, "TIFF"),
    (b"GIF87a", 0, "GIF"), (b"GIF89a", 0, "GIF"), (b"%PDF", 0, "PDF"),
    (b"8BPS", 0, "PSD"), (b"\x00\x00\x01\x00", 0, "ICO"), (b"\x00\x00\x00\x0cjP  ", 0, "JPEG2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG2000"), (b"\xff\x0a", 0, "JPEG XL"), (b"qoif", 0, "QOI"),
)
_FTYP_BRANDS = {b"avif": "AVIF", b"avis": "AVIF", b"heic": "HEIF", b"heix": "HEIF", b"mif1": "HEIF",
                b"msf1": "HEIF", b"hevc": "HEIF", b"jxl ": "JPEG XL"}
_TEXT_KINDS = ("HTML", "XML", "JSON", "plain text")
# Longest side / shortest side accepted. The stages work at 512 px on the long side (the segmenter's
# and the logo finder's work size) and need at least 8 px (DecodeConfig.min_side) across there:
# 512 / 8 = 64. A 2048x8 strip would reach them 2 px high (OpenCV then fails on empty crops).
MAX_ASPECT = 64


def sniff_format(data: bytes) -> str:
    """What the leading bytes say the data is.

    One of SUPPORTED_FORMATS, another image format's name (GIF, BMP, SVG, HEIF, ...),
    a text kind (HTML, XML, JSON, plain text) or "unknown".
    """
    head = bytes(data[:512])
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    for prefix, offset, label in _MAGIC:
        if head[offset:offset + len(prefix)] == prefix:
            return label
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in (12, 40, 52, 56, 64, 108, 124):
        return "BMP"  # "BM" plus a known DIB header size, so text starting "BM..." is not a BMP
    if head[4:8] == b"ftyp":
        return _FTYP_BRANDS.get(head[8:12], "ISO media (MP4/HEIF family)")
    return _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    text = head.decode("utf-8", errors="ignore") if head.startswith(b"\xef\xbb\xbf") else None
    if text is None:
        try:
            text = head.decode("utf-8")
        except UnicodeDecodeError as exc:  # a multi-byte char cut at the sample's end is fine
            if exc.start < len(head) - 3:
                return "unknown"
            text = head[: exc.start].decode("utf-8")
    text = text.lstrip("\ufeff \t\r\n").lower()
    if not text or any(not (c.isprintable() or c in "\t\r\n") for c in text):
        return "unknown"
    if text.startswith("<svg") or (text.startswith("<?xml") and "<svg" in text):
        return "SVG"
    if text.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in text:
        return "HTML"
    if text.startswith("<"):
        return "XML"
    return "JSON" if text.startswith(("{", "[")) else "plain text"


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _open_header(data: bytes, fmt: str) -> Image.Image:
    """Parse the header only (no pixels). Pillow's own bomb check (DecompressionBombError above
    2 * Image.MAX_IMAGE_PIXELS) is bypassed by opening with the plugin's factory, so the caller's
    config limit is the one that decides, with a message that names the size."""
    try:
        return Image.open(io.BytesIO(data), formats=[fmt])
    except Image.DecompressionBombError:
        factory, _accept = Image.OPEN[fmt]
        return factory(io.BytesIO(data), "")
    except Image.UnidentifiedImageError:  # Image.open hides the parser's reason; ask again for it
        Image.OPEN[fmt][0](io.BytesIO(data), "")
        raise ValueError("header could not be parsed") from None


def _orientation(img: Image.Image, info: dict[str, Any]) -> int:
    """EXIF orientation 1..8 (XMP tiff:Orientation too, via Pillow); 1 when absent or corrupt."""
    try:
        value = img.getexif().get(0x0112, 1)
    except Exception as exc:  # noqa: BLE001 - corrupt EXIF must not reject the image
        info["exif_error"] = _one_line(exc)
        return 1
    if isinstance(value, int) and 1 <= value <= 8:
        return value
    info["exif_error"] = f"invalid orientation value {value!r}"
    return 1


def _n_frames(img: Image.Image) -> int | None:
    """Frame/page count (only the first is used); None when the later frames are unreadable."""
    try:
        return int(getattr(img, "n_frames", 1))
    except Exception:  # noqa: BLE001 - a broken later page does not spoil the first
        return None


def decode_image(data: bytes, *, name: str = "<bytes>", config: DecodeConfig | None = None) -> DecodedImage:
    """Validate and decode untrusted image bytes.

    Returns rgb HWC uint8 RGB (EXIF orientation applied) and alpha HW float32 in [0, 1] when the
    file has an alpha channel or palette/colour-key transparency that is actually used (some
    pixel below fully opaque), else None. Colours under alpha == 0 are left as stored and are
    meaningless. ``info``: format, mode, size (w, h as stored), orientation, orientation_applied,
    had_alpha, bit_depth, decoder, n_frames (only the first frame is decoded), icc_profile (None, or
    the source profile's description, sha256 and whether it was converted to sRGB), exif_error
    (only when EXIF was unreadable; orientation then 1).
    Raises ImageDecodeError (one-line reason) for empty, oversize, unsupported, truncated or
    corrupt data; TypeError when ``data`` is not bytes-like. Never modifies ``data``.
    """
    cfg = config if config is not None else DecodeConfig()
    data = _check_bytes(data, cfg)  # 1. bytes-like, not empty, not over max_bytes
    fmt = _check_format(data)  # 2. magic bytes: a format in SUPPORTED_FORMATS only
    label = {"WEBP": "WebP", "HEIF": "HEIC"}.get(fmt, fmt)
    info: dict[str, Any] = {"format": label}
    try:  # 3. header limits, then a full decode (catches truncation), then the EXIF orientation
        rgb, alpha, orientation, to_apply = _decode_checked(data, fmt, cfg, info, name)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, MemoryError) as exc:
        raise ImageDecodeError(f"image too large: {_one_line(exc)}") from exc
    except Exception as exc:
        raise _decode_error(exc, label, header_done="bit_depth" in info) from exc
    info.update(orientation=orientation, orientation_applied=orientation != 1, had_alpha=alpha is not None)
    if alpha is not None and not bool((alpha < 1.0).any()):  # 4. keep alpha only when it is used
        alpha = None
    rgb = orient_array(rgb, to_apply)  # 5. upright (unless the decoder did it already)
    alpha = orient_array(alpha, to_apply) if alpha is not None else None
    logger.debug("%s: decoded %s %s %s -> %s", name, label, info["mode"], info["size"], rgb.shape)
    return DecodedImage(rgb=rgb, alpha=alpha, info=info)


def _check_bytes(data: bytes, cfg: DecodeConfig) -> bytes:
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    data = bytes(data)  # no copy for bytes; a private copy of a mutable buffer
    if not data:
        raise ImageDecodeError("empty file (0 bytes)")
    if len(data) > cfg.max_bytes:
        raise ImageDecodeError(f"file too large: {len(data)} bytes > limit {cfg.max_bytes}")
    return data


def _check_format(data: bytes) -> str:
    fmt = sniff_format(data)
    if fmt in _TEXT_KINDS or fmt == "unknown":
        what = f"looks like {fmt}" if fmt != "unknown" else f"unrecognised data (starts {data[:8].hex(' ')})"
        raise ImageDecodeError(f"not an image: {what}")
    if fmt not in SUPPORTED_FORMATS:
        raise ImageDecodeError(unsupported_reason(fmt))
    return fmt


def _decode_checked(data: bytes, fmt: str, cfg: DecodeConfig, info: dict[str, Any], name: str):
    """Header -> size limits -> orientation -> pixels; fills ``info``. Pillow warnings are logged.

    Returns (rgb, alpha, EXIF orientation, orientation still to apply): Pillow turns a TIFF
    upright itself while loading (and then drops its tag), other formats are turned by the caller.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img = _open_header(data, fmt)
        w, h = stored_size(img)
        info.update(mode=img.mode, size=(w, h))
        if w * h > cfg.max_pixels:
            raise ImageDecodeError(f"image too large: {w}x{h} = {w * h} pixels > limit {cfg.max_pixels}")
        if min(w, h) < cfg.min_side:
            raise ImageDecodeError(f"image too small: {w}x{h}, each side must be >= {cfg.min_side}")
        info["bit_depth"] = bits = bit_depth(img, data, fmt)
        # A TIFF's orientation is read before its pixels (Pillow applies it while loading and drops
        # the tag); other formats' after (a PNG's eXIf chunk may follow its pixel data).
        orientation = _orientation(img, info) if fmt == "TIFF" else None
        rgb, alpha = decode_pixels(img, data, fmt, bits, info)
        if orientation is None:
            orientation = _orientation(img, info)
        if max(w, h) > MAX_ASPECT * min(w, h):
            raise ImageDecodeError(f"image too narrow: {w}x{h}, its long side is {max(w, h) // min(w, h)} times "
                                   f"its short side; at most {MAX_ASPECT}:1 can be processed (crop it closer to "
                                   "the product)")
        rgb, icc = to_srgb(rgb, img.info.get("icc_profile"))
        info.update(icc_profile=icc, n_frames=_n_frames(img))
    for warning in caught:
        logger.debug("%s: decoder warning: %s", name, warning.message)
    to_apply, expected_hw = orientation, (h, w)
    if fmt == "TIFF" and info.get("decoder") == "pillow" and orientation != 1 \
            and 0x0112 not in getattr(img, "tag_v2", {}):  # Pillow turned it upright while loading
        to_apply, expected_hw = 1, ((w, h) if orientation in (5, 6, 7, 8) else (h, w))
    if rgb.shape != (*expected_hw, 3) or rgb.dtype != np.uint8:
        raise ValueError(f"decoded to unexpected shape {rgb.shape} {rgb.dtype}")
    return rgb, alpha, orientation, to_apply


def _decode_error(exc: Exception, label: str, header_done: bool) -> ImageDecodeError:
    reason = _one_line(exc)
    if isinstance(exc, struct.error) or "requires a buffer" in reason:  # a header field cut off
        reason = "data ends inside the header"
    if isinstance(exc, EOFError) or "truncated" in reason.lower() or reason.startswith("data ends"):
        return ImageDecodeError(f"truncated {label}: {reason}")
    return ImageDecodeError(f"corrupt {label}: {reason}" + ("" if header_done else " (while reading the header)"))


def _check_u8(arr: np.ndarray, arg: str, channels: tuple[int, ...]) -> np.ndarray:
    if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8:
        raise ValueError(f"{arg} must be a uint8 numpy array, got {getattr(arr, 'dtype', type(arr).__name__)}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in channels)) or 0 in arr.shape:
        raise ValueError(f"{arg} must be HW or HWC with C in {channels}, got shape {arr.shape}")
    return arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr


def _to_bgr(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        return arr
    return cv2.cvtColor(arr, cv2.COLOR_RGB2BGR if arr.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)


# One PNG row filter for every row instead of libpng's per-row choice among all five: on the
# 1024^2 composites, originals and control maps of the real photos the "sub" filter encodes
# 1.5-2x faster for files 1-10% larger (``python bench/bench_batch.py --encoders``).
PNG_FILTER = getattr(cv2, "IMWRITE_PNG_FILTER_SUB", None)


def encode_png(rgb_or_gray: np.ndarray, level: int = 1) -> bytes:
    """PNG bytes of HW gray, HWC RGB or HWC RGBA uint8. zlib ``level`` 1 (0..9): on a 1024^2
    photo it encodes 2x faster than level 3 for files about 9% larger (bench/bench_batch.py)."""
    arr = _check_u8(rgb_or_gray, "rgb_or_gray", (1, 3, 4))
    if not isinstance(level, int) or not 0 <= level <= 9:
        raise ValueError(f"level must be an int in 0..9, got {level!r}")
    params = [cv2.IMWRITE_PNG_COMPRESSION, level]
    if PNG_FILTER is not None:  # OpenCV >= 4.11
        params += [cv2.IMWRITE_PNG_FILTER, PNG_FILTER]
    ok, buf = cv2.imencode(".png", _to_bgr(arr), params)
    if not ok:
        raise ValueError(f"PNG encoding failed for shape {arr.shape}")
    return buf.tobytes()


def encode_image(rgb: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """HWC RGB uint8 as ``fmt`` ("png", "jpeg" or "webp"; ``quality`` 1..100 for the lossy two),
    tagged with the sRGB ICC profile (the pixels are sRGB, see :mod:`pipeline.io.icc`)."""
    if fmt == "png":
        return embed_srgb_png(encode_png(rgb))
    if fmt == "jpeg":
        return embed_srgb_jpeg(encode_jpeg(rgb, quality))
    if fmt == "webp":
        arr = _check_u8(rgb, "rgb", (3,))
        if not isinstance(quality, int) or not 1 <= quality <= 100:
            raise ValueError(f"quality must be an int in 1..100, got {quality!r}")
        buf = io.BytesIO()
        Image.fromarray(arr, "RGB").save(buf, "WEBP", quality=quality, method=4, icc_profile=SRGB_ICC)
        return buf.getvalue()
    raise ValueError(f"fmt must be one of png, jpeg, webp; got {fmt!r}")


def encode_jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of HWC RGB or HW gray uint8; ``quality`` in 1..100."""
    arr = _check_u8(rgb, "rgb", (1, 3))
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in 1..100, got {quality!r}")
    ok, buf = cv2.imencode(".jpg", _to_bgr(arr), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError(f"JPEG encoding failed for shape {arr.shape}")
    return buf.tobytes()


def thumbnail_data_uri(rgb: np.ndarray, max_side: int = 160) -> str:
    """``data:image/jpeg;base64,...`` of HWC RGB or HW gray uint8, long side <= ``max_side``
    (never upscaled; aspect kept)."""
    arr = _check_u8(rgb, "rgb", (1, 3))
    if not isinstance(max_side, int) or max_side < 1:
        raise ValueError(f"max_side must be an int >= 1, got {max_side!r}")
    h, w = arr.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1.0:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(arr, quality=80)).decode("ascii")
