"""Segmentation quality against ground truth: IoU and boundary F-score (DAVIS-style)."""

from __future__ import annotations

import cv2
import numpy as np

BOUNDARY_TOLERANCE = 0.004  # share of the image diagonal a boundary pixel may be off
BOUNDARY_MIN_PX = 2.0  # ... but never less than this many pixels


def _boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return (m - cv2.erode(m, np.ones((3, 3), np.uint8))).astype(bool)


def boundary_tolerance_px(shape: tuple[int, ...]) -> float:
    """Matching distance in pixels for an (H, W, ...) image: 0.4% of the diagonal, at least 2 px."""
    return max(BOUNDARY_MIN_PX, BOUNDARY_TOLERANCE * float(np.hypot(shape[0], shape[1])))


def boundary_f_score(pred: np.ndarray, truth: np.ndarray, tolerance_px: float | None = None) -> float:
    """F-measure of boundary pixels matched within ``tolerance_px`` (default
    :func:`boundary_tolerance_px`) pixels, by Euclidean distance.

    pred, truth: HW bool. Precision: share of predicted boundary pixels near a true boundary
    pixel; recall the reverse (Perazzi et al., DAVIS 2016).
    """
    bp, bt = _boundary(pred), _boundary(truth)
    if not bp.any() and not bt.any():
        return 1.0
    if not bp.any() or not bt.any():
        return 0.0
    tol = boundary_tolerance_px(pred.shape) if tolerance_px is None else tolerance_px
    dist_t = cv2.distanceTransform((~bt).astype(np.uint8), cv2.DIST_L2, 3)
    dist_p = cv2.distanceTransform((~bp).astype(np.uint8), cv2.DIST_L2, 3)
    precision = float((dist_t[bp] <= tol).mean())
    recall = float((dist_p[bt] <= tol).mean())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
