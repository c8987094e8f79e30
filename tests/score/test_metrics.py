from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pipeline.config import ScoreConfig
from pipeline.score import resegment, score_composite
from pipeline.types import Metrics, PlacedProduct, Placement
from tests.score import scenes

CFG = ScoreConfig()
WHITE = (255.0, 255.0, 255.0)


@pytest.fixture(scope="module")
def ref() -> PlacedProduct:
    return scenes.product()


@pytest.fixture(scope="module")
def dark_plate() -> np.ndarray:
    return scenes.plate(rgb=(40, 45, 60))


def test_exact_paste_scores_clean(ref, dark_plate):
    m = score_composite(ref, scenes.paste(ref, dark_plate), dark_plate, WHITE, CFG)
    assert isinstance(m, Metrics)
    assert m.delta_e00_mean == 0.0 and m.delta_e00_p95 == 0.0
    assert m.ssim == pytest.approx(1.0, abs=1e-6)
    assert m.logo_ssim_min == pytest.approx(1.0, abs=1e-6)
    assert m.expansion < 0.005
    assert m.halo < 0.5
    values = m.as_dict()
    assert all(isinstance(values[name], float) for name in
               ("delta_e00_mean", "delta_e00_p95", "ssim", "logo_ssim_min", "expansion", "halo"))
    # score_composite fills the appearance metrics; the cut-out and scene checks come from
    # with_checks (pipeline.compose.score_and_gate), so they stay unset here.
    assert values["cutout_confidence"] is None and values["scene_noise"] is None


def test_uniform_cast_of_growing_strength_grows_delta_e(ref, dark_plate):
    base = scenes.paste(ref, dark_plate)
    means, p95s = [], []
    for k in (1, 3, 6, 12, 24):
        comp = base.astype(np.int16)
        comp[ref.mask] += np.array([k, k // 2, -k], np.int16)
        m = score_composite(ref, np.clip(comp, 0, 255).astype(np.uint8), dark_plate, WHITE, CFG)
        means.append(m.delta_e00_mean)
        p95s.append(m.delta_e00_p95)
    assert all(a < b for a, b in zip(means, means[1:], strict=False)), means
    assert all(a <= b for a, b in zip(p95s, p95s[1:], strict=False)), p95s
    assert means[0] > 0 and means[-1] > 5


def test_blurred_logo_drops_logo_ssim(ref, dark_plate):
    comp = scenes.paste(ref, dark_plate)
    x0, y0, x1, y1 = scenes.LOGO_BOX
    comp[y0:y1, x0:x1] = cv2.GaussianBlur(comp, (0, 0), 2.0)[y0:y1, x0:x1]
    m = score_composite(ref, comp, dark_plate, WHITE, CFG)
    assert m.logo_ssim_min < 0.8
    assert m.ssim < 1.0
    assert m.delta_e00_mean > 0


def test_logo_boxes_none_tiny_and_clipped(ref, dark_plate):
    comp = scenes.paste(ref, dark_plate)
    no_boxes = dataclasses.replace(ref, logo_boxes=())
    assert score_composite(no_boxes, comp, dark_plate, WHITE, CFG).logo_ssim_min is None
    tiny = dataclasses.replace(ref, logo_boxes=((10, 10, 13, 40), (150, 10, 400, 12)))
    assert score_composite(tiny, comp, dark_plate, WHITE, CFG).logo_ssim_min is None
    clipped = dataclasses.replace(ref, logo_boxes=((-20, 60, 60, 100),))
    assert score_composite(clipped, comp, dark_plate, WHITE, CFG).logo_ssim_min == pytest.approx(1.0, abs=1e-6)


def test_product_grown_by_8px_is_expansion(ref, dark_plate):
    comp = scenes.paste(ref, dark_plate)
    ring = scenes.ring_outside(ref, 8) & (ref.alpha == 0)
    comp[ring] = (200, 40, 40)  # the product's red, painted around it
    m = score_composite(ref, comp, dark_plate, WHITE, CFG)
    assert m.expansion > 0.03
    # The new pixels are about ring area / mask area.
    assert m.expansion == pytest.approx(ring.sum() / ref.mask.sum(), rel=0.35)


def test_grown_rim_colour_is_expansion_on_light_plate(ref):
    light = scenes.plate(rgb=(225, 215, 200))
    comp = scenes.paste(ref, light)
    ring = scenes.ring_outside(ref, 8) & (ref.alpha == 0)
    comp[ring] = scenes.RIM
    assert score_composite(ref, comp, light, WHITE, CFG).expansion > 0.03


def _shadowed_plate(ref: PlacedProduct) -> np.ndarray:
    """Light backdrop with a dark contact shadow hugging the product's lower half (inside the band)."""
    light = scenes.plate(rgb=(225, 215, 200)).astype(np.float32)
    shadow = (scenes.ring_outside(ref, 8) & (np.arange(160)[:, None] > 100)).astype(np.float32)
    shadow = cv2.GaussianBlur(shadow, (0, 0), 1.0)
    return np.clip(light * (1 - 0.5 * shadow[..., None]), 0, 255).astype(np.uint8)


def test_dark_shadow_of_backdrop_colour_is_not_expansion(ref):
    plate = _shadowed_plate(ref)
    m = score_composite(ref, scenes.paste(ref, plate), plate, WHITE, CFG)
    assert m.expansion < 0.005


def test_shadow_rule_is_what_keeps_the_shadow_out(ref, monkeypatch):
    # Without the shadow test the dark shadow would read as the product's dark rim: this checks
    # that the test above exercises the rule rather than passing by accident.
    plate = _shadowed_plate(ref)
    monkeypatch.setattr(resegment, "SHADOW", dataclasses.replace(resegment.SHADOW, min_ratio=2.0))
    assert score_composite(ref, scenes.paste(ref, plate), plate, WHITE, CFG).expansion > 0.005


def test_white_fringe_on_dark_plate_is_halo(ref, dark_plate):
    comp = scenes.paste(ref, dark_plate)
    comp[scenes.ring_outside(ref, 2) & (ref.alpha == 0)] = (250, 250, 250)  # fringe just past the soft edge
    m = score_composite(ref, comp, dark_plate, WHITE, CFG)
    assert m.halo > 10


def test_white_fringe_on_white_plate_is_no_halo(ref):
    white = np.full((160, 160, 3), 250, np.uint8)
    comp = scenes.paste(ref, white)
    comp[scenes.ring_outside(ref, 2) & (ref.alpha == 0)] = (250, 250, 250)  # fringe just past the soft edge
    assert score_composite(ref, comp, white, WHITE, CFG).halo < 0.5


def test_dark_edge_difference_is_not_halo(ref):
    # A darker (shadow-like) ring is a difference, but not colour from the white source backdrop.
    light = scenes.plate(rgb=(225, 215, 200))
    comp = scenes.paste(ref, light)
    comp[scenes.ring_outside(ref, 2)] = (120, 115, 105)
    assert score_composite(ref, comp, light, WHITE, CFG).halo < 0.5


def test_product_touching_frame_edge(dark_plate):
    ref = scenes.product()
    shifted = PlacedProduct(
        rgb=np.roll(ref.rgb, 60, axis=0),
        alpha=np.roll(ref.alpha, 60, axis=0),
        mask=np.roll(ref.mask, 60, axis=0),
        placement=ref.placement,
        logo_boxes=((62, 130, 98, 170),),
    )
    shifted.mask[:40] = False  # drop the part np.roll wrapped to the top: the product is cut by the bottom edge
    shifted.alpha[:40] = 0
    m = score_composite(shifted, scenes.paste(shifted, dark_plate), dark_plate, WHITE, CFG)
    assert m.delta_e00_mean == 0.0 and m.ssim == pytest.approx(1.0, abs=1e-6)
    assert m.logo_ssim_min == pytest.approx(1.0, abs=1e-6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mask=arrays(np.bool_, st.tuples(st.integers(8, 40), st.integers(8, 40))),
    seed=st.integers(0, 2**16),
)
def test_identical_composite_scores_zero_delta_e_and_unit_ssim(mask, seed):
    if not mask.any():
        mask[mask.shape[0] // 2, mask.shape[1] // 2] = True
    rng = np.random.default_rng(seed)
    h, w = mask.shape
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    plate = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    alpha = mask.astype(np.float32)
    placement = Placement(matrix=np.eye(2, 3), out_hw=(h, w), box_xyxy=(0, 0, w, h), horizon_y=h // 2)
    ref = PlacedProduct(rgb=rgb, alpha=alpha, mask=mask, placement=placement, logo_boxes=((0, 0, w, h),))
    comp = np.where(mask[..., None], rgb, plate)
    m = score_composite(ref, comp, plate, WHITE, CFG)
    assert m.delta_e00_mean == 0.0 and m.delta_e00_p95 == 0.0
    assert m.ssim == pytest.approx(1.0, abs=1e-6)
    assert m.logo_ssim_min == pytest.approx(1.0, abs=1e-6)
    assert m.halo == 0.0


def test_config_bands_are_used(ref, dark_plate):
    comp = scenes.paste(ref, dark_plate)
    comp[scenes.ring_outside(ref, 2) & (ref.alpha == 0)] = (250, 250, 250)  # fringe just past the soft edge
    narrow = score_composite(ref, comp, dark_plate, WHITE, ScoreConfig(halo_band_px=2)).halo
    wide = score_composite(ref, comp, dark_plate, WHITE, ScoreConfig(halo_band_px=8)).halo
    assert narrow > wide > 0  # same leak averaged over a wider ring


# --- validation -------------------------------------------------------------------------------


def test_composite_shape_mismatch_names_argument(ref, dark_plate):
    with pytest.raises(ValueError, match="composite"):
        score_composite(ref, np.zeros((100, 160, 3), np.uint8), dark_plate, WHITE, CFG)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((160, 160, 3), np.float32), np.zeros((160, 160), np.uint8), np.zeros((160, 161, 3), np.uint8), None],
)
def test_bad_plate_names_argument(ref, bad):
    comp = scenes.paste(ref, scenes.plate())
    with pytest.raises(ValueError, match="plate"):
        score_composite(ref, comp, bad, WHITE, CFG)


@pytest.mark.parametrize("bg", [(255, 255), (300, 0, 0), (float("nan"), 0, 0), "white"])
def test_bad_background_colour(ref, dark_plate, bg):
    with pytest.raises(ValueError, match="source_background_rgb"):
        score_composite(ref, scenes.paste(ref, dark_plate), dark_plate, bg, CFG)


def test_bad_reference_fields(ref, dark_plate):
    comp = scenes.paste(ref, dark_plate)
    with pytest.raises(ValueError, match="reference.alpha"):
        score_composite(dataclasses.replace(ref, alpha=ref.alpha[:-1]), comp, dark_plate, WHITE, CFG)
    with pytest.raises(ValueError, match="reference.mask"):
        score_composite(dataclasses.replace(ref, mask=ref.mask.astype(np.uint8)), comp, dark_plate, WHITE, CFG)
    with pytest.raises(ValueError, match="reference.rgb"):
        score_composite(dataclasses.replace(ref, rgb=ref.rgb.astype(np.float32)), comp, dark_plate, WHITE, CFG)
    with pytest.raises(ValueError, match="reference must be a PlacedProduct"):
        score_composite(object(), comp, dark_plate, WHITE, CFG)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="config must be a ScoreConfig"):
        score_composite(ref, comp, dark_plate, WHITE, CFG.gate)  # type: ignore[arg-type]


def test_empty_mask_is_an_error(ref, dark_plate):
    empty = dataclasses.replace(ref, alpha=np.zeros_like(ref.alpha), mask=np.zeros_like(ref.mask))
    with pytest.raises(ValueError, match="mask is empty"):
        score_composite(empty, dark_plate, dark_plate, WHITE, CFG)


@pytest.mark.parametrize(("n_values", "n_zeros"), [(1, 0), (7, 3), (50, 1000), (1000, 50), (3, 57)])
def test_p95_with_implicit_zeros_matches_numpy(n_values, n_zeros):
    from pipeline.score.metrics import _percentile_with_zeros

    values = np.random.default_rng(n_values).uniform(0.01, 10, n_values).astype(np.float32)
    want = np.percentile(np.concatenate([np.zeros(n_zeros, np.float32), values]), 95.0)
    assert _percentile_with_zeros(values, n_zeros, 95.0) == pytest.approx(float(want), rel=1e-6)


def test_shadow_like_growth_that_the_plate_lacks_is_expansion(ref, monkeypatch):
    # A neutral grey rim grown onto a light neutral plate is darker with the same chroma, so the
    # colour rule takes it for a shadow; the plate has no such shadow, so it is growth.
    grey = dataclasses.replace(ref, rgb=np.where(ref.mask[..., None], np.uint8(140), ref.rgb).astype(np.uint8))
    light = scenes.plate(rgb=(220, 220, 220))
    comp = scenes.paste(grey, light)
    ring = scenes.ring_outside(grey, 4) & (grey.alpha == 0)
    comp[ring] = 140
    assert score_composite(grey, comp, light, WHITE, CFG).expansion > 0.02
    # Without the changed-from-expected rule the same growth reads as a shadow.
    monkeypatch.setattr(resegment, "CHANGED_DE", 1e9)
    assert score_composite(grey, comp, light, WHITE, CFG).expansion < 0.005
