"""A fixed cut-out re-rendered through the library's own stages, its verdict recomputed.

- :func:`rerender`: everything after segmentation for a given cut-out (one click's re-render in
  the review page): :func:`pipeline.compose.process_product` with ``segmentation=``.
- :func:`fixed_segmentation`: decode, segment as the batch does, replay stored corrections
  (:func:`pipeline.segment.refine.apply_corrections`).
- :func:`render_fixed`: a stored fix on a rerun: :func:`fixed_segmentation`, then :func:`rerender`.

Same config, same seed, same stages: placement, control maps, scene, restore, score and gate are
not copied here, only called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.compose import Stages, process_product, segment_image
from pipeline.config import PipelineConfig
from pipeline.io.imageio import decode_image
from pipeline.segment.refine import (
    AppliedCorrections,
    Corrections,
    Photo,
    Refiner,
    apply_corrections,
    build_refiner,
    photo_sha256,
)
from pipeline.types import ProductResult, Segmentation


@dataclass(frozen=True)
class FixedResult:
    """A fixed item, re-rendered: result (its verdict recomputed by the gate), and how the
    corrections went; ``why_failed`` lists the gate's reasons when the fixed item still fails."""

    result: ProductResult
    corrections: AppliedCorrections
    why_failed: tuple[str, ...] = field(default=())


def render_fixed(data: bytes, corrections: Corrections, *, name: str, config: PipelineConfig, stages: Stages,
                 seed: int, sidecar: Mapping[str, Any] | None = None, refiner: Refiner | None = None) -> FixedResult:
    """Segment ``data`` (photo bytes) as the batch does, apply ``corrections``, and run every later
    stage through :func:`pipeline.compose.process_product` with the fixed segmentation."""
    applied = fixed_segmentation(data, corrections, name=name, config=config, stages=stages, refiner=refiner)
    result = rerender(data, applied.segmentation, name=name, config=config, stages=stages, seed=seed, sidecar=sidecar)
    reasons = () if result.verdict.passed else result.verdict.reasons
    return FixedResult(result, applied, tuple(reasons) + ((applied.reason,) if applied.reason else ()))


def fixed_segmentation(data: bytes, corrections: Corrections, *, name: str, config: PipelineConfig, stages: Stages,
                       refiner: Refiner | None = None) -> AppliedCorrections:
    """The segmenter's cut-out of ``data`` (photo bytes, decoded and segmented as the batch does)
    with ``corrections`` replayed on it (not applied to other photo bytes: see ``.reason``)."""
    decoded = decode_image(data, name=name, config=config.decode)
    base = segment_image(decoded, stages.segmenter, config.segment.use_alpha_channel)
    refiner = refiner or build_refiner(config, base.backend)
    return apply_corrections(Photo(decoded.rgb, photo_sha256(data)), base, corrections, refiner)


def rerender(data: bytes, segmentation: Segmentation, *, name: str, config: PipelineConfig, stages: Stages, seed: int,
             sidecar: Mapping[str, Any] | None = None) -> ProductResult:
    """Everything after segmentation for a given cut-out (one click's re-render in the review page):
    :func:`pipeline.compose.process_product` with ``segmentation``."""
    return process_product(data, name=name, config=config, stages=stages, seed=seed, sidecar=sidecar,
                           segmentation=segmentation)
