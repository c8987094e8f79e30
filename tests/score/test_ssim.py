from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.score.ssim import luminance, masked_ssim, ssim_map
from tests.needs import reference


def _pair(h: int = 90, w: int = 70, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    a = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (3, 3), 0.8)
    b = cv2.GaussianBlur(a, (5, 5), 1.2)
    return a, b


def test_ssim_map_matches_skimage():
    a, b = _pair()
    la, lb = luminance(a), luminance(b)
    _, want = reference("skimage.metrics").structural_similarity(
        la.astype(np.float64),
        lb.astype(np.float64),
        full=True,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    got = ssim_map(la, lb)
    assert got.shape == la.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-4)


def test_luminance_is_rec709_luma():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255]]], np.uint8)
    np.testing.assert_allclose(luminance(rgb)[0], [0.2125 * 255, 0.7154 * 255, 0.0721 * 255], rtol=1e-5)


def test_masked_ssim_equals_mean_of_full_map_over_mask():
    a, b = _pair(h=300, w=120, seed=3)  # several row strips
    mask = np.zeros(a.shape[:2], np.uint8)
    cv2.ellipse(mask, (60, 150), (40, 130), 20, 0, 360, 1, -1)  # strips cut to varying columns
    mask[290:, :3] = 1  # and a corner piece touching the array edges
    mask = mask.astype(bool)
    want = ssim_map(luminance(a), luminance(b))[mask].mean()
    assert masked_ssim(a, b, mask) == pytest.approx(float(want), abs=1e-6)


def test_masked_ssim_identical_is_one_and_partial_change_lowers_it():
    a, b = _pair(h=200, w=40)
    mask = np.ones(a.shape[:2], bool)
    assert masked_ssim(a, a.copy(), mask) == 1.0
    c = a.copy()
    c[150:170] = b[150:170]
    assert 0.0 < masked_ssim(a, c, mask) < 1.0


def test_masked_ssim_errors():
    a, _ = _pair()
    with pytest.raises(ValueError, match="mask is empty"):
        masked_ssim(a, a, np.zeros(a.shape[:2], bool))
    with pytest.raises(ValueError, match="share"):
        masked_ssim(a, a[:-1], np.ones(a.shape[:2], bool))
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        luminance(a.astype(np.float32))
    with pytest.raises(ValueError, match="one shape"):
        ssim_map(np.zeros((5, 5), np.float32), np.zeros((5, 6), np.float32))
