"""pipeline.fix: a stored fix re-rendered through the library's own stages, the verdict recomputed."""

from __future__ import annotations

import pytest

pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")

from pipeline.compose import build_stages
from pipeline.config import PipelineConfig
from pipeline.fix import render_fixed
from pipeline.io.imageio import encode_png
from pipeline.segment.refine import ClassicalRefiner, Click, Corrections, photo_sha256
from tests.segment.test_refine import _interior, kept_shadow


def test_render_fixed_regates_through_process_product():
    """The fixed item is re-rendered by the library's own stages, its verdict recomputed."""
    sample, shadow = kept_shadow("bottle_teal")
    data = encode_png(sample.rgb)
    config = PipelineConfig()
    stages = build_stages(config)
    corrections = Corrections(photo_sha256(data), "classical", ClassicalRefiner().version,
                              (Click.at("remove", *_interior(shadow)),))
    fixed = render_fixed(data, corrections, name="bottle.png", config=config, stages=stages, seed=0)
    assert fixed.corrections.applied
    result = fixed.result
    assert result.segmentation is fixed.corrections.segmentation
    assert result.segmentation.info["refined"]["clicks"] == 1
    assert result.composite.shape[:2] == config.placement.output_wh()[::-1]
    assert fixed.why_failed == (() if result.verdict.passed else result.verdict.reasons)
    stale = Corrections("0" * 64, "classical", "x", corrections.clicks)
    refused = render_fixed(data, stale, name="bottle.png", config=config, stages=stages, seed=0)
    assert not refused.corrections.applied and any("photo changed" in r for r in refused.why_failed)
