"""One shadow predicate, three presets: each reproduces the test its caller used before (so the
scorer's expansion signal and the segmenter's masks did not change when they started to share it)."""

import numpy as np

from pipeline.segment.shadow_predicate import EXPANSION, FLOOD, PEEL, is_shadow, is_shadow_lab


def _random_lab(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    px = np.stack([rng.uniform(0, 100, n), rng.uniform(-20, 20, n), rng.uniform(-20, 20, n)], axis=1)
    bg = np.stack([rng.uniform(40, 100, n), rng.uniform(-5, 5, n), rng.uniform(-5, 5, n)], axis=1)
    return px.astype(np.float32), bg.astype(np.float32)


def test_flood_preset_is_the_segmenters_old_backdrop_test():
    px, bg = _random_lab(20000, 0)
    ratio = px[:, 0] / np.maximum(bg[:, 0], 1e-3)
    dchroma = np.hypot(px[:, 1] - bg[:, 1], px[:, 2] - bg[:, 2])
    old = (ratio >= 0.45) & (ratio < 1.0) & (dchroma <= 6.0)
    new = is_shadow_lab(px, bg, FLOOD)
    assert (old != new).mean() < 1e-3 and old.any() and (~old).any()  # equal but for float rounding


def test_peel_preset_is_the_peels_old_test_with_its_tint_allowance():
    px, bg = _random_lab(20000, 1)
    dark = bg[:, 0] - px[:, 0]
    ratio = px[:, 0] / np.maximum(bg[:, 0], 1e-3)
    dchroma = np.hypot(px[:, 1] - bg[:, 1], px[:, 2] - bg[:, 2])
    old = (ratio > 0.3) & (ratio < 1.02) & (dchroma <= 4.0 + 0.35 * np.maximum(dark, 0))
    assert (old != is_shadow_lab(px, bg, PEEL)).mean() < 1e-3


def test_expansion_preset_is_the_scorers_old_test():
    px, bg = _random_lab(20000, 2)
    L, a, b = px.T
    bl, ba, bb = bg.T
    old = (L < bl) & (L >= 0.45 * bl) & ((a - ba) ** 2 + (b - bb) ** 2 <= 8.0 ** 2)
    np.testing.assert_array_equal(old, is_shadow(L, a, b, bl, ba, bb, EXPANSION))


def test_presets_differ_where_their_callers_need_it():
    bg = np.array([[90.0, 0.0, 0.0]], np.float32)
    hard = np.array([[30.0, 0.0, 0.0]], np.float32)  # a hard cast shadow on a grey sweep: 33% of the backdrop
    assert is_shadow_lab(hard, bg, PEEL)[0] and not is_shadow_lab(hard, bg, FLOOD)[0]
    tinted = np.array([[70.0, 7.0, 0.0]], np.float32)  # a scene's shadow that took its tint
    assert is_shadow_lab(tinted, bg, EXPANSION)[0] and not is_shadow_lab(tinted, bg, FLOOD)[0]
    lighter = np.array([[91.0, 0.0, 0.0]], np.float32)  # noise over the backdrop: only the peel allows it
    assert is_shadow_lab(lighter, bg, PEEL)[0] and not is_shadow_lab(lighter, bg, FLOOD)[0]


def test_bounds_are_as_documented_for_any_preset_values():
    """min_ratio <= L / L_bg < max_ratio and ΔC*ab <= the allowance, checked at the exact bounds
    (float64, so the products compare equal): a pixel as light as the backdrop is the backdrop, not
    its shadow; the tint allowance grows only with darkening, so a lighter pixel gets the base one."""
    bl = 80.0

    def one(light, a, preset, bg_light=bl):
        return bool(is_shadow(np.array([light]), np.array([a]), np.array([0.0]), bg_light, 0.0, 0.0, preset)[0])

    mid = 0.5 * (FLOOD.min_ratio + FLOOD.max_ratio) * bl
    assert one(FLOOD.min_ratio * bl, 0.0, FLOOD)  # the darkest shadow allowed is a shadow
    assert not one(FLOOD.max_ratio * bl, 0.0, FLOOD)  # the backdrop's own lightness is not
    assert one(mid, FLOOD.base_chroma, FLOOD) and not one(mid, FLOOD.base_chroma + 0.1, FLOOD)
    lighter = bl + 1.0
    assert lighter < PEEL.max_ratio * bl  # noise a little over the backdrop: a peel candidate ...
    assert one(lighter, PEEL.base_chroma, PEEL)  # ... with the base tint allowance ...
    assert not one(lighter, PEEL.base_chroma + 0.1, PEEL)  # ... and no more (only darkening earns more)
    darker = bl - 0.5  # half a ΔL darker earns half a ΔL's worth of tint
    allowance = PEEL.base_chroma + 0.5 * PEEL.chroma_per_dl
    assert one(darker, allowance - 0.01, PEEL) and not one(darker, allowance + 0.01, PEEL)
