"""Pixel constants follow the work size (issue 17): lengths, areas and slopes convert both ways.

That masks do not degrade at 768 and 1024 work pixels is checked on the samples in test_golden.py."""

import numpy as np
import pytest

from pipeline.segment.classical import lightness_slope
from pipeline.segment.work_scale import REFERENCE_SIDE, WorkScale


def test_scale_of_a_work_image():
    assert WorkScale.of((REFERENCE_SIDE, 300)).factor == 1.0
    assert WorkScale.of((300, 200, 3)).factor == 1.0  # below the reference: constants as measured
    s = WorkScale.of((768, 1024))
    assert s.factor == pytest.approx(2.0)
    assert s.px(7) == 14 and s.odd(3) == 7 and s.area(10) == pytest.approx(40.0)
    assert s.slope(0.6) == pytest.approx(0.3) and s.sigma(1.0) == pytest.approx(2.0)
    assert WorkScale().px(0.2) == 1  # never below one pixel


def test_lightness_slope_is_per_reference_pixel():
    """A ramp of 0.4 ΔL per reference pixel reads the same at twice the size."""
    ramp = np.arange(1024, dtype=np.float32)[:, None] * np.ones((1, 64), np.float32)
    ref = lightness_slope(0.4 * ramp[:512], WorkScale())
    big = lightness_slope(0.2 * ramp, WorkScale(2.0))  # the same ramp, drawn at twice the size
    assert float(np.median(ref[10:-10])) == pytest.approx(0.4, rel=0.02)
    assert float(np.median(big[20:-20])) == pytest.approx(0.4, rel=0.02)


def test_the_long_side_sets_the_scale_whichever_way_the_photo_stands():
    """A portrait work image (its height the long side) scales like its landscape twin; a
    trailing channel axis is not a side."""
    for shape in ((1024, 768), (1024, 768, 3), (768, 1024, 3), (1024, 3, 3)):
        assert WorkScale.of(shape).factor == pytest.approx(2.0), shape
