"""The gate fails known-bad items and passes the clean one, through the real pipeline.

A generated sample (``mug_red``: a floor shadow under it) is cut out with its exact ground-truth
alpha and run through ``process_product`` with that cut-out injected; then the same with the
mask grown 8 px into the floor shadow, with the bottom half of the product removed, and with
the scene replaced by a black frame and by noise.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pipeline.compose import build_stages, process_product, score_and_gate
from pipeline.config import PipelineConfig
from pipeline.io.imageio import encode_png
from pipeline.restore.paste import alpha_paste
from pipeline.samples import render_sample
from pipeline.score import cutout_signals
from pipeline.types import Segmentation

CONFIG = PipelineConfig().with_overrides({"placement.size": [384, 384]})


@pytest.fixture(scope="module")
def sample():
    s = render_sample("mug_red")
    assert "floor_shadow" in s.meta["covers"]
    return s


@pytest.fixture(scope="module")
def stages():
    return build_stages(CONFIG)


def _run(sample, stages, alpha: np.ndarray):
    seg = Segmentation(alpha=alpha.astype(np.float32), mask=alpha >= 0.5, foreground=sample.rgb,
                       background_rgb=(252.0, 252.0, 252.0), backend="injected")
    return process_product(encode_png(sample.rgb), name="mug_red.png", config=CONFIG, stages=stages, seed=0,
                           sidecar={"logo_boxes": [list(b) for b in sample.logo_boxes]}, segmentation=seg)


@pytest.fixture(scope="module")
def clean(sample, stages):
    return _run(sample, stages, sample.alpha)


def _cutout_reasons(result) -> list[str]:
    return [r for r in result.verdict.reasons if r.startswith("cut-out:")]


def test_the_clean_cutout_passes(clean):
    assert clean.verdict.passed, clean.verdict.reasons
    assert clean.metrics.cutout_confidence > CONFIG.score.gate.cutout_confidence_min


def test_a_mask_grown_8px_into_the_floor_shadow_fails(sample, stages, clean):
    grown = cv2.dilate(sample.mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (17, 17)))
    # The growth really reaches into the floor shadow: under the base, the band it adds is darker
    # than the backdrop (252).
    band = (grown > 0) & ~sample.mask
    base = np.flatnonzero(sample.mask.any(axis=1))[-1]
    band[: base - 4] = False
    assert np.median(sample.rgb[band].mean(axis=1)) < 240
    result = _run(sample, stages, grown.astype(np.float32))
    assert not result.verdict.passed
    assert _cutout_reasons(result), result.verdict.reasons
    assert result.metrics.cutout_confidence < clean.metrics.cutout_confidence


def test_a_half_removed_product_fails(sample, stages):
    ys = np.flatnonzero(sample.mask.any(axis=1))
    half = sample.alpha.copy()
    half[(ys[0] + ys[-1]) // 2:] = 0.0
    result = _run(sample, stages, half)
    assert not result.verdict.passed
    assert _cutout_reasons(result), result.verdict.reasons


@pytest.mark.parametrize(("plate", "reason"), [
    (lambda shape, rng: np.zeros(shape, np.uint8), "black frame:"),
    (lambda shape, rng: rng.integers(0, 256, shape, dtype=np.uint8), "noise frame:"),
])
def test_a_broken_scene_fails_and_names_it(clean, stages, plate, reason):
    placed = clean.placed
    scene = plate(clean.scene.image.shape, np.random.default_rng(0))
    composite = alpha_paste(placed.rgb, placed.alpha, scene)
    cutout = cutout_signals(clean.decoded.rgb, clean.segmentation.mask)
    metrics, verdict = score_and_gate(placed, composite, scene, clean.segmentation.background_rgb, cutout,
                                      stages.theme, CONFIG)
    assert not verdict.passed
    assert any(r.startswith(reason) for r in verdict.reasons), verdict.reasons
    # The product itself is untouched: no appearance or cut-out check fails.
    assert all(not r.startswith(("cut-out:", "colour drift", "detail loss", "logo damage")) for r in verdict.reasons)
