"""``segment.backend: fused``: the classical segmenter and an ONNX salient-object model, fused.

Steps (``FusedSegmenter.__call__``):
 1. the classical segmenter runs (its errors propagate: no product, bad input);
 2. the ONNX model (``segment.onnx_model``, rembg's families, :mod:`pipeline.segment.onnx`) gives its
    own mask; no agreement veto (``onnx_min_agreement_iou`` is the plain ``onnx`` backend's);
 3. the two are fused region by region (:func:`pipeline.segment.fusion.fuse_masks`);
 4. soft alpha and decontaminated colours from the matting step on the fused mask.

The cut-out signals (``pipeline.score.cutout``) were measured as a per-photo selector between the
classical, the model's and the fused mask (``bench/eval_fidelity.py --model``, column "picked by
confidence"): they pick worse than the region rules (a kept reflection under ven_hard_drive reads as
the most confident cut-out), and the score stage sits above this one, so the backend does not use
them; the gate combines them with ``info["disagreement"]``.

``info["disagreement"]``: area where the two segmenters disagree / area of the product (the fused
mask), a cut-out uncertainty for the gate. ``info["fusion"]``: how the mask was chosen
(``regions``, or why the classical mask stands whole). Fallback to the classical
segmentation, with ``info["fallback_reason"]``, when the model is missing or fails, as for ``onnx``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pipeline.config import PipelineConfig
from pipeline.imaging import iou, resize_long_side
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.segment.fallback import WarnOnce, classical_fallback
from pipeline.segment.fusion import fuse_masks
from pipeline.segment.matting import refine_alpha
from pipeline.segment.onnx import OnnxSegmenter, open_onnx_model
from pipeline.segment.onnx_presets import get_preset
from pipeline.types import Segmentation

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class FusedRun:
    """classical: the classical segmentation; model: the model's (None when it is unavailable);
    fused: what the backend returns (the classical one, marked, when the model is unavailable)."""

    classical: Segmentation
    model: Segmentation | None
    fused: Segmentation


class FusedSegmenter:
    """``__call__(rgb HWC uint8) -> Segmentation`` (see module docstring). ``onnx``: the ONNX
    segmenter (its classical base, model, preset and load error are used; its veto is not)."""

    name = "fused"

    def __init__(self, onnx: OnnxSegmenter):
        self.onnx = onnx
        self._warnings = WarnOnce()

    def __call__(self, rgb: np.ndarray) -> Segmentation:
        return self.run(rgb).fused

    def run(self, rgb: np.ndarray) -> FusedRun:
        """All three segmentations of ``rgb`` (HWC uint8): classical, the model's, fused."""
        base = self.onnx.base(rgb)  # 1
        model, reason = self.onnx.model_segmentation(rgb, base)  # 2
        if model is None:
            reason = reason or "ONNX model unavailable"
            return FusedRun(base, None, classical_fallback(base, reason, self.name, warn=self._warnings.first(reason)))
        fusion = fuse_masks(rgb, base.mask, model.mask)  # 3
        alpha, foreground = self._matte(rgb, fusion.mask, base.background_rgb)  # 4
        info: dict[str, Any] = {
            "fusion": fusion.how, "disagreement": round(fusion.disagreement, 4),
            "iou_classical_model": round(iou(base.mask, model.mask), 4),
            "classical_kept": round(fusion.kept, 4), "classical_dropped": round(fusion.dropped, 4),
            "model_added": round(fusion.added, 4),
            "onnx": model.info["onnx"], "family": model.info["family"], "classical": base.info,
        }
        fused = Segmentation(alpha=alpha, mask=alpha >= 0.5, foreground=foreground,
                             background_rgb=base.background_rgb, backend=self.name, info=info)
        return FusedRun(base, model, fused)

    def _matte(self, rgb: np.ndarray, mask: np.ndarray,
               background_rgb: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Soft alpha and foreground (``refine_alpha``) from a full-resolution hard mask, matted at
        the ONNX segmenter's matting resolution."""
        small, _ = resize_long_side(rgb, self.onnx.matting_side)
        coarse = cv2.resize(mask.astype(np.float32), (small.shape[1], small.shape[0]),
                            interpolation=cv2.INTER_AREA) >= 0.5
        if not coarse.any():  # a sliver thinner than one matting pixel: keep it as it is
            return mask.astype(np.float32), rgb.copy()
        return refine_alpha(rgb, coarse, small, background_rgb)


def build_fused_segmenter(config: PipelineConfig) -> FusedSegmenter:
    """The fused segmenter; never raises for a missing or broken model (it falls back)."""
    cfg = config.segment
    model, family, error = open_onnx_model(cfg, config.run.device)
    if error:
        logger.info("fused segmenter has no model, segment backend falls back to classical: %s", error)
    preset = get_preset(family) if family else None
    onnx = OnnxSegmenter(ClassicalSegmenter(cfg), model, preset, cfg.onnx_min_agreement_iou, cfg.work_side,
                         error, family)
    return FusedSegmenter(onnx)
