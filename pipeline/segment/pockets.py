"""Pockets: white parts the backdrop flood entered through a narrow gap.

A mug's white inside behind a faint back rim, or a white sole seen through a gap in its
outline, looks like shaded backdrop, and the flood reaches it through a gap a few pixels wide.
Flooding again through passages ``WIDE_PX`` wide leaves such a pocket out. A pocket is given
back to the product when

* it is not backdrop-coloured (mean ΔE76 to the backdrop above the flood threshold),
* it rests on the product: below most of its columns the next pixel is product (a floor
  shadow or a gap between two items lies on the floor, with backdrop below), and
* its deviation does not grow steadily with depth from the open backdrop (correlation under
  ``MAX_DEPTH_CORR``: that is a shadow pooled under an overhang, like a cap's brim).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.segment.shadows import correlation
from pipeline.segment.work_scale import REFERENCE, WorkScale

# Chosen on the generated samples (mug insides, sneaker soles) and the first 30 real photos (issue 7).
WIDE_PX = 21  # ref px: passage width of the second, stricter flood (3x the first flood's)
MIN_AREA = 0.0005  # share of the image: smallest pocket judged
MIN_RESTING = 0.8  # share of a pocket's columns with product right below it
MAX_DEPTH_CORR = 0.9  # Pearson r: a steadier deepening with depth than this is a pooled shadow


def flood_from_border(passable: np.ndarray, border: np.ndarray, width: int) -> np.ndarray:
    """HW bool: passable pixels reachable from the frame through passages >= ``width`` wide."""
    kernel = np.ones((width, width), np.uint8)
    thin = cv2.erode(passable.astype(np.uint8), kernel)
    n, labels = cv2.connectedComponents(thin, connectivity=4)
    reach = np.zeros(n, bool)
    reach[np.unique(labels[border & (thin > 0)])] = True
    reach[0] = False
    return (cv2.dilate(reach[labels].astype(np.uint8), kernel) > 0) & passable


def _resting_share(region: np.ndarray, product: np.ndarray) -> float:
    """Share of the columns of ``region`` (hw bool window) whose pixel right below the region's
    lowest pixel is ``product`` (hw bool window); 0 where the window ends first."""
    cols = np.flatnonzero(region.any(axis=0))
    h = region.shape[0]
    low = h - 1 - np.argmax(region[::-1, cols], axis=0)
    inside = low + 1 < h
    below = np.zeros(cols.size, bool)
    below[inside] = product[low[inside] + 1, cols[inside]]
    return float(below.mean())


def narrow_pockets(reach: np.ndarray, passable: np.ndarray, border: np.ndarray, dist: np.ndarray,
                   threshold: float, scale: WorkScale = REFERENCE) -> np.ndarray:
    """HW bool: pockets of the flood ``reach`` (HW bool) to give back to the product.

    passable, border: the flood's inputs (HW bool); dist: HW float32 ΔE76 to the fitted backdrop;
    threshold: the ΔE76 under which a pixel is backdrop-coloured; scale: the work size's.
    """
    wide = flood_from_border(passable, border, scale.px(WIDE_PX))
    pocket = reach & ~wide
    n, labels, stats, _ = cv2.connectedComponentsWithStats(pocket.astype(np.uint8), connectivity=4)
    keep = np.zeros(n, bool)
    if n <= 1:
        return keep[labels]
    product = ~reach
    depth = cv2.distanceTransform((~wide).astype(np.uint8), cv2.DIST_L2, 3)
    for i in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= MIN_AREA * reach.size):
        if not i:
            continue
        x, y, w, h = stats[i, :4]
        win = (slice(y, min(reach.shape[0], y + h + 1)), slice(x, x + w))
        region = labels[win] == i
        d = dist[win][region]
        keep[i] = (float(d.mean()) > threshold and _resting_share(region, product[win]) >= MIN_RESTING
                   and correlation(depth[win][region], d) < MAX_DEPTH_CORR)
    return keep[labels]
