"""cut_sides: the photo's frame cuts the product only where the photo shows product at that border."""

from __future__ import annotations

import numpy as np

from pipeline.segment.frame_sides import cut_sides, touched_sides


def _photo(h: int = 120, w: int = 160) -> tuple[np.ndarray, np.ndarray]:
    photo = np.full((h, w, 3), 246, np.uint8)
    mask = np.zeros((h, w), bool)
    mask[30:90, 40:120] = True
    photo[mask] = (40, 90, 160)
    return photo, mask


def test_a_product_inside_the_frame_touches_and_is_cut_nowhere():
    photo, mask = _photo()
    assert touched_sides(mask) == set() and cut_sides(photo, mask) == set()


def test_product_colours_at_the_border_are_a_cut():
    photo, mask = _photo()
    mask[30:120, 60:100] = True  # runs out at the bottom
    photo[mask] = (40, 90, 160)
    assert touched_sides(mask) == {"bottom"} and cut_sides(photo, mask) == {"bottom"}


def test_backdrop_or_shadow_at_the_border_is_not_a_cut():
    photo, mask = _photo()
    mask[90:120, 70:90] = True  # a kept shadow strip to the bottom edge
    photo[90:120, 70:90] = (200, 200, 200)  # darker backdrop, same (no) hue: a shadow
    mask[0:30, 100:102] = True  # a 2-px spur of pure backdrop to the top edge
    assert touched_sides(mask) == {"bottom", "top"}
    assert cut_sides(photo, mask) == set()


def test_a_mask_covering_the_whole_border_is_cut_wherever_it_touches():
    photo = np.full((40, 50, 3), 90, np.uint8)
    mask = np.ones((40, 50), bool)
    assert cut_sides(photo, mask) == {"top", "bottom", "left", "right"}
