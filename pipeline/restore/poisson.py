"""Logo/text repair for repainted products: Poisson blending plus high-frequency detail transfer.

Poisson (``cv2.seamlessClone``) copies the original's gradients into the repainted frame, so the
region takes the scene's light at its border yet keeps its own structure; the detail transfer
then restores the crisp high frequencies (letter edges) the blend softens.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import BoxXYXY


def transfer_detail(target: np.ndarray, source: np.ndarray, region: np.ndarray, sigma: float) -> np.ndarray:
    """``target`` with the high frequencies of ``source`` inside ``region``.

    target/source: HWC uint8, region: HW bool. Returns HWC uint8:
    ``blur(target) + (source - blur(source))`` in the region, ``target`` elsewhere.
    """
    t = target.astype(np.float32)
    s = source.astype(np.float32)
    base = cv2.GaussianBlur(t, (0, 0), sigma)
    detail = s - cv2.GaussianBlur(s, (0, 0), sigma)
    out = np.where(region[..., None], base + detail, t)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def restore_region(frame: np.ndarray, original: np.ndarray, product_mask: np.ndarray, box: BoxXYXY,
                   sigma: float) -> np.ndarray:
    """Repair one logo box of ``frame`` from ``original`` (both HWC uint8, output coordinates).

    Only pixels inside the product mask are changed. Returns a new HWC uint8 frame.
    """
    h, w = product_mask.shape
    x0, y0, x1, y1 = box
    pad = 3
    x0, y0, x1, y1 = max(pad, x0), max(pad, y0), min(w - pad, x1), min(h - pad, y1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return frame
    region = np.zeros((h, w), np.uint8)
    region[y0:y1, x0:x1] = 255
    region &= cv2.erode(product_mask.astype(np.uint8) * 255, np.ones((3, 3), np.uint8))
    if region.sum() == 0:
        return frame
    ys, xs = np.nonzero(region)
    # seamlessClone places the mask's bounding box centre at `center`.
    center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    blended = cv2.seamlessClone(original, frame, region, center, cv2.NORMAL_CLONE)
    return transfer_detail(blended, original, region > 0, sigma)
