"""Typed configuration: one pydantic model per stage, composed into :class:`PipelineConfig`.

YAML files hold values only (numbers, strings, names from a registry), never class paths.
``load_config`` layers a YAML file over the defaults; unknown keys are errors, so a typo in a
config never silently does nothing.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ASPECTS: dict[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "4:5": (4, 5),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
}
MAX_OUTPUT_SIDE = 2048


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecodeConfig(_Strict):
    """Limits applied to untrusted image bytes."""

    max_pixels: int = Field(50_000_000, gt=0, description="decompression-bomb guard (width*height)")
    max_bytes: int = Field(200 * 1024 * 1024, gt=0)
    min_side: int = Field(8, ge=1, description="images smaller than this on either side are rejected")


class SegmentConfig(_Strict):
    backend: str = "classical"
    work_side: int = Field(512, ge=64, description="long side the classical segmenter works at")
    threshold: float = Field(0.0, ge=0.0, description="ΔE76 to the background; 0 = automatic")
    min_component_frac: float = Field(0.002, ge=0, le=1)
    use_alpha_channel: bool = True
    # SAM backend (issue 3) reads these; the classical backend ignores them.
    sam_model_type: Literal["vit_b", "vit_l", "vit_h"] = "vit_b"
    sam_checkpoint: str | None = None
    sam_min_agreement_iou: float = Field(0.5, ge=0, le=1)
    # ONNX backend (issue 7): a salient-object model (rembg's families) from a local .onnx file.
    onnx_model: str | None = Field(None, description="path of the .onnx file, e.g. /models/isnet-general-use.onnx")
    onnx_family: str | None = Field(None, description="pre/post-processing preset; None = from the file name")
    onnx_min_agreement_iou: float = Field(0.5, ge=0, le=1, description="IoU with the classical mask needed to use it")

    @field_validator("onnx_family")
    @classmethod
    def _known_onnx_family(cls, v: str | None) -> str | None:
        if v is not None:  # imported here: pipeline.segment imports this module
            from pipeline.segment.onnx_presets import get_preset

            get_preset(v)
        return v


class ControlConfig(_Strict):
    canny_sigma: float = Field(0.33, gt=0, le=1, description="auto-threshold spread around the median")
    depth_backend: str = "pseudo"
    depth_model: str | None = None


class PlacementConfig(_Strict):
    size: tuple[int, int] | None = Field(None, description="output (width, height); overrides aspect")
    aspect: str = "1:1"
    long_side: int = Field(1024, ge=64, le=MAX_OUTPUT_SIDE)
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
    light_elevation_deg: float = Field(50.0, gt=5, le=90)
    contact_strength: float = Field(0.55, ge=0, le=1)
    cast_strength: float = Field(0.30, ge=0, le=1)
    softness: float = Field(0.04, gt=0, le=0.3, description="cast-shadow blur as a fraction of product height")
    reflection: bool = False
    reflection_strength: float = Field(0.18, ge=0, le=1)


class SceneConfig(_Strict):
    backend: str = "studio"
    theme: str = "paper-white"
    themes_file: str | None = Field(None, description="extra themes YAML, merged over configs/themes.yaml")
    shadow: ShadowConfig = ShadowConfig()
    harmonise: float = Field(0.35, ge=0, le=1, description="how far the backdrop is tinted toward the product")
    backdrop_per_item: bool = Field(False, description="vary the backdrop per product (default: one per batch)")


class RestoreConfig(_Strict):
    mode: Literal["exact", "harmonised"] = "exact"
    auto_logo_regions: bool = True
    max_logo_regions: int = Field(6, ge=0, le=64)
    detail_sigma: float = Field(8.0, gt=0, description="Gaussian sigma (px) splitting scene light from logo detail")


class GateConfig(_Strict):
    """Pass/fail thresholds. A metric that is None (no logo regions) is not gated."""

    delta_e00_mean_max: float = 2.0
    delta_e00_p95_max: float = 5.0
    ssim_min: float = 0.95
    logo_ssim_min: float = 0.90
    expansion_max: float = 0.008
    halo_max: float = 3.0
    # Cut-out confidence (chosen from bench/gate_eval.py's curves; see docs/gate.md).
    cutout_edge_off_max: float = Field(0.25, ge=0, le=1, description="share of the outline off any photo edge")
    cutout_base_off_max: float = Field(0.20, ge=0, le=1, description="share of the base outline off any edge")
    cutout_backdrop_in_max: float = Field(0.30, ge=0, le=1, description="share of the inner band that is backdrop")
    cutout_product_out_max: float = Field(0.70, ge=0, le=1, description="share of the outer band that is product")
    cutout_cut_through_max: float = Field(0.012, ge=0, le=1, description="share of the outline cutting the product")
    cutout_continues_out_max: float = Field(0.012, ge=0, le=1,
                                            description="share of the outline the product continues past")
    cutout_confidence_min: float = Field(0.5, ge=0, le=1)
    # Scene checks.
    scene_lightness_min: float = Field(4.0, ge=0, le=100, description="median backdrop L*: a black frame")
    scene_detail_min: float = Field(1.0, ge=0, description="backdrop L* p99-p1: a flat frame")
    scene_noise_max: float = Field(6.0, gt=0, description="backdrop pixel noise (L*)")
    scene_extra_object_max: float = Field(0.0015, ge=0, le=1, description="largest foreign region / frame")
    scene_palette_de_max: float = Field(30.0, gt=0, description="backdrop colour to the theme palette, ΔE76")
    scene_contact_min: float = Field(0.08, description="darkening under the base: a floating product")


class ScoreConfig(_Strict):
    edge_erode_px: int = Field(2, ge=0, le=16, description="edge band left out of colour metrics")
    halo_band_px: int = Field(3, ge=1, le=16)
    expansion_band_px: int = Field(12, ge=2, le=64)
    gate: GateConfig = GateConfig()


class RunConfig(_Strict):
    seed: int = 0
    device: str = "cpu"
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"


class OutputConfig(_Strict):
    """How the composite is written; masks and control maps are always PNG (they are data)."""

    format: Literal["png", "jpeg", "webp"] = "png"
    quality: int = Field(90, ge=1, le=100, description="JPEG/WebP quality (ignored for PNG)")


class PipelineConfig(_Strict):
    decode: DecodeConfig = DecodeConfig()
    segment: SegmentConfig = SegmentConfig()
    control: ControlConfig = ControlConfig()
    placement: PlacementConfig = PlacementConfig()
    scene: SceneConfig = SceneConfig()
    restore: RestoreConfig = RestoreConfig()
    score: ScoreConfig = ScoreConfig()
    run: RunConfig = RunConfig()
    output: OutputConfig = OutputConfig()
    # Backend-specific sections (diffusion, ...) live here as plain dicts validated by the backend.
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict)

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
            raise ValueError(explain_validation_error(exc)) from None


def explain_validation_error(exc: ValidationError) -> str:
    """One line per problem, ``dotted.key: message``; unknown keys name the nearest valid key."""
    lines = []
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            valid = _fields_at(PipelineConfig, err["loc"][:-1])
            close = difflib.get_close_matches(str(err["loc"][-1]), valid, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else f"; valid keys: {', '.join(valid)}"
            lines.append(f"{dotted}: unknown key{hint}")
        else:
            lines.append(f"{dotted}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model at ``loc`` ([] when ``loc`` leaves the typed models)."""
    for part in loc:
        field = model.model_fields.get(str(part))
        annotation = getattr(field, "annotation", None)
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_config(path: str | Path | None = None) -> PipelineConfig:
    """Defaults, overlaid with the YAML at ``path`` (if given).

    A preset may name a base file with ``extends: other.yaml`` (relative to itself).
    Raises ``ValueError`` naming the file and the bad field.
    """
    if path is None:
        return PipelineConfig()
    data = _read_yaml_with_extends(Path(path), seen=())
    try:
        return PipelineConfig.model_validate(data)
    except ValidationError as exc:  # re-raised with the file name, one line per problem
        raise ValueError(f"invalid config {path}: {explain_validation_error(exc)}") from None


def _read_yaml_with_extends(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    path = path.resolve()
    if path in seen:
        raise ValueError(f"config extends loop: {' -> '.join(map(str, seen + (path,)))}")
    if not path.is_file():
        raise ValueError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"config {path} must be a mapping, got {type(data).__name__}")
    parent = data.pop("extends", None)
    if parent:
        base = _read_yaml_with_extends(path.parent / parent, seen + (path,))
        data = _deep_merge(base, data)
    return data
