"""pipeline.imaging: the one Lab conversion, ΔE76, IoU rule, disc morphology and long-side resize."""

import numpy as np
import pytest

from pipeline.imaging import delta_e76, dilate_disc, disc, erode_disc, iou, resize_long_side, rgb_to_lab
from tests.needs import reference


def test_iou_has_one_rule_for_empty_masks():
    a = np.zeros((10, 10), bool)
    a[:5] = True
    b = np.zeros((10, 10), bool)
    b[:, :5] = True
    assert iou(a, a) == 1.0 and iou(a, b) == pytest.approx(25 / 75)
    empty = np.zeros((3, 3), bool)
    assert iou(empty, empty) == 1.0  # two empty masks agree (issue 17: fallback said 0, metrics said 1)
    assert iou(empty, np.ones((3, 3), bool)) == 0.0


def test_segmenters_and_metrics_share_the_rule():
    from pipeline.score import mask_metrics
    from pipeline.segment import onnx, sam

    assert onnx.iou is sam.iou is iou
    assert not hasattr(mask_metrics, "iou") or mask_metrics.iou is iou


def test_rgb_to_lab_matches_skimage():
    rgb2lab = reference("skimage.color").rgb2lab
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    # OpenCV linearises with its own rounding of the sRGB curve: within 0.25 of skimage (exact: score.color)
    np.testing.assert_allclose(rgb_to_lab(rgb), rgb2lab(rgb), atol=0.25)
    assert rgb_to_lab(rgb).dtype == np.float32


def test_delta_e76_is_euclidean_and_broadcasts():
    lab = np.zeros((4, 5, 3), np.float32)
    assert delta_e76(lab, np.array([0, 3, 4], np.float32)).shape == (4, 5)
    assert float(delta_e76(np.array([50, 3, 4]), np.array([50, 0, 0]))) == pytest.approx(5.0)


def test_disc_morphology():
    assert disc(2).shape == (5, 5) and disc(2)[0, 0] == 0 and disc(2)[2, 2] == 1
    m = np.zeros((21, 21), bool)
    m[10, 10] = True
    grown = dilate_disc(m, 3)
    assert grown.sum() == int(disc(3).sum()) and grown[10, 13] and not grown[13, 13]
    assert erode_disc(grown, 3).sum() == 1
    with pytest.raises(ValueError, match="radius"):
        disc(-1)


def test_resize_long_side():
    img = np.zeros((100, 300, 3), np.uint8)
    small, scale = resize_long_side(img, 150)
    assert small.shape == (50, 150, 3) and scale == 0.5
    same, one = resize_long_side(img, 400)
    assert same is img and one == 1.0
