"""Pseudo-depth without weights: a rounded bulge from the silhouette, nudged by shading, standing
on a floor plane that recedes to the horizon."""

from __future__ import annotations

import cv2
import numpy as np


class PseudoDepth:
    """Silhouette + shading depth. ``__call__(rgb, alpha) -> HW float32 [0, 1]``, near = 1,
    background 0. Thin kornia-style wrapper over :func:`pseudo_depth`."""

    name = "pseudo"

    def __call__(self, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        return pseudo_depth(rgb, alpha)


def pseudo_depth(rgb: np.ndarray, alpha: np.ndarray, shading_weight: float = 0.1) -> np.ndarray:
    """Product-only relative depth.

    rgb: HWC uint8, alpha: HW float32 [0, 1]. Returns HW float32 in [0, 1]: 0 outside the
    product, rising to 1 at the thickest point (sqrt of the distance to the outline, like a
    cylinder's cross-section), plus a little lightness (lit surfaces face the camera).
    """
    h, w = alpha.shape
    ys, xs = np.nonzero(alpha >= 0.5)
    if ys.size == 0:
        return np.zeros((h, w), np.float32)
    y0, y1 = max(0, ys.min() - 2), min(h, ys.max() + 3)
    x0, x1 = max(0, xs.min() - 2), min(w, xs.max() + 3)
    a = alpha[y0:y1, x0:x1]
    mask = (a >= 0.5).astype(np.uint8)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 5)
    bulge = np.sqrt(dist / max(float(dist.max()), 1e-6))
    gray = cv2.cvtColor(rgb[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    sigma = max(1.0, 0.01 * max(h, w))
    shade = cv2.GaussianBlur(gray, (0, 0), sigma)
    depth = (1.0 - shading_weight) * bulge + shading_weight * shade * (bulge > 0)
    depth = depth / max(float(depth.max()), 1e-6)
    out = np.zeros((h, w), np.float32)
    out[y0:y1, x0:x1] = depth * a
    return out


def scene_depth(product_depth: np.ndarray, alpha: np.ndarray, horizon_y: int, base_y: int) -> np.ndarray:
    """Full-frame depth: floor plane + wall + the product standing on the floor.

    product_depth: HW float32 [0, 1] (0 outside). horizon_y/base_y: floor line and the product's
    lowest row, in pixels. Returns HW float32 [0, 1], near = 1.
    """
    h, w = alpha.shape
    y = np.arange(h, dtype=np.float32)[:, None]
    floor_span = max(h - 1 - horizon_y, 1)
    floor = np.where(y > horizon_y, 0.15 + 0.55 * (y - horizon_y) / floor_span, 0.1)
    floor = np.broadcast_to(floor, (h, w)).astype(np.float32)
    base = 0.15 + 0.55 * max(base_y - horizon_y, 0) / floor_span
    product = base + (1.0 - base) * 0.6 * product_depth + 0.05
    return np.clip(alpha * product + (1.0 - alpha) * floor, 0.0, 1.0).astype(np.float32)
