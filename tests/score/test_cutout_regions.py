"""The cut-out signals added for issue 18's misses: a kept mirror image, a filled see-through gap,
a printed panel cut out as a hole, and the segmenters' disagreement."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from bench import gate_defects as gd

from pipeline.config import GateConfig
from pipeline.score import apply_gate
from pipeline.score.cutout import cutout_signals
from pipeline.types import Metrics

GATE = GateConfig()
BACKDROP = 250


def _photo(h: int = 400, w: int = 400, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(rng.normal(BACKDROP, 0.8, (h, w, 3)), 0, 255).astype(np.uint8)


def _textured(img: np.ndarray, mask: np.ndarray, seed: int = 1) -> None:
    """Paint a product with visible detail (a print of small blotches, a few px each) into ``img``
    under ``mask``."""
    rng = np.random.default_rng(seed)
    h, w = mask.shape
    detail = cv2.resize(rng.normal(0, 45, (h // 4, w // 4)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    base = np.clip(110 + detail, 0, 255)
    img[mask] = np.stack([base, base * 0.8, base * 0.6], -1)[mask].astype(np.uint8)


def test_a_kept_floor_reflection_reads_as_a_mirror_image_and_fails():
    img = _photo()
    mask = np.zeros((400, 400), bool)
    mask[60:250, 120:280] = True
    _textured(img, mask)
    assert cutout_signals(img, mask).mirror == 0.0
    photo, alpha = gd.reflection(img, mask, 0.5, np.random.default_rng(0))
    kept = alpha >= 0.5
    assert kept.sum() > 1.1 * mask.sum()  # the painted reflection is in the mask
    s = cutout_signals(photo, kept)
    assert s.mirror > GATE.cutout_mirror_max
    metrics = Metrics(0.0, 0.0, 1.0, None, 0.0, 0.0, **s.as_metrics(GATE))
    assert any(r.startswith("cut-out: mirror image kept under the base") for r in apply_gate(metrics, GATE).reasons)
    # The same photo with the true mask: the reflection is backdrop, nothing is kept.
    assert cutout_signals(photo, mask).mirror == 0.0


def _arch() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A dark arch (two legs and a top bar) with the backdrop seen between the legs: the photo,
    its true mask, and the mask with the opening filled."""
    img = _photo()
    true = np.zeros((400, 400), bool)
    true[80:130, 100:300] = True
    true[130:320, 100:150] = True
    true[130:320, 250:300] = True
    img[true] = (60, 70, 90)
    filled = true.copy()
    filled[130:320, 150:250] = True
    return img, true, filled


def test_a_filled_see_through_gap_reads_as_backdrop_inside_the_mask():
    img, true, filled = _arch()
    assert cutout_signals(img, true).backdrop_gap == 0.0
    s = cutout_signals(img, filled)
    assert s.backdrop_gap > GATE.cutout_backdrop_gap_max
    assert s.backdrop_gap == pytest.approx(190 * 100 / filled.sum(), rel=0.25)


def test_a_white_part_shaded_a_little_is_not_a_gap():
    img, _, filled = _arch()
    img[130:320, 150:250] = (240, 240, 238)  # a white panel of the product, 4-5 ΔE76 under the sweep
    assert cutout_signals(img, filled).backdrop_gap == 0.0


def _carton(panel_as_hole: bool) -> tuple[np.ndarray, np.ndarray]:
    """A kraft carton with a white printed label (a thin frame and text lines); the mask either
    keeps the label or cuts it out as a hole (what a segmenter does when the label is as white
    as the backdrop)."""
    img = _photo()
    mask = np.zeros((400, 400), bool)
    mask[60:340, 90:310] = True
    img[mask] = (170, 130, 90)
    img[120:280, 130:270] = BACKDROP
    cv2.rectangle(img, (130, 120), (269, 279), (40, 40, 40), 2)
    for y in range(150, 260, 22):
        cv2.putText(img, "LABEL 42", (145, y), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (30, 30, 30), 2, cv2.LINE_AA)
    if panel_as_hole:
        mask[122:278, 132:268] = False
    return img, mask


def test_a_printed_panel_cut_out_as_a_hole_fails_but_a_see_through_hole_does_not():
    img, whole = _carton(panel_as_hole=False)
    assert cutout_signals(img, whole).panel_hole == 0.0
    img, holed = _carton(panel_as_hole=True)
    s = cutout_signals(img, holed)
    assert s.panel_hole > GATE.cutout_panel_hole_max
    # A ring (a tape roll) with the backdrop in its round hole: a true hole, not a panel.
    ring = _photo()
    mask = np.zeros((400, 400), bool)
    cv2.circle(mask.view(np.uint8), (200, 200), 140, 1, -1)
    cv2.circle(mask.view(np.uint8), (200, 200), 70, 0, -1)
    ring[mask] = (90, 60, 160)
    assert cutout_signals(ring, mask).panel_hole == 0.0


def test_the_segmenters_disagreement_is_carried_and_gated():
    img, true, _ = _arch()
    s = cutout_signals(img, true)
    assert s.disagreement is None and s.as_metrics(GATE)["cutout_disagreement"] is None
    uncertain = s.with_disagreement(0.2)
    metrics = Metrics(0.0, 0.0, 1.0, None, 0.0, 0.0, **uncertain.as_metrics(GATE))
    assert apply_gate(metrics, GATE).reasons == ("cut-out: segmenters disagree on 20.0% > 10.0%",)
    assert apply_gate(Metrics(0.0, 0.0, 1.0, None, 0.0, 0.0, **s.with_disagreement(0.05).as_metrics(GATE)),
                      GATE).passed
    with pytest.raises(ValueError, match="disagreement"):
        s.with_disagreement(1.5)
