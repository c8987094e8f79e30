import numpy as np
import pytest

from pipeline.config import ControlConfig, PipelineConfig
from pipeline.control import build_depth_estimator
from pipeline.control.canny import auto_canny_thresholds, canny_map
from pipeline.control.depth import PseudoDepth, pseudo_depth
from pipeline.control.maps import build_control_maps


def test_maps_are_controlnet_shaped(placed_bottle):
    maps = build_control_maps(placed_bottle, PseudoDepth(), ControlConfig())
    h, w = placed_bottle.placement.out_hw
    for img in (maps.canny, maps.depth):
        assert img.shape == (h, w, 3) and img.dtype == np.uint8
        np.testing.assert_array_equal(img[..., 0], img[..., 1])
    assert maps.depth_backend == "pseudo"


def test_canny_suppresses_background_and_finds_product_edges(placed_bottle):
    canny, (low, high) = canny_map(placed_bottle.rgb, placed_bottle.alpha)
    edges = canny[..., 0] > 0
    assert 0 < low < high
    near = np.zeros_like(edges)
    ys, xs = np.nonzero(placed_bottle.alpha > 0)
    near[ys.min() - 3 : ys.max() + 4, xs.min() - 3 : xs.max() + 4] = True
    assert edges.any()
    assert not edges[~near].any()


def test_auto_thresholds_adapt_to_contrast():
    rng = np.random.default_rng(0)
    flat = (120 + rng.normal(0, 3, (64, 64))).clip(0, 255).astype(np.uint8)
    busy = (rng.random((64, 64)) * 255).astype(np.uint8)
    region = np.ones((64, 64), bool)
    assert auto_canny_thresholds(busy, region)[1] > auto_canny_thresholds(flat, region)[1]


def test_depth_is_near_in_the_middle_and_zero_outside(placed_bottle):
    d = pseudo_depth(placed_bottle.rgb, placed_bottle.alpha)
    assert d.dtype == np.float32 and d.shape == placed_bottle.alpha.shape
    assert d[placed_bottle.alpha == 0].max() == 0
    ys, xs = np.nonzero(placed_bottle.mask)
    cy, cx = int(ys.mean()), int(xs.mean())
    assert d[cy, cx] > d[cy, xs.min() + 1]


def test_scene_depth_floor_recedes(placed_bottle):
    maps = build_control_maps(placed_bottle, PseudoDepth(), ControlConfig())
    col = maps.depth[:, 2, 0].astype(int)  # far left column: floor + wall only
    assert col[-1] > col[placed_bottle.placement.horizon_y + 2] >= col[0]


def test_unknown_depth_backend_lists_names():
    with pytest.raises(ValueError, match="pseudo"):
        build_depth_estimator(PipelineConfig(control=ControlConfig.model_construct(depth_backend="zzz")))
