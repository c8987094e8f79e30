"""What the weights-based segmenters share: mask agreement, and falling back to classical."""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from pipeline.types import Segmentation

logger = logging.getLogger(__name__)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two HW bool masks (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def classical_fallback(base: Segmentation, reason: str, requested_backend: str) -> Segmentation:
    """The classical segmentation, marked with why ``requested_backend`` was not used (logged as a
    warning; meta.json carries ``segment_info.fallback_reason``)."""
    logger.warning("%s fallback to %s: %s", requested_backend.upper(), base.backend, reason)
    info = {**base.info, "fallback_reason": reason, "requested_backend": requested_backend}
    return dataclasses.replace(base, info=info)
