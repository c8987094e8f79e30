"""Where the metrics look: the crop around the product and the distance bands in it.

Everything in :mod:`pipeline.score` works inside one crop window (the product's bounding box
plus a margin wide enough for the outer expansion ring and the SSIM window), never the whole
frame. One Euclidean distance transform (``cv2.distanceTransform``, 5x5 mask: within ~2% of exact)
gives ``dist_edge``, each pixel's distance in pixels to the mask's edge pixels (mask pixels with
an 8-neighbour outside the mask; the frame border is not an edge). From it:

- outside the mask, ``dist_edge`` is the distance to the nearest mask pixel (>= 1);
- inside, ``dist_edge + 1`` is the distance to the nearest non-mask pixel (edge pixels: 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class ProductGeometry:
    """The crop window and per-pixel distances (all arrays are crop-sized, HW).

    window: (y0, y1, x0, x1) of the crop in full-frame pixels (exclusive ends).
    mask: bool hard mask. alpha: float32 in [0, 1]. dist_edge: float32 (see module doc).
    """

    window: tuple[int, int, int, int]
    mask: np.ndarray
    alpha: np.ndarray
    dist_edge: np.ndarray

    def crop(self, image: np.ndarray) -> np.ndarray:
        """The window of a full-frame HW or HWC array (a view)."""
        y0, y1, x0, x1 = self.window
        return image[y0:y1, x0:x1]

    def core(self, erode_px: int) -> np.ndarray:
        """The mask eroded by a disc of radius ``erode_px``; the mask itself if that empties it."""
        if erode_px <= 0:
            return self.mask
        core = self.ring_in(erode_px + 1e-3, np.inf)
        return core if core.any() else self.mask

    def ring_out(self, inner_px: float, outer_px: float) -> np.ndarray:
        """Pixels outside the mask at distance ``inner_px..outer_px`` from it (1 = touching it)."""
        return ~self.mask & (self.dist_edge >= inner_px) & (self.dist_edge <= outer_px)

    def ring_in(self, inner_px: float, outer_px: float) -> np.ndarray:
        """Mask pixels at distance ``inner_px..outer_px`` from the outside (1 = the mask's edge)."""
        return self.mask & (self.dist_edge >= inner_px - 1.0) & (self.dist_edge <= outer_px - 1.0)


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
    # Edge = mask minus its 3x3 erosion (erode's default border counts the frame as inside).
    not_edge = 1 - (m8 - cv2.erode(m8, np.ones((3, 3), np.uint8)))
    dist_edge = cv2.distanceTransform(not_edge, cv2.DIST_L2, cv2.DIST_MASK_5)
    return ProductGeometry(
        window=(y0, y1, x0, x1),
        mask=m,
        alpha=np.ascontiguousarray(alpha[y0:y1, x0:x1]),
        dist_edge=dist_edge,
    )
