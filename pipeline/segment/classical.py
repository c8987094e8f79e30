"""Classical white-background segmenter: no weights, a few tens of milliseconds per megapixel.

Steps (``ClassicalSegmenter.__call__``):
 1. work copy at ``work_side`` long side, converted to Lab;
 2. fit the background surface from the border (off-white and graded sweeps work);
 3. colour distance to the background, with thresholds set from the border's noise;
 4. hysteresis: weak pixels (incl. faint outlines of white parts) kept when connected to strong ones;
 5. shadow-like regions with soft outlines go back to the background (floor shadows);
 6. enclosed holes are filled unless they look like the backdrop itself (mug handles stay open);
 7. small specks dropped; full-resolution soft alpha + decontaminated colours at the edge.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from pipeline.config import SegmentConfig
from pipeline.errors import SegmentationError
from pipeline.segment.background import BackgroundModel, fit_background, shadow_like
from pipeline.segment.matting import refine_alpha
from pipeline.types import Segmentation

log = logging.getLogger(__name__)


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """HWC uint8 RGB -> HWC float32 Lab (L 0..100)."""
    return cv2.cvtColor(rgb.astype(np.float32) * (1.0 / 255.0), cv2.COLOR_RGB2Lab)


def _resize_long_side(rgb: np.ndarray, side: int) -> tuple[np.ndarray, float]:
    h, w = rgb.shape[:2]
    scale = min(1.0, side / max(h, w))
    if scale >= 1.0:
        return rgb, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def _hysteresis(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[strong & weak])] = True
    keep[0] = False
    return keep[labels]


def _soft_shadows(shadow: np.ndarray, background: np.ndarray, grad: np.ndarray, dist: np.ndarray,
                  min_step: float) -> np.ndarray:
    """HW bool: shadow-like pixels that fade into the backdrop.

    A shadow ramps smoothly down from the backdrop; a grey or white product part ends in a
    crisp outline. So a shadow-like pixel belongs to the background when it can be reached from
    plain background through shadow-like pixels without crossing an edge steeper than 30% of
    the local contrast per pixel (4-connected flood fill).
    """
    steep = cv2.dilate(grad, np.ones((3, 3), np.uint8)) >= np.maximum(min_step, 0.3 * dist + 1.0)
    passable = (shadow & ~steep) | background
    n, labels = cv2.connectedComponents(passable.astype(np.uint8), connectivity=4)
    reach = np.zeros(n, bool)
    reach[np.unique(labels[background])] = True
    reach[0] = False
    return reach[labels] & shadow


def _fill_holes(mask: np.ndarray, dist: np.ndarray, hole_threshold: float) -> np.ndarray:
    """Fill enclosed background regions unless they match the backdrop (real holes)."""
    inv = (~mask).astype(np.uint8)
    n, labels = cv2.connectedComponents(inv, connectivity=4)
    if n <= 1:
        return mask
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    enclosed = np.ones(n, bool)
    enclosed[border] = False
    enclosed[0] = False
    if not enclosed.any():
        return mask
    flat = labels.ravel()
    sel = enclosed[flat]
    ids = flat[sel]
    d = dist.ravel()[sel]
    count = np.bincount(ids, minlength=n).astype(np.float32)
    mean_d = np.bincount(ids, weights=d, minlength=n) / np.maximum(count, 1.0)
    tiny = count < max(4, 0.0002 * mask.size)
    fill = enclosed & ((mean_d > hole_threshold) | tiny)
    return mask | fill[labels]


def _drop_specks(mask: np.ndarray, min_frac: float) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 1:
        return mask
    areas = stats[:, cv2.CC_STAT_AREA].astype(np.float64)
    areas[0] = 0
    largest = areas.max()
    keep = (areas >= min_frac * mask.size) | (areas >= 0.25 * largest)
    keep[0] = False
    return keep[labels]


class ClassicalSegmenter:
    """White/off-white background segmenter. ``__call__(rgb HWC uint8) -> Segmentation``."""

    name = "classical"

    def __init__(self, config: SegmentConfig | None = None):
        self.config = config or SegmentConfig()

    def __call__(self, rgb: np.ndarray) -> Segmentation:
        _check_rgb(rgb)
        small, scale = _resize_long_side(rgb, self.config.work_side)
        lab = to_lab(small)
        bg = fit_background(lab, small)
        mask_small, dist = self.coarse_mask(lab, bg)
        if not mask_small.any():
            raise SegmentationError("no product found: the image looks like plain background")
        alpha, foreground = refine_alpha(rgb, mask_small, small, bg.rgb)
        mask = alpha >= 0.5
        if not mask.any():
            raise SegmentationError("no product found after edge refinement")
        info = {"work_scale": round(scale, 4), "bg_noise": round(bg.noise, 3),
                "border_bg_fraction": round(bg.border_bg_fraction, 3)}
        return Segmentation(alpha=alpha, mask=mask, foreground=foreground,
                            background_rgb=bg.rgb, backend=self.name, info=info)

    def coarse_mask(self, lab: np.ndarray, bg: BackgroundModel) -> tuple[np.ndarray, np.ndarray]:
        """Steps 3-7 at the work resolution. Returns (mask HW bool, ΔE76-to-background HW float32)."""
        cfg = self.config
        dist = np.linalg.norm(lab - bg.lab, axis=2)
        t_weak = cfg.threshold or max(2.2, 3.5 * bg.noise)
        t_strong = max(t_weak * 2.5, 9.0)
        shadow = shadow_like(lab, bg.lab)
        gx = cv2.Sobel(lab[..., 0], cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(lab[..., 0], cv2.CV_32F, 0, 1, ksize=3)
        grad = cv2.magnitude(gx, gy) / 8.0  # ΔL per pixel
        weak = dist > t_weak
        # Faint outlines of white parts: sharp lightness edges count as weak evidence too.
        weak |= grad > max(1.5, 2.0 * bg.noise)
        strong = (dist > t_strong) & ~shadow
        mask = _hysteresis(weak, strong)
        mask &= ~_soft_shadows(shadow, dist <= t_weak, grad, dist, min_step=max(1.5, 3 * bg.noise))
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)
        mask = _fill_holes(mask, dist, hole_threshold=max(t_weak, 1.5))
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)).astype(bool)
        mask = _drop_specks(mask, cfg.min_component_frac)
        return mask, dist


def _check_rgb(rgb: np.ndarray) -> None:
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        got = f"{getattr(rgb, 'dtype', type(rgb).__name__)} {getattr(rgb, 'shape', '')}"
        raise ValueError(f"rgb must be an HWC uint8 array with 3 channels, got {got}")
    if min(rgb.shape[:2]) < 8:
        raise ValueError(f"rgb must be at least 8x8 pixels, got {rgb.shape[1]}x{rgb.shape[0]}")
