"""Shadows and reflections from the product's mask and a light direction.

All functions return HW float32 maps in [0, 1] (1 = full effect); the studio backend multiplies
the backdrop by ``1 - strength * shadow``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def _base_row(alpha: np.ndarray) -> int:
    rows = np.nonzero((alpha >= 0.5).any(axis=1))[0]
    return int(rows.max()) if rows.size else alpha.shape[0] - 1


def _product_height(alpha: np.ndarray) -> int:
    rows = np.nonzero((alpha >= 0.5).any(axis=1))[0]
    return int(rows.max() - rows.min() + 1) if rows.size else 1


def product_rows(alpha: np.ndarray) -> tuple[int, int]:
    """(base row, height in rows) of the product in ``alpha`` (HW float32 [0, 1]): its lowest row
    and its height where ``alpha >= 0.5``. The studio backend reads them on the full-resolution
    mask and passes them scaled to the coarser map it draws shadows on: there, a thin lowest part
    (a dangling lace, a cable, a strap's tip) averages under 0.5 and would lift the shadow off
    the point that touches the floor."""
    return _base_row(alpha), _product_height(alpha)


def contact_shadow(alpha: np.ndarray, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Dark, tight occlusion where the product meets the floor.

    alpha: HW float32 [0, 1] in output coordinates. rows: (base row, product height) in these
    coordinates (:func:`product_rows`; None: read from ``alpha``). The product's footprint (its
    lowest rows) is squashed onto the floor line and blurred a little.
    """
    h, w = alpha.shape
    base, ph = rows if rows is not None else product_rows(alpha)
    band = max(2, int(0.04 * ph))
    foot = np.zeros_like(alpha)
    foot[max(0, base - band) : base + 1] = alpha[max(0, base - band) : base + 1]
    # Widen into an ellipse-ish pool just below and around the base.
    sigma = max(1.5, 0.018 * ph)
    pool = cv2.GaussianBlur(foot, (0, 0), sigmaX=sigma * 1.6, sigmaY=sigma * 0.7)
    pool = pool / max(float(pool.max()), 1e-6)
    return np.clip(pool, 0.0, 1.0).astype(np.float32)


def cast_shadow(alpha: np.ndarray, azimuth_deg: float, elevation_deg: float, softness: float,
                horizon_y: int, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Soft shadow of the silhouette thrown onto the floor, away from the light.

    The silhouette is flipped about the base line, foreshortened by the floor's perspective
    and the light's elevation, and sheared sideways by the light's azimuth; blur grows with
    distance from the base (near sharp, far soft). rows: as :func:`contact_shadow`'s.
    """
    h, w = alpha.shape
    base, ph = rows if rows is not None else product_rows(alpha)
    az = math.radians(azimuth_deg)
    squash = float(np.clip(0.45 / math.tan(math.radians(elevation_deg)), 0.08, 0.9))
    shear = -math.cos(az) * 0.9 * squash
    # Point (x, y) of the product at height hgt = base - y lands at (x + shear*hgt, base - squash*hgt):
    # the shadow lies behind the product, toward the horizon, offset away from the light.
    m = np.float32([[1.0, -shear, shear * base], [0.0, squash, base * (1 - squash)]])
    proj = cv2.warpAffine(alpha, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=0)
    sigma = max(1.0, softness * ph)
    near = cv2.GaussianBlur(proj, (0, 0), sigma * 0.4)
    far = cv2.GaussianBlur(proj, (0, 0), sigma * 1.6)
    y = np.arange(h, dtype=np.float32)[:, None]
    t = np.clip((base - y) / max(squash * ph, 1.0), 0.0, 1.0)
    shadow = near * (1 - t) + far * t
    fade = 1.0 - 0.6 * t
    floor = np.clip((y - horizon_y) / max(0.04 * h, 1.0) + 1.0, 0.0, 1.0)
    return np.clip(shadow * fade * floor, 0.0, 1.0).astype(np.float32)


def reflection(rgb: np.ndarray, alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mirror image of the product below its base, fading out with distance.

    Returns (rgb HWC float32 0..255, weight HW float32 [0, 1]).
    """
    h, w = alpha.shape
    base = _base_row(alpha)
    ph = _product_height(alpha)
    flipped_a = np.zeros_like(alpha)
    flipped_rgb = np.zeros(rgb.shape, np.float32)
    n = min(ph, h - base - 1)
    if n <= 0:
        return flipped_rgb, flipped_a
    src = slice(base - n + 1, base + 1)
    dst = slice(base + 1, base + 1 + n)
    flipped_a[dst] = alpha[src][::-1]
    flipped_rgb[dst] = rgb[src][::-1].astype(np.float32)
    y = np.arange(h, dtype=np.float32)[:, None]
    fade = np.clip(1.0 - (y - base) / max(0.35 * ph, 1.0), 0.0, 1.0)
    weight = cv2.GaussianBlur(flipped_a * fade, (0, 0), max(1.0, 0.004 * ph))
    return cv2.GaussianBlur(flipped_rgb, (0, 0), max(1.0, 0.006 * ph)), weight.astype(np.float32)
