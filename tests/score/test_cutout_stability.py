"""cutout_unstable: the classical segmenter's second look at a smaller work size."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import GateConfig, SegmentConfig
from pipeline.samples import render_sample
from pipeline.score.cutout_stability import second_look_side, tolerant_disagreement, unstable_share
from pipeline.segment.classical import ClassicalSegmenter

LIMIT = GateConfig().cutout_unstable_max


def test_tolerant_disagreement_ignores_a_pixel_of_jitter_and_counts_regions():
    a = np.zeros((60, 60), bool)
    a[10:50, 10:50] = True
    shifted = np.roll(a, 1, axis=1)
    assert tolerant_disagreement(a, shifted, 1) == 0.0
    grown = a.copy()
    grown[50:60, 10:50] = True  # a 10-row strip the other mask has not
    assert tolerant_disagreement(a, grown, 1) == pytest.approx(9 * 40 / grown.sum())
    assert tolerant_disagreement(np.zeros_like(a), np.zeros_like(a), 1) == 0.0


def test_second_look_is_five_eighths_of_the_work_size():
    assert second_look_side(SegmentConfig(work_side=512)) == 320
    assert second_look_side(SegmentConfig(work_side=64)) >= 96


def test_the_segmenters_own_clean_cut_out_is_stable():
    s = render_sample("mug_red")
    seg = ClassicalSegmenter(SegmentConfig())(s.rgb)
    assert unstable_share(s.rgb, seg.mask, SegmentConfig()) < LIMIT


def test_a_mask_with_backdrop_the_second_look_does_not_keep_reads_unstable():
    s = render_sample("mug_red")
    seg = ClassicalSegmenter(SegmentConfig())(s.rgb)
    grown = seg.mask.copy()
    ys, xs = np.nonzero(seg.mask)
    h = ys.max() - ys.min()
    grown[ys.max(): min(grown.shape[0], ys.max() + h // 5), xs.min(): xs.max()] = True  # a slab of floor
    assert unstable_share(s.rgb, grown, SegmentConfig()) > LIMIT
