from __future__ import annotations

import numpy as np
import pytest

from pipeline.score.geometry import product_geometry


def _square(size: int = 60, lo: int = 20, hi: int = 40) -> tuple[np.ndarray, np.ndarray]:
    mask = np.zeros((size, size), bool)
    mask[lo:hi, lo:hi] = True
    return mask.astype(np.float32), mask


def test_crop_window_is_bbox_plus_margin_clipped():
    alpha, mask = _square()
    g = product_geometry(alpha, mask, margin_px=5)
    assert g.window == (15, 45, 15, 45)
    assert g.mask.shape == g.alpha.shape == g.dist_edge.shape == (30, 30)
    assert product_geometry(alpha, mask, margin_px=50).window == (0, 60, 0, 60)


def test_rings_and_core_distances():
    alpha, mask = _square()
    g = product_geometry(alpha, mask, margin_px=10)
    ring1 = g.ring_out(1, 1)
    assert ring1.sum() == 4 * 20  # the 4-neighbour ring (diagonal corners are ~1.4 away)
    ring3 = g.ring_out(1, 3)
    assert not (ring3 & g.mask).any() and ring3.sum() > ring1.sum()
    edge = g.ring_in(1, 1)
    assert edge.sum() == 20 * 4 - 4  # the square's outline
    assert g.core(2).sum() == 16 * 16  # eroded by 2 px on each side
    assert g.core(0) is g.mask


def test_core_falls_back_to_mask_when_erosion_empties_it():
    alpha, mask = _square(lo=28, hi=31)  # 3x3 product
    g = product_geometry(alpha, mask, margin_px=4)
    assert np.array_equal(g.core(5), g.mask)


def test_frame_border_is_not_an_edge():
    mask = np.zeros((30, 30), bool)
    mask[10:, 5:25] = True  # cut by the bottom of the frame
    g = product_geometry(mask.astype(np.float32), mask, margin_px=3)
    assert g.core(2)[-1].any()  # bottom row stays in the core


def test_empty_mask_raises():
    with pytest.raises(ValueError, match="mask is empty"):
        product_geometry(np.zeros((8, 8), np.float32), np.zeros((8, 8), bool), 2)
