import numpy as np
import pytest

from pipeline.config import PipelineConfig, SegmentConfig
from pipeline.errors import SegmentationError
from pipeline.segment import build_segmenter
from pipeline.segment.classical import ClassicalSegmenter
from tests.synthetic import bottle_on_white, mug_with_handle


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def test_shapes_and_dtypes():
    rgb, _ = bottle_on_white()
    seg = ClassicalSegmenter()(rgb)
    assert seg.alpha.shape == rgb.shape[:2] and seg.alpha.dtype == np.float32
    assert seg.mask.dtype == bool and seg.mask.shape == rgb.shape[:2]
    assert seg.foreground.shape == rgb.shape and seg.foreground.dtype == np.uint8
    assert 0.0 <= seg.alpha.min() and seg.alpha.max() <= 1.0
    assert seg.backend == "classical"
    np.testing.assert_array_equal(seg.mask, seg.alpha >= 0.5)


def test_bottle_with_shadow_matches_ground_truth():
    rgb, gt = bottle_on_white()
    seg = ClassicalSegmenter()(rgb)
    assert iou(seg.mask, gt) > 0.97  # the floor shadow stays background


def test_off_white_background_is_estimated_not_assumed():
    rgb, gt = bottle_on_white(bg=(228, 226, 220))
    seg = ClassicalSegmenter()(rgb)
    assert iou(seg.mask, gt) > 0.97
    assert abs(seg.background_rgb[0] - 228) < 6


def test_handle_hole_stays_open():
    rgb, gt = mug_with_handle()
    seg = ClassicalSegmenter()(rgb)
    assert iou(seg.mask, gt) > 0.97
    assert not seg.mask[110, 165]  # inside the handle


def test_interior_pixels_are_untouched_and_edges_soft():
    rgb, gt = bottle_on_white(shadow=False)
    seg = ClassicalSegmenter()(rgb)
    inner = seg.alpha >= 1.0
    np.testing.assert_array_equal(seg.foreground[inner], rgb[inner])
    soft = (seg.alpha > 0.02) & (seg.alpha < 0.98)
    assert soft.any()


def test_no_white_fringe_in_decontaminated_edges():
    rgb, gt = bottle_on_white(shadow=False)
    seg = ClassicalSegmenter()(rgb)
    edge = (seg.alpha > 0.05) & (seg.alpha < 0.95)
    # The bottle is dark blue; its edge colours must not be pulled toward the white backdrop.
    assert seg.foreground[edge].mean() < rgb[edge].mean()
    assert seg.foreground[edge][:, 0].mean() < 120


def test_product_cut_by_frame_edge():
    rgb, gt = bottle_on_white()
    cut, gt_cut = rgb[:-40], gt[:-40]
    seg = ClassicalSegmenter()(cut)
    assert iou(seg.mask, gt_cut) > 0.95


def test_plain_background_raises_typed_error():
    with pytest.raises(SegmentationError, match="no product"):
        ClassicalSegmenter()(np.full((64, 64, 3), 250, np.uint8))


@pytest.mark.parametrize("bad", [np.zeros((32, 32), np.uint8), np.zeros((32, 32, 3), np.float32),
                                 np.zeros((4, 4, 3), np.uint8)])
def test_rejects_bad_arrays(bad):
    with pytest.raises(ValueError, match="rgb must"):
        ClassicalSegmenter()(bad)


def test_registry_lists_valid_names():
    cfg = PipelineConfig(segment=SegmentConfig.model_construct(backend="nope"))  # past the config check
    with pytest.raises(ValueError, match="classical"):
        build_segmenter(cfg)
