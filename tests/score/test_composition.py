"""composition_frame_cut: the product against the output frame where the photo does not cut it;
the placement and the check read the same predicate (pipeline.segment.frame_sides.cut_sides)."""

from __future__ import annotations

import dataclasses

import numpy as np

from pipeline.config import GateConfig, PlacementConfig
from pipeline.place.placement import compute_placement
from pipeline.score.composition import frame_cut, touches_frame
from pipeline.segment.frame_sides import cut_sides

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
    placement = compute_placement(mask, PlacementConfig(), photo=photo)
    assert cut_sides(photo, mask) == set() == placement.cut_sides
    assert not touches_frame(placement)
    assert frame_cut(mask, placement) == 0.0


def test_a_mask_that_runs_to_the_photo_edge_over_backdrop_is_not_laid_against_the_frame():
    # A kept shadow strip runs from the product's base down to the photo's bottom edge. Without
    # the photo the mask alone says "cut at the bottom" and the product is glued to the canvas
    # bottom; with the photo the placement sees backdrop there and keeps the margin.
    photo, mask = _photo_with_product()
    photo[220:300, 180:220] = (205, 203, 200)  # the shadow, darker backdrop of the same hue
    mask[220:300, 180:220] = True
    assert cut_sides(photo, mask) == set()
    placement = compute_placement(mask, PlacementConfig(), photo=photo)
    assert placement.cut_sides == frozenset() and not touches_frame(placement)
    assert frame_cut(mask, placement) == 0.0
    glued = compute_placement(mask, PlacementConfig())
    assert glued.box_xyxy[3] == glued.out_hw[0]  # flush with the bottom, trusted
    # Had the placement glued it without the photo's word, the check would count that side.
    unjustified = dataclasses.replace(glued, cut_sides=frozenset())
    assert frame_cut(mask, unjustified) > LIMIT


def test_a_product_the_photo_itself_cuts_lies_flush_with_the_same_side():
    photo, mask = _photo_with_product()
    mask[80:300, 120:280] = True  # the product runs out of the photo at the bottom
    photo[mask] = (150, 60, 40)
    placement = compute_placement(mask, PlacementConfig(), photo=photo)
    assert cut_sides(photo, mask) == {"bottom"} == placement.cut_sides
    assert placement.box_xyxy[3] == placement.out_hw[0]
    assert frame_cut(mask, placement) == 0.0
    assert frame_cut(mask, dataclasses.replace(placement, cut_sides=frozenset())) > LIMIT


def test_a_product_scaled_past_the_canvas_is_cut_by_the_frame():
    photo, mask = _photo_with_product()
    placement = compute_placement(mask, PlacementConfig(product_scale=1.0, margin=0.0, anchor="bottom",
                                                        aspect="16:9"), photo=photo)
    m = placement.matrix.copy()
    m[1, 2] += 120  # pushed 120 px down: its base 48 px past the bottom
    pushed = dataclasses.replace(placement, matrix=m)
    assert frame_cut(mask, pushed) > LIMIT
