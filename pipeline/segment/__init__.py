"""Segmentation: product photo -> alpha matte + hard mask (+ decontaminated foreground).

Backends are built from a literal registry; ``build_segmenter(config)`` is the only entry point
the rest of the code uses. Each backend is a callable ``(rgb: HWC uint8) -> Segmentation``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.registry import lookup
from pipeline.types import Segmentation


class Segmenter(Protocol):
    name: str

    def __call__(self, rgb: np.ndarray) -> Segmentation:
        """rgb: HWC uint8 RGB -> Segmentation at the same (H, W)."""
        ...


def _build_classical(config: PipelineConfig) -> Segmenter:
    from pipeline.segment.classical import ClassicalSegmenter

    return ClassicalSegmenter(config.segment)


def _build_sam(config: PipelineConfig) -> Segmenter:
    from pipeline.segment.sam import build_sam_segmenter

    return build_sam_segmenter(config)


def _build_onnx(config: PipelineConfig) -> Segmenter:
    from pipeline.segment.onnx import build_onnx_segmenter

    return build_onnx_segmenter(config)


def _build_fused(config: PipelineConfig) -> Segmenter:
    from pipeline.segment.fused import build_fused_segmenter

    return build_fused_segmenter(config)


SEGMENTERS: dict[str, Callable[[PipelineConfig], Segmenter]] = {
    "classical": _build_classical,
    "sam": _build_sam,
    "onnx": _build_onnx,
    "fused": _build_fused,
}


def build_segmenter(config: PipelineConfig) -> Segmenter:
    """The segmenter named by ``config.segment.backend``; ValueError lists valid names."""
    return lookup(SEGMENTERS, config.segment.backend, "segmentation backend")(config)
