"""Data contracts between the stages.

Conventions (repeated in every stage's docstrings):

- image: ``np.ndarray`` HWC uint8 RGB.
- alpha: HW float32 in [0, 1].
- mask: HW bool.
- boxes: ``box_xyxy`` in pixels, ``(x0, y0, x1, y1)`` with x1/y1 exclusive.
- tensors (diffusion backend only): BCHW float.

Every dataclass here is frozen and carries plain data only, so it can cross process
boundaries (Prefect, Dask) and be logged or hashed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

BoxXYXY = tuple[int, int, int, int]


@dataclass(frozen=True)
class DecodedImage:
    """A validated input photo.

    rgb:   HWC uint8 RGB, EXIF orientation applied.
    alpha: HW float32 in [0, 1] when the file carried a meaningful alpha channel, else None.
    info:  what the decoder saw (format, mode, original size, orientation).
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def size_hw(self) -> tuple[int, int]:
        return int(self.rgb.shape[0]), int(self.rgb.shape[1])


@dataclass(frozen=True)
class Segmentation:
    """Product cut-out in input coordinates.

    alpha:      HW float32 in [0, 1], soft edges.
    mask:       HW bool, the hard mask (alpha >= 0.5).
    foreground: HWC uint8, product colours with the background un-mixed from edge pixels
                (equal to the input where alpha == 1), so a paste shows no fringe.
    background_rgb: the estimated background colour (3 floats, 0..255).
    backend:    which segmenter produced it (``classical``, ``alpha-channel``, ``sam``).
    info:       backend diagnostics (e.g. SAM fallback reason).
    """

    alpha: np.ndarray
    mask: np.ndarray
    foreground: np.ndarray
    background_rgb: tuple[float, float, float]
    backend: str
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Placement:
    """Where the product lands in the output canvas.

    matrix:   2x3 float64 affine map from input pixel coords to output pixel coords
              (uniform scale + translation).
    out_hw:   output canvas (height, width).
    box_xyxy: the product's bounding box in output coordinates.
    horizon_y: the floor line in output pixels (the product's base sits on or below it).
    cut_sides: the sides ("top", "bottom", "left", "right") where the photo's frame cuts the
              product (pipeline.segment.frame_sides.cut_sides); the product is laid flush with the
              same canvas side (left and right together: neither).
    """

    matrix: np.ndarray
    out_hw: tuple[int, int]
    box_xyxy: BoxXYXY
    horizon_y: int
    cut_sides: frozenset[str] = frozenset()

    @property
    def scale(self) -> float:
        return float(self.matrix[0, 0])


@dataclass(frozen=True)
class PlacedProduct:
    """The product warped into the output canvas.

    rgb:   HWC uint8, decontaminated product colours (undefined where alpha == 0).
    alpha: HW float32 in [0, 1].
    mask:  HW bool (alpha >= 0.5).
    logo_boxes: logo/text regions in output coordinates.
    """

    rgb: np.ndarray
    alpha: np.ndarray
    mask: np.ndarray
    placement: Placement
    logo_boxes: tuple[BoxXYXY, ...] = ()


@dataclass(frozen=True)
class ControlMaps:
    """ControlNet conditioning images at the output resolution.

    canny: HWC uint8, 3 identical channels, edges 255 on 0.
    depth: HWC uint8, 3 identical channels, near = bright.
    """

    canny: np.ndarray
    depth: np.ndarray
    canny_thresholds: tuple[float, float]
    depth_backend: str


@dataclass(frozen=True)
class SceneResult:
    """What a scene backend made.

    image: HWC uint8 full-frame scene. For ``studio`` it is the backdrop with shadows and
           no product; for ``diffusion`` it is the generated frame, whose product region may
           have been repainted.
    product_altered: True when the backend may have repainted product pixels (harmonised
           diffusion); restore then blends logos back instead of trusting them.
    info:  provenance (theme, model ids, revisions, seed, prompt).
    """

    image: np.ndarray
    backend: str
    product_altered: bool = False
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Metrics:
    """Appearance-consistency numbers for one composite (see pipeline.score)."""

    delta_e00_mean: float
    delta_e00_p95: float
    ssim: float
    logo_ssim_min: float | None
    expansion: float
    halo: float
    # Cut-out confidence, judged from the photo and the mask alone (pipeline.score.cutout);
    # None when not computed.
    cutout_edge_off: float | None = None
    cutout_base_off: float | None = None
    cutout_backdrop_in: float | None = None
    cutout_product_out: float | None = None
    cutout_cut_through: float | None = None
    cutout_continues_out: float | None = None
    cutout_mirror: float | None = None
    cutout_backdrop_gap: float | None = None
    cutout_panel_hole: float | None = None
    cutout_disagreement: float | None = None
    cutout_unstable: float | None = None
    cutout_confidence: float | None = None
    # The product in the output frame (pipeline.score.composition).
    composition_frame_cut: float | None = None
    # Scene checks on the frame around the product (pipeline.score.scene_checks).
    scene_lightness: float | None = None
    scene_detail: float | None = None
    scene_noise: float | None = None
    scene_blotch: float | None = None
    scene_extra_object: float | None = None
    scene_palette_de: float | None = None
    scene_contact: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


@dataclass(frozen=True)
class Verdict:
    """The gate's decision: ``passed`` plus one human-readable reason per failed check."""

    passed: bool
    reasons: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return "pass" if self.passed else "fail"


@dataclass(frozen=True)
class VariantResult:
    """One generated variant of a product's scene, restored and scored."""

    scene: SceneResult
    composite: np.ndarray
    metrics: Metrics
    verdict: Verdict


@dataclass(frozen=True)
class ProductResult:
    """Everything one product produced, in memory (the edges write it out)."""

    decoded: DecodedImage
    segmentation: Segmentation
    placed: PlacedProduct
    control: ControlMaps
    scene: SceneResult
    composite: np.ndarray
    metrics: Metrics
    verdict: Verdict
    timings_ms: dict[str, float]
    provenance: dict[str, Any]
    variants: tuple[VariantResult, ...] = ()


@dataclass(frozen=True)
class ItemRecord:
    """One product's line in the batch report (plain data, JSON-ready via ``as_json``).

    status "ok" means the product was processed (its verdict may still be "fail");
    "error" means it could not be (bad file, no product found, ...), with ``error`` saying why.
    thumbnails: view name (original, mask, canny, depth, composite) -> ``data:image/jpeg;base64,...``
    URI, used by the HTML report only. fallbacks: stage -> why its configured backend was not
    used for this item (e.g. ``{"segment": "SAM prediction failed: ..."}``); empty when none.
    duplicate_of: the source key whose result this item reuses
    (same bytes and sidecar), None when computed here. notes: facts a reviewer should see that
    are not gate reasons (e.g. "first frame of 12 only").
    """

    id: str
    source: str
    status: str
    error: str | None = None
    verdict: str | None = None
    reasons: tuple[str, ...] = ()
    metrics: dict[str, float | None] | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)
    content_hash: str | None = None
    backends: dict[str, str] = field(default_factory=dict)
    thumbnails: dict[str, str] = field(default_factory=dict)
    fallbacks: dict[str, str] = field(default_factory=dict)
    duplicate_of: str | None = None
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """The report.json item (thumbnails left out)."""
        return {
            "id": self.id,
            "source": self.source,
            "status": self.status,
            "error": self.error,
            "verdict": self.verdict,
            "reasons": list(self.reasons),
            "metrics": self.metrics,
            "outputs": dict(self.outputs),
            "timings_ms": dict(self.timings_ms),
            "content_hash": self.content_hash,
            "backends": dict(self.backends),
            "fallbacks": dict(self.fallbacks),
            "duplicate_of": self.duplicate_of,
            "notes": list(self.notes),
        }
