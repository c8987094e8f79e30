"""Control maps (Canny + depth) at the output resolution, in the form ControlNet expects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.registry import lookup


class DepthEstimator(Protocol):
    name: str

    def __call__(self, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """rgb: HWC uint8, alpha: HW float32 [0,1] -> depth HW float32 in [0, 1], near = 1."""
        ...


def _build_pseudo(config: PipelineConfig) -> DepthEstimator:
    from pipeline.control.depth import PseudoDepth

    return PseudoDepth()


def _build_model(config: PipelineConfig) -> DepthEstimator:
    from pipeline.control.depth_model import build_depth_model

    return build_depth_model(config)


DEPTH_BACKENDS: dict[str, Callable[[PipelineConfig], DepthEstimator]] = {
    "pseudo": _build_pseudo,
    "model": _build_model,
}


def build_depth_estimator(config: PipelineConfig) -> DepthEstimator:
    """The depth backend named by ``config.control.depth_backend``."""
    return lookup(DEPTH_BACKENDS, config.control.depth_backend, "depth backend")(config)
