"""Typed configuration: one pydantic model per stage, composed into :class:`PipelineConfig`.

YAML files hold values only (numbers, strings, names from a registry), never class paths. Every
section forbids unknown keys, backend names are checked against the registries' names
(:mod:`pipeline.config.names`), the ``backends.diffusion`` section is typed
(:mod:`pipeline.config.diffusion`) and the scene's theme is looked up in the themes files
(:mod:`pipeline.config.themes`), so a constructed ``PipelineConfig`` is a valid one.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_serializer, model_validator

from pipeline.config.base import Strict as _Strict
from pipeline.config.base import renamed_key
from pipeline.config.diffusion import DiffusionConfig
from pipeline.config.errors import ConfigError, explain_validation_error
from pipeline.config.names import DepthBackendName, OnnxFamilyName, SceneBackendName, SegmentBackendName
from pipeline.config.themes import get_theme, load_themes

ASPECTS: dict[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "4:5": (4, 5),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
}
MAX_OUTPUT_SIDE = 2048


class DecodeConfig(_Strict):
    """Limits applied to untrusted image bytes."""

    max_pixels: int = Field(50_000_000, gt=0, description="decompression-bomb guard (width*height)")
    max_bytes: int = Field(200 * 1024 * 1024, gt=0, description="largest file read, bytes (200 MiB)")
    min_side: int = Field(8, ge=1, description="images smaller than this on either side are rejected")


class SegmentConfig(_Strict):
    backend: SegmentBackendName = "classical"
    work_side: int = Field(512, ge=64, description="long side the classical segmenter works at")
    threshold: float = Field(0.0, ge=0.0, description="ΔE76 to the background; 0 = automatic")
    min_component_frac: float = Field(0.002, ge=0, le=1, description="smallest product part kept, fraction of the image")
    use_alpha_channel: bool = Field(True, description="a photo with transparency is already cut out: use its alpha")
    # SAM backend (issue 3) reads these; the classical backend ignores them.
    sam_model_type: Literal["vit_b", "vit_l", "vit_h"] = "vit_b"
    sam_checkpoint: str | None = Field(None, description="SAM weights: a local file or a hub source")
    sam_min_agreement_iou: float = Field(0.5, ge=0, le=1, description="IoU with the classical mask needed to use SAM's")
    # ONNX and fused backends (issues 7, 18): a salient-object model (rembg's families) from a local .onnx file;
    # ``fused`` runs it and the classical segmenter and fuses the two (no agreement veto).
    onnx_model: str | None = Field(None, description="path of the .onnx file, e.g. /models/isnet-general-use.onnx")
    onnx_family: OnnxFamilyName | None = Field(None, description="pre/post-processing preset; None = from the file name")
    onnx_min_agreement_iou: float = Field(0.5, ge=0, le=1,
                                          description="IoU with the classical mask needed to use it (onnx only)")


class ControlConfig(_Strict):
    canny_sigma: float = Field(0.33, gt=0, le=1, description="auto-threshold spread around the median")
    depth_backend: DepthBackendName = "pseudo"
    depth_model: str | None = Field(None, description="depth_backend model: hub id or local folder")


class PlacementConfig(_Strict):
    size: tuple[int, int] | None = Field(None, description="output (width, height); overrides aspect")
    aspect: str = Field("1:1", description="1:1 | 4:5 | 3:4 | 16:9 | 9:16 (when size is not given)")
    long_side: int = Field(1024, ge=64, le=MAX_OUTPUT_SIDE, description="output long side, pixels")
    product_scale: float = Field(0.62, gt=0.05, le=1.0, description="product bbox long side / canvas side")
    anchor: Literal["center", "bottom", "left", "right"] = "bottom"
    margin: float = Field(0.08, ge=0.0, lt=0.5, description="fraction of the canvas kept clear at the edges")
    horizon: float = Field(0.62, gt=0.05, lt=0.98, description="floor line as a fraction of the height")

    @field_validator("aspect")
    @classmethod
    def _known_aspect(cls, v: str) -> str:
        if v not in ASPECTS:
            raise ValueError(f"aspect must be one of {sorted(ASPECTS)}, got {v!r}")
        return v

    @field_validator("size")
    @classmethod
    def _size_in_range(cls, v: tuple[int, int] | None) -> tuple[int, int] | None:
        if v is not None and not all(64 <= s <= MAX_OUTPUT_SIDE for s in v):
            raise ValueError(f"size sides must be in [64, {MAX_OUTPUT_SIDE}], got {v}")
        return v

    def output_wh(self) -> tuple[int, int]:
        """Output canvas (width, height) in pixels, both even."""
        if self.size is not None:
            return self.size
        aw, ah = ASPECTS[self.aspect]
        if aw >= ah:
            w, h = self.long_side, round(self.long_side * ah / aw)
        else:
            w, h = round(self.long_side * aw / ah), self.long_side
        return w - w % 2, h - h % 2


class ShadowConfig(_Strict):
    light_azimuth_deg: float = Field(135.0, description="where the light comes from, 0 = right, 90 = top")
    light_elevation_deg: float = Field(50.0, gt=5, le=90, description="light height above the floor, degrees")
    contact_strength: float = Field(0.55, ge=0, le=1, description="darkness of the contact shadow under the base")
    cast_strength: float = Field(0.30, ge=0, le=1, description="darkness of the cast shadow")
    softness: float = Field(0.04, gt=0, le=0.3, description="cast-shadow blur as a fraction of product height")
    reflection: bool = Field(False, description="a mirrored reflection on the floor (glossy surfaces)")
    reflection_strength: float = Field(0.18, ge=0, le=1, description="opacity of that reflection")


class SceneConfig(_Strict):
    """The scene: backend, theme and shadows. ``themes_file`` is declared before ``theme`` because
    the theme is looked up in it (pydantic validates fields in order)."""

    backend: SceneBackendName = "studio"
    themes_file: str | None = Field(None, description="extra themes YAML, merged over configs/themes.yaml",
                                    validate_default=True)
    theme: str = Field("paper-white", description="a theme name from configs/themes.yaml (or themes_file)")
    shadow: ShadowConfig = ShadowConfig()
    backdrop_tint: float = Field(0.35, ge=0, le=1, description="studio: how far the backdrop is tinted toward the "
                                 "product (was `harmonise`)")
    backdrop_per_item: bool = Field(False, description="vary the backdrop per product (default: one per batch)")

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        return renamed_key(data, "harmonise", "backdrop_tint", "scene")

    @field_validator("themes_file")
    @classmethod
    def _themes_valid(cls, themes_file: str | None) -> str | None:
        """The themes files exist and parse, and every theme in them is valid."""
        load_themes(themes_file)
        return themes_file

    @field_validator("theme")
    @classmethod
    def _theme_exists(cls, theme: str, info: ValidationInfo) -> str:
        if "themes_file" in info.data:  # else the themes file itself failed: reported there
            get_theme(theme, info.data["themes_file"])
        return theme


class RestoreConfig(_Strict):
    mode: Literal["exact", "harmonised"] = "exact"
    auto_logo_regions: bool = Field(True, description="find logo/text regions when the sidecar gives none")
    max_logo_regions: int = Field(6, ge=0, le=64, description="at most this many regions found per product")
    text_detector: Literal["none", "rapidocr"] = Field(
        "none", description="extra logo/text box source: rapidocr = RapidOCR's PP-OCRv4 detector (the [ocr] extra)")
    detail_sigma: float = Field(8.0, gt=0, description="Gaussian sigma (px) splitting scene light from logo detail")


class GateConfig(_Strict):
    """Pass/fail thresholds. A metric that is None (no logo regions, no second segmenter) is not
    gated. Each range is what the metric can take (a share in [0, 1], SSIM in [0, 1], L* in
    [0, 100], ΔE up to 100), so a limit outside it is a config error, not a gate that never fires.
    How each default was chosen: docs/gate.md (cut-out limits on a split of the real photos)."""

    delta_e00_mean_max: float = Field(2.0, ge=0, le=100, description="mean CIEDE2000 of the product")
    delta_e00_p95_max: float = Field(5.0, ge=0, le=100, description="95th percentile CIEDE2000 of the product")
    ssim_min: float = Field(0.95, ge=0, le=1, description="SSIM of the product region")
    logo_ssim_min: float = Field(0.90, ge=0, le=1, description="the worst logo region's SSIM")
    expansion_max: float = Field(0.008, ge=0, le=1, description="product grown into the scene / product area")
    halo_max: float = Field(3.0, ge=0, le=100, description="leaked old-backdrop colour around the edge, ΔE00")
    # Cut-out confidence (chosen on a split of the real photos: bench/gate_fit.py, docs/gate.md).
    cutout_edge_off_max: float = Field(0.452, ge=0, le=1, description="share of the outline off any photo edge")
    cutout_base_off_max: float = Field(0.267, ge=0, le=1, description="share of the base outline off any edge")
    cutout_backdrop_in_max: float = Field(0.324, ge=0, le=1, description="share of the inner band that is backdrop")
    cutout_product_out_max: float = Field(0.712, ge=0, le=1, description="share of the outer band that is product")
    cutout_cut_through_max: float = Field(0.0179, ge=0, le=1, description="share of the outline cutting the product")
    cutout_continues_out_max: float = Field(0.00818, ge=0, le=1,
                                            description="share of the outline the product continues past")
    cutout_mirror_max: float = Field(0.0555, ge=0, le=1, description="share of the mask mirroring the product (reflection)")
    cutout_backdrop_gap_max: float = Field(0.158, ge=0, le=1, description="share of the mask that is backdrop seen through")
    cutout_panel_hole_max: float = Field(0.00538, ge=0, le=1, description="share of the mask cut as straight-rimmed holes")
    cutout_disagreement_max: float = Field(0.10, ge=0, le=1,
                                           description="share where two segmenters disagree (1 - their IoU)")
    cutout_unstable_max: float = Field(0.0302, ge=0, le=1,
                                       description="share of the cut-out that changes when cut again at 5/8 the size")
    cutout_confidence_min: float = Field(0.5, ge=0, le=1)
    # Composition: the product in the output frame.
    composition_frame_cut_max: float = Field(0.03, ge=0, le=1,
                                             description="share of the product's width the output frame runs along")
    # Scene checks.
    scene_lightness_min: float = Field(4.0, ge=0, le=100, description="median backdrop L*: a black frame")
    scene_detail_min: float = Field(1.0, ge=0, le=100, description="backdrop L* p99-p1: a flat frame")
    scene_noise_max: float = Field(6.0, gt=0, le=100, description="backdrop pixel noise (L*)")
    scene_blotch_max: float = Field(3.0, gt=0, le=100, description="backdrop colour noise at coarse scales, ΔE76")
    scene_extra_object_max: float = Field(0.0015, ge=0, le=1, description="largest foreign region / frame")
    scene_palette_de_max: float = Field(30.0, gt=0, le=100, description="backdrop colour to the theme palette, ΔE76")
    scene_contact_min: float = Field(0.08, ge=-1, le=1, description="darkening under the base: a floating product")


class ScoreConfig(_Strict):
    edge_erode_px: int = Field(2, ge=0, le=16, description="edge band left out of colour metrics")
    halo_band_px: int = Field(3, ge=1, le=16, description="ring outside the product where halos are measured")
    expansion_band_px: int = Field(12, ge=2, le=64, description="band around the product watched for changes")
    gate: GateConfig = GateConfig()


class RunConfig(_Strict):
    seed: int = Field(0, description="base seed; each product derives its own from it")
    device: str = Field("cpu", description="cpu, cuda, cuda:1, mps")
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"


class OutputConfig(_Strict):
    """How the composite is written; masks and control maps are always PNG (they are data)."""

    format: Literal["png", "jpeg", "webp"] = "png"
    quality: int = Field(90, ge=1, le=100, description="JPEG/WebP quality (ignored for PNG)")
    debug_outputs: bool = Field(False, description="also write canny.png and depth.png (the scene's control "
                                                   "maps; no shop or review step reads them)")


class BackendsConfig(_Strict):
    """Settings of the backends that need more than a name: one typed section per backend.

    A section that is not given is None and is left out of dumps (and so of the config hash).
    """

    diffusion: DiffusionConfig | None = Field(None, description="the diffusion scene backend; see configs/sd15.yaml")

    @model_serializer(mode="wrap")
    def _drop_absent(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None}


class PipelineConfig(_Strict):
    decode: DecodeConfig = DecodeConfig()
    segment: SegmentConfig = SegmentConfig()
    control: ControlConfig = ControlConfig()
    placement: PlacementConfig = PlacementConfig()
    scene: SceneConfig = Field(default_factory=SceneConfig)  # built per config: it reads the themes files
    restore: RestoreConfig = RestoreConfig()
    score: ScoreConfig = ScoreConfig()
    run: RunConfig = RunConfig()
    output: OutputConfig = OutputConfig()
    backends: BackendsConfig = BackendsConfig()

    @model_validator(mode="after")
    def _backend_sections(self) -> PipelineConfig:
        if self.scene.backend == "diffusion" and self.backends.diffusion is None:
            raise ValueError("scene.backend 'diffusion' needs a 'backends: {diffusion: ...}' section; "
                             "see configs/sd15.yaml")
        return self

    def with_overrides(self, overrides: dict[str, Any]) -> PipelineConfig:
        """A new config with dotted-key overrides applied, e.g. ``{"scene.theme": "marble"}``."""
        data = self.model_dump(mode="python")
        for dotted, value in overrides.items():
            node = data
            *parents, leaf = dotted.split(".")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = value
        try:
            return PipelineConfig.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(explain_validation_error(exc, PipelineConfig)) from None
