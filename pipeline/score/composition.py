"""Composition: is the product whole inside the output frame?

``composition_frame_cut`` = the largest share, over the output frame's sides where the input photo
does not cut the product itself, of the product's width (top, bottom) or height (left, right)
along which its outline lies on that edge of the frame or beyond it: the frame runs along that
much of the product. A product that only grazes the frame with a strap's tip reads a few percent;
a product pushed against the bottom reads most of its width.

The placement lays a product that the photo's frame cuts (a crop of a box, a sleeve running out of
the picture) flush with the same canvas side, which is right: that side is *justified*. A side is
justified when the input mask touches that side of the photo and the photo there is the product,
not backdrop: the mean Lab of the mask's pixels on that border differs from the backdrop's (the
median of the border pixels outside the mask) by over ``JUSTIFY_DE`` ΔE76 and is not a shadow on
it. A segmenter that kept a shadow or a vignette running to the photo's edge makes the placement
push the product against the canvas edge, and the product reads as cut off there (a camera's
lens cut by the bottom of the frame): that side is not justified, and its outline counts.

The outline is the full product's, mapped by the placement's matrix without clipping, on a grid
whose long side is at most ``WORK_SIDE``; a pixel within ``EDGE_PX`` of the canvas edge (or
outside the canvas) is at the frame edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.imaging import rgb_to_lab
from pipeline.segment.background import shadow_like
from pipeline.types import Placement

# --- Named constants.
WORK_SIDE = 512  # px: long side of the grid the placed outline is traced on
EDGE_PX = 1  # px on that grid: the band along the canvas edge that counts as "at the edge"
BORDER_PX = 2  # px (input): the photo's border strip read to decide whether a side is justified
JUSTIFY_DE = 6.0  # ΔE76: the product's colour at the border vs the backdrop's (the cut-out signals' OUT_DE)
SIDES = ("top", "bottom", "left", "right")


def justified_sides(photo: np.ndarray, mask: np.ndarray) -> set[str]:
    """Sides of ``photo`` (HWC uint8) where its frame cuts the product ``mask`` (HW bool): the
    mask touches that border and the photo there is not backdrop (module docstring)."""
    h, w = mask.shape
    b = min(BORDER_PX, h, w)
    strips = {"top": (slice(0, b), slice(None)), "bottom": (slice(h - b, h), slice(None)),
              "left": (slice(None), slice(0, b)), "right": (slice(None), slice(w - b, w))}
    ring = np.zeros((h, w), bool)
    for sl in strips.values():
        ring[sl] = True
    outside = ring & ~mask
    out: set[str] = set()
    if not outside.any():
        return {side for side, sl in strips.items() if mask[sl].any()}
    backdrop = np.median(rgb_to_lab(photo[outside][None])[0], axis=0)
    for side, sl in strips.items():
        on = mask[sl]
        if not on.any():
            continue
        colour = rgb_to_lab(photo[sl][on][None])[0].mean(axis=0)
        far = float(np.linalg.norm(colour - backdrop)) > JUSTIFY_DE
        shadow = bool(shadow_like(colour[None, None], backdrop[None, None])[0, 0])
        if far and not shadow:
            out.add(side)
    return out


def touches_frame(placement: Placement) -> bool:
    """Whether the placed product's box reaches within ``EDGE_PX`` output pixels of the canvas
    edge (or past it); when it does not, ``composition_frame_cut`` is 0 without tracing."""
    x0, y0, x1, y1 = placement.box_xyxy
    out_h, out_w = placement.out_hw
    return x0 <= EDGE_PX or y0 <= EDGE_PX or x1 >= out_w - EDGE_PX or y1 >= out_h - EDGE_PX


def frame_cut(mask: np.ndarray, placement: Placement, justified: set[str]) -> float:
    """The largest share of the product's width or height (``mask``: the input HW bool mask,
    placed by ``placement``) along which the output frame's edge cuts it, over the sides not in
    ``justified`` (module docstring); 0.0 when no such side touches it."""
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    if ys.size == 0:
        return 0.0
    x0, x1, y0, y1 = int(xs[0]), int(xs[-1]) + 1, int(ys[0]), int(ys[-1]) + 1
    m = placement.matrix
    out_h, out_w = placement.out_hw
    # The product's box in output pixels (unclipped), and the grid it is traced on.
    ox0, oy0 = m[0, 0] * x0 + m[0, 2], m[1, 1] * y0 + m[1, 2]
    ow, oh = (x1 - x0) * m[0, 0], (y1 - y0) * m[1, 1]
    r = min(1.0, WORK_SIDE / max(ow, oh, 1.0))
    gw, gh = max(1, round(ow * r)), max(1, round(oh * r))
    crop = np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8)
    grid = cv2.resize(crop, (gw, gh), interpolation=cv2.INTER_NEAREST)
    padded = cv2.copyMakeBorder(grid, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    outline = (padded - cv2.erode(padded, np.ones((3, 3), np.uint8))).view(bool)[1:-1, 1:-1]
    py, px = np.nonzero(outline)
    if py.size == 0:
        return 0.0
    # Outline pixels in output coordinates (grid pixel centres).
    X = ox0 + (px + 0.5) / r
    Y = oy0 + (py + 0.5) / r
    edge = EDGE_PX / r
    at = {"top": Y < edge, "bottom": Y > out_h - edge, "left": X < edge, "right": X > out_w - edge}
    worst = 0.0
    for side in SIDES:
        if side in justified or not at[side].any():
            continue
        along, extent = (px, gw) if side in ("top", "bottom") else (py, gh)
        worst = max(worst, np.unique(along[at[side]]).size / float(extent))
    return float(worst)
