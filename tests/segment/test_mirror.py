"""The mirror-image test on drawn scenes: a product with print over a glossy floor."""

import cv2
import numpy as np

from pipeline.imaging import rgb_to_lab as to_lab
from pipeline.segment.mirror import peel_mirror_image

FLOOR = 250


def _product(h: int = 120, w: int = 60) -> np.ndarray:
    """A dark blue bottle with a pale label band and two print lines: structure along its columns."""
    p = np.zeros((h, w, 3), np.float32)
    p[:] = (30, 50, 110)
    p[30:80] = (235, 225, 200)
    p[42:46, 10:50] = (20, 20, 20)
    p[60:63, 14:46] = (180, 40, 40)
    p[:, :6] *= 0.8  # shaded edges: the same across every row
    p[:, -6:] *= 0.8
    return p


def _scene(below: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lab, backdrop lab, mask) of the product standing at row 150 on a white floor, with
    ``below``: its mirror image at gain 0.45 ("mirror"), or the product continuing at full strength
    ("continues": a product symmetric about that row)."""
    rgb = np.full((300, 200, 3), FLOOR, np.float32)
    p = _product()
    rgb[30:150, 70:130] = p
    flipped = p[::-1]
    if below == "mirror":
        rgb[150:270, 70:130] = FLOOR + 0.45 * (flipped - FLOOR)
    else:
        rgb[150:270, 70:130] = flipped
    rgb8 = np.clip(np.rint(rgb), 0, 255).astype(np.uint8)
    lab = to_lab(rgb8)
    bg = np.broadcast_to(to_lab(np.full((1, 1, 3), FLOOR, np.uint8)), lab.shape).copy()
    mask = np.zeros((300, 200), bool)
    mask[30:270, 70:130] = True  # the coarse mask kept both
    return lab, bg, mask


def test_dimmer_mirror_image_below_the_base_is_peeled():
    lab, bg, mask = _scene("mirror")
    out = peel_mirror_image(lab, bg, mask)
    assert out[30:148, 70:130].all()  # the product stays whole
    assert out[152:].sum() < 0.02 * out.sum()  # its mirror image is gone


def test_product_symmetric_at_full_strength_is_kept():
    lab, bg, mask = _scene("continues")
    np.testing.assert_array_equal(peel_mirror_image(lab, bg, mask), mask)


def test_plain_product_without_print_is_kept():
    lab, bg, mask = _scene("mirror")
    plain = np.full((300, 200, 3), FLOOR, np.uint8)
    plain[30:270, 70:130] = (30, 50, 110)  # one colour top to bottom: nothing to match
    np.testing.assert_array_equal(peel_mirror_image(to_lab(plain), bg, mask), mask)


def test_mirrored_island_under_the_product_is_dropped():
    lab, bg, mask = _scene("mirror")
    mask[150:180] = False  # the peel took the top of the mirror image: the rest is an island
    out = peel_mirror_image(lab, bg, mask)
    assert out[30:150, 70:130].all() and not out[180:].any()


def test_empty_and_small_masks_pass_through():
    lab, bg, _ = _scene("mirror")
    for mask in (np.zeros((300, 200), bool), cv2.rectangle(np.zeros((300, 200), np.uint8), (5, 5), (9, 9), 1, -1) > 0):
        np.testing.assert_array_equal(peel_mirror_image(lab, bg, mask), mask)
