import numpy as np
import pytest

from pipeline.imaging import iou
from pipeline.score.mask_metrics import boundary_f_score, boundary_tolerance_px


def _square(shift: int = 0, size: int = 200) -> np.ndarray:
    m = np.zeros((size, size), bool)
    m[50 + shift : 150 + shift, 50:150] = True
    return m


def test_tolerance_is_a_share_of_the_diagonal_with_a_floor():
    assert boundary_tolerance_px((1000, 1000)) == pytest.approx(0.004 * np.hypot(1000, 1000))
    assert boundary_tolerance_px((100, 100, 3)) == 2.0


def test_boundary_f_within_and_beyond_tolerance():
    truth = _square()
    assert boundary_f_score(truth, truth) == 1.0
    assert boundary_f_score(_square(2), truth) == 1.0  # 2 px off: inside the 2 px floor
    assert boundary_f_score(_square(6), truth) < 0.6  # the top and bottom edges no longer match
    assert boundary_f_score(np.zeros_like(truth), truth) == 0.0


def test_iou():
    truth = _square()
    assert iou(truth, truth) == 1.0
    assert iou(_square(50), truth) == pytest.approx(50 / 150)
