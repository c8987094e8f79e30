"""Where the metrics look: the crop around the product and the distance bands in it.

Everything in :mod:`pipeline.score` works inside one crop window (the product's bounding box
plus a margin wide enough for the outer expansion ring and the SSIM window), never the whole
frame. Distances are Euclidean (``cv2.distanceTransform``, 5x5 mask: within ~2% of exact), in pixels:

- ``dist_out``: for pixels outside the hard mask, the distance to the nearest mask pixel (>= 1);
  0 inside the mask.
- ``dist_in``: for mask pixels, the distance to the nearest non-mask pixel (>= 1); 0 outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ProductGeometry:
    """The crop window and per-pixel distances (all arrays are crop-sized, HW).

    window: (y0, y1, x0, x1) of the crop in full-frame pixels (exclusive ends).
    mask: bool hard mask. alpha: float32 in [0, 1]. dist_out / dist_in: float32 (see module doc).
    """

    window: tuple[int, int, int, int]
    mask: np.ndarray
    alpha: np.ndarray
    dist_out: np.ndarray
    dist_in: np.ndarray

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The window of a full-frame HW or HWC array (a view)."""
        y0, y1, x0, x1 = self.window
        return image[y0:y1, x0:x1]

    def core(self, erode_px: int) -> np.ndarray:
        """The mask eroded by a disc of radius ``erode_px``; the mask itself if that empties it."""
        if erode_px <= 0:
            return self.mask
        core = self.dist_in > erode_px
        return core if core.any() else self.mask

    def ring_out(self, inner_px: float, outer_px: float) -> np.ndarray:
        """Pixels outside the mask with ``inner_px <= dist_out <= outer_px``."""
        return (self.dist_out >= inner_px) & (self.dist_out <= outer_px)

    def ring_in(self, inner_px: float, outer_px: float) -> np.ndarray:
        """Mask pixels with ``inner_px <= dist_in <= outer_px`` (1 = the mask's own boundary)."""
        return (self.dist_in >= inner_px) & (self.dist_in <= outer_px)


def product_geometry(alpha: np.ndarray, mask: np.ndarray, margin_px: int) -> ProductGeometry:
    """Crop window = bbox of (alpha > 0 or mask) grown by ``margin_px``, clipped to the frame.

    alpha: HW float32 in [0, 1]; mask: HW bool, not empty. Raises ``ValueError`` on an empty mask.
    """
    support = (alpha > 0) | mask
    x, y, w, h = cv2.boundingRect(support.view(np.uint8))
    if w == 0 or h == 0 or not mask.any():
        raise ValueError("reference.mask is empty: there is no product to score")
    height, width = mask.shape
    y0, y1 = max(0, y - margin_px), min(height, y + h + margin_px)
    x0, x1 = max(0, x - margin_px), min(width, x + w + margin_px)
    m = np.ascontiguousarray(mask[y0:y1, x0:x1])
    m8 = m.view(np.uint8)
    dist_out = cv2.distanceTransform(1 - m8, cv2.DIST_L2, cv2.DIST_MASK_5)
    dist_in = cv2.distanceTransform(m8, cv2.DIST_L2, cv2.DIST_MASK_5)
    return ProductGeometry(
        window=(y0, y1, x0, x1),
        mask=m,
        alpha=np.ascontiguousarray(alpha[y0:y1, x0:x1]),
        dist_out=dist_out,
        dist_in=dist_in,
    )
