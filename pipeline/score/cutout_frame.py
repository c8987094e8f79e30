"""Mask that runs off to the photo's edge over backdrop: a kept shadow, vignette or strip of backdrop.

A product the photo's frame cuts reaches that side of the photo with product colours
(:func:`pipeline.segment.frame_sides.cut_sides`, the predicate the placement lays products flush
by). Where the mask reaches a side and the photo there is backdrop, the segmenter kept something
that is not the product: a shadow running out of the picture, a vignetted corner, a table edge.

``cutout_runs_off`` = area of the mask reachable from such a side through mask pixels that are not
clearly product (ΔE76 to the fitted backdrop surface under ``t_out``, or shadow-like), as a share
of the mask's area. Only mask that reaches the side with some body counts as a start: the mask
opened by a disc of radius ``OPEN_FRAC`` of the long side, so a product outline that grazes the
edge over a few pixels (a strap's tip, a 2-px spur of backdrop: ``ck_messenger_bag``'s mask at
IoU 0.996) reads 0 or a few 1e-4, while a kept vignette or tabletop reads 1e-2 and more.

Read on a copy whose long side is at most ``WORK_SIDE``; computed only when the mask touches a
side the photo does not cut (otherwise 0 at no cost). A white product that the photo's frame cuts
on a white backdrop reads like backdrop there and counts: that is this signal's known false
alarm (the photo cannot tell them apart by colour).
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.imaging import rgb_to_lab
from pipeline.segment.background import BackgroundModel, shadow_like
from pipeline.segment.frame_sides import border_strips, cut_sides, touched_sides

# --- Named constants. Chosen on the real photos' masks (the segmenter's at work sizes 384-768 and
# the true masks): grazing masks of good cut-outs read <= 0.001, kept vignettes and tabletops
# 0.009-0.1 (docs/gate.md).
WORK_SIDE = 512  # px: long side of the copy the signal is read on
OPEN_FRAC = 0.01  # of the long side (5 px at 512): mask thinner than twice this at the edge is a graze


def runs_off(rgb: np.ndarray, mask: np.ndarray, bg: BackgroundModel, t_out: float) -> float:
    """Share of ``mask`` (HW bool) that runs off to a side of ``rgb`` (HWC uint8, same HW) the
    photo does not cut, over colours that are not clearly product (module docstring). ``bg``:
    the backdrop surface fitted on any smaller copy of ``rgb`` (its ``lab`` is resized here);
    ``t_out``: ΔE76 over which a colour is clearly not backdrop."""
    loose = touched_sides(mask) - cut_sides(rgb, mask)
    if not loose:
        return 0.0
    h, w = mask.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
    m = (cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5) if scale < 1 else mask
    area = int(np.count_nonzero(m))
    if area == 0:
        return 0.0
    lab = rgb_to_lab(small)
    surface = cv2.resize(bg.lab, size, interpolation=cv2.INTER_LINEAR)
    d = lab - surface
    not_product = (np.sqrt(np.einsum("hwc,hwc->hw", d, d)) < t_out) | shadow_like(lab, surface)
    kept = (m & not_product).view(np.uint8)
    _, labels = cv2.connectedComponents(kept, connectivity=8)
    r = max(1, round(OPEN_FRAC * max(size)))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    padded = cv2.copyMakeBorder(m.view(np.uint8) if m.dtype == bool else m.astype(np.uint8), r + 1, r + 1,
                                r + 1, r + 1, cv2.BORDER_CONSTANT, value=0)
    body = cv2.morphologyEx(padded, cv2.MORPH_OPEN, disc)[r + 1:-r - 1, r + 1:-r - 1].view(bool)
    strips = border_strips(m.shape, 1)
    starts: set[int] = set()
    for side in loose:
        sl = strips[side]
        starts.update(int(v) for v in np.unique(labels[sl][body[sl]]))
    starts.discard(0)
    if not starts:
        return 0.0
    return float(np.count_nonzero(np.isin(labels, list(starts)))) / area
