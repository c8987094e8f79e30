import cv2
import numpy as np

from pipeline.segment.background import border_mask
from pipeline.segment.pockets import _resting_share, flood_from_border, narrow_pockets


def _cup(inside_de: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A cup (walls and bottom are barriers) whose inside opens to the backdrop through a 9 px gap
    in a faint rim. Returns (reach, passable, border, dist)."""
    passable = np.ones((120, 120), bool)
    passable[30:100, 30:40] = passable[30:100, 80:90] = passable[90:100, 30:90] = False  # walls, bottom
    passable[30, 40:80] = False  # the faint rim ...
    passable[30, 55:64] = True  # ... with a gap
    dist = np.zeros((120, 120), np.float32)
    dist[31:90, 40:80] = inside_de
    border = border_mask(120, 120)
    return flood_from_border(passable, border, 7), passable, border, dist


def test_shaded_inside_behind_a_narrow_gap_is_given_back():
    reach, passable, border, dist = _cup(8.0 + np.random.default_rng(0).normal(0, 0.3, (59, 40)))
    assert reach[60, 60]  # the ordinary flood got in
    pockets = narrow_pockets(reach, passable, border, dist, 2.2)
    assert pockets[35:89, 41:79].all() and not pockets[:25].any()


def test_backdrop_coloured_or_deepening_pockets_stay_backdrop():
    reach, passable, border, dist = _cup(1.0)  # looks like the backdrop: a hole, not a part
    assert not narrow_pockets(reach, passable, border, dist, 2.2).any()
    outside = np.ones((120, 120), np.uint8)
    outside[30:100, 30:90] = 0  # the cup's box
    depth = cv2.distanceTransform(1 - outside, cv2.DIST_L2, 3)[31:90, 40:80]
    reach, passable, border, dist = _cup(3.0 + 0.5 * depth)  # deeper, darker: a pooled shadow
    assert not narrow_pockets(reach, passable, border, dist, 2.2).any()


def test_resting_share_counts_product_right_below():
    region = np.zeros((6, 4), bool)
    region[1:3] = True
    product = np.zeros((6, 4), bool)
    product[3, :3] = True  # product below three of the four columns
    assert _resting_share(region, product) == 0.75
