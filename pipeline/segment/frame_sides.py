"""Which sides of the photo's frame cut the product: the one predicate placement and gate share.

A product the photo's frame cuts (a crop of a box, a sleeve running out of the picture) is laid
flush with the same side of the output canvas, so the cut never floats in the scene
(:func:`pipeline.place.placement.compute_placement`). A mask that merely *touches* a side is not
enough: a segmenter that kept a shadow, a vignette or a strip of backdrop running to the photo's
edge, or a few pixels of a product's outline grazing it, would glue the product to the canvas
edge. :func:`cut_sides` therefore asks the photo: a side cuts the product when the mask touches
that border and the photo there is the product, not backdrop: the mean Lab of the mask's pixels
on that border (``BORDER_PX`` deep) differs from the backdrop's (the median of the border pixels
outside the mask) by over ``CUT_DE`` ΔE76 and is not a shadow on it
(:func:`pipeline.segment.background.shadow_like`).

The gate reads the same predicate: ``composition_frame_cut`` ignores the sides that cut the
product (``Placement.cut_sides``). It lives here, under both the placement and the gate (they may
not import each other), because it is a reading of the cut-out against its photo.
"""

from __future__ import annotations

import numpy as np

from pipeline.imaging import rgb_to_lab
from pipeline.segment.background import shadow_like

# --- Named constants.
BORDER_PX = 2  # px (input): the photo's border strip read on each side
CUT_DE = 6.0  # ΔE76: the product's colour at the border vs the backdrop's (the cut-out signals' OUT_DE)
SIDES = ("top", "bottom", "left", "right")


def border_strips(hw: tuple[int, int], depth: int = BORDER_PX) -> dict[str, tuple[slice, slice]]:
    """``{side: (rows, cols)}``: the ``depth``-px strip along each side of an ``hw`` frame."""
    h, w = hw
    b = max(1, min(depth, h, w))
    return {"top": (slice(0, b), slice(None)), "bottom": (slice(h - b, h), slice(None)),
            "left": (slice(None), slice(0, b)), "right": (slice(None), slice(w - b, w))}


def touched_sides(mask: np.ndarray) -> set[str]:
    """Sides of the frame that ``mask`` (HW bool) touches (its outermost row or column)."""
    return {side for side, sl in border_strips(mask.shape, 1).items() if mask[sl].any()}


def cut_sides(photo: np.ndarray, mask: np.ndarray) -> set[str]:
    """Sides of ``photo`` (HWC uint8) where its frame cuts the product ``mask`` (HW bool, same
    HW): the mask touches that border and the photo there is not backdrop (module docstring).
    A mask that covers the whole border ring (no backdrop to compare with) is cut wherever it
    touches."""
    strips = border_strips(mask.shape)
    ring = np.zeros(mask.shape, bool)
    for sl in strips.values():
        ring[sl] = True
    outside = ring & ~mask
    touched = touched_sides(mask)
    if not outside.any():
        return touched
    backdrop = np.median(rgb_to_lab(photo[outside][None])[0], axis=0)
    out: set[str] = set()
    for side in touched:
        sl = strips[side]
        on = mask[sl]
        colour = rgb_to_lab(photo[sl][on][None])[0].mean(axis=0)
        far = float(np.linalg.norm(colour - backdrop)) > CUT_DE
        shadow = bool(shadow_like(colour[None, None], backdrop[None, None])[0, 0])
        if far and not shadow:
            out.add(side)
    return out
