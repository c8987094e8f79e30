"""Soft edges from a coarse mask: known-background matting in a thin band, plus colour
decontamination so that a pasted product carries no fringe of its old backdrop.

For an edge pixel I mixing foreground F and background B, ``I = a*F + (1-a)*B``. With B from
the nearby backdrop and F from nearby interior pixels, ``a = (I-B).(F-B) / |F-B|^2``; then
``F = (I - (1-a)*B) / a`` un-mixes the colour. Where F is close to B (a white part on white) the
estimate is ill-posed, and the smoothly upsampled coarse mask is used instead.

Speed: the local F and B estimates are smooth, so they are computed at the work resolution
and sampled; only the band pixels are touched at full resolution.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.segment.work_scale import WorkScale

# Units: "ref px" are pixels at the reference work size (work_scale.REFERENCE_SIDE), scaled with the
# working size. Chosen on the generated samples' edges (issue 1: no fringe on the composite).
UPSAMPLE_SIGMA = 0.8  # ref px: the coarse mask is smoothed this much before it is upsampled
EDGE_CLEAR_PX = 2  # ref px: interior (backdrop) colours are taken this far inside (outside) the mask
FG_WINDOW = 7  # ref px: box over which the local interior colour is averaged
BG_WINDOW = 9  # ref px: box over which the local backdrop colour is averaged
BAND_LOW, BAND_HIGH = 0.01, 0.99  # the upsampled mask strictly between these is the edge band
CONFIDENT_RGB = 40.0  # RGB distance of F and B at which the colour-based alpha is fully trusted
UNMIX_FROM = 0.1  # alpha under which the edge colour is the interior colour, not the un-mixed one ...
UNMIX_FULL = 0.6  # ... and over which it is fully the un-mixed one (linear in between)


def normalized_blur(rgb: np.ndarray, weight: np.ndarray, ksize: int) -> tuple[np.ndarray, np.ndarray]:
    """(mean of ``rgb`` (HWC float32) over the pixels where ``weight`` (HW) is 1 in a ksize box,
    share of such pixels in the box HW float32)."""
    w = weight.astype(np.float32)
    num = cv2.blur(rgb * w[..., None], (ksize, ksize))
    den = cv2.blur(w, (ksize, ksize))[..., None]
    return num / np.maximum(den, 1e-6), den[..., 0]


def _upsample_crop(mask_small: np.ndarray, out_hw: tuple[int, int], box: tuple[int, int, int, int],
                   sigma: float) -> np.ndarray:
    """A work-size HW bool mask, smoothed (``sigma`` work px) and bilinearly upsampled to ``out_hw``,
    but evaluated only inside ``box`` = (y0, y1, x0, x1). Returns HW float32 in [0, 1] of the box."""
    soft = cv2.GaussianBlur(mask_small.astype(np.float32), (0, 0), sigma)
    h, w = out_hw
    sh, sw = mask_small.shape
    y0, y1, x0, x1 = box
    # Pixel-centre mapping of cv2.resize(INTER_LINEAR) over the whole frame, as one affine map
    # (no per-pixel coordinate arrays to build).
    fx, fy = sw / w, sh / h
    to_src = np.array([[fx, 0.0, (x0 + 0.5) * fx - 0.5], [0.0, fy, (y0 + 0.5) * fy - 0.5]])
    out = cv2.warpAffine(soft, to_src, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=cv2.BORDER_REPLICATE)
    return np.clip(out, 0.0, 1.0)


def refine_alpha(
    rgb: np.ndarray,
    mask_small: np.ndarray,
    small_rgb: np.ndarray,
    background_rgb: tuple[float, float, float],
) -> tuple[np.ndarray, np.ndarray]:
    """Full-resolution alpha and decontaminated foreground.

    rgb: HWC uint8 (full resolution). mask_small: HW bool at the work size; small_rgb: HWC uint8,
    ``rgb`` resized to that size. Returns (alpha HW float32 in [0, 1], foreground HWC uint8 equal
    to ``rgb`` wherever alpha is 0 or 1).
    """
    h, w = rgb.shape[:2]
    sh, sw = mask_small.shape
    alpha = np.zeros((h, w), np.float32)
    foreground = rgb.copy()
    # Work inside the product's bounding box (from the small mask, padded by one work pixel).
    rows = np.flatnonzero(mask_small.any(axis=1))
    cols = np.flatnonzero(mask_small.any(axis=0))
    if rows.size == 0:
        return alpha, foreground
    fy, fx = h / sh, w / sw
    y0, y1 = max(0, int((rows[0] - 2) * fy)), min(h, int(np.ceil((rows[-1] + 3) * fy)))
    x0, x1 = max(0, int((cols[0] - 2) * fx)), min(w, int(np.ceil((cols[-1] + 3) * fx)))
    scale = WorkScale.of(mask_small.shape)
    soft = _upsample_crop(mask_small, (h, w), (y0, y1, x0, x1), scale.sigma(UPSAMPLE_SIGMA))
    alpha[y0:y1, x0:x1] = soft >= 0.5
    band = (soft > BAND_LOW) & (soft < BAND_HIGH)
    if not band.any():
        return alpha, foreground

    # Local foreground / background colours at the work resolution.
    kernel = np.ones((3, 3), np.uint8)
    clear = scale.px(EDGE_CLEAR_PX)
    inner = cv2.erode(mask_small.astype(np.uint8), kernel, iterations=clear)
    outer = 1 - cv2.dilate(mask_small.astype(np.uint8), kernel, iterations=clear)
    small_f = small_rgb.astype(np.float32)
    f_small, _ = normalized_blur(small_f, inner, scale.odd(FG_WINDOW))
    b_small, b_cover = normalized_blur(small_f, outer, scale.odd(BG_WINDOW))
    b_small[b_cover < 1e-3] = np.asarray(background_rgb, np.float32)

    ys, xs = np.nonzero(band)
    ys += y0
    xs += x0
    yi = np.minimum((ys * (sh / h)).astype(np.intp), sh - 1)
    xi = np.minimum((xs * (sw / w)).astype(np.intp), sw - 1)
    i_px = rgb[ys, xs].astype(np.float32)
    f_px, b_px = f_small[yi, xi], b_small[yi, xi]

    fb = f_px - b_px
    fb2 = np.einsum("ij,ij->i", fb, fb)
    a_est = np.clip(np.einsum("ij,ij->i", i_px - b_px, fb) / np.maximum(fb2, 1e-6), 0.0, 1.0)
    confidence = np.clip(np.sqrt(fb2) / CONFIDENT_RGB, 0.0, 1.0)
    a = confidence * a_est + (1.0 - confidence) * soft[ys - y0, xs - x0]

    # Decontaminate: un-mix the backdrop from edge colours, fall back to the local interior colour.
    a_safe = np.maximum(a, 1e-3)[:, None]
    f_dec = (i_px - (1.0 - a_safe) * b_px) / a_safe
    wgt = np.clip((a - UNMIX_FROM) / (UNMIX_FULL - UNMIX_FROM), 0.0, 1.0)[:, None]
    f_out = np.clip(wgt * f_dec + (1.0 - wgt) * f_px, 0, 255)

    alpha[ys, xs] = a
    foreground[ys, xs] = np.rint(f_out).astype(np.uint8)
    return alpha, foreground
