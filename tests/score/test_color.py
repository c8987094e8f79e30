from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.imaging import delta_e76
from pipeline.score.color import (
    delta_e00,
    delta_e00_reference,
    delta_e00_srgb,
    srgb_color_to_lab,
    srgb_to_lab,
)
from tests.needs import reference

# Sharma, Wu & Dalal (2005), Table 1: (L1, a1, b1), (L2, a2, b2), ΔE00. Pairs 1-34 minus a few
# redundant ones; 9-15 exercise the hue-mean / hue-difference branches near 180°.
SHARMA = [
    ((50.0000, 2.6772, -79.7751), (50.0000, 0.0000, -82.7485), 2.0425),
    ((50.0000, 3.1571, -77.2803), (50.0000, 0.0000, -82.7485), 2.8615),
    ((50.0000, 2.8361, -74.0200), (50.0000, 0.0000, -82.7485), 3.4412),
    ((50.0000, -1.3802, -84.2814), (50.0000, 0.0000, -82.7485), 1.0000),
    ((50.0000, 0.0000, 0.0000), (50.0000, -1.0000, 2.0000), 2.3669),
    ((50.0000, -1.0000, 2.0000), (50.0000, 0.0000, 0.0000), 2.3669),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0009), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0010), 7.1792),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0011), 7.2195),
    ((50.0000, 2.4900, -0.0010), (50.0000, -2.4900, 0.0012), 7.2195),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0009, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0010, -2.4900), 4.8045),
    ((50.0000, -0.0010, 2.4900), (50.0000, 0.0011, -2.4900), 4.7461),
    ((50.0000, 2.5000, 0.0000), (50.0000, 0.0000, -2.5000), 4.3065),
    ((50.0000, 2.5000, 0.0000), (73.0000, 25.0000, -18.0000), 27.1492),
    ((50.0000, 2.5000, 0.0000), (61.0000, -5.0000, 29.0000), 22.8977),
    ((50.0000, 2.5000, 0.0000), (56.0000, -27.0000, -3.0000), 31.9030),
    ((50.0000, 2.5000, 0.0000), (58.0000, 24.0000, 15.0000), 19.4535),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.1736, 0.5854), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2972, 0.0000), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 1.8634, 0.5757), 1.0000),
    ((50.0000, 2.5000, 0.0000), (50.0000, 3.2592, 0.3350), 1.0000),
    ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644),
    ((63.0109, -31.0961, -5.8663), (62.8187, -29.7946, -4.0864), 1.2630),
    ((61.2901, 3.7196, -5.3901), (61.4292, 2.2480, -4.9620), 1.8731),
    ((35.0831, -44.1164, 3.7933), (35.0232, -40.0716, 1.5901), 1.8645),
    ((22.7233, 20.0904, -46.6940), (23.0331, 14.9730, -42.5619), 2.0373),
    ((36.4612, 47.8580, 18.3852), (36.2715, 50.5065, 21.2231), 1.4146),
    ((90.8027, -2.0831, 1.4410), (91.1528, -1.6435, 0.0447), 1.4441),
    ((90.9257, -0.5406, -0.9208), (88.6381, -0.8985, -0.7239), 1.5381),
    ((6.7747, -0.2908, -2.4247), (5.8714, -0.0985, -2.2286), 0.6377),
    ((2.0776, 0.0795, -1.1350), (0.9033, -0.0636, -0.5514), 0.9082),
]


def _sharma_arrays() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lab1 = np.array([p[0] for p in SHARMA])
    lab2 = np.array([p[1] for p in SHARMA])
    expected = np.array([p[2] for p in SHARMA])
    return lab1, lab2, expected


def test_sharma_reference_pairs_exact_formula():
    lab1, lab2, expected = _sharma_arrays()
    np.testing.assert_allclose(delta_e00_reference(lab1, lab2), expected, atol=1e-4)
    np.testing.assert_allclose(delta_e00_reference(lab2, lab1), expected, atol=1e-4)  # symmetric


def test_sharma_reference_pairs_fast_float32():
    lab1, lab2, expected = _sharma_arrays()
    out = delta_e00(lab1, lab2)
    assert out.dtype == np.float32 and out.shape == (len(SHARMA),)
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_delta_e00_matches_skimage_on_random_colours():
    deltaE_ciede2000 = reference("skimage.color").deltaE_ciede2000
    rng = np.random.default_rng(1)
    lab1 = srgb_to_lab(rng.integers(0, 256, (20000, 3), dtype=np.uint8))
    lab2 = srgb_to_lab(rng.integers(0, 256, (20000, 3), dtype=np.uint8))
    near = lab1 + rng.normal(0, 1.0, lab1.shape).astype(np.float32)  # the regime the gate cares about
    for other in (lab2, near):
        want = deltaE_ciede2000(lab1.astype(np.float64), other.astype(np.float64))
        np.testing.assert_allclose(delta_e00(lab1, other), want, atol=1e-3)
        np.testing.assert_allclose(delta_e00_reference(lab1, other), want, atol=1e-9)


def test_delta_e00_wide_lab_range_and_neutrals():
    deltaE_ciede2000 = reference("skimage.color").deltaE_ciede2000
    rng = np.random.default_rng(2)
    lab1 = np.column_stack([rng.uniform(0, 100, 5000), rng.uniform(-120, 120, (5000, 2))]).astype(np.float32)
    lab2 = lab1.copy()
    lab2[:2500] = np.column_stack([rng.uniform(0, 100, 2500), rng.uniform(-120, 120, (2500, 2))])
    lab2[2500:, 1:] = rng.normal(0, 0.3, (2500, 2))  # neutral greys with noisy hue
    lab1[2500:, 1:] = rng.normal(0, 0.3, (2500, 2))
    want = deltaE_ciede2000(lab1.astype(np.float64), lab2.astype(np.float64))
    np.testing.assert_allclose(delta_e00(lab1, lab2), want, atol=1e-3)


def test_srgb_to_lab_matches_skimage():
    rgb2lab = reference("skimage.color").rgb2lab
    grid = np.stack(np.meshgrid(*(np.arange(0, 256, 5),) * 3, indexing="ij"), -1).reshape(-1, 3).astype(np.uint8)
    got = srgb_to_lab(grid)
    assert got.dtype == np.float32 and got.shape == grid.shape
    np.testing.assert_allclose(got, rgb2lab(grid[None])[0], atol=1e-3)


def test_srgb_to_lab_keeps_leading_shape_and_empty():
    img = np.zeros((4, 5, 3), np.uint8)
    assert srgb_to_lab(img).shape == (4, 5, 3)
    assert srgb_to_lab(np.zeros((0, 3), np.uint8)).shape == (0, 3)
    np.testing.assert_allclose(srgb_to_lab(np.array([255, 255, 255], np.uint8)), [100, 0, 0], atol=1e-2)


def test_srgb_color_to_lab_agrees_with_image_path():
    np.testing.assert_allclose(
        srgb_color_to_lab((10, 200, 90)), srgb_to_lab(np.array([10, 200, 90], np.uint8)), atol=1e-3
    )


@pytest.mark.parametrize(
    "bad",
    [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.float32), [[1, 2, 3]], np.zeros((2, 4), np.uint8)],
)
def test_srgb_to_lab_rejects_bad_input(bad):
    with pytest.raises(ValueError, match="rgb must be a uint8 array"):
        srgb_to_lab(bad)


def test_delta_e_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="same shape"):
        delta_e00(np.zeros((3, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="same shape"):
        delta_e00_reference(np.zeros((3, 2)), np.zeros((3, 2)))


lab_arrays = arrays(
    np.float32,
    st.tuples(st.integers(1, 40), st.just(3)),
    elements=st.floats(-110, 110, width=32),
)


@settings(max_examples=60, deadline=None)
@given(lab1=lab_arrays, seed=st.integers(0, 2**16))
def test_delta_e00_zero_on_equal_and_symmetric(lab1, seed):
    lab1 = lab1.copy()
    lab1[:, 0] = np.abs(lab1[:, 0]) % 100
    rng = np.random.default_rng(seed)
    lab2 = lab1 + rng.normal(0, 5, lab1.shape).astype(np.float32)
    assert np.all(delta_e00(lab1, lab1) == 0)
    d12, d21 = delta_e00(lab1, lab2), delta_e00(lab2, lab1)
    np.testing.assert_allclose(d12, d21, atol=1e-4)
    assert np.all(d12 >= 0) and np.all(np.isfinite(d12))


def test_delta_e76_is_euclidean():
    assert delta_e76(np.array([50, 3, 4], np.float32), np.array([50, 0, 0], np.float32)) == pytest.approx(5.0)


def test_delta_e00_srgb_equals_lab_route_across_blocks(monkeypatch):
    skimage_color = reference("skimage.color")
    deltaE_ciede2000, rgb2lab = skimage_color.deltaE_ciede2000, skimage_color.rgb2lab
    from pipeline.score import color

    monkeypatch.setattr(color, "_CHUNK", 1000)  # several blocks, and a ragged last one
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (4321, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-8, 9, a.shape), 0, 255).astype(np.uint8)
    got = delta_e00_srgb(a, b)
    assert got.shape == (4321,) and got.dtype == np.float32
    want = deltaE_ciede2000(rgb2lab(a[None])[0], rgb2lab(b[None])[0])
    np.testing.assert_allclose(got, want, atol=1e-3)
    with pytest.raises(ValueError, match="rgb1 and rgb2"):
        delta_e00_srgb(a, b[:-1])
