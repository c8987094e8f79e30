"""Masked SSIM on luminance (Wang, Bovik, Sheikh & Simoncelli 2004).

The SSIM map uses an 11-tap Gaussian window with sigma 1.5 (truncated at 3.5 sigma), population
(co)variances, K1 = 0.01, K2 = 0.03 and data range 255: the same numbers as
``skimage.metrics.structural_similarity(full=True, gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=255)``, whose map this matches to ~1e-4. It is computed
with OpenCV's separable float32 Gaussian filter (reflect border, as scipy's ``reflect``), about 4x
faster than the skimage call (``bench/bench_score.py``).

Luminance is Rec. 709 luma of the gamma-encoded RGB (``skimage.color.rgb2gray`` weights), in
[0, 255].
"""

from __future__ import annotations

import cv2
import numpy as np

SIGMA = 1.5
WIN_SIZE = 11  # 2 * int(3.5 * 1.5 + 0.5) + 1, skimage's window for sigma 1.5
RADIUS = WIN_SIZE // 2
_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2
_LUMA = np.array([[0.2125, 0.7154, 0.0721]], dtype=np.float32)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """HWC uint8 RGB -> HW float32 luma in [0, 255]."""
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb must be HxWx3 uint8, got shape {rgb.shape} dtype {rgb.dtype}")
    return cv2.transform(rgb.astype(np.float32), _LUMA)


_KERNEL = cv2.getGaussianKernel(WIN_SIZE, SIGMA, cv2.CV_32F)


def _blur(x: np.ndarray) -> np.ndarray:
    """Separable 11-tap Gaussian, reflect border (``sepFilter2D``: a little faster than GaussianBlur)."""
    return cv2.sepFilter2D(x, -1, _KERNEL, _KERNEL, borderType=cv2.BORDER_REFLECT)


def ssim_map(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two HW float32 images in [0, 255] -> HW float32 (1.0 where identical)."""
    if x.shape != y.shape or x.ndim != 2:
        raise ValueError(f"x and y must be HW arrays of one shape, got {x.shape} and {y.shape}")
    x = x.astype(np.float32, copy=False)
    y = y.astype(np.float32, copy=False)
    mu_x = _blur(x)
    mu_y = _blur(y)
    mu_xx = mu_x * mu_x
    mu_yy = mu_y * mu_y
    mu_xy = mu_x * mu_y
    var_x = _blur(x * x) - mu_xx
    var_y = _blur(y * y) - mu_yy
    cov = _blur(x * y) - mu_xy
    num = (2.0 * mu_xy + _C1) * (2.0 * cov + _C2)
    den = (mu_xx + mu_yy + _C1) * (var_x + var_y + _C2)
    return num / den


STRIP_ROWS = 64  # rows per block: keeps the temporaries small (fresh large arrays are slow)


def masked_ssim(a_rgb: np.ndarray, b_rgb: np.ndarray, mask: np.ndarray) -> float:
    """Mean luminance SSIM of two HWC uint8 images over ``mask`` (HW bool).

    Equals ``ssim_map(luminance(a_rgb), luminance(b_rgb))[mask].mean()``: the map treats the
    given arrays as the whole image (pass a crop with at least ``RADIUS`` pixels of context around
    the mask). Computed in row strips cut to the mask's columns; a strip whose pixels (with
    context) are identical in both images is 1.0 without any filtering. Raises ``ValueError`` on an
    empty mask or shape mismatch.
    """
    if a_rgb.shape != b_rgb.shape or mask.shape != a_rgb.shape[:2]:
        raise ValueError(f"a_rgb, b_rgb and mask must share (H, W), got {a_rgb.shape}, {b_rgb.shape}, {mask.shape}")
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        raise ValueError("mask is empty: nothing to average SSIM over")
    height, width = mask.shape
    total = 0.0
    count = 0
    for top in range(int(rows[0]), int(rows[-1]) + 1, STRIP_ROWS):
        bottom = min(top + STRIP_ROWS, height)
        cols = np.flatnonzero(mask[top:bottom].any(axis=0))
        if cols.size == 0:
            continue
        # The strip's mask columns plus RADIUS of context on every side (less at the array edge,
        # where the reflect border applies exactly as it does for the whole map).
        y0, y1 = max(0, top - RADIUS), min(height, bottom + RADIUS)
        x0, x1 = max(0, int(cols[0]) - RADIUS), min(width, int(cols[-1]) + 1 + RADIUS)
        m = mask[top:bottom, x0:x1]
        n = int(np.count_nonzero(m))
        count += n
        a, b = a_rgb[y0:y1, x0:x1], b_rgb[y0:y1, x0:x1]
        if np.array_equal(a, b):
            total += n
            continue
        smap = ssim_map(luminance(a), luminance(b))[top - y0 : bottom - y0]
        total += float(np.sum(smap[m], dtype=np.float64))
    return total / count
