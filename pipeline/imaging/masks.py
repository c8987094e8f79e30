"""Mask helpers: IoU, disc morphology, resizing to a long side."""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two HW bool masks, in [0, 1]. Two empty masks are identical: 1.0."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


@lru_cache(maxsize=64)
def disc(radius: int) -> np.ndarray:
    """A ``(2r+1, 2r+1)`` uint8 elliptical structuring element of radius ``radius`` pixels (>= 0)."""
    if radius < 0:
        raise ValueError(f"radius must be >= 0 pixels, got {radius}")
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def dilate_disc(mask: np.ndarray, radius: int) -> np.ndarray:
    """HW bool ``mask`` grown by a disc of ``radius`` pixels (HW bool)."""
    if radius <= 0:
        return mask.copy()
    return cv2.dilate(mask.astype(np.uint8), disc(radius)).astype(bool)


def erode_disc(mask: np.ndarray, radius: int) -> np.ndarray:
    """HW bool ``mask`` shrunk by a disc of ``radius`` pixels (HW bool)."""
    if radius <= 0:
        return mask.copy()
    return cv2.erode(mask.astype(np.uint8), disc(radius)).astype(bool)


def resize_long_side(image: np.ndarray, side: int, interpolation: int = cv2.INTER_AREA) -> tuple[np.ndarray, float]:
    """``image`` (HW or HWC) shrunk so its long side is at most ``side`` pixels, and the scale used
    (new / old, <= 1). An image already small enough comes back unchanged with scale 1.0."""
    h, w = image.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return image, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=interpolation), scale
