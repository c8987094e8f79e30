"""Small synthetic composites for the score tests: a product pasted on a plate, with known defects."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import PlacedProduct, Placement

RIM = (70, 55, 45)  # dark brown product rim
LOGO_BOX = (62, 70, 98, 92)  # x0, y0, x1, y1 (inside the product)


def product(h: int = 160, w: int = 160) -> PlacedProduct:
    """An ellipse product: dark rim, red/yellow halves, a white label with black text (the logo box).

    The silhouette is drawn at 4x and area-downsampled, so alpha has a soft 1-px edge.
    ``rgb`` is black where alpha == 0 (it is undefined there by contract).
    """
    big = np.zeros((h * 4, w * 4), np.uint8)
    cv2.ellipse(big, (w * 2, h * 2), (45 * 4, 60 * 4), 0, 0, 360, 255, -1)
    alpha = cv2.resize(big.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)
    alpha[alpha < 1e-3] = 0.0
    alpha[alpha > 1 - 1e-3] = 1.0
    mask = alpha >= 0.5
    rgb = np.zeros((h, w, 3), np.uint8)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb[:] = np.where((xx < w // 2)[..., None], np.array([200, 40, 40], np.uint8), np.array([230, 200, 50], np.uint8))
    inner = cv2.erode(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))).astype(bool)
    rgb[mask & ~inner] = RIM
    x0, y0, x1, y1 = LOGO_BOX
    rgb[y0:y1, x0:x1] = 245
    for i, y in enumerate(range(y0 + 4, y1 - 4, 5)):
        rgb[y : y + 2, x0 + 3 + i : x1 - 3 - i] = 20
    rgb[alpha == 0] = 0
    ys, xs = np.nonzero(mask)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    placement = Placement(matrix=np.eye(2, 3), out_hw=(h, w), box_xyxy=box, horizon_y=int(h * 0.6))
    return PlacedProduct(
        rgb=rgb, alpha=alpha.astype(np.float32), mask=mask, placement=placement, logo_boxes=(LOGO_BOX,)
    )


def plate(h: int = 160, w: int = 160, rgb: tuple[int, int, int] = (40, 45, 60), seed: int = 0) -> np.ndarray:
    """A flat backdrop with a little seeded noise (HWC uint8)."""
    rng = np.random.default_rng(seed)
    base = np.empty((h, w, 3), np.float32)
    base[:] = rgb
    return np.clip(base + rng.normal(0, 1.5, base.shape), 0, 255).astype(np.uint8)


def paste(ref: PlacedProduct, backdrop: np.ndarray) -> np.ndarray:
    """alpha * ref + (1 - alpha) * backdrop, rounded (the exact composite)."""
    a = ref.alpha[..., None]
    return np.clip(a * ref.rgb + (1 - a) * backdrop.astype(np.float32) + 0.5, 0, 255).astype(np.uint8)


def ring_outside(ref: PlacedProduct, width_px: int) -> np.ndarray:
    """HW bool: pixels outside the hard mask within ``width_px`` of it."""
    dist = cv2.distanceTransform((~ref.mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (~ref.mask) & (dist <= width_px)
