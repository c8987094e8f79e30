"""Logo/text repair for repainted products: high-frequency detail transfer plus Poisson blending.

1. Detail transfer: inside the logo region the original product's detail is kept and only
   the scene's low-frequency light is taken from the repainted frame, as a per-pixel gain
   ``G(frame) / G(original)`` (Gaussian blurs over product pixels only). The letters come back
   sharp and registered; their shading follows the new scene.
2. Poisson blending (``cv2.seamlessClone``) over the region grown by a few pixels, so the
   repaired patch meets the repainted surroundings with no visible seam.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import BoxXYXY

SEAM_PX = 6
GAIN_RANGE = (0.85, 1.2)  # scene light may shift a repaired logo by -15% .. +20%, not more


def _masked_blur(img: np.ndarray, weight: np.ndarray, sigma: float) -> np.ndarray:
    num = cv2.GaussianBlur(img * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)[..., None]
    return num / np.maximum(den, 1e-3)


def transfer_detail(target: np.ndarray, source: np.ndarray, region: np.ndarray, support: np.ndarray,
                    sigma: float) -> np.ndarray:
    """``source``'s detail under ``target``'s low-frequency light, inside ``region``.

    target/source: HWC uint8; region, support: HW bool (support = the product pixels the blurs
    average over, so the backdrop never bleeds in). Returns HWC uint8 equal to ``target``
    outside ``region``.
    """
    t = target.astype(np.float32)
    s = source.astype(np.float32)
    w = support.astype(np.float32)
    gain = (_masked_blur(t, w, sigma) + 4.0) / (_masked_blur(s, w, sigma) + 4.0)
    # Light changes brightness smoothly and within limits; a repaint that is mostly noise must not
    # drag the logo with it. Luminance gain is shared by the channels, colour gain bounded.
    lum = gain.mean(axis=2, keepdims=True)
    gain = np.clip(lum, GAIN_RANGE[0], GAIN_RANGE[1]) * np.clip(gain / np.maximum(lum, 1e-3), 0.8, 1.25)
    out = np.where(region[..., None], s * gain, t)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def restore_region(frame: np.ndarray, original: np.ndarray, product_mask: np.ndarray, box: BoxXYXY,
                   sigma: float) -> np.ndarray:
    """Repair one logo box of ``frame`` from ``original`` (HWC uint8, output coordinates).

    product_mask: HW bool. Only the product's pixels in the box (and a thin seam band around
    them) change. Returns a new HWC uint8 frame.
    """
    h, w = product_mask.shape
    margin = SEAM_PX + int(3 * sigma) + 2
    x0, y0, x1, y1 = box
    cx0, cy0, cx1, cy1 = max(0, x0 - margin), max(0, y0 - margin), min(w, x1 + margin), min(h, y1 + margin)
    crop = (slice(cy0, cy1), slice(cx0, cx1))
    pm = product_mask[crop]
    region = np.zeros(pm.shape, bool)
    region[y0 - cy0 : y1 - cy0, x0 - cx0 : x1 - cx0] = True
    region &= pm
    if region.sum() < 16:
        return frame
    patched = transfer_detail(frame[crop], original[crop], region, pm, sigma)
    domain = cv2.dilate(region.astype(np.uint8) * 255, np.ones((2 * SEAM_PX + 1,) * 2, np.uint8))
    domain[[0, -1], :] = 0
    domain[:, [0, -1]] = 0
    out = frame.copy()
    if domain.shape[0] < 5 or domain.shape[1] < 5 or not domain.any():
        out[crop][region] = patched[region]
        return out
    ys, xs = np.nonzero(domain)
    center = (int((xs.min() + xs.max() + 1) // 2), int((ys.min() + ys.max() + 1) // 2))
    blended = cv2.seamlessClone(patched, frame[crop], domain, center, cv2.NORMAL_CLONE)
    np.copyto(out[crop], blended, where=pm[..., None])  # the backdrop is never touched
    return out
