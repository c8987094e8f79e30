"""Stored corrections applied again.

- :func:`build_refiner`: the refinement backend for a config and the backend that made the mask
  (SAM refines a SAM mask when its checkpoint loads; everything else, ONNX masks included, is
  refined with the classical method).
- :func:`apply_corrections`: replay stored clicks on the segmenter's mask (same photo bytes only).

Re-rendering the fixed item (every later stage, the gate included) is :mod:`pipeline.fix`, a layer
above :mod:`pipeline.compose`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from pipeline.config import DecodeConfig, PipelineConfig
from pipeline.segment.refine.classical import ClassicalRefiner
from pipeline.segment.refine.corrections import Corrections, photo_sha256
from pipeline.segment.refine.session import Refiner, RefineSession
from pipeline.types import Segmentation

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
