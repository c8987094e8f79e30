"""composition_frame_cut: the product against the output frame where the photo does not cut it."""

from __future__ import annotations

import numpy as np

from pipeline.config import GateConfig, PlacementConfig
from pipeline.place.placement import compute_placement
from pipeline.score.composition import frame_cut, justified_sides, touches_frame

LIMIT = GateConfig().composition_frame_cut_max


def _photo_with_product(h: int = 300, w: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    photo = np.clip(rng.normal(248, 1.0, (h, w, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[80:220, 120:280] = True
    photo[mask] = (150, 60, 40)
    return photo, mask


def test_a_product_inside_the_photo_is_placed_clear_of_the_frame():
    photo, mask = _photo_with_product()
    placement = compute_placement(mask, PlacementConfig())
    assert justified_sides(photo, mask) == set()
    assert not touches_frame(placement)
    assert frame_cut(mask, placement, set()) == 0.0


def test_a_mask_that_runs_to_the_photo_edge_over_backdrop_pushes_the_product_against_the_frame():
    # A kept shadow strip runs from the product's base down to the photo's bottom edge: the
    # placement lays the product flush with the canvas bottom, and the photo does not justify it.
    photo, mask = _photo_with_product()
    photo[220:300, 180:220] = (205, 203, 200)  # the shadow, darker backdrop of the same hue
    mask[220:300, 180:220] = True
    placement = compute_placement(mask, PlacementConfig())
    assert placement.box_xyxy[3] == placement.out_hw[0]  # flush with the bottom
    assert touches_frame(placement)
    assert justified_sides(photo, mask) == set()
    cut = frame_cut(mask, placement, justified_sides(photo, mask))
    assert cut > LIMIT


def test_a_product_the_photo_itself_cuts_may_lie_flush_with_the_same_side():
    photo, mask = _photo_with_product()
    mask[80:300, 120:280] = True  # the product runs out of the photo at the bottom
    photo[mask] = (150, 60, 40)
    placement = compute_placement(mask, PlacementConfig())
    assert justified_sides(photo, mask) == {"bottom"}
    assert frame_cut(mask, placement, {"bottom"}) == 0.0
    assert frame_cut(mask, placement, set()) > LIMIT  # the same placement, unjustified, would fail
