"""Segmentation quality against ground truth: IoU and boundary F-score (DAVIS-style)."""

from __future__ import annotations

import cv2
import numpy as np


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two HW bool masks (1.0 when both are empty)."""
    union = np.logical_or(pred, truth).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, truth).sum() / union)


def _boundary(mask: np.ndarray) -> np.ndarray:
    m = mask.astype(np.uint8)
    return (m - cv2.erode(m, np.ones((3, 3), np.uint8))).astype(bool)


def boundary_f_score(pred: np.ndarray, truth: np.ndarray, tolerance: float = 0.0075) -> float:
    """F-measure of boundary pixels matched within ``tolerance`` x image diagonal pixels.

    pred, truth: HW bool. Precision: share of predicted boundary pixels near a true boundary
    pixel; recall the reverse (Perazzi et al., DAVIS 2016).
    """
    bp, bt = _boundary(pred), _boundary(truth)
    if not bp.any() and not bt.any():
        return 1.0
    if not bp.any() or not bt.any():
        return 0.0
    r = max(1, int(round(tolerance * np.hypot(*pred.shape))))
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    near_t = cv2.dilate(bt.astype(np.uint8), disk).astype(bool)
    near_p = cv2.dilate(bp.astype(np.uint8), disk).astype(bool)
    precision = float((bp & near_t).sum() / bp.sum())
    recall = float((bt & near_p).sum() / bt.sum())
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
