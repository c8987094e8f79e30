"""SAM refinement: ``SamPredictor`` as it is meant to be used interactively.

- The image embedding is computed once per item (``set_image``) and the predictor is cached per
  photo (:data:`EMBEDDING_CACHE_ITEMS` most recent photos), so every later click only runs the
  prompt encoder and the mask decoder.
- Every click so far is a point prompt (label 1 "keep", 0 "remove"; a brush stroke gives up to
  :data:`POINTS_PER_STROKE` points along it), and the previous step's low-resolution mask logits
  are ``mask_input``. The first click has no previous logits: the current mask, in SAM's input
  frame at the low resolution, stands in for them (+/- :data:`PRIOR_LOGIT`).
- The mask is matted and decontaminated like the SAM segmenter's; the clicks' own pixels are
  hard constraints.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from pipeline.models.cache import CachedModel
from pipeline.segment.matting import refine_alpha
from pipeline.segment.refine.classical import apply_hard_constraints
from pipeline.segment.refine.corrections import Click
from pipeline.types import Segmentation

log = logging.getLogger(__name__)

EMBEDDING_CACHE_ITEMS = 8  # photos whose embedding is kept (a reviewer works on one item at a time)
POINTS_PER_STROKE = 8  # a brush polyline becomes at most this many evenly spaced point prompts
PRIOR_LOGIT = 8.0  # logit magnitude standing in for the current mask on the first click (sigmoid(8) = 0.9997)


def stroke_points(click: Click) -> np.ndarray:
    """(N, 2) float32 XY input-pixel points for ``click``: its point, or up to
    ``POINTS_PER_STROKE`` points spread evenly along its polyline."""
    pts = np.asarray(click.points, np.float32)
    if len(pts) <= POINTS_PER_STROKE:
        return pts
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    want = np.linspace(0.0, along[-1], POINTS_PER_STROKE)
    return np.stack([np.interp(want, along, pts[:, 0]), np.interp(want, along, pts[:, 1])], axis=1).astype(np.float32)


def click_prompts(clicks: Sequence[Click]) -> tuple[np.ndarray, np.ndarray]:
    """(points (N, 2) float32 XY in input pixels, labels (N,) int64: 1 keep, 0 remove)."""
    pts, labels = [], []
    for click in clicks:
        p = stroke_points(click)
        pts.append(p)
        labels.append(np.full(len(p), 1 if click.kind == "keep" else 0, np.int64))
    return np.concatenate(pts, axis=0), np.concatenate(labels)


def mask_to_logits(mask: np.ndarray, predictor: Any) -> np.ndarray:
    """The HW bool ``mask`` as SAM's ``mask_input``: (1, h, w) float32 logits in the model's
    padded input frame at the prompt encoder's low resolution."""
    image_size = predictor.model.image_encoder.img_size
    low_h, low_w = predictor.model.prompt_encoder.mask_input_size
    h, w = mask.shape
    scale = image_size / max(h, w)
    nh, nw = int(h * scale + 0.5), int(w * scale + 0.5)  # segment_anything's ResizeLongestSide rounding
    frame = np.zeros((image_size, image_size), np.float32)
    frame[:nh, :nw] = cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=cv2.INTER_AREA)
    low = cv2.resize(frame, (low_w, low_h), interpolation=cv2.INTER_AREA)
    return ((low * 2.0 - 1.0) * PRIOR_LOGIT)[None].astype(np.float32)


@dataclasses.dataclass(frozen=True)
class SamContext:
    """One photo's cached predictor (its embedding set) and the photo."""

    rgb: np.ndarray
    predictor: Any


class SamRefiner:
    """Refine with SAM prompts (module docstring). ``model``: the cached SAM the batch loads
    (:func:`pipeline.segment.sam.load_sam_model`)."""

    name = "sam"

    def __init__(self, model: CachedModel[Any]):
        self.model = model
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.embeddings_computed = 0  # how many times set_image ran (one per photo while cached)

    @property
    def version(self) -> str:
        sha = (self.model.provenance or {}).get("sha256", "unknown")
        return f"sam-{sha[:16]}"

    def prepare(self, rgb: np.ndarray, key: str | None = None) -> SamContext:
        """The predictor for ``rgb`` (HWC uint8), its embedding computed once per ``key`` (the photo's
        sha256; without one, the array's bytes are hashed)."""
        import hashlib

        import torch
        from segment_anything import SamPredictor

        key = key or hashlib.sha256(np.ascontiguousarray(rgb).tobytes()).hexdigest()
        with self._lock:
            predictor = self._cache.get(key)
            if predictor is not None:
                self._cache.move_to_end(key)
                return SamContext(rgb, predictor)
        with self.model.lock, torch.inference_mode():
            predictor = SamPredictor(self.model.value)
            predictor.set_image(rgb)
        with self._lock:
            self.embeddings_computed += 1
            self._cache[key] = predictor
            while len(self._cache) > EMBEDDING_CACHE_ITEMS:
                self._cache.popitem(last=False)
        log.debug("SAM embedding computed for %s", key[:12])
        return SamContext(rgb, predictor)

    def step(self, ctx: SamContext, current: Segmentation, state: np.ndarray | None, clicks: Sequence[Click]
             ) -> tuple[Segmentation, np.ndarray]:
        """The segmentation after ``clicks`` from ``current``; ``state``: the previous step's
        low-resolution logits (1, h, w), None on the first click. Returns (segmentation, logits)."""
        import torch

        points, labels = click_prompts(clicks)
        mask_input = state if state is not None else mask_to_logits(current.mask, ctx.predictor)
        with self.model.lock, torch.inference_mode():
            masks, scores, low_res = ctx.predictor.predict(point_coords=points, point_labels=labels,
                                                           mask_input=mask_input, multimask_output=False)
        mask = np.asarray(masks[0], bool)
        alpha, foreground = refine_alpha(ctx.rgb, mask, ctx.rgb, current.background_rgb)
        seg = dataclasses.replace(current, alpha=alpha, mask=alpha >= 0.5, foreground=foreground)
        seg = apply_hard_constraints(seg, ctx.rgb, clicks)
        info = {**current.info, "refined": {"method": "sam", "clicks": len(clicks),
                                            "sam_score": round(float(np.asarray(scores)[0]), 4)}}
        return dataclasses.replace(seg, info=info), np.asarray(low_res, np.float32)
