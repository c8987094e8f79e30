"""CIELAB for the heuristics: OpenCV's float conversion (fast; D65) and the ΔE76 distance."""

from __future__ import annotations

import cv2
import numpy as np


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """``(..., W, 3)`` uint8 sRGB (2-D or 3-D array of pixels) -> same shape float32 Lab, L in [0, 100].

    No pixels in, no pixels out (OpenCV refuses empty images; a band around a tiny product can be empty).
    """
    if np.size(rgb) == 0:
        return np.zeros(np.shape(rgb), np.float32)
    return cv2.cvtColor(np.ascontiguousarray(rgb).astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)


def delta_e76(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """Euclidean Lab distance ``(...)`` float32; lab arrays ``(..., 3)`` broadcast against each other."""
    d = np.asarray(lab1, dtype=np.float32) - np.asarray(lab2, dtype=np.float32)
    sq = d * d
    total = sq[..., 0] + sq[..., 1]  # channel by channel, in order: the sum einsum and
    for c in range(2, sq.shape[-1]):  # np.linalg.norm round to, without their slow inner loop
        total = total + sq[..., c]
    return np.sqrt(total)
