"""The ``diffusion`` scene backend: ControlNet inpainting around the placed product.

One call, in steps:

1. check the inputs (shapes, dtypes, seed);
2. build the pipeline inputs (:mod:`pipeline.scene.diffusion.inputs`): product over a neutral
   fill, inpaint mask = everything but the (slightly grown) product, canny/depth control images,
   IP-Adapter references, prompts filled from item metadata;
3. generate the scene with a fresh scheduler and one seeded generator per image
   (variant ``k`` uses ``seed + k``, so a variant reproduces alone or in a batch);
4. ``restore.mode: harmonised`` only, the relight pass: paste the product onto the scene and run a
   low-strength pass over the whole frame (same pipeline, all-ones mask, ``strength =
   relight_strength``) so the product takes the scene's light; ``SceneResult.product_altered``
   tells restore to rebuild the logos;
5. crop/resize back to the output size and record provenance.

The product itself is pasted back exactly by the restore stage (``exact`` mode) — the model never
paints inside the product mask, and the scene frame it returns is the full generated image.
The pipeline is loaded once per process and used under its lock.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.models.cache import CachedModel
from pipeline.models.devices import generator_device
from pipeline.scene.diffusion.accel import does_cfg, to_pil
from pipeline.config.diffusion import ControlNetSpec, DiffusionConfig, diffusion_config
from pipeline.scene.diffusion.inputs import DiffusionInputs, composite, from_work, prepare_inputs, to_work
from pipeline.scene.diffusion.pipelines import LoadedPipeline, load_pipeline
from pipeline.scene.diffusion.schedulers import make_scheduler
from pipeline.config.themes import Theme
from pipeline.types import ControlMaps, PlacedProduct, SceneResult

logger = logging.getLogger(__name__)

MAX_SEED = 2**63 - 1


class DiffusionBackend:
    """Callable scene backend (see module docstring). Build with :func:`build_diffusion_backend`.

    ``__call__`` returns one scene (variant 0). ``generate`` returns ``cfg.variants`` scenes, the
    k-th made with seed ``seed + k``; each is exactly what ``__call__`` gives for that seed.
    """

    name = "diffusion"

    def __init__(self, cfg: DiffusionConfig, entry: CachedModel[LoadedPipeline], mode: str) -> None:
        if mode not in ("exact", "harmonised"):
            raise ValueError(f"mode must be 'exact' or 'harmonised', got {mode!r}")
        self.cfg = cfg
        self.mode = mode
        self._entry = entry

    @property
    def provenance(self) -> dict[str, Any]:
        """Model ids, revisions, hashes, versions, device and dtype of the loaded pipeline."""
        return dict(self._entry.provenance)

    def __call__(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
    ) -> SceneResult:
        """HWC uint8 scene at ``placed.placement.out_hw`` (variant 0, seed ``seed``)."""
        return self.generate(placed, control, theme, seed=seed, item_meta=item_meta, variants=1)[0]

    def generate(
        self,
        placed: PlacedProduct,
        control: ControlMaps,
        theme: Theme,
        *,
        seed: int,
        item_meta: Mapping[str, Any],
        variants: int | None = None,
    ) -> list[SceneResult]:
        """``variants`` (default ``cfg.variants``) scenes; variant k uses seed ``seed + k``."""
        n = self.cfg.variants if variants is None else variants
        check_inputs(placed, control, seed, n)
        inputs = prepare_inputs(self.cfg, placed, control, theme, item_meta)
        seeds = [seed + k for k in range(n)]
        with self._entry.lock, self._entry.value.accel.product():
            frames = self._generate_scenes(inputs, seeds)
            if self.mode == "harmonised":
                frames = [self._relight(inputs, placed, frame, s) for frame, s in zip(frames, seeds, strict=True)]
        return [
            SceneResult(
                image=from_work(frame, inputs.geometry),
                backend=self.name,
                product_altered=self.mode == "harmonised",
                info=self._info(inputs, theme, s, k, n),
            )
            for k, (frame, s) in enumerate(zip(frames, seeds, strict=True))
        ]

    def generate_batch(self, requests: Sequence[SceneRequest]) -> list[SceneResult]:
        """One scene (variant 0) per request. Products whose work size matches share pipeline calls
        of up to ``batch_size`` images; each image keeps its own seed, so a product's scene equals
        its solo scene up to batched-kernel rounding. Union ControlNets, or embeddings computed
        per call (``accel.cache_prompt_embeds`` / ``cache_ip_embeds`` off), run one product per call."""
        for r in requests:
            check_inputs(r.placed, r.control, r.seed, 1)
        prepared = [prepare_inputs(self.cfg, r.placed, r.control, r.theme, r.item_meta) for r in requests]
        loaded = self._entry.value
        batchable = not loaded.union and self.cfg.accel.cache_prompt_embeds and (
            not loaded.n_ip_adapters or self.cfg.accel.cache_ip_embeds)
        size = self.cfg.batch_size if batchable else 1
        buckets: dict[tuple[int, int], list[int]] = {}
        for i, inp in enumerate(prepared):
            buckets.setdefault(inp.geometry.work_hw, []).append(i)
        frames: list[np.ndarray | None] = [None] * len(requests)
        with self._entry.lock, loaded.accel.product():
            for idxs in buckets.values():
                for start in range(0, len(idxs), size):
                    chunk = idxs[start : start + size]
                    items = [(prepared[i], prepared[i].init_image, prepared[i].inpaint_mask) for i in chunk]
                    outs = self._run_items(items, self.cfg.strength, self.cfg.steps, [requests[i].seed for i in chunk])
                    for i, frame in zip(chunk, outs, strict=True):
                        frames[i] = frame
            if self.mode == "harmonised":
                frames = [self._relight(prepared[i], r.placed, frames[i], r.seed) for i, r in enumerate(requests)]
        return [
            SceneResult(image=from_work(frame, inp.geometry), backend=self.name,
                        product_altered=self.mode == "harmonised", info=self._info(inp, r.theme, r.seed, 0, 1))
            for frame, inp, r in zip(frames, prepared, requests, strict=True)
        ]

    def run_inputs(self, inputs: DiffusionInputs, seeds: Sequence[int]) -> list[np.ndarray]:
        """Scenes (HWC uint8, work size) for prepared ``inputs``, one per seed, in ``batch_size``
        calls: the generation step of :meth:`generate` alone (bench/gpu.py times this)."""
        with self._entry.lock, self._entry.value.accel.product():
            return self._generate_scenes(inputs, seeds)

    # -- steps -------------------------------------------------------------------------------

    def _generate_scenes(self, inputs: DiffusionInputs, seeds: Sequence[int]) -> list[np.ndarray]:
        mask = inputs.inpaint_mask
        frames: list[np.ndarray] = []
        for start in range(0, len(seeds), self.cfg.batch_size):
            chunk = seeds[start : start + self.cfg.batch_size]
            frames += self._run(inputs, inputs.init_image, mask, self.cfg.strength, self.cfg.steps, chunk)
        return frames

    def _relight(self, inputs: DiffusionInputs, placed: PlacedProduct, frame: np.ndarray, seed: int) -> np.ndarray:
        """Step 4, the relight pass: the product pasted on ``frame`` (work size), repainted whole at
        ``relight_strength`` (the all-ones mask blanks the masked image: its VAE encoding is cached
        per work size, see accel.install_encode_cache)."""
        geom = inputs.geometry
        rgb_w = to_work(placed.rgb, geom)
        alpha_w = to_work(placed.alpha.astype(np.float32), geom, pad_value=0.0)
        comp = composite(frame, rgb_w, alpha_w)
        everything = np.ones(geom.work_hw, bool)
        strength = self.cfg.relight_strength
        steps = max(self.cfg.steps, math.ceil(1.0 / strength))
        return self._run(inputs, comp, everything, strength, steps, [seed])[0]

    def _run(
        self,
        inputs: DiffusionInputs,
        image: np.ndarray,
        mask: np.ndarray,
        strength: float,
        steps: int,
        seeds: Sequence[int],
    ) -> list[np.ndarray]:
        """One pipeline call for one product, one image per seed (caller holds the lock)."""
        return self._run_items([(inputs, image, mask)], strength, steps, seeds)

    def _run_items(
        self,
        items: Sequence[tuple[DiffusionInputs, np.ndarray, np.ndarray]],
        strength: float,
        steps: int,
        seeds: Sequence[int],
    ) -> list[np.ndarray]:
        """One pipeline call (caller holds the lock): HWC uint8 frames at the work size.

        items: (inputs, init image, inpaint mask) per product, all of one work size. One product:
        one image per seed. Several: one image per product, ``seeds[i]`` for product i.
        """
        import torch

        from pipeline.scene.diffusion.product_batch import merge_ip_embeds, merge_prompt_kwargs, stack_control_images

        loaded = self._entry.value
        pipe, accel = loaded.pipe, loaded.accel
        pipe.scheduler = make_scheduler(self.cfg.scheduler, loaded.scheduler_config)
        do_cfg = does_cfg(pipe, self.cfg.guidance_scale)
        many = len(items) > 1
        if many and len(seeds) != len(items):
            raise ValueError(f"seeds: one per product when batching products, got {len(seeds)} for {len(items)}")
        inputs = items[0][0]
        kwargs = self._control_kwargs(inputs, loaded)
        if many:
            kwargs["control_image"] = stack_control_images([it[0].control_images for it in items])
        gdev = generator_device(pipe.device)
        h, w = inputs.geometry.work_hw
        with torch.inference_mode(), accel.call(pipe, (h, w, len(seeds), steps)):
            prompt = [accel.prompt_kwargs(pipe, loaded.family, it[0].prompt, it[0].negative_prompt,
                                          self.cfg.clip_skip, do_cfg) for it in items]
            kwargs.update(merge_prompt_kwargs(prompt) if many else prompt[0])
            if loaded.n_ip_adapters:
                pipe.set_ip_adapter_scale([s.scale for s in self.cfg.ip_adapters])
                ip = [accel.ip_kwargs(pipe, it[0].ip_images, do_cfg) for it in items]
                kwargs.update({"ip_adapter_image_embeds": merge_ip_embeds(
                    [p["ip_adapter_image_embeds"] for p in ip], do_cfg)} if many else ip[0])
            images = [to_pil(it[1]) for it in items]
            masks = [to_pil(it[2].astype(np.uint8) * 255) for it in items]
            out = pipe(
                image=images if many else images[0],
                mask_image=masks if many else masks[0],
                height=h,
                width=w,
                strength=strength,
                num_inference_steps=steps,
                guidance_scale=self.cfg.guidance_scale,
                num_images_per_prompt=1 if many else len(seeds),
                generator=[torch.Generator(gdev).manual_seed(int(s)) for s in seeds],
                clip_skip=self.cfg.clip_skip,
                output_type="np",
                **kwargs,
            )
        return [np.clip(im * 255.0 + 0.5, 0, 255).astype(np.uint8) for im in out.images]

    def _control_kwargs(self, inputs: DiffusionInputs, loaded: LoadedPipeline) -> dict[str, Any]:
        images = [to_pil(c) for c in inputs.control_images]
        windows = [controlnet_window(s, self.cfg.accel.controlnet_stop_at) for s in self.cfg.controlnets]
        if loaded.union:
            scale, start, end = windows[0]
            return {
                "control_image": images,
                "control_mode": list(inputs.control_modes or ()),
                "controlnet_conditioning_scale": scale,
                "control_guidance_start": start,
                "control_guidance_end": end,
            }
        return {
            "control_image": images,
            "controlnet_conditioning_scale": [w[0] for w in windows],
            "control_guidance_start": [w[1] for w in windows],
            "control_guidance_end": [w[2] for w in windows],
        }

    def _info(self, inputs: DiffusionInputs, theme: Theme, seed: int, k: int, n: int) -> dict[str, Any]:
        cfg = self.cfg
        info: dict[str, Any] = {
            "backend": self.name,
            "theme": theme.name,
            "mode": self.mode,
            "seed": seed,
            "variant": k,
            "variants": n,
            "prompt": inputs.prompt,
            "negative_prompt": inputs.negative_prompt,
            "scheduler": cfg.scheduler,
            "steps": cfg.steps,
            "guidance_scale": cfg.guidance_scale,
            "strength": cfg.strength,
            "work_hw": list(inputs.geometry.work_hw),
            "controlnets": [
                {"name": c.name, "scale": c.conditioning_scale, "start": c.guidance_start, "end": c.guidance_end}
                for c in cfg.controlnets
            ],
            "ip_adapters": [
                {"weight_name": s.weight_name, "scale": s.scale, "reference": r}
                for s, r in zip(cfg.ip_adapters, inputs.ip_references, strict=True)
            ],
            "models": self.provenance,
            "accel": self._entry.value.accel.describe(),
        }
        if self.mode == "harmonised":
            info["relight_strength"] = cfg.relight_strength
        return info


@dataclass(frozen=True)
class SceneRequest:
    """One product for :meth:`DiffusionBackend.generate_batch` (the arguments of ``__call__``)."""

    placed: PlacedProduct
    control: ControlMaps
    theme: Theme
    seed: int
    item_meta: Mapping[str, Any]


def controlnet_window(spec: ControlNetSpec, stop_at: float | None) -> tuple[float, float, float]:
    """(conditioning scale, guidance start, guidance end) of one ControlNet, its end capped at
    ``stop_at`` (accel.controlnet_stop_at); a window that closes before it opens turns the net off."""
    if stop_at is None or spec.guidance_end <= stop_at:
        return spec.conditioning_scale, spec.guidance_start, spec.guidance_end
    if stop_at <= spec.guidance_start:
        return 0.0, spec.guidance_start, spec.guidance_end
    return spec.conditioning_scale, spec.guidance_start, stop_at


def check_inputs(placed: PlacedProduct, control: ControlMaps, seed: int, variants: int) -> None:
    """ValueError naming the argument when shapes, dtypes or the seed are off."""
    h, w = placed.placement.out_hw
    if placed.rgb.shape != (h, w, 3) or placed.rgb.dtype != np.uint8:
        raise ValueError(f"placed.rgb must be HWC uint8 {(h, w, 3)}, got {placed.rgb.shape} {placed.rgb.dtype}")
    if placed.alpha.shape != (h, w):
        raise ValueError(f"placed.alpha must be HW {(h, w)}, got {placed.alpha.shape}")
    for name in ("canny", "depth"):
        m = getattr(control, name)
        if m.shape != (h, w, 3) or m.dtype != np.uint8:
            raise ValueError(f"control.{name} must be HWC uint8 {(h, w, 3)}, got {m.shape} {m.dtype}")
    if not isinstance(seed, int | np.integer) or not 0 <= int(seed) <= MAX_SEED - 64:
        raise ValueError(f"seed must be an int in [0, {MAX_SEED - 64}], got {seed!r}")
    if not 1 <= variants <= 64:
        raise ValueError(f"variants must be in [1, 64], got {variants}")


def build_diffusion_backend(config: PipelineConfig) -> DiffusionBackend:
    """Validate ``backends.diffusion``, load (or reuse) the pipeline, return the backend.

    Raises ValueError for a bad config, BackendUnavailableError when weights/devices are missing.
    """
    cfg = diffusion_config(config)
    entry = load_pipeline(cfg, cfg.run_device(config), cfg.run_dtype(config))
    return DiffusionBackend(cfg, entry, config.restore.mode)
