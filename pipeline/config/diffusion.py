"""Settings of the ``diffusion`` scene backend: the ``backends.diffusion`` section of the config.

Values only (model sources, numbers, names from the literal registries); unknown keys are errors.
The section is validated with the rest of the config at load. See ``configs/sd15.yaml`` and
``configs/sdxl.yaml`` for complete presets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from pipeline.config.base import Strict as _Strict
from pipeline.config.base import renamed_key
from pipeline.config.names import SchedulerName
from pipeline.config.sources import ModelSource

if TYPE_CHECKING:  # annotations only: the root model holds this section
    from pipeline.config.models import PipelineConfig

ControlName = Literal["canny", "depth", "union"]
MapName = Literal["canny", "depth"]
# xinsir/controlnet-union-sdxl-1.0 control types: 1 = depth, 3 = canny/lineart/mlsd.
UNION_CONTROL_MODES: dict[str, int] = {"depth": 1, "canny": 3}


class ControlNetSpec(_Strict):
    """One ControlNet: which map feeds it, its weights, strength and guidance window.

    ``union`` (SDXL only) is one ControlNet-Union model fed every map in ``union_maps``.
    """

    name: ControlName
    source: ModelSource
    conditioning_scale: float = Field(0.5, ge=0.0, le=2.0)
    guidance_start: float = Field(0.0, ge=0.0, le=1.0)
    guidance_end: float = Field(1.0, ge=0.0, le=1.0)
    union_maps: tuple[MapName, ...] = ("depth", "canny")

    @model_validator(mode="after")
    def _window(self) -> ControlNetSpec:
        if self.guidance_start >= self.guidance_end:
            raise ValueError(
                f"controlnet {self.name}: guidance_start must be < guidance_end, "
                f"got {self.guidance_start} >= {self.guidance_end}"
            )
        if self.name == "union" and not self.union_maps:
            raise ValueError("controlnet union: union_maps must name at least one of canny, depth")
        return self


class IPAdapterSpec(_Strict):
    """One IP-Adapter (h94/IP-Adapter layout: ``<subfolder>/<weight_name>``).

    reference: ``theme`` (the theme's style_image; the product when the theme has none),
    ``product`` (the product cut-out, for appearance) or ``path`` (``reference_path``).
    """

    source: ModelSource
    subfolder: str = "models"
    weight_name: str = "ip-adapter_sd15.safetensors"
    scale: float = Field(0.5, ge=0.0, le=2.0)
    reference: Literal["theme", "product", "path"] = "theme"
    reference_path: str | None = None

    @model_validator(mode="after")
    def _reference(self) -> IPAdapterSpec:
        if (self.reference == "path") != (self.reference_path is not None):
            raise ValueError("ip_adapter: reference_path is required with reference: path, and only then")
        if not self.weight_name.endswith(".safetensors") and not self.source.allow_pickle:
            raise ValueError(
                f"ip_adapter weight_name must be a .safetensors file (got {self.weight_name!r}); "
                "set source.allow_pickle: true to load a .bin with weights_only=True"
            )
        return self


class AccelConfig(_Strict):
    """Speed switches of the diffusion backend (``backends.diffusion.accel``); see pipeline/scene/diffusion/accel.py.

    Exact ones (same maths as stock diffusers; on by default where they are also bit-exact on the
    CPU): ``cache_prompt_embeds``, ``cache_ip_embeds`` (text / IP-Adapter image embeddings computed
    once per prompt / reference image), ``cache_control_embeddings`` (each ControlNet's conditioning
    embedding computed once per call, not once per step), ``skip_inactive_controlnets`` (a ControlNet
    outside its guidance window is not run; stock runs it and multiplies by 0), ``encode_once`` (the
    VAE encoding of an identical masked image is reused across the calls of one product, a blank one
    across products).
    Same maths, different rounding: ``dedupe_control_images`` (on by default: each distinct control
    image embedded once per call, not once per copy in the CFG / variant batch; needs
    ``cache_control_embeddings``); off by default (GPU levers): ``channels_last``, ``fuse_qkv``,
    ``sdpa_backend``, ``compile`` (static shapes: one compiled graph per resolution bucket and batch
    size; ``compile_mode: reduce-overhead`` adds CUDA graphs), ``cuda_graphs`` (the UNet and ControlNet
    forwards captured as CUDA graphs, one per bucket, without torch.compile; CUDA only).
    Approximations (off by default; opt-in presets such as configs/fast.yaml): ``controlnet_stop_at``
    (every ControlNet stops after this fraction of the steps), ``deepcache_interval`` (DeepCache-style:
    the UNet's deep blocks run every N-th step, the shallow ones every step), ``vae_tiling``.
    """

    cache_prompt_embeds: bool = True
    cache_ip_embeds: bool = True
    cache_control_embeddings: bool = True
    dedupe_control_images: bool = Field(
        True, description="embed each distinct control image once per call (the CFG pair and variants share it)")
    skip_inactive_controlnets: bool = True
    encode_once: bool = True
    channels_last: bool = False
    fuse_qkv: bool = Field(False, description="fused QKV projections (UNet only without IP-Adapters; ControlNets, VAE)")
    sdpa_backend: Literal["auto", "flash", "efficient", "cudnn", "math"] = "auto"
    compile: Literal["off", "regional", "full"] = Field(
        "off", description="torch.compile: regional = the repeated transformer blocks (fast to compile), full = whole models"
    )
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = "default"
    compile_backend: Literal["inductor", "aot_eager", "eager"] = Field(
        "inductor", description="torch.compile backend; aot_eager/eager only trace (tests, debugging)"
    )
    cuda_graphs: bool = Field(False, description="capture UNet/ControlNet forwards as CUDA graphs (ignored on the CPU)")
    controlnet_stop_at: float | None = Field(None, gt=0.0, le=1.0, description="approximation: cap every guidance_end")
    deepcache_interval: int = Field(1, ge=1, le=10, description="approximation: full UNet every N steps (1 = off)")
    vae_tiling: Literal["off", "auto", "on"] = Field(
        "off", description="tiled VAE encode/decode; auto = above 1024x1024 work pixels (approximation at tile seams)"
    )

    @field_validator("compile", "vae_tiling", mode="before")
    @classmethod
    def _yaml_off(cls, value: object, info: ValidationInfo) -> object:
        """YAML reads a bare ``off`` / ``on`` as a boolean: take it as the word."""
        if value is False:
            return "off"
        if value is True and info.field_name == "vae_tiling":
            return "on"
        return value

    @model_validator(mode="after")
    def _compatible(self) -> AccelConfig:
        if self.cuda_graphs and self.deepcache_interval > 1:
            raise ValueError("accel: cuda_graphs and deepcache_interval > 1 do not combine (a graph fixes one path)")
        if self.cuda_graphs and self.compile == "full":
            raise ValueError("accel: cuda_graphs with compile: full; use compile_mode: reduce-overhead instead")
        return self

    @property
    def exact(self) -> bool:
        """True when no approximation is switched on (the output is stock diffusers' up to rounding)."""
        return self.controlnet_stop_at is None and self.deepcache_interval == 1 and self.vae_tiling == "off"


class DiffusionConfig(_Strict):
    """The diffusion backend: base inpainting model, ControlNets, IP-Adapters and sampling.

    device/dtype default to ``run.device``/``run.dtype``. ``work_long_side`` generates at that
    long side (multiple of 8) and resizes back to the output size; None generates at the output
    size rounded up to a multiple of 8. ``variants``: images per product, seeds ``seed + k``.
    ``batch_size``: images per pipeline call. The same seed and config reproduce the same images;
    with ``batch_size: 1`` variant k equals a single run with seed ``seed + k`` exactly (in a
    larger batch diffusers samples the masked-image latents with the batch's first generator, so
    batched variants differ slightly from solo runs).
    """

    family: Literal["sd15", "sdxl"] = "sd15"
    base: ModelSource
    vae: ModelSource | None = None
    controlnets: tuple[ControlNetSpec, ...] = ()
    ip_adapters: tuple[IPAdapterSpec, ...] = ()
    image_encoder: ModelSource | None = Field(
        None, description="IP-Adapter image encoder; default <first adapter source>/<subfolder>/image_encoder"
    )
    scheduler: SchedulerName = "unipc"
    steps: int = Field(30, ge=1, le=200)
    guidance_scale: float = Field(7.0, ge=0.0, le=30.0)
    strength: float = Field(1.0, gt=0.0, le=1.0)
    relight_strength: float = Field(
        0.25, gt=0.0, le=1.0,
        description="restore.mode harmonised: strength of the pass over the whole frame (was harmonise_strength)")
    variants: int = Field(1, ge=1, le=16)
    batch_size: int = Field(1, ge=1, le=16)
    device: str | None = None
    dtype: Literal["float32", "float16", "bfloat16"] | None = None
    category: str = "product"
    colour: str = ""
    mask_dilate_px: int = Field(3, ge=0, le=64, description="product keep-region grown by this many pixels")
    mask_alpha_threshold: float = Field(0.0, ge=0.0, lt=1.0, description="alpha above this is product (kept)")
    work_long_side: int | None = Field(None, ge=64, le=2048)
    init_fill: Literal["theme", "grey"] = "theme"
    cache_dir: str | None = None
    local_files_only: bool = False
    clip_skip: int | None = Field(None, ge=1, le=4)
    accel: AccelConfig = AccelConfig()

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: object) -> object:
        return renamed_key(data, "harmonise_strength", "relight_strength", "backends.diffusion")

    @model_validator(mode="after")
    def _controlnets(self) -> DiffusionConfig:
        names = [c.name for c in self.controlnets]
        if len(set(names)) != len(names):
            raise ValueError(f"controlnets: each name at most once, got {names}")
        if "union" in names and self.family != "sdxl":
            raise ValueError("controlnets: 'union' is an SDXL ControlNet-Union model; set family: sdxl")
        if "union" in names and len(names) > 1:
            raise ValueError(f"controlnets: 'union' replaces the canny/depth pair, use it alone (got {names})")
        if not names:
            raise ValueError("controlnets: at least one of canny, depth or union is required")
        return self

    def run_device(self, config: PipelineConfig) -> str:
        return self.device or config.run.device

    def run_dtype(self, config: PipelineConfig) -> str:
        return self.dtype or config.run.dtype


def diffusion_config(config: PipelineConfig) -> DiffusionConfig:
    """The ``backends.diffusion`` section (validated at load); ValueError when the config has none."""
    if config.backends.diffusion is None:
        raise ValueError(
            "scene backend 'diffusion' needs a 'backends: {diffusion: ...}' section; see configs/sd15.yaml"
        )
    return config.backends.diffusion
