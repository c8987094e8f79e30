"""Build both control maps for a placed product, at the output resolution."""

from __future__ import annotations

import cv2
import numpy as np

from pipeline.config import ControlConfig
from pipeline.control import DepthEstimator
from pipeline.control.canny import canny_map
from pipeline.control.depth import scene_depth
from pipeline.types import ControlMaps, PlacedProduct


def _to_rgb_u8(depth: np.ndarray) -> np.ndarray:
    d = (np.clip(depth, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return cv2.merge([d, d, d])


def build_control_maps(placed: PlacedProduct, depth: DepthEstimator, config: ControlConfig) -> ControlMaps:
    """Canny + depth for ``placed`` (both HWC uint8, 3 channels, at ``placed.placement.out_hw``).

    Depth: the estimator's product depth, set on a floor plane at the placement's horizon.
    """
    canny, thresholds = canny_map(placed.rgb, placed.alpha, config.canny_sigma)
    product_depth = depth(placed.rgb, placed.alpha)
    rows = np.nonzero(placed.mask.any(axis=1))[0]
    base_y = int(rows.max()) if rows.size else placed.placement.horizon_y
    full = scene_depth(product_depth, placed.alpha, placed.placement.horizon_y, base_y)
    return ControlMaps(canny=canny, depth=_to_rgb_u8(full), canny_thresholds=thresholds,
                       depth_backend=getattr(depth, "name", type(depth).__name__))
