"""Composition: is the product whole inside the output frame?

``composition_frame_cut`` = the largest share, over the output frame's sides where the input photo
does not cut the product itself, of the product's width (top, bottom) or height (left, right)
along which its outline lies on that edge of the frame or beyond it: the frame runs along that
much of the product. A product that only grazes the frame with a strap's tip reads a few percent;
a product pushed against the bottom reads most of its width.

The placement lays a product that the photo's frame cuts (a crop of a box, a sleeve running out of
the picture) flush with the same canvas side, which is right: those sides
(``Placement.cut_sides``, decided by :func:`pipeline.segment.frame_sides.cut_sides`, the one
predicate for both) do not count. A mask that only touches a side over backdrop (a kept shadow or
vignette) is no longer laid flush, so this check now catches what other settings or backends do:
a product scaled or anchored past the canvas.

The outline is the full product's, mapped by the placement's matrix without clipping, on a grid
whose long side is at most ``WORK_SIDE``; a pixel within ``EDGE_PX`` of the canvas edge (or
outside the canvas) is at the frame edge.
"""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.types import Placement

# --- Named constants.
WORK_SIDE = 512  # px: long side of the grid the placed outline is traced on
EDGE_PX = 1  # px on that grid: the band along the canvas edge that counts as "at the edge"
SIDES = ("top", "bottom", "left", "right")


def touches_frame(placement: Placement) -> bool:
    """Whether the placed product's box reaches within ``EDGE_PX`` output pixels of the canvas
    edge (or past it); when it does not, ``composition_frame_cut`` is 0 without tracing."""
    x0, y0, x1, y1 = placement.box_xyxy
    out_h, out_w = placement.out_hw
    return x0 <= EDGE_PX or y0 <= EDGE_PX or x1 >= out_w - EDGE_PX or y1 >= out_h - EDGE_PX


def frame_cut(mask: np.ndarray, placement: Placement) -> float:
    """The largest share of the product's width or height (``mask``: the input HW bool mask,
    placed by ``placement``) along which the output frame's edge cuts it, over the sides not in
    ``placement.cut_sides`` (module docstring); 0.0 when no such side touches it."""
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
        if side in placement.cut_sides or not at[side].any():
            continue
        along, extent = (px, gw) if side in ("top", "bottom") else (py, gh)
        worst = max(worst, np.unique(along[at[side]]).size / float(extent))
    return float(worst)
