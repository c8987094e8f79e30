"""cutout_runs_off: mask that runs off to a side of the photo the frame does not cut."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.config import GateConfig
from pipeline.score import cutout_signals

LIMIT = GateConfig().cutout_runs_off_max


def _photo(h: int = 300, w: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    photo = np.clip(rng.normal(244, 1.0, (h, w, 3)), 0, 255).astype(np.uint8)
    mask = np.zeros((h, w), bool)
    mask[60:200, 120:280] = True
    photo[mask] = (150, 60, 40)
    return photo, mask


def test_a_product_clear_of_the_frame_reads_zero():
    photo, mask = _photo()
    assert cutout_signals(photo, mask).runs_off == 0.0


def test_a_kept_shadow_running_to_the_bottom_edge_fails():
    photo, mask = _photo()
    photo[200:300, 130:270] = (214, 213, 212)  # a shadow on the backdrop down to the photo's edge
    kept = mask.copy()
    kept[200:300, 130:270] = True
    s = cutout_signals(photo, kept)
    assert s.runs_off > LIMIT
    assert s.runs_off == pytest.approx(100 * 140 / kept.sum(), rel=0.1)
    assert cutout_signals(photo, mask).runs_off == 0.0  # the right cut-out of the same photo


def test_a_kept_blob_of_vignette_at_the_top_fails():
    photo, mask = _photo()
    photo[0:40, 320:400] = (170, 170, 172)  # a dark corner
    kept = mask.copy()
    kept[0:40, 320:400] = True  # kept as a second part
    assert cutout_signals(photo, kept).runs_off > LIMIT


def test_a_thin_spur_grazing_the_edge_does_not_fail():
    # The product 10 px under the top with a 3-px spur of backdrop to the edge (ck_messenger_bag's
    # cut-out at IoU 0.996): a graze, not a kept region.
    photo, mask = _photo()
    mask[50:60, 200:203] = True
    mask[0:50, 200:203] = True
    assert cutout_signals(photo, mask).runs_off <= LIMIT


def test_a_product_the_frame_cuts_reads_zero():
    photo, mask = _photo()
    mask[60:300, 120:280] = True
    photo[mask] = (150, 60, 40)
    assert cutout_signals(photo, mask).runs_off == 0.0

