"""Stored corrections applied again, and the fixed item re-rendered through the library's stages.

- :func:`build_refiner`: the refinement backend for a config and the backend that made the mask
  (SAM refines a SAM mask when its checkpoint loads; everything else, ONNX masks included, is
  refined with the classical method).
- :func:`apply_corrections`: replay stored clicks on the segmenter's mask (same photo bytes only).
- :func:`render_fixed`: decode, segment, apply the corrections, then
  :func:`pipeline.compose.process_product` with that segmentation: placement, control maps,
  scene, restore, score and gate all recomputed with the same config and seed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.config import DecodeConfig, PipelineConfig
from pipeline.segment.refine.classical import ClassicalRefiner
from pipeline.segment.refine.corrections import Corrections, photo_sha256
from pipeline.segment.refine.session import Refiner, RefineSession
from pipeline.types import ProductResult, Segmentation

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Photo:
    """A decoded photo and the sha256 of its bytes (corrections are tied to it)."""

    rgb: np.ndarray
    sha256: str

    @classmethod
    def from_bytes(cls, data: bytes, *, name: str = "<bytes>", config: DecodeConfig | None = None) -> Photo:
        from pipeline.io.imageio import decode_image

        return cls(decode_image(data, name=name, config=config).rgb, photo_sha256(data))


@dataclass(frozen=True)
class AppliedCorrections:
    """segmentation: the fixed one (the input one when not applied); applied: whether the clicks
    were replayed; reason: why not (None when applied); notes: facts worth showing a reviewer."""

    segmentation: Segmentation
    applied: bool
    reason: str | None = None
    notes: tuple[str, ...] = ()


def build_refiner(config: PipelineConfig, mask_backend: str = "classical") -> Refiner:
    """The refiner for masks made by ``mask_backend`` under ``config``: SAM (through the batch's
    own loading path, :func:`pipeline.segment.sam.load_sam_model`) for a SAM mask when the model
    loads, else the classical refiner."""
    if mask_backend == "sam" and config.segment.backend == "sam":
        from pipeline.segment.refine.sam import SamRefiner
        from pipeline.segment.sam import load_sam_model

        model, error = load_sam_model(config.segment, config.run.device)
        if model is not None:
            return SamRefiner(model)
        log.info("SAM refinement unavailable, refining with the classical method: %s", error)
    return ClassicalRefiner()


def apply_corrections(photo: Photo, segmentation: Segmentation, corrections: Corrections,
                      refiner: Refiner) -> AppliedCorrections:
    """Replay ``corrections`` on ``segmentation`` (the segmenter's mask of ``photo``), click by
    click, as the review session did. Not applied when the photo's bytes differ from the ones the
    clicks were made on, or a click lies off the photo."""
    if corrections.photo_sha256 != photo.sha256:
        return AppliedCorrections(segmentation, False,
                                  f"the photo changed since it was fixed (sha256 {photo.sha256[:12]}, the fix was "
                                  f"made on {corrections.photo_sha256[:12]}): fix it again")
    h, w = photo.rgb.shape[:2]
    off = [i for i, c in enumerate(corrections.clicks) if not c.inside(h, w)]
    if off:
        return AppliedCorrections(segmentation, False, f"click {off[0] + 1} lies outside the {w}x{h} photo")
    notes = []
    if (corrections.backend, corrections.backend_version) != (refiner.name, refiner.version):
        notes.append(f"fixed with {corrections.backend} {corrections.backend_version}, replayed with "
                     f"{refiner.name} {refiner.version}: the mask may differ from the reviewed one")
    session = RefineSession(refiner, photo.rgb, segmentation, photo.sha256)
    for click in corrections.clicks:
        session.add(click)
    return AppliedCorrections(session.current, True, None, tuple(notes))


@dataclass(frozen=True)
class FixedResult:
    """A fixed item, re-rendered: result (its verdict recomputed by the gate), and how the
    corrections went; ``why_failed`` lists the gate's reasons when the fixed item still fails."""

    result: ProductResult
    corrections: AppliedCorrections
    why_failed: tuple[str, ...] = field(default=())


def render_fixed(data: bytes, corrections: Corrections, *, name: str, config: PipelineConfig, stages: Any,
                 seed: int, sidecar: Mapping[str, Any] | None = None, refiner: Refiner | None = None) -> FixedResult:
    """Segment ``data`` (photo bytes) as the batch does, apply ``corrections``, and run every later
    stage through :func:`pipeline.compose.process_product` with the fixed segmentation."""
    from pipeline.compose import segment_image
    from pipeline.io.imageio import decode_image

    decoded = decode_image(data, name=name, config=config.decode)
    base = segment_image(decoded, stages.segmenter, config.segment.use_alpha_channel)
    refiner = refiner or build_refiner(config, base.backend)
    applied = apply_corrections(Photo(decoded.rgb, photo_sha256(data)), base, corrections, refiner)
    result = rerender(data, applied.segmentation, name=name, config=config, stages=stages, seed=seed, sidecar=sidecar)
    reasons = () if result.verdict.passed else result.verdict.reasons
    return FixedResult(result, applied, tuple(reasons) + ((applied.reason,) if applied.reason else ()))


def rerender(data: bytes, segmentation: Segmentation, *, name: str, config: PipelineConfig, stages: Any, seed: int,
             sidecar: Mapping[str, Any] | None = None) -> ProductResult:
    """Everything after segmentation for a given cut-out (one click's re-render in the review page):
    :func:`pipeline.compose.process_product` with ``segmentation``."""
    from pipeline.compose import process_product

    return process_product(data, name=name, config=config, stages=stages, seed=seed, sidecar=sidecar,
                           segmentation=segmentation)
