"""One product through every stage, with the stages injected.

``process_product`` reads as the numbered steps of the path a photo takes; each step is one
named helper call, timed. Nothing here touches files, globals or the environment: the edges
(batch, CLI, flows) read bytes and write outputs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.control import DepthEstimator, build_depth_estimator
from pipeline.control.maps import build_control_maps
from pipeline.io.imageio import decode_image
from pipeline.place import compute_placement, find_logo_regions, place_product, read_sidecar_boxes
from pipeline.restore import restore_product
from pipeline.scene import SceneBackend, build_scene_backend
from pipeline.place.sidecar import sidecar_sku
from pipeline.config.themes import Theme, get_theme
from pipeline.score import CutoutSignals, apply_gate, cutout_signals, scene_signals, score_composite, with_checks
from pipeline.score.composition import frame_cut, touches_frame
from pipeline.score.cutout_stability import unstable_share
from pipeline.segment import Segmenter, build_segmenter
from pipeline.segment.alpha import has_cutout_alpha, segmentation_from_alpha
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.types import (
    ControlMaps,
    DecodedImage,
    Metrics,
    PlacedProduct,
    ProductResult,
    SceneResult,
    Segmentation,
    VariantResult,
    Verdict,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stages:
    """The stage objects, built once per process and reused for every product."""

    segmenter: Segmenter
    depth: DepthEstimator
    scene: SceneBackend
    theme: Theme

    def backends(self) -> dict[str, str]:
        return {"segment": self.segmenter.name, "depth": self.depth.name, "scene": self.scene.name,
                "theme": self.theme.name}


def build_stages(config: PipelineConfig) -> Stages:
    """Build every stage named by ``config`` (loads models, if any, here and only here)."""
    return Stages(
        segmenter=build_segmenter(config),
        depth=build_depth_estimator(config),
        scene=build_scene_backend(config),
        theme=get_theme(config.scene.theme, config.scene.themes_file),
    )


class _Timer:
    def __init__(self) -> None:
        self.ms: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            spent = (time.perf_counter() - t0) * 1000.0  # summed over variants
            self.ms[stage] = round(self.ms.get(stage, 0.0) + spent, 2)


def segment_image(decoded: DecodedImage, segmenter: Segmenter, use_alpha_channel: bool) -> Segmentation:
    """Step 2: the file's own cut-out alpha when it has one, else the configured segmenter."""
    if use_alpha_channel and has_cutout_alpha(decoded.alpha):
        return segmentation_from_alpha(decoded.rgb, decoded.alpha)
    return segmenter(decoded.rgb)


def process_product(
    data: bytes,
    *,
    name: str,
    config: PipelineConfig,
    stages: Stages,
    seed: int,
    sidecar: Mapping[str, Any] | None = None,
    segmentation: Segmentation | None = None,
) -> ProductResult:
    """Run one photo (raw bytes) through every stage.

    Raises ``pipeline.errors.PipelineError`` (or ``ValueError``) for bad input; the caller turns
    it into an ``error`` item. ``sidecar``: parsed ``<name>.json`` (logo boxes, prompt metadata).
    ``segmentation``: a cut-out to use instead of segmenting (the gate's evaluation injects
    known-bad cut-outs this way); it must have the decoded photo's size.
    """
    timer = _Timer()
    meta = dict(sidecar or {})
    sku = sidecar_sku(meta)  # the product's id in the catalogue; a bad one is this item's error (ValueError)
    with timer("decode"):  # 1. load and validate the bytes
        decoded = decode_image(data, name=name, config=config.decode)
    with timer("segment"):  # 2. alpha matte + mask
        if segmentation is not None and segmentation.mask.shape != decoded.size_hw:
            raise ValueError(f"segmentation has size {segmentation.mask.shape}, the photo {decoded.size_hw}")
        seg = segmentation or segment_image(decoded, stages.segmenter, config.segment.use_alpha_channel)
    trusted = seg.backend == "alpha-channel"  # a file's own alpha is trusted: not judged, its sides not read
    with timer("score"):  # 3. the cut-out judged from the photo alone (a file's own alpha is trusted)
        cutout = None if trusted else cutout_signals(decoded.rgb, seg.mask)
        if cutout is not None:
            cutout = cutout.with_disagreement(seg.info.get("disagreement"))
            if seg.backend == ClassicalSegmenter.name and "refined" not in seg.info:
                # The classical segmenter's second look at its own cut-out (not at a person's fix).
                cutout = cutout.with_stability(unstable_share(decoded.rgb, seg.mask, config.segment))
    with timer("place"):  # 4. logo regions + placement in the output canvas
        boxes = read_sidecar_boxes(meta, decoded.size_hw)
        if boxes is None:
            boxes = (find_logo_regions(decoded.rgb, seg.mask, config.restore.max_logo_regions,
                                       text_detector=config.restore.text_detector)
                     if config.restore.auto_logo_regions else ())
        # Which sides the photo's frame cuts is read from the photo; a file's own alpha is trusted.
        placement = compute_placement(seg.mask, config.placement, photo=None if trusted else decoded.rgb)
        placed = place_product(seg.foreground, seg.alpha, placement, boxes)
        cut = frame_cut(seg.mask, placement) if touches_frame(placement) else 0.0
    with timer("control"):  # 5. canny + depth at the output size
        control = build_control_maps(placed, stages.depth, config.control)
    with timer("scene"):  # 6. the world around the product, one scene per variant
        scenes = generate_scenes(stages, placed, control, seed=seed, item_meta=meta)
    variants = []
    for scene in scenes:
        with timer("restore"):  # 7. product back in, logos rebuilt if it was repainted
            composite = restore_product(scene, placed, config.restore)
        with timer("score"):  # 8. consistency metrics + scene checks + the gate's verdict
            metrics, verdict = score_and_gate(placed, composite, scene.image, seg.background_rgb, cutout,
                                              stages.theme, config, frame_cut=cut)
        variants.append(VariantResult(scene=scene, composite=composite, metrics=metrics, verdict=verdict))
    best = pick_variant(variants)  # 9. the variant the report shows
    provenance = {
        "backends": {**stages.backends(), "segment": seg.backend},
        "segment_info": seg.info,
        "depth_info": getattr(stages.depth, "provenance", None),
        "scene_info": best.scene.info,
        "variant": next(k for k, v in enumerate(variants) if v is best),
        "decode_info": decoded.info,
        "logo_boxes_input": [list(b) for b in boxes],
        "logo_source": "sidecar" if "logo_boxes" in meta else "auto",
        "sku": sku,
        "placement": {"matrix": placement.matrix.round(6).tolist(), "out_hw": list(placement.out_hw),
                      "box_xyxy": list(placement.box_xyxy), "cut_sides": sorted(placement.cut_sides)},
        "canny_thresholds": [round(t, 2) for t in control.canny_thresholds],
        "seed": seed,
    }
    return ProductResult(decoded=decoded, segmentation=seg, placed=placed, control=control, scene=best.scene,
                         composite=best.composite, metrics=best.metrics, verdict=best.verdict, timings_ms=timer.ms,
                         provenance=provenance, variants=tuple(variants))


def score_and_gate(placed: PlacedProduct, composite: np.ndarray, plate: np.ndarray,
                   background_rgb: tuple[float, float, float], cutout: CutoutSignals | None, theme: Theme,
                   config: PipelineConfig, frame_cut: float | None = None) -> tuple[Metrics, Verdict]:
    """Step 8: appearance metrics of ``composite`` (HWC uint8) against the placed product on
    ``plate`` (the scene), the cut-out signals, the scene checks, the composition check
    (``frame_cut``, from step 4) and the gate's verdict."""
    metrics = score_composite(placed, composite, plate, background_rgb, config.score)
    checks = scene_signals(composite, placed.mask, placed.placement.horizon_y, theme.rgb_colors())
    metrics = with_checks(metrics, cutout, checks, config.score.gate, frame_cut)
    return metrics, apply_gate(metrics, config.score.gate)


def generate_scenes(stages: Stages, placed: PlacedProduct, control: ControlMaps, *, seed: int,
                    item_meta: Mapping[str, Any]) -> list[SceneResult]:
    """Step 6: every variant the scene backend makes (``SceneBackend.generate``); at least one."""
    scenes = list(stages.scene.generate(placed, control, stages.theme, seed=seed, item_meta=item_meta))
    if not scenes:
        raise ValueError(f"scene backend {stages.scene.name!r} returned no scene")
    return scenes


def pick_variant(variants: list[VariantResult]) -> VariantResult:
    """The first variant that passes the gate, else the first: the one the report shows."""
    return next((v for v in variants if v.verdict.passed), variants[0])
