"""SAM segmentation backend: the classical mask prompts SAM, and checks it.

Steps (``SamSegmenter.__call__``):
 1. the classical segmenter runs first (its errors propagate: no product, bad input);
 2. prompts from its mask: the bounding box and the deepest interior point;
 3. ``SamPredictor``: ``set_image`` once, ``predict(multimask_output=True)`` -> three masks;
 4. the mask that agrees best (IoU) with the classical mask wins;
 5. soft alpha + decontaminated colours from the SAM mask (the classical matting step).

Fallback: when the checkpoint is missing or fails to load, SAM raises, or the best IoU is under
``segment.sam_min_agreement_iou``, the classical segmentation is returned with
``info["fallback_reason"]``; meta.json carries it and the batch report counts it. A warning is
logged once per segmenter and kind of reason (the text before the first ``:``), not per item.
"""

from __future__ import annotations

import logging
import pickle
from typing import Any

import cv2
import numpy as np

from pipeline.config import PipelineConfig, SegmentConfig
from pipeline.errors import BackendUnavailableError
from pipeline.models.cache import CachedModel
from pipeline.segment import Segmenter
from pipeline.imaging import iou
from pipeline.segment.fallback import WarnOnce, classical_fallback
from pipeline.segment.matting import refine_alpha
from pipeline.types import Segmentation

logger = logging.getLogger(__name__)


def sam_prompts(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SAM prompts from a hard mask (HW bool, not empty).

    Returns (box XYXY float32 (4,), points XY float32 (1, 2), labels int (1,)): the mask's
    bounding box and its deepest interior point (distance-transform maximum), labelled foreground.
    """
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        raise ValueError("mask is empty: no prompt for SAM")
    box = np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float32)
    dist = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return box, np.array([[x, y]], np.float32), np.array([1], np.int64)


class SamSegmenter:
    """``__call__(rgb HWC uint8) -> Segmentation`` (see module docstring).

    base: the classical segmenter. model: the cached SAM (None when it could not be loaded,
    with ``load_error`` saying why). min_iou: agreement needed to accept SAM's mask.
    """

    name = "sam"

    def __init__(self, base: Segmenter, model: CachedModel[Any] | None, min_iou: float, load_error: str | None = None):
        if model is None and not load_error:
            raise ValueError("SamSegmenter without a model needs load_error saying why")
        if not 0.0 <= min_iou <= 1.0:
            raise ValueError(f"min_iou must be in [0, 1], got {min_iou}")
        self.base = base
        self.model = model
        self.min_iou = min_iou
        self.load_error = load_error
        self._warnings = WarnOnce()

    def __call__(self, rgb: np.ndarray) -> Segmentation:
        base = self.base(rgb)  # 1
        if self.model is None:
            return self._fallback(base, self.load_error or "SAM unavailable")
        box, points, labels = sam_prompts(base.mask)  # 2
        try:
            masks, scores = self._predict(rgb, box, points, labels)  # 3
        except Exception as exc:  # noqa: BLE001 - any SAM failure: the classical mask is still valid
            return self._fallback(base, f"SAM prediction failed: {type(exc).__name__}: {exc}")
        ious = [iou(m, base.mask) for m in masks]  # 4
        best = int(np.argmax(ious))
        if ious[best] < self.min_iou:
            return self._fallback(
                base, f"SAM disagrees with the classical mask: best IoU {ious[best]:.3f} < {self.min_iou:.3f}"
            )
        alpha, foreground = refine_alpha(rgb, masks[best], rgb, base.background_rgb)  # 5 (mask at full size)
        info = {
            "sam": self.model.provenance,
            "iou_with_classical": round(ious[best], 4),
            "ious": [round(v, 4) for v in ious],
            "sam_scores": [round(float(s), 4) for s in scores],
            "chosen": best,
            "prompt_box": [int(v) for v in box],
            "prompt_point": [int(v) for v in points[0]],
        }
        return Segmentation(alpha=alpha, mask=alpha >= 0.5, foreground=foreground,
                            background_rgb=base.background_rgb, backend=self.name, info=info)

    def _fallback(self, base: Segmentation, reason: str) -> Segmentation:
        """:func:`fallback`, warning only the first time this kind of reason is seen."""
        return fallback(base, reason, warn=self._warnings.first(reason))

    def _predict(self, rgb: np.ndarray, box: np.ndarray, points: np.ndarray,
                 labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(masks HW bool x N, scores N) from SamPredictor; the model's lock is held throughout."""
        import torch
        from segment_anything import SamPredictor

        with self.model.lock, torch.inference_mode():
            predictor = SamPredictor(self.model.value)
            predictor.set_image(rgb)
            masks, scores, _ = predictor.predict(point_coords=points, point_labels=labels, box=box,
                                                 multimask_output=True)
        return masks.astype(bool), np.asarray(scores)


def fallback(base: Segmentation, reason: str, *, warn: bool = True) -> Segmentation:
    """The classical segmentation, marked with why SAM was not used (a warning when ``warn``,
    else a debug line)."""
    return classical_fallback(base, reason, "sam", warn=warn)


def load_sam_model(config: SegmentConfig, device: str) -> tuple[CachedModel[Any] | None, str | None]:
    """(model, None) or (None, why it could not be loaded)."""
    if not config.sam_checkpoint:
        return None, "segment.sam_checkpoint is not set (e.g. sam_vit_b_01ec64.pth)"
    try:
        from pipeline.models.sam_loader import load_sam

        return load_sam(config.sam_checkpoint, config.sam_model_type, device), None
    except ImportError as exc:
        return None, f"segment-anything is not installed: {exc}"
    except (BackendUnavailableError, ValueError, RuntimeError, OSError, pickle.UnpicklingError) as exc:
        return None, f"SAM checkpoint could not be loaded: {type(exc).__name__}: {exc}"


def build_sam_segmenter(config: PipelineConfig) -> SamSegmenter:
    """The SAM segmenter over the classical one; never raises for missing weights (it falls back)."""
    from pipeline.segment.classical import ClassicalSegmenter

    model, error = load_sam_model(config.segment, config.run.device)
    if error:  # the first item's fallback warns, with this reason
        logger.info("SAM unavailable, segment backend falls back to classical: %s", error)
    return SamSegmenter(ClassicalSegmenter(config.segment), model, config.segment.sam_min_agreement_iou, error)
