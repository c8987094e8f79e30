import numpy as np
import pytest

from pipeline.config import PlacementConfig
from pipeline.place.placement import compute_placement, map_box, mask_bbox, place_product


def _mask(h=100, w=80, box=(20, 10, 60, 90)):
    m = np.zeros((h, w), bool)
    x0, y0, x1, y1 = box
    m[y0:y1, x0:x1] = True
    return m


@pytest.mark.parametrize("aspect,expected", [("1:1", (512, 512)), ("16:9", (512, 288)), ("9:16", (288, 512)),
                                             ("4:5", (410, 512)), ("3:4", (384, 512))])
def test_aspects(aspect, expected):
    cfg = PlacementConfig(aspect=aspect, long_side=512)
    assert cfg.output_wh() == expected
    p = compute_placement(_mask(), cfg)
    assert p.out_hw == (expected[1], expected[0])


def test_product_scale_and_margin_respected():
    cfg = PlacementConfig(long_side=400, product_scale=0.5, margin=0.1)
    p = compute_placement(_mask(), cfg)
    x0, y0, x1, y1 = p.box_xyxy
    assert abs((y1 - y0) - 200) <= 1  # long side 80 px -> 0.5 * 400
    assert x0 >= 40 and y0 >= 40 and x1 <= 360 and y1 <= 360


def test_bottom_anchor_stands_product_below_horizon():
    p = compute_placement(_mask(), PlacementConfig(long_side=400, anchor="bottom"))
    assert p.box_xyxy[3] > p.horizon_y


def test_cut_product_is_flush_with_canvas_edge():
    m = _mask(box=(20, 10, 60, 100))  # touches the bottom border
    p = compute_placement(m, PlacementConfig(long_side=400))
    assert p.box_xyxy[3] == 400
    assert p.cut_sides == {"bottom"}


def _photo(mask: np.ndarray, product=(150, 60, 40), backdrop=(248, 248, 248)) -> np.ndarray:
    photo = np.empty(mask.shape + (3,), np.uint8)
    photo[...] = backdrop
    photo[mask] = product
    return photo


def test_with_the_photo_only_a_side_that_cuts_the_product_is_laid_flush():
    # The product runs out of the photo at the bottom: the photo shows product there.
    m = _mask(box=(20, 10, 60, 100))
    p = compute_placement(m, PlacementConfig(long_side=400), photo=_photo(m))
    assert p.box_xyxy[3] == 400 and p.cut_sides == {"bottom"}


def test_a_mask_that_grazes_the_top_over_backdrop_is_not_glued_to_the_canvas_top():
    # A product 10 px under the photo's top with a 2-px tendril of backdrop up to the edge (what
    # the segmenter kept on ck_messenger_bag): the photo does not cut the product there.
    m = _mask(box=(20, 10, 60, 90))
    photo = _photo(m)
    m[0:10, 30:32] = True  # the tendril: backdrop-coloured in the photo
    free = compute_placement(m, PlacementConfig(long_side=400), photo=photo)
    assert free.cut_sides == frozenset()
    assert free.box_xyxy[1] >= round(0.08 * 400)  # inside the top margin
    glued = compute_placement(m, PlacementConfig(long_side=400))  # no photo: the mask is trusted
    assert glued.box_xyxy[1] == 0 and glued.cut_sides == {"top"}


def test_explicit_size_and_validation():
    assert PlacementConfig(size=(300, 200)).output_wh() == (300, 200)
    with pytest.raises(ValueError, match="aspect"):
        PlacementConfig(aspect="2:7")
    with pytest.raises(ValueError, match="size"):
        PlacementConfig(size=(4096, 100))


def test_place_product_keeps_colours_and_maps_boxes():
    rgb = np.zeros((100, 80, 3), np.uint8)
    rgb[...] = (10, 200, 30)
    alpha = _mask().astype(np.float32)
    p = compute_placement(alpha > 0.5, PlacementConfig(long_side=256))
    placed = place_product(rgb, alpha, p, ((25, 20, 55, 40),))
    assert placed.rgb.shape == (256, 256, 3) and placed.alpha.dtype == np.float32
    core = placed.alpha >= 1.0
    assert core.any()
    np.testing.assert_array_equal(np.unique(placed.rgb[core].reshape(-1, 3), axis=0), [[10, 200, 30]])
    (bx0, by0, bx1, by1), = placed.logo_boxes
    assert p.box_xyxy[0] <= bx0 < bx1 <= p.box_xyxy[2]
    assert map_box((20, 10, 60, 90), p) == p.box_xyxy


def test_empty_mask_raises():
    with pytest.raises(ValueError, match="empty"):
        mask_bbox(np.zeros((10, 10), bool))
