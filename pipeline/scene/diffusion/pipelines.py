"""Build (load) the diffusers pipeline for the diffusion backend; composed, never forked.

- SD1.5 family: ``StableDiffusionControlNetInpaintPipeline`` (MultiControlNet canny + depth).
- SDXL family: ``StableDiffusionXLControlNetInpaintPipeline``, or
  ``StableDiffusionXLControlNetUnionInpaintPipeline`` with one ControlNet-Union model.
- IP-Adapters through ``load_ip_adapter``; the image encoder is loaded here (safetensors) and
  handed to the pipeline, so ``load_ip_adapter`` never fetches one itself.

Pipelines are cached per process (:mod:`pipeline.models.cache`) keyed by every source, the device
and the dtype; callers hold the entry's lock while using the pipeline.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.models.cache import CachedModel, cache_key, get_or_load
from pipeline.models.devices import resolve_device, resolve_dtype
from pipeline.models.sources import ModelSource, ResolvedSource, loaded_provenance, resolve_source
from pipeline.scene.diffusion.accel import AccelState, prepare_pipeline
from pipeline.config.diffusion import ControlNetSpec, DiffusionConfig, IPAdapterSpec

logger = logging.getLogger(__name__)

PIPELINE_CLASSES: dict[tuple[str, bool], str] = {
    ("sd15", False): "StableDiffusionControlNetInpaintPipeline",
    ("sdxl", False): "StableDiffusionXLControlNetInpaintPipeline",
    ("sdxl", True): "StableDiffusionXLControlNetUnionInpaintPipeline",
}


@dataclass
class LoadedPipeline:
    """A ready pipeline plus what the backend needs to drive it.

    scheduler_config: the base model's scheduler config (fresh schedulers are built from it).
    control_names: ControlNet names in the order the pipeline expects control images.
    accel: the speed levers applied to ``pipe`` and their per-call caches (pipeline/scene/diffusion/accel.py).
    """

    pipe: Any
    family: str
    union: bool
    scheduler_config: dict[str, Any]
    control_names: tuple[str, ...]
    n_ip_adapters: int
    device: str
    dtype: str
    accel: AccelState


def _resolve(cfg: DiffusionConfig, source: ModelSource) -> ResolvedSource:
    return resolve_source(source, cache_dir=cfg.cache_dir, local_files_only=cfg.local_files_only)


def resolve_all(cfg: DiffusionConfig) -> dict[str, Any]:
    """Resolve every source without loading (fast; raises BackendUnavailableError when missing)."""
    out: dict[str, Any] = {"base": _resolve(cfg, cfg.base)}
    if cfg.vae is not None:
        out["vae"] = _resolve(cfg, cfg.vae)
    out["controlnets"] = [_resolve(cfg, c.source) for c in cfg.controlnets]
    out["ip_adapters"] = [_resolve(cfg, ip_weight_source(s)) for s in cfg.ip_adapters]
    if cfg.ip_adapters:
        out["image_encoder"] = _resolve(cfg, image_encoder_source(cfg))
    return out


def ip_weight_source(spec: IPAdapterSpec) -> ModelSource:
    """The adapter's weight file as a single-file source (hub file or local file)."""
    src = spec.source
    if src.repo is not None:
        sub = "/".join(p for p in (src.subfolder, spec.subfolder) if p) or None
        return src.model_copy(update={"subfolder": sub, "filename": spec.weight_name})
    path = Path(src.path).expanduser() / (src.subfolder or "") / spec.subfolder / spec.weight_name
    return ModelSource(path=str(path), allow_pickle=src.allow_pickle)


def image_encoder_source(cfg: DiffusionConfig) -> ModelSource:
    """``cfg.image_encoder``, else ``<first adapter>/<subfolder>/image_encoder`` (h94 layout)."""
    if cfg.image_encoder is not None:
        return cfg.image_encoder
    first = cfg.ip_adapters[0]
    sub = "/".join(p for p in (first.source.subfolder, first.subfolder, "image_encoder") if p)
    return first.source.model_copy(update={"subfolder": sub, "filename": None})


def pipeline_cache_key(cfg: DiffusionConfig, device: str, dtype: str) -> str:
    """Everything that changes the loaded weights (not sampling settings or scales)."""
    return cache_key(
        {
            "kind": "diffusion",
            "family": cfg.family,
            "base": cfg.base.model_dump(),
            "vae": cfg.vae.model_dump() if cfg.vae else None,
            "controlnets": [(c.name, c.source.model_dump()) for c in cfg.controlnets],
            "ip_adapters": [(s.source.model_dump(), s.subfolder, s.weight_name) for s in cfg.ip_adapters],
            "image_encoder": image_encoder_source(cfg).model_dump() if cfg.ip_adapters else None,
            "cache_dir": cfg.cache_dir,
            "accel": cfg.accel.model_dump(),  # the levers change the loaded modules
            "device": device,
            "dtype": dtype,
        }
    )


def load_pipeline(cfg: DiffusionConfig, device: str, dtype: str) -> CachedModel[LoadedPipeline]:
    """The cached pipeline for ``cfg`` on ``device``/``dtype`` (loaded on first request)."""
    return get_or_load(pipeline_cache_key(cfg, device, dtype), lambda: _load(cfg, device, dtype))


def _load(cfg: DiffusionConfig, device: str, dtype: str) -> tuple[LoadedPipeline, dict[str, Any]]:
    silence_empty_fp32_warning()
    torch_device = resolve_device(device)
    torch_dtype = resolve_dtype(dtype, torch_device)
    resolved = resolve_all(cfg)
    union = any(c.name == "union" for c in cfg.controlnets)
    nets = [_load_controlnet(spec, r, torch_dtype) for spec, r in zip(cfg.controlnets, resolved["controlnets"], strict=True)]
    extra: dict[str, Any] = {"controlnet": nets[0] if union else nets}
    if cfg.vae is not None:
        from diffusers import AutoencoderKL

        extra["vae"] = _from_source(AutoencoderKL, resolved["vae"], torch_dtype)
    if cfg.ip_adapters:
        from transformers import CLIPVisionModelWithProjection

        r = resolved["image_encoder"]
        extra["image_encoder"] = CLIPVisionModelWithProjection.from_pretrained(r.location, dtype=torch_dtype, **r.pretrained_kwargs())
    pipe = _load_base(cfg, resolved["base"], extra, torch_dtype)
    if union and pipe.unet.config.in_channels != 4:
        raise ValueError(
            "controlnets: 'union' runs in diffusers' StableDiffusionXLControlNetUnionInpaintPipeline, which needs "
            "a 4-channel SDXL base (e.g. stabilityai/stable-diffusion-xl-base-1.0), got a UNet with "
            f"in_channels={pipe.unet.config.in_channels} from {cfg.base.describe()}"
        )
    if cfg.ip_adapters:
        _load_ip_adapters(pipe, resolved["ip_adapters"])
    pipe.to(torch_device)
    pipe.set_progress_bar_config(disable=True)
    accel = prepare_pipeline(pipe, cfg.accel, n_ip_adapters=len(cfg.ip_adapters), union=union)
    loaded = LoadedPipeline(
        pipe=pipe,
        family=cfg.family,
        union=union,
        scheduler_config=dict(pipe.scheduler.config),
        control_names=tuple(c.name for c in cfg.controlnets),
        n_ip_adapters=len(cfg.ip_adapters),
        device=device,
        dtype=dtype,
        accel=accel,
    )
    return loaded, _provenance(cfg, resolved, pipe, device, dtype)


def _from_source(cls: Any, r: ResolvedSource, torch_dtype: Any) -> Any:
    """``cls.from_single_file`` for a file, ``cls.from_pretrained`` for a folder or hub id."""
    if r.kind == "file":
        return cls.from_single_file(r.location, dtype=torch_dtype, **r.single_file_kwargs())
    return cls.from_pretrained(r.location, dtype=torch_dtype, **r.pretrained_kwargs())


def _load_controlnet(spec: ControlNetSpec, r: ResolvedSource, torch_dtype: Any) -> Any:
    if spec.name == "union":
        from diffusers.models.controlnets import ControlNetUnionModel

        return _from_source(ControlNetUnionModel, r, torch_dtype)
    from diffusers import ControlNetModel

    return _from_source(ControlNetModel, r, torch_dtype)


def _pipeline_class(cfg: DiffusionConfig) -> Any:
    import diffusers

    union = any(c.name == "union" for c in cfg.controlnets)
    return getattr(diffusers, PIPELINE_CLASSES[(cfg.family, union)])


def _load_base(cfg: DiffusionConfig, r: ResolvedSource, extra: dict[str, Any], torch_dtype: Any) -> Any:
    cls = _pipeline_class(cfg)
    if cfg.family == "sd15":
        # Product photos: no safety checker (it would also need extra weights); see README.
        extra = {**extra, "safety_checker": None, "requires_safety_checker": False}
    if r.kind == "file":
        return cls.from_single_file(r.location, dtype=torch_dtype, **extra, **r.single_file_kwargs())
    kwargs = r.pretrained_kwargs()
    if "subfolder" in kwargs:
        raise ValueError(f"backends.diffusion.base: a pipeline has no subfolder, got {r.source.subfolder!r}")
    return cls.from_pretrained(r.location, dtype=torch_dtype, **extra, **kwargs)


EMPTY_FP32_WARNING = "that should be kept in float32: []."


class _DropEmptyFp32Warning(logging.Filter):
    """Drops diffusers' "There are modules in X that should be kept in float32: []" and nothing else.

    diffusers 0.42.1 ``ModelMixin.to`` warns on every dtype cast because its guard is
    ``(self._keep_in_fp32_modules or []) is not None``, always true. ``load_ip_adapter`` casts the
    UNet to its own dtype (``_load_ip_adapter_weights``: ``self.to(dtype=self.dtype)``) and the SDXL
    pipelines cast the VAE to float32 around every VAE encode (``force_upcast``), so each load and
    each SDXL call printed it with an empty list. Only the empty-list message is dropped: a model
    that does keep modules in float32 still warns. (Fixed upstream by diffusers PR #13872.)
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return EMPTY_FP32_WARNING not in record.getMessage()


_EMPTY_FP32_FILTER = _DropEmptyFp32Warning()


def silence_empty_fp32_warning() -> None:
    """Install the filter above on diffusers' modeling logger (once; idempotent)."""
    log = logging.getLogger("diffusers.models.modeling_utils")
    if _EMPTY_FP32_FILTER not in log.filters:
        log.addFilter(_EMPTY_FP32_FILTER)


def _load_ip_adapters(pipe: Any, files: list[ResolvedSource]) -> None:
    """``load_ip_adapter`` over the resolved weight files (each a local safetensors file)."""
    folders = [str(Path(f.location).parent) for f in files]
    names = [Path(f.location).name for f in files]
    pipe.load_ip_adapter(
        folders,
        subfolder=[None] * len(files),
        weight_name=names,
        image_encoder_folder=None,
        local_files_only=True,
    )


def _provenance(cfg: DiffusionConfig, resolved: dict[str, Any], pipe: Any, device: str, dtype: str) -> dict[str, Any]:
    import diffusers
    import torch
    import transformers

    prov: dict[str, Any] = {
        "pipeline_class": type(pipe).__name__,
        "family": cfg.family,
        "base": loaded_provenance(resolved["base"]),
        "controlnets": [
            {"name": c.name, **loaded_provenance(r)} for c, r in zip(cfg.controlnets, resolved["controlnets"], strict=True)
        ],
        "device": device,
        "dtype": dtype,
        "versions": {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": torch.__version__},
    }
    if "vae" in resolved:
        prov["vae"] = loaded_provenance(resolved["vae"])
    if cfg.ip_adapters:
        prov["ip_adapters"] = [
            {"weight_name": s.weight_name, **loaded_provenance(r)} for s, r in zip(cfg.ip_adapters, resolved["ip_adapters"], strict=True)
        ]
        prov["image_encoder"] = loaded_provenance(resolved["image_encoder"])
    return prov
