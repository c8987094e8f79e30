"""Halo: colour from the original photo's background leaking around the product.

In the ring 1..``band_px`` pixels outside the hard mask, each pixel is compared with what it should
be, ``expected = alpha * reference + (1 - alpha) * plate`` (just the plate where alpha == 0):

- it counts ΔE00(composite, expected) when the composite is closer (ΔE76) to the source
  photo's background colour than the expected pixel is (colour that came from the old backdrop:
  a white fringe on a dark scene);
- otherwise it counts 0 (a difference that is not a leak, e.g. a darker contact shadow).

halo = mean over the ring. On a backdrop the colour of the source background a fringe is
invisible, and scores ~0.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.score import pixels
from pipeline.score.color import delta_e00, srgb_color_to_lab, srgb_to_lab


def expected_composite(reference_rgb: np.ndarray, alpha: np.ndarray, plate: np.ndarray) -> np.ndarray:
    """``reference * alpha + plate * (1 - alpha)``, rounded: HWC uint8 (same HW as the inputs).

    The same arithmetic as ``pipeline.restore.paste.alpha_paste`` (float32, +0.5, truncate), so an
    exact paste reproduces bit for bit: the reference where alpha == 1, the plate where alpha == 0,
    blending only on the soft pixels.
    """
    alpha = np.ascontiguousarray(alpha, dtype=np.float32)
    ref = np.ascontiguousarray(reference_rgb)
    out = np.ascontiguousarray(plate).copy()
    cv2.copyTo(ref, (alpha >= 1.0).view(np.uint8), out)
    soft = ((alpha > 0.0) & (alpha < 1.0)).view(np.uint8)
    if cv2.countNonZero(soft):
        xy = cv2.findNonZero(soft).reshape(-1, 2)
        ys, xs = xy[:, 1], xy[:, 0]
        a = alpha[ys, xs][:, None]
        mixed = ref[ys, xs].astype(np.float32) * a + out[ys, xs].astype(np.float32) * (1.0 - a)
        out[ys, xs] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def halo_score(
    composite: np.ndarray,
    expected: np.ndarray,
    ring: np.ndarray,
    source_background_rgb: tuple[float, float, float],
) -> float:
    """Mean leaked-colour ΔE00 over ``ring`` (HW bool); 0.0 when the ring is empty.

    composite / expected: HWC uint8 of the ring's HW.
    """
    n = int(np.count_nonzero(ring))
    if n == 0:
        return 0.0
    comp = pixels.gather(composite, ring)
    exp = pixels.gather(expected, ring)
    differs = np.any(comp != exp, axis=1)
    if not differs.any():
        return 0.0
    lab_c = srgb_to_lab(comp[differs])
    lab_e = srgb_to_lab(exp[differs])
    bg = srgb_color_to_lab(source_background_rgb)
    closer = np.sum((lab_c - bg) ** 2, axis=1) < np.sum((lab_e - bg) ** 2, axis=1)
    if not closer.any():
        return 0.0
    leaked = delta_e00(lab_c[closer], lab_e[closer])
    return float(np.sum(leaked, dtype=np.float64) / n)
