"""Golden pin (issue 17): the gate's catch rate on a small fixed set of injected defects.

Four generated samples (exact ground truth, no real photos needed) each get one visible
strength of every cut-out defect of bench/gate_defects.py, judged by the cut-out signals and the
gate, and four broken backdrops (black, flat, pixel noise, blotchy colour noise), judged by the
scene checks and the gate. The clean cut-outs and backdrops must all pass.

Measured when pinned (this tree, default GateConfig): cut-out defects caught ``CUTOUT_MEASURED``
of 28 (missed: the kept soft shadow on bottle_teal, box_white and sneaker_navy, sneaker_navy's
dropped white part and its backdrop leak), broken backdrops 16 of 16, clean 0 false alarms of 8. The pins sit at the measured value
minus ``MARGIN`` cases (about 10% of the cut-out set), so a heuristic that quietly stops catching
three or more of these fails ``make test``; a better gate only needs the pin raised.
"""

from __future__ import annotations

import numpy as np
import pytest
from bench import gate_defects as gd

from pipeline.config import GateConfig
from pipeline.samples import render_sample
from pipeline.score import apply_gate, cutout_signals, scene_signals
from pipeline.types import Metrics

SAMPLES = ("mug_red", "bottle_teal", "box_white", "sneaker_navy")
STRENGTHS = {"grown": 6, "shadow kept": 0.02, "reflection kept": 0.35, "white part dropped": 0.02,
             "backdrop leak": 0.02, "eroded": 4, "white fringe": 4}
CUTOUT_MEASURED = 23  # of 28, when pinned (the limits of bench/gate_fit.py; shadows kept on 3 samples are missed)
MARGIN = 3
GATE = GateConfig()
# Appearance metrics of an exact paste (they compare the paste with itself).
EXACT = dict(delta_e00_mean=0.0, delta_e00_p95=0.0, ssim=1.0, logo_ssim_min=None, expansion=0.0, halo=0.0)


def _cutout_fails(photo: np.ndarray, mask: np.ndarray) -> bool:
    metrics = Metrics(**EXACT, **cutout_signals(photo, mask).as_metrics(GATE))
    return not apply_gate(metrics, GATE).passed


def _scene_fails(composite: np.ndarray, mask: np.ndarray) -> bool:
    metrics = Metrics(**EXACT, **scene_signals(composite, mask).as_metrics())
    return not apply_gate(metrics, GATE).passed


def _blotchy(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Colour noise drawn on a grid 16x coarser and upscaled: what a diffusion model with broken
    weights paints (smooth pixel to pixel, blotchy at a coarser scale)."""
    import cv2

    h, w = shape[:2]
    coarse = rng.normal(128.0, 50.0, (max(2, h // 16), max(2, w // 16), 3)).astype(np.float32)
    return np.clip(cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC), 0, 255).astype(np.uint8)


def judge_all() -> dict[str, list[bool]]:
    """Whether the gate fails each case: ``clean`` (8), ``cutout`` (28), ``scene`` (16)."""
    out: dict[str, list[bool]] = {"clean": [], "cutout": [], "scene": []}
    for name in SAMPLES:
        s = render_sample(name)
        rng = np.random.default_rng(0)
        out["clean"].append(_cutout_fails(s.rgb, s.mask))
        for kind, strength in STRENGTHS.items():
            fn = gd.CUTOUT_DEFECTS[kind][0]
            photo, alpha = fn(s.rgb, s.mask, strength, rng)
            out["cutout"].append(_cutout_fails(photo, alpha >= 0.5))
        out["clean"].append(_scene_fails(s.rgb, s.mask))
        keep = s.mask[..., None]
        for scene in (gd.scene_black(s.rgb, rng), gd.scene_flat(s.rgb, rng), gd.scene_noise(s.rgb, rng),
                      _blotchy(s.rgb.shape, rng)):
            out["scene"].append(_scene_fails(np.where(keep, s.rgb, scene), s.mask))
    return out


@pytest.fixture(scope="module")
def outcome() -> dict[str, list[bool]]:
    return judge_all()


def test_clean_cutouts_and_backdrops_pass(outcome):
    assert not any(outcome["clean"]), outcome["clean"]


def test_cutout_defects_caught_at_least_the_pin(outcome):
    caught = sum(outcome["cutout"])
    assert len(outcome["cutout"]) == len(SAMPLES) * len(STRENGTHS)
    assert caught >= CUTOUT_MEASURED - MARGIN, f"caught {caught} of {len(outcome['cutout'])}"


def test_every_broken_backdrop_is_caught(outcome):
    assert all(outcome["scene"]), outcome["scene"]
