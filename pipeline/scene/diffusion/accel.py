"""Speed levers of the diffusion backend, applied to a loaded diffusers pipeline (``AccelConfig``).

:func:`prepare_pipeline` changes the pipeline's modules once, at load time (memory layout, fused
QKV, torch.compile, the ControlNet runner, DeepCache hooks, caches) and returns the
:class:`AccelState` the backend uses on every call:

- ``prompt_kwargs`` / ``ip_kwargs``: text and IP-Adapter image embeddings, computed once per
  prompt / reference image and handed to the pipeline as ``*_embeds`` (exact: the pipeline would
  compute the same tensors itself);
- ``call(bucket)``: the per-call context (SDPA backend, VAE tiling, DeepCache step counter,
  per-call caches, timing of each resolution bucket: the first call of a bucket includes its
  torch.compile cost);
- ``product()``: the per-product scope of the VAE-encoding cache (variants and the relight pass
  re-encode the same masked image); a blank masked image (the relight pass's all-ones mask) is
  encoded once per work size and kept across products.

Everything here also runs on the CPU (what the tests check); CUDA-only parts (CUDA graphs, the
flash SDPA kernels) are only reached with those switches on.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from pipeline.config.diffusion import AccelConfig
from pipeline.scene.diffusion.deepcache import DeepCache

if TYPE_CHECKING:
    from pipeline.scene.diffusion.fast_controlnet import FastMultiControlNet

logger = logging.getLogger(__name__)

EMBED_CACHE_SIZE = 32  # prompts / reference images kept per pipeline (a few themes x products)
BLANK_CACHE_SIZE = 8  # work sizes whose blank-image VAE encoding is kept (one per size bucket in use)
TILING_AUTO_PIXELS = 1024 * 1024  # vae_tiling: auto tiles work frames larger than this
TRANSFORMER_BLOCKS = ("BasicTransformerBlock",)  # the repeated blocks of SD1.5/SDXL UNets and ControlNets
CPU_CAPTURE: Callable[..., Any] | None = None  # cuda_graphs stand-in on the CPU (tests set cuda_graphs.eager_capture)


@dataclass
class BucketStats:
    """Wall time of the calls of one (height, width, images, steps) bucket.

    first_s includes one-time costs (torch.compile tracing and code generation, CUDA graph capture).
    """

    calls: int = 0
    first_s: float = 0.0
    last_s: float = 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {"calls": self.calls, "first_s": round(self.first_s, 4), "last_s": round(self.last_s, 4)}


@dataclass
class AccelState:
    """What :func:`prepare_pipeline` applied, plus the caches and counters used per call."""

    cfg: AccelConfig
    applied: dict[str, Any] = field(default_factory=dict)
    deepcache: DeepCache | None = None
    controlnet: FastMultiControlNet | None = None
    cond_cache: dict[int, tuple[Any, Any]] = field(default_factory=dict)
    encode_cache: list[tuple[Any, Any]] = field(default_factory=list)
    blank_cache: OrderedDict[tuple[Any, ...], Any] = field(default_factory=OrderedDict)
    prompt_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = field(default_factory=OrderedDict)
    ip_cache: OrderedDict[tuple[Any, ...], list[Any]] = field(default_factory=OrderedDict)
    buckets: dict[str, BucketStats] = field(default_factory=dict)
    graphs: list[Any] = field(default_factory=list)  # GraphedForward per graphed module (cuda_graphs)
    cuda: bool = False
    _in_product: bool = False

    # -- embeddings --------------------------------------------------------------------------

    def prompt_kwargs(self, pipe: Any, family: str, prompt: str, negative: str, clip_skip: int | None,
                      do_cfg: bool) -> dict[str, Any]:
        """Pipeline kwargs for the prompt: the strings, or (cache_prompt_embeds) cached embeddings."""
        if not self.cfg.cache_prompt_embeds:
            return {"prompt": prompt, "negative_prompt": negative}
        key = prompt_key(prompt, negative, clip_skip, do_cfg)
        hit = self.prompt_cache.get(key)
        if hit is None:
            hit = encode_prompt(pipe, family, prompt, negative, clip_skip, do_cfg)
            self.put_prompt(key, hit)
        else:
            self.prompt_cache.move_to_end(key)
        return dict(hit)

    def put_prompt(self, key: tuple[Any, ...], embeds: dict[str, Any]) -> None:
        """Store precomputed prompt embeddings (``prompt_embeds``, ``negative_prompt_embeds``, SDXL:
        ``pooled_prompt_embeds``, ``negative_pooled_prompt_embeds``) under :func:`prompt_key`."""
        self.prompt_cache[key] = dict(embeds)
        self.prompt_cache.move_to_end(key)
        while len(self.prompt_cache) > EMBED_CACHE_SIZE:
            self.prompt_cache.popitem(last=False)

    def ip_kwargs(self, pipe: Any, images: Sequence[np.ndarray], do_cfg: bool) -> dict[str, Any]:
        """Pipeline kwargs for the IP-Adapter references (HWC uint8 each): images or cached embeddings."""
        pils = [to_pil(im) for im in images]
        if not self.cfg.cache_ip_embeds:
            return {"ip_adapter_image": pils}
        key = (do_cfg, *(_array_digest(im) for im in images))
        hit = self.ip_cache.get(key)
        if hit is None:
            hit = pipe.prepare_ip_adapter_image_embeds(pils, None, pipe._execution_device, 1, do_cfg)
            self.ip_cache[key] = hit
            while len(self.ip_cache) > EMBED_CACHE_SIZE:
                self.ip_cache.popitem(last=False)
        else:
            self.ip_cache.move_to_end(key)
        return {"ip_adapter_image_embeds": list(hit)}

    # -- scopes ------------------------------------------------------------------------------

    @contextmanager
    def product(self) -> Iterator[None]:
        """Scope of one product's calls: the VAE-encoding cache lives inside it."""
        self._in_product = True
        try:
            yield
        finally:
            self._in_product = False
            self.encode_cache.clear()

    @contextmanager
    def call(self, pipe: Any, bucket: tuple[int, ...]) -> Iterator[None]:
        """One pipeline call: SDPA backend, VAE tiling, DeepCache counter, per-call caches, timing."""
        h, w = bucket[0], bucket[1]
        _set_vae_tiling(pipe.vae, self.cfg.vae_tiling == "on"
                        or (self.cfg.vae_tiling == "auto" and h * w > TILING_AUTO_PIXELS))
        key = "x".join(str(b) for b in bucket)
        stats = self.buckets.setdefault(key, BucketStats())
        with ExitStack() as stack:
            stack.enter_context(sdpa_context(self.cfg.sdpa_backend))
            if self.deepcache is not None:
                self.deepcache.begin()
            if self.controlnet is not None:
                self.controlnet.begin()
            t0 = time.perf_counter()
            try:
                yield
                self._sync()
            finally:
                if self.deepcache is not None:
                    self.deepcache.end()
                if self.controlnet is not None:
                    self.controlnet.end()
                self.cond_cache.clear()
        spent = time.perf_counter() - t0
        if stats.calls == 0:
            stats.first_s = spent
        stats.calls += 1
        stats.last_s = spent

    def describe(self) -> dict[str, Any]:
        """Plain data for meta.json: the switches and what was applied."""
        return {"config": self.cfg.model_dump(), "applied": dict(self.applied)}

    def _sync(self) -> None:
        if self.cuda:
            import torch

            torch.cuda.synchronize()


# ------------------------------------------------------------------------------------ loading


def prepare_pipeline(pipe: Any, cfg: AccelConfig, *, n_ip_adapters: int, union: bool) -> AccelState:
    """Apply ``cfg`` to the modules of ``pipe`` (already on its device) and return the state.

    Order matters: fusion and memory layout change the modules that compile then traces; the
    DeepCache and ControlNet wrappers sit outside the compiled regions.
    """
    import torch

    from pipeline.scene.diffusion.fast_controlnet import FastMultiControlNet, cache_cond_embeddings  # imports diffusers

    state = AccelState(cfg=cfg, cuda=pipe.unet.device.type == "cuda")
    nets = _controlnets(pipe)
    if cfg.channels_last:
        for m in (pipe.unet, pipe.vae, *nets):
            m.to(memory_format=torch.channels_last)
        state.applied["channels_last"] = True
    if cfg.fuse_qkv:
        fused = ["vae", *(f"controlnet{i}" for i in range(len(nets)))]
        fuse_qkv(pipe.vae)
        for net in nets:
            fuse_qkv(net)
        if n_ip_adapters == 0:
            fuse_qkv(pipe.unet)
            fused.insert(0, "unet")
        else:  # fusing would replace the IP-Adapter attention processors
            logger.info("fuse_qkv: UNet left unfused (IP-Adapter processors); ControlNets and VAE fused")
        state.applied["fuse_qkv"] = fused
    capture = _graph_capture(cfg, state)
    if cfg.cache_control_embeddings and capture is None:  # inside a graph the cache would go stale
        for net in nets:
            cache_cond_embeddings(net, state.cond_cache, dedupe=cfg.dedupe_control_images)
        state.applied["cache_control_embeddings"] = len(nets)
        if cfg.dedupe_control_images:
            state.applied["dedupe_control_images"] = True
    if cfg.deepcache_interval > 1:
        state.deepcache = DeepCache(pipe.unet, cfg.deepcache_interval, clone=_uses_cudagraphs(cfg))
        state.applied["deepcache_interval"] = cfg.deepcache_interval
    if not union and (cfg.skip_inactive_controlnets or state.deepcache is not None):
        state.controlnet = FastMultiControlNet(
            list(pipe.controlnet.nets), skip_inactive=cfg.skip_inactive_controlnets, deepcache=state.deepcache
        )
        pipe.controlnet = state.controlnet
        state.applied["controlnet_runner"] = "fast"
    if cfg.encode_once:
        install_encode_cache(pipe.vae, state)
        state.applied["encode_once"] = True
    if cfg.compile != "off":
        compiled = compile_models({"unet": pipe.unet, **{f"controlnet{i}": n for i, n in enumerate(nets)}}, cfg)
        state.applied["compile"] = {"how": cfg.compile, "mode": cfg.compile_mode, "backend": cfg.compile_backend,
                                    "modules": compiled}
    if capture is not None:
        from pipeline.scene.diffusion.cuda_graphs import GraphedForward

        state.graphs = [GraphedForward(pipe.unet, "unet", capture)]
        state.graphs += [GraphedForward(net, f"controlnet{i}", capture) for i, net in enumerate(nets)]
        state.applied["cuda_graphs"] = [g.name for g in state.graphs]
    elif cfg.cuda_graphs:
        state.applied["cuda_graphs"] = "ignored: not on a CUDA device"
    return state


def _graph_capture(cfg: AccelConfig, state: AccelState) -> Callable[..., Any] | None:
    if not cfg.cuda_graphs:
        return None
    if state.cuda:
        from pipeline.scene.diffusion.cuda_graphs import cuda_capture

        return cuda_capture
    return CPU_CAPTURE


def _controlnets(pipe: Any) -> list[Any]:
    net = getattr(pipe, "controlnet", None)
    if net is None:
        return []
    return list(net.nets) if hasattr(net, "nets") else [net]


def fuse_qkv(model: Any) -> None:
    """Fuse the q/k/v (self-attention) and k/v (cross-attention) projections of every Attention."""
    from diffusers.models.attention_processor import Attention, FusedAttnProcessor2_0

    for module in model.modules():
        if isinstance(module, Attention):
            module.fuse_projections(fuse=True)
    model.set_attn_processor(FusedAttnProcessor2_0())


def compile_models(models: dict[str, Any], cfg: AccelConfig) -> list[str]:
    """torch.compile with static shapes (``dynamic=False``: one graph per resolution bucket).

    regional: each repeated transformer block (compiles in a fraction of the time, most of the
    gain); full: the whole model. Returns the names of what was compiled.
    """
    import torch._dynamo

    for limit in ("recompile_limit", "cache_size_limit"):  # one graph per block shape x bucket: many
        if hasattr(torch._dynamo.config, limit):
            setattr(torch._dynamo.config, limit, max(getattr(torch._dynamo.config, limit), 256))
    kwargs: dict[str, Any] = {"dynamic": False, "backend": cfg.compile_backend}
    if cfg.compile_backend == "inductor":
        kwargs["mode"] = cfg.compile_mode
    done = []
    for name, model in models.items():
        if cfg.compile == "full":
            model.compile(**kwargs)
            done.append(name)
            continue
        blocks = [m for m in model.modules() if type(m).__name__ in TRANSFORMER_BLOCKS]
        for block in blocks:
            block.compile(**kwargs)
        done.append(f"{name}:{len(blocks)} blocks")
    return done


def _uses_cudagraphs(cfg: AccelConfig) -> bool:
    return cfg.compile != "off" and cfg.compile_backend == "inductor" and cfg.compile_mode in (
        "reduce-overhead", "max-autotune")


def install_encode_cache(vae: Any, state: AccelState, max_entries: int = 4) -> None:
    """``vae.encode`` reuses its result for an identical input tensor inside ``state.product()``,
    and for an all-zero input (the relight pass's masked image: its all-ones mask blanks the whole
    frame) across products, one entry per (shape, dtype, device).

    The pipeline samples the latents from the returned distribution with its own generator, so a
    reused encoding gives exactly the latents a fresh one would.
    """
    import torch

    original: Callable[..., Any] = vae.encode

    def encode(x: Any, return_dict: bool = True) -> Any:
        if not state._in_product or not return_dict:
            return original(x, return_dict=return_dict)
        if not bool(torch.any(x)):
            key = (tuple(x.shape), x.dtype, x.device)
            hit = state.blank_cache.get(key)
            if hit is None:
                hit = state.blank_cache[key] = original(x, return_dict=True)
                while len(state.blank_cache) > BLANK_CACHE_SIZE:
                    state.blank_cache.popitem(last=False)
            state.blank_cache.move_to_end(key)
            return hit
        for key, out in state.encode_cache:
            if key.shape == x.shape and key.dtype == x.dtype and key.device == x.device and torch.equal(key, x):
                return out
        out = original(x, return_dict=True)
        state.encode_cache.append((x, out))
        del state.encode_cache[:-max_entries]
        return out

    vae.encode = encode


def _set_vae_tiling(vae: Any, on: bool) -> None:
    if on:
        vae.enable_tiling()
    elif getattr(vae, "use_tiling", False):
        vae.disable_tiling()


SDPA_BACKENDS = ("flash", "efficient", "cudnn", "math")


def sdpa_context(name: str) -> Any:
    """Context restricting scaled_dot_product_attention to one kernel (``auto``: torch chooses)."""
    if name == "auto":
        return nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel

    backend = {
        "flash": SDPBackend.FLASH_ATTENTION,
        "efficient": SDPBackend.EFFICIENT_ATTENTION,
        "cudnn": SDPBackend.CUDNN_ATTENTION,
        "math": SDPBackend.MATH,
    }[name]
    return sdpa_kernel([backend])


# ------------------------------------------------------------------------------- embeddings


def prompt_key(prompt: str, negative: str, clip_skip: int | None, do_cfg: bool) -> tuple[Any, ...]:
    """Cache key of one prompt's embeddings."""
    return (prompt, negative, clip_skip, do_cfg)


def encode_prompt(pipe: Any, family: str, prompt: str, negative: str, clip_skip: int | None,
                  do_cfg: bool) -> dict[str, Any]:
    """The embeddings the pipeline computes from the strings (one image per prompt; the pipeline
    repeats them for ``num_images_per_prompt``)."""
    device = pipe._execution_device
    if family == "sdxl":
        pe, ne, pooled, neg_pooled = pipe.encode_prompt(
            prompt=prompt, prompt_2=None, device=device, num_images_per_prompt=1,
            do_classifier_free_guidance=do_cfg, negative_prompt=negative, negative_prompt_2=None, clip_skip=clip_skip,
        )
        out = {"prompt_embeds": pe, "pooled_prompt_embeds": pooled}
        if do_cfg:
            out.update(negative_prompt_embeds=ne, negative_pooled_prompt_embeds=neg_pooled)
        return out
    pe, ne = pipe.encode_prompt(prompt, device, 1, do_cfg, negative, clip_skip=clip_skip)
    out = {"prompt_embeds": pe}
    if do_cfg:
        out["negative_prompt_embeds"] = ne
    return out


def does_cfg(pipe: Any, guidance_scale: float) -> bool:
    """Whether the pipeline runs classifier-free guidance (its own rule)."""
    return guidance_scale > 1.0 and pipe.unet.config.time_cond_proj_dim is None


def _array_digest(array: np.ndarray) -> str:
    a = np.ascontiguousarray(array)
    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()


def to_pil(array: np.ndarray) -> Any:
    """HWC/HW uint8 array -> PIL image."""
    from PIL import Image

    return Image.fromarray(np.ascontiguousarray(array))
