"""Colour management: embedded ICC profiles -> sRGB at decode time, the sRGB profile in outputs.

Decoding converts pixels tagged with a non-sRGB RGB profile (Adobe RGB, Display P3 from phones)
to sRGB with LittleCMS (Pillow's ImageCms, perceptual intent), so segmentation, the scene, the
composite and the score all see the colours the photographer saw. Outputs carry the sRGB
profile, so viewers that colour-manage show them the same way as viewers that assume sRGB.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zlib
from functools import lru_cache
from typing import Any

import numpy as np
from PIL import Image, ImageCms

log = logging.getLogger(__name__)

_SRGB = ImageCms.createProfile("sRGB")


def _stable_profile_bytes(profile: ImageCms.ImageCmsProfile) -> bytes:
    """The profile's bytes with its creation date and profile ID zeroed (LittleCMS stamps the
    current time), so every process embeds byte-identical outputs. A zero ID means "not computed"."""
    data = bytearray(profile.tobytes())
    data[24:36] = bytes(12)
    data[84:100] = bytes(16)
    return bytes(data)


SRGB_ICC: bytes = _stable_profile_bytes(ImageCms.ImageCmsProfile(_SRGB))


def profile_description(icc: bytes) -> str:
    """The profile's description tag ("Display P3", "Adobe RGB (1998)", ...), or "unknown"."""
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip() or "unknown"
    except (ImageCms.PyCMSError, OSError, ValueError):
        return "unknown"


@lru_cache(maxsize=16)
def _transform_to_srgb(icc_sha: str, icc: bytes) -> ImageCms.ImageCmsTransform | None:
    """A cached RGB -> sRGB transform for one source profile; None when the profile is not RGB."""
    source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    if source.profile.xcolor_space.strip() != "RGB":
        return None
    return ImageCms.buildTransform(source, _SRGB, "RGB", "RGB", renderingIntent=ImageCms.Intent.PERCEPTUAL)


def is_srgb(icc: bytes) -> bool:
    """True for sRGB profiles (by description: "sRGB IEC61966-2.1", "sRGB built-in", ...)."""
    return profile_description(icc).lower().startswith("srgb")


def to_srgb(rgb: np.ndarray, icc: bytes | None) -> tuple[np.ndarray, dict[str, Any] | None]:
    """Convert HWC uint8 RGB pixels tagged with ``icc`` to sRGB.

    Returns (rgb HWC uint8, info): info is None without a profile, else ``{"description",
    "sha256", "converted"}`` with converted False for sRGB (nothing to do) or for profiles that
    are not RGB or cannot be parsed (then ``"error"`` says why and the pixels are left as they are).
    """
    if not icc:
        return rgb, None
    info: dict[str, Any] = {"description": profile_description(icc), "sha256": hashlib.sha256(icc).hexdigest(),
                            "converted": False}
    if is_srgb(icc):
        return rgb, info
    try:
        transform = _transform_to_srgb(info["sha256"], bytes(icc))
    except (ImageCms.PyCMSError, OSError, ValueError) as exc:
        info["error"] = f"unusable ICC profile: {' '.join(str(exc).split())}"
        log.debug("ICC profile not applied: %s", info["error"])
        return rgb, info
    if transform is None:
        info["error"] = "profile is not an RGB profile; pixels used as stored"
        return rgb, info
    out = ImageCms.applyTransform(Image.fromarray(rgb, "RGB"), transform)
    info["converted"] = True
    return np.asarray(out, dtype=np.uint8).copy(), info


def embed_srgb_png(png: bytes) -> bytes:
    """``png`` with an ``iCCP`` chunk carrying the sRGB profile, right after ``IHDR``."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("embed_srgb_png needs PNG bytes that start with IHDR")
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    body = b"sRGB\x00\x00" + zlib.compress(SRGB_ICC)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    return png[:ihdr_end] + chunk + png[ihdr_end:]


def embed_srgb_jpeg(jpeg: bytes) -> bytes:
    """``jpeg`` with an APP2 ``ICC_PROFILE`` segment carrying the sRGB profile, after SOI."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("embed_srgb_jpeg needs JPEG bytes that start with SOI")
    payload = b"ICC_PROFILE\x00\x01\x01" + SRGB_ICC
    return jpeg[:2] + b"\xff\xe2" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]
