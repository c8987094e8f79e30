"""One item's interactive refinement: clicks in, segmentations out, with undo and reset.

A session is a fold over the clicks: step k refines the result of step k-1 with clicks[:k]. The
results (and the backend's state, e.g. SAM's low-resolution logits) of every step are kept, so
undo is free, and replaying the same clicks from the same initial segmentation gives the same
masks (:func:`pipeline.segment.refine.apply.apply_corrections` does exactly that).
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from pipeline.segment.refine.corrections import Click, Corrections
from pipeline.types import Segmentation


class Refiner(Protocol):
    """A refinement backend (:class:`~.classical.ClassicalRefiner`, :class:`~.sam.SamRefiner`)."""

    name: str

    @property
    def version(self) -> str: ...

    def prepare(self, rgb: np.ndarray, key: str | None = None) -> Any:
        """Per-photo context (work image, SAM embedding), computed once per item."""
        ...

    def step(self, context: Any, current: Segmentation, state: Any,
             clicks: list[Click]) -> tuple[Segmentation, Any]:
        """(segmentation after ``clicks``, new state) from ``current``, the result of ``clicks[:-1]``."""
        ...


class ClickOutsideImage(ValueError):
    """A click with a point off the photo."""


class RefineSession:
    """Refinement of one photo. rgb: HWC uint8; initial: the segmenter's Segmentation of it;
    photo_sha256: the photo's content hash (:func:`~.corrections.photo_sha256`)."""

    def __init__(self, refiner: Refiner, rgb: np.ndarray, initial: Segmentation, photo_sha256: str):
        if initial.mask.shape != rgb.shape[:2]:
            raise ValueError(f"segmentation has size {initial.mask.shape}, the photo {rgb.shape[:2]}")
        self.refiner = refiner
        self.rgb = rgb
        self.photo_sha256 = photo_sha256
        self.context = refiner.prepare(rgb, photo_sha256)
        self._steps: list[tuple[Segmentation, Any]] = [(initial, None)]
        self.clicks: list[Click] = []

    @property
    def initial(self) -> Segmentation:
        return self._steps[0][0]

    @property
    def current(self) -> Segmentation:
        return self._steps[-1][0]

    def add(self, click: Click) -> Segmentation:
        """Refine with one more click (ClickOutsideImage when a point is off the photo)."""
        h, w = self.rgb.shape[:2]
        if not click.inside(h, w):
            raise ClickOutsideImage(f"click at {click.points[0]} is outside the {w}x{h} photo")
        clicks = [*self.clicks, click]
        seg, state = self.refiner.step(self.context, self.current, self._steps[-1][1], clicks)
        self.clicks = clicks
        self._steps.append((seg, state))
        return seg

    def undo(self) -> Segmentation:
        """Drop the last click (no-op without clicks); returns the segmentation before it."""
        if self.clicks:
            self.clicks.pop()
            self._steps.pop()
        return self.current

    def reset(self) -> Segmentation:
        """Back to the segmenter's mask, all clicks dropped."""
        del self._steps[1:]
        self.clicks.clear()
        return self.current

    def corrections(self, meta: dict[str, Any] | None = None) -> Corrections:
        """The clicks so far as a storable record."""
        return Corrections(photo_sha256=self.photo_sha256, backend=self.refiner.name,
                           backend_version=self.refiner.version, clicks=tuple(self.clicks), meta=meta or {})
