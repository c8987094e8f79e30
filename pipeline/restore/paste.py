"""Put the product back over the scene: an exact alpha paste, or logo repair when the backend
repainted the product (``restore.mode: harmonised``)."""

from __future__ import annotations

import numpy as np

from pipeline.config import RestoreConfig
from pipeline.restore.logos import restore_region
from pipeline.types import PlacedProduct, SceneResult


def alpha_paste(product: np.ndarray, alpha: np.ndarray, scene: np.ndarray) -> np.ndarray:
    """``product*alpha + scene*(1-alpha)``: HWC uint8 x HW float32 [0, 1] -> HWC uint8.

    Where alpha is 1 the product's pixels are copied exactly; only edge pixels are blended.
    """
    out = scene.copy()
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return out
    crop = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    a_c, p_c, o_c = alpha[crop], product[crop], out[crop]
    np.copyto(o_c, p_c, where=(a_c >= 1.0)[..., None])
    ys, xs = np.nonzero((a_c > 0.0) & (a_c < 1.0))
    a = a_c[ys, xs][:, None]
    mixed = p_c[ys, xs].astype(np.float32) * a + o_c[ys, xs].astype(np.float32) * (1.0 - a)
    o_c[ys, xs] = np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
    return out


def restore_logos(frame: np.ndarray, placed: PlacedProduct, sigma: float) -> np.ndarray:
    """Rebuild every logo box of ``placed`` in ``frame`` (HWC uint8, output size) from the original
    product (:func:`pipeline.restore.logos.restore_region`)."""
    out = frame
    for box in placed.logo_boxes:
        out = restore_region(out, placed.rgb, placed.alpha, box, sigma)
    return out


def restore_product(scene: SceneResult, placed: PlacedProduct, config: RestoreConfig) -> np.ndarray:
    """The final composite (HWC uint8 at the output size).

    exact (default), or a backend that left the product alone: alpha-paste the original product
    over the scene. harmonised, with a repainted product: keep the backend's product (it took
    the scene's light) and rebuild its logo/text regions from the original at the output size
    (detail transfer under the scene's light, feathered into the repainted product).
    """
    if config.mode == "exact" or not scene.product_altered:
        return alpha_paste(placed.rgb, placed.alpha, scene.image)
    return restore_logos(scene.image, placed, config.detail_sigma)
