"""Soft edges from a coarse mask: known-background matting in a thin band, plus colour
decontamination so that a pasted product carries no fringe of its old backdrop.

For an edge pixel I mixing foreground F and background B, ``I = a*F + (1-a)*B``. With B from
the backdrop and F from nearby interior pixels, ``a = (I-B).(F-B) / |F-B|^2``; then
``F = (I - (1-a)*B) / a`` un-mixes the colour. Where F is close to B (a white part on white) the
estimate is ill-posed, and the smoothly upsampled coarse mask is used instead.
"""

from __future__ import annotations

import cv2
import numpy as np


def _normalized_blur(rgb: np.ndarray, weight: np.ndarray, ksize: int) -> np.ndarray:
    """Average of ``rgb`` over pixels where ``weight`` is 1, in a ksize box (HWC float32)."""
    w = weight.astype(np.float32)
    num = cv2.blur(rgb * w[..., None], (ksize, ksize))
    den = cv2.blur(w, (ksize, ksize))[..., None]
    return num / np.maximum(den, 1e-6)


def upsample_mask(mask_small: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """HW bool at work size -> HW float32 in [0, 1] at ``out_hw``, smooth at the boundary."""
    soft = cv2.GaussianBlur(mask_small.astype(np.float32), (0, 0), 0.8)
    h, w = out_hw
    if soft.shape != (h, w):
        soft = cv2.resize(soft, (w, h), interpolation=cv2.INTER_LINEAR)
    return np.clip(soft, 0.0, 1.0)


def refine_alpha(
    rgb: np.ndarray, mask_small: np.ndarray, background_rgb: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution alpha and decontaminated foreground.

    rgb: HWC uint8 (full resolution). mask_small: HW bool at any smaller size.
    Returns (alpha HW float32 in [0, 1], foreground HWC uint8).
    """
    h, w = rgb.shape[:2]
    soft = upsample_mask(mask_small, (h, w))
    hard = soft >= 0.5
    scale = mask_small.shape[0] / h
    r = int(max(2, round(1.5 / max(scale, 1e-3))))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    inner = cv2.erode(hard.astype(np.uint8), kernel).astype(bool)
    outer = ~cv2.dilate(hard.astype(np.uint8), kernel).astype(bool)
    band = ~inner & ~outer
    alpha = hard.astype(np.float32)
    foreground = rgb.copy()
    if not band.any():
        return alpha, foreground

    # Work inside the band's bounding box only.
    ys, xs = np.nonzero(band)
    pad = 3 * r + 2
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    crop = rgb[y0:y1, x0:x1].astype(np.float32)
    k = 4 * r + 1
    f_local = _normalized_blur(crop, inner[y0:y1, x0:x1], k)
    b_local = _normalized_blur(crop, outer[y0:y1, x0:x1], k)
    b_const = np.asarray(background_rgb, np.float32)
    has_b = cv2.blur(outer[y0:y1, x0:x1].astype(np.float32), (k, k))[..., None] > 1e-3
    b_local = np.where(has_b, b_local, b_const)

    bsel = band[y0:y1, x0:x1]
    i_px, f_px, b_px = crop[bsel], f_local[bsel], b_local[bsel]
    fb = f_px - b_px
    fb2 = np.einsum("ij,ij->i", fb, fb)
    a_est = np.clip(np.einsum("ij,ij->i", i_px - b_px, fb) / np.maximum(fb2, 1e-6), 0.0, 1.0)
    confidence = np.clip(np.sqrt(fb2) / 40.0, 0.0, 1.0)
    a = confidence * a_est + (1.0 - confidence) * soft[y0:y1, x0:x1][bsel]

    # Decontaminate: un-mix the backdrop from edge colours, fall back to the local interior colour.
    a_safe = np.maximum(a, 1e-3)[:, None]
    f_dec = (i_px - (1.0 - a_safe) * b_px) / a_safe
    wgt = np.clip(a * 2.0 - 0.2, 0.0, 1.0)[:, None]
    f_out = np.clip(wgt * f_dec + (1.0 - wgt) * f_px, 0, 255)

    alpha_crop = alpha[y0:y1, x0:x1]
    alpha_crop[bsel] = a
    fg_crop = foreground[y0:y1, x0:x1]
    fg_crop[bsel] = np.rint(f_out).astype(np.uint8)
    return alpha, foreground
