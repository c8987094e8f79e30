"""Pixel decoding and mode conversions for :mod:`pipeline.io.imageio`: any mode -> RGB uint8 + alpha.

``decode_pixels`` runs the full decode of an image whose header already passed the size checks
(Pillow, or OpenCV for 16-bit colour, which Pillow reads as 8-bit). The converters take decoded
pixels (a loaded Pillow image or a numpy array) and return ``(rgb, alpha)``: rgb HWC uint8 RGB,
alpha HW float32 in [0, 1] or None when the source had no alpha channel / transparency. Whether
the alpha is *used* is decided by the caller. Colour values of fully transparent pixels are
returned as stored (they are meaningless).
"""

from __future__ import annotations

import logging
from typing import Any

import cv2
import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

RgbAlpha = tuple[np.ndarray, "np.ndarray | None"]

# EXIF orientation -> numpy equivalent of the Pillow transpose ImageOps.exif_transpose applies.
# 2 FLIP_LEFT_RIGHT, 3 ROTATE_180, 4 FLIP_TOP_BOTTOM, 5 TRANSPOSE, 6 ROTATE_270 (90 deg clockwise),
# 7 TRANSVERSE, 8 ROTATE_90 (90 deg counter-clockwise).
_ORIENT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.swapaxes(0, 1),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a.swapaxes(0, 1)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


def orient_array(arr: np.ndarray, orientation: int) -> np.ndarray:
    """Apply EXIF ``orientation`` (1..8) to an HW or HWC array, as ImageOps.exif_transpose would.

    Returns a C-contiguous array (a copy when the orientation is not 1).
    """
    if orientation not in _ORIENT:
        raise ValueError(f"orientation must be an int in 1..8, got {orientation!r}")
    return np.ascontiguousarray(_ORIENT[orientation](arr))


def scale_to_uint8(arr: np.ndarray, bits: int) -> np.ndarray:
    """Scale integer samples of ``bits`` bits (1..32) to uint8 with rounding: v * 255 / (2**bits - 1).

    Values outside [0, 2**bits - 1] (e.g. negative int32) are clipped first.
    """
    if not 1 <= bits <= 32:
        raise ValueError(f"bits must be in 1..32, got {bits}")
    top = (1 << bits) - 1
    if bits == 8 and arr.dtype == np.uint8:
        return arr
    if bits == 16:  # exact integer path: round(v / 257)
        v = np.clip(arr, 0, top).astype(np.uint32)
        return ((v + 128) // 257).astype(np.uint8)
    v = np.clip(arr.astype(np.float64), 0, top)
    return np.rint(v * (255.0 / top)).astype(np.uint8)


def float_to_uint8(arr: np.ndarray) -> np.ndarray:
    """Float samples to uint8. NaN/inf -> 0. Data within [0, 1] is scaled by 255, anything
    larger is taken to be on a 0..255 scale already and clipped."""
    v = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0, copy=False)
    if v.size and v.max() <= 1.0:
        v *= np.float32(255.0)
    return np.rint(np.clip(v, 0.0, 255.0, out=v), out=v).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))


def pil_to_rgb_alpha(img: Image.Image, bits: int) -> RgbAlpha:
    """A *loaded* Pillow image in any mode -> (rgb uint8 HWC, alpha float32 HW or None).

    ``bits`` is the per-sample bit depth in the file; it decides how ``I`` data is scaled.
    Handles 1, L, LA, La, P/PA (palette transparency -> alpha), RGB (tRNS colour key -> alpha),
    RGBA, RGBa, CMYK (Pillow undoes Adobe-inverted CMYK JPEGs), YCbCr, I;16*, I and F.
    Raises ValueError for a mode Pillow cannot convert to RGB.
    """
    mode = img.mode
    if mode.startswith("I;16") or mode == "I":
        gray = np.asarray(img)
        if mode.startswith("I;16"):
            src_bits = bits if 9 <= bits <= 16 else 16  # e.g. 12-bit TIFF data lives in I;16
        else:
            src_bits = bits if 1 <= bits <= 32 else 32
        return _gray_to_rgb(scale_to_uint8(gray, src_bits)), None
    if mode == "F":
        return _gray_to_rgb(float_to_uint8(np.asarray(img))), None
    if mode == "1":
        return _gray_to_rgb(np.asarray(img.convert("L"))), None
    if mode == "L" and not img.has_transparency_data:
        return _gray_to_rgb(np.asarray(img)), None
    if mode == "LA":
        la = np.asarray(img)
        return _gray_to_rgb(la[:, :, 0]), la[:, :, 1].astype(np.float32) / 255.0
    has_alpha = "A" in img.getbands() or "a" in img.getbands() or img.has_transparency_data
    if has_alpha:
        rgba = np.asarray(img if mode == "RGBA" else img.convert("RGBA"))
        return np.ascontiguousarray(rgba[:, :, :3]), rgba[:, :, 3].astype(np.float32) / 255.0
    return np.array(img if mode == "RGB" else img.convert("RGB")), None


def cv2_to_rgb_alpha(arr: np.ndarray) -> RgbAlpha:
    """An array from ``cv2.imdecode(..., IMREAD_UNCHANGED)`` (HW, HWC BGR or BGRA; uint8,
    uint16 or float32) -> (rgb uint8 HWC RGB, alpha float32 HW or None)."""
    if arr.dtype == np.uint8:
        u8, alpha_scale = arr, 255.0
    elif arr.dtype == np.uint16:
        u8, alpha_scale = scale_to_uint8(arr, 16), 65535.0
    elif arr.dtype.kind == "f":
        u8, alpha_scale = float_to_uint8(arr), 1.0
    else:
        raise ValueError(f"unsupported sample type {arr.dtype} from OpenCV")
    if arr.ndim == 2:
        return _gray_to_rgb(u8), None
    channels = arr.shape[2]
    if channels == 1:
        return _gray_to_rgb(u8[:, :, 0]), None
    rgb = np.ascontiguousarray(u8[:, :, 2::-1])  # BGR -> RGB
    if channels == 4:
        alpha = arr[:, :, 3].astype(np.float32) / np.float32(alpha_scale)
        return rgb, np.clip(alpha, 0.0, 1.0, out=alpha)
    return rgb, None


def bit_depth(img: Image.Image, data: bytes, fmt: str) -> int:
    """Per-sample bit depth stored in the file (PNG IHDR, TIFF BitsPerSample, JPEG SOF), else from the mode."""
    if fmt == "PNG" and data[12:16] == b"IHDR" and len(data) > 24:
        return int(data[24])
    if fmt == "TIFF":
        bps = getattr(img, "tag_v2", {}).get(258)
        if bps:
            return int(max(bps)) if isinstance(bps, tuple) else int(bps)
    if fmt == "JPEG":
        return int(getattr(img, "bits", 8))
    return {"1": 1, "I": 32, "F": 32}.get(img.mode, 16 if img.mode.startswith("I;16") else 8)


def _wants_opencv(img: Image.Image, data: bytes, fmt: str, bits: int) -> bool:
    """Pillow reads 16-bit colour PNG/TIFF as 8-bit by dropping the low byte; OpenCV keeps all
    16 bits, so those go through cv2 for correctly rounded 8-bit values and 16-bit alpha."""
    if bits != 16:
        return False
    if fmt == "PNG":
        return len(data) > 25 and data[25] in (2, 4, 6) and png_chunks_fit(data)  # RGB, grey+alpha, RGBA
    return fmt == "TIFF" and img.mode in ("RGB", "RGBA")


def png_chunks_fit(data: bytes) -> bool:
    """True when every PNG chunk up to IEND lies inside ``data``. libpng (via OpenCV) allocates
    what a chunk's length field claims, so a corrupt length in a 3 KB file can cost ~1 GB; such
    files are left to Pillow, which streams and reports them as truncated."""
    pos = 8
    while pos + 12 <= len(data):
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")
        if end > len(data):
            return False
        if data[pos + 4:pos + 8] == b"IEND":
            return True
        pos = end
    return False


def decode_pixels(img: Image.Image, data: bytes, fmt: str, bits: int, info: dict[str, Any]) -> RgbAlpha:
    """Full decode of an opened image (Pillow ``load()``, or OpenCV for 16-bit colour); sets info["decoder"]."""
    if _wants_opencv(img, data, fmt, bits):
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
        if arr is not None:
            info["decoder"] = "opencv"
            return cv2_to_rgb_alpha(arr)
        logger.debug("OpenCV could not decode 16-bit %s; falling back to Pillow (8-bit)", fmt)
    missing = tiff_missing_data(img) if fmt == "TIFF" else None
    if missing:
        raise ValueError(missing)
    img.load()
    info["decoder"] = "pillow"
    return pil_to_rgb_alpha(img, bits)


def stored_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) as stored in the file. Pillow reports a TIFF whose EXIF orientation turns it
    a quarter (5..8) with the sides swapped (the size it will have once loaded upright)."""
    tags = getattr(img, "tag_v2", None)
    if img.format == "TIFF" and tags is not None and isinstance(tags.get(256), int) \
            and isinstance(tags.get(257), int):
        return int(tags[256]), int(tags[257])
    return img.size


def tiff_missing_data(img: Image.Image) -> str | None:
    """Why an opened TIFF's strips/tiles cannot cover its stored size, else None. Pillow
    zero-fills missing strips silently, so a 3 KB file whose ImageLength was bumped would
    "decode" to a huge, mostly black image."""
    tags = img.tag_v2
    w, h = stored_size(img)
    planes = int(tags.get(277, 1)) if tags.get(284, 1) == 2 else 1
    if 324 in tags:
        tw, th = int(tags.get(322, 0)), int(tags.get(323, 0))
        if tw <= 0 or th <= 0:
            return "tiled TIFF without a tile size"
        expected, have, unit = -(-w // tw) * -(-h // th) * planes, len(_as_tuple(tags[324])), "tiles"
    else:
        rows = min(int(tags.get(278, h)), h) or h
        expected, have, unit = -(-h // rows) * planes, len(_as_tuple(tags.get(273, ()))), "strips"
    return f"{expected - have} of {expected} {unit} missing for {w}x{h}" if have < expected else None


def _as_tuple(value: object) -> tuple:
    return value if isinstance(value, tuple) else (value,)
