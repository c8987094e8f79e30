"""SD1.5 / SDXL ControlNet-inpaint architectures with random weights, at full, CI or tiny size.

Three sizes:

- ``full``: the published architecture (the configs of stable-diffusion-inpainting,
  control_v11p_sd15_*, stable-diffusion-xl-1.0-inpainting-0.1 and controlnet-*-sdxl-1.0); time per
  step depends on the shapes, not on the weight values.
- ``ci``: the real geometry with CI-sized channel widths: the VAE's 8x down-sampling, the UNet's
  latent size for a 768 px work frame, 77 CLIP text positions and a 224 px IP-Adapter image
  (ViT patch 14), but 8-64 channels and 2 transformer layers. It runs the real work size and the
  real upscale in seconds on a CPU (tests/scene/test_real_geometry.py).
- ``tiny``: the shape family of tests/fixtures/tiny_models.py (32 text positions, 32 px CLIP
  image), small enough for a CPU smoke test at 64-100 px.

- :func:`build_modules`: UNet (9 channels), two ControlNets and the VAE, built directly on the
  device (no text encoders: the benchmark gives prompt embeddings).
- :func:`save_random_models`: complete model folders (pipeline with text encoders and tokenizers,
  ControlNets, IP-Adapter in the h94 layout) for the end-to-end run through ``path:`` presets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from tests.fixtures.tiny_models import TOKENIZER_DIR, _randomise_zero_convs, ip_adapter_state_dict

SIZES = ("full", "ci", "tiny")
TEXT_LEN = {"full": 77, "ci": 77, "tiny": 32}  # CLIP text positions (the real tokenizer pads to 77)
# CLIP text encoders: (hidden, layers, heads, intermediate, projection); SDXL's second encoder after it.
TEXT_ENCODERS = {
    "full": {"sd15": (768, 12, 12, 3072, 768), "sdxl2": (1280, 32, 20, 5120, 1280)},
    "ci": {"sd15": (32, 2, 4, 37, 32), "sdxl2": (32, 2, 4, 37, 32)},
    "tiny": {"sd15": (32, 2, 4, 37, 32), "sdxl2": (32, 2, 4, 37, 32)},
}
# IP-Adapter image encoders: (hidden, layers, heads, intermediate, projection, image px, patch px):
# ViT-H/14 for the SD1.5 adapter, ViT-bigG/14 for the SDXL one; ci keeps the 224 px input.
IMAGE_ENCODERS = {
    "full": {"sd15": (1280, 32, 16, 5120, 1024, 224, 14), "sdxl": (1664, 48, 16, 8192, 1280, 224, 14)},
    "ci": {"sd15": (32, 2, 4, 37, 32, 224, 14), "sdxl": (32, 2, 4, 37, 32, 224, 14)},
    "tiny": {"sd15": (32, 2, 4, 37, 32, 32, 8), "sdxl": (32, 2, 4, 37, 32, 32, 8)},
}
CI_WORK_SIDE = 768  # the ci UNet's sample_size is this / 8 (what the SD1.5 preset's work_long_side gives)


def _check_size(size: str) -> None:
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, got {size!r}")


def unet_config(family: str, size: str) -> dict[str, Any]:
    """UNet2DConditionModel kwargs (9 input channels: latents + mask + masked-image latents)."""
    _check_size(size)
    if size in ("tiny", "ci"):
        from tests.fixtures.tiny_models import _unet_kwargs

        sample = 8 if size == "tiny" else CI_WORK_SIDE // 8
        return {"in_channels": 9, "out_channels": 4, "sample_size": sample,
                "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"), **_unet_kwargs(family == "sdxl")}
    if family == "sd15":
        return {"in_channels": 9, "out_channels": 4, "sample_size": 64, "cross_attention_dim": 768,
                "attention_head_dim": 8, "block_out_channels": (320, 640, 1280, 1280), "layers_per_block": 2}
    return {
        "in_channels": 9, "out_channels": 4, "sample_size": 128, "layers_per_block": 2,
        "block_out_channels": (320, 640, 1280),
        "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        "up_block_types": ("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        "transformer_layers_per_block": (1, 2, 10), "attention_head_dim": (5, 10, 20),
        "cross_attention_dim": 2048, "use_linear_projection": True, "addition_embed_type": "text_time",
        "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 2816,
    }


def controlnet_config(family: str, size: str) -> dict[str, Any]:
    """ControlNetModel kwargs matching :func:`unet_config` (4-channel latents in)."""
    keep = ("block_out_channels", "layers_per_block", "down_block_types", "cross_attention_dim",
            "attention_head_dim", "norm_num_groups", "transformer_layers_per_block", "use_linear_projection",
            "addition_embed_type", "addition_time_embed_dim", "projection_class_embeddings_input_dim")
    unet = unet_config(family, size)
    cfg = {k: v for k, v in unet.items() if k in keep}
    cfg["in_channels"] = 4
    cfg["conditioning_embedding_out_channels"] = (16, 32, 96, 256) if size == "full" else (4, 8, 8, 16)
    return cfg


def vae_config(family: str, size: str) -> dict[str, Any]:
    """AutoencoderKL kwargs (8x down-sampling in every size)."""
    _check_size(size)
    if size in ("tiny", "ci"):
        return {"block_out_channels": (8, 8, 16, 16), "layers_per_block": 1, "norm_num_groups": 4,
                "down_block_types": ("DownEncoderBlock2D",) * 4, "up_block_types": ("UpDecoderBlock2D",) * 4,
                "latent_channels": 4, "sample_size": 64 if size == "tiny" else CI_WORK_SIDE}
    cfg = {"block_out_channels": (128, 256, 512, 512), "layers_per_block": 2,
           "down_block_types": ("DownEncoderBlock2D",) * 4, "up_block_types": ("UpDecoderBlock2D",) * 4,
           "latent_channels": 4}
    if family == "sdxl":  # madebyollin/sdxl-vae-fp16-fix: no float32 upcast
        cfg.update(sample_size=1024, scaling_factor=0.13025, force_upcast=False)
    else:
        cfg.update(sample_size=512)
    return cfg


def scheduler_config() -> dict[str, Any]:
    """The SD1.5 / SDXL training noise schedule (scaled linear betas, 1000 steps)."""
    return {"num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
            "prediction_type": "epsilon", "timestep_spacing": "leading", "steps_offset": 1}


def build_modules(family: str, size: str, device: str, dtype: torch.dtype, seed: int = 0) -> dict[str, Any]:
    """unet, controlnets (canny, depth), vae: random weights (seeded: the same seed gives the same
    weights on the same device), created on ``device`` and cast to ``dtype``."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel

    from pipeline.scene.diffusion.pipelines import silence_empty_fp32_warning

    silence_empty_fp32_warning()  # diffusers 0.42.1 warns on every cast (see there)
    out: dict[str, Any] = {}
    with torch.device(device):
        torch.manual_seed(seed)
        out["unet"] = UNet2DConditionModel(**unet_config(family, size))
        nets = []
        for k in range(2):
            torch.manual_seed(seed + 10 + k)
            net = ControlNetModel(**controlnet_config(family, size))
            _randomise_zero_convs(net, seed + 10 + k)  # zero-initialised outputs would hide the ControlNets
            nets.append(net)
        out["controlnets"] = nets
        torch.manual_seed(seed + 20)
        out["vae"] = AutoencoderKL(**vae_config(family, size))
    for m in (out["unet"], out["vae"], *out["controlnets"]):
        m.to(dtype=dtype).eval().requires_grad_(False)
    return out


def stock_pipeline(family: str, modules: dict[str, Any]) -> Any:
    """Stock diffusers StableDiffusion(XL)ControlNetInpaintPipeline over ``modules`` (no text encoders)."""
    import diffusers

    scheduler = diffusers.UniPCMultistepScheduler.from_config(scheduler_config())
    common = {"vae": modules["vae"], "unet": modules["unet"], "controlnet": list(modules["controlnets"]),
              "scheduler": scheduler}
    if family == "sd15":
        pipe = diffusers.StableDiffusionControlNetInpaintPipeline(
            text_encoder=None, tokenizer=None, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False, **common)
    else:
        pipe = diffusers.StableDiffusionXLControlNetInpaintPipeline(
            text_encoder=None, text_encoder_2=None, tokenizer=None, tokenizer_2=None,
            requires_aesthetics_score=False, force_zeros_for_empty_prompt=True, **common)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def prompt_embeddings(family: str, size: str, device: str, dtype: torch.dtype, seed: int = 0) -> dict[str, Any]:
    """Random prompt / negative embeddings of the text encoders' output shapes (batch 1)."""
    gen = torch.Generator().manual_seed(seed)
    n = TEXT_LEN[size]
    dim = unet_config(family, size)["cross_attention_dim"]

    def rnd(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen).to(device=device, dtype=dtype)

    out = {"prompt_embeds": rnd(1, n, dim), "negative_prompt_embeds": rnd(1, n, dim)}
    if family == "sdxl":
        pooled = 1280 if size == "full" else 32
        out.update(pooled_prompt_embeds=rnd(1, pooled), negative_pooled_prompt_embeds=rnd(1, pooled))
    return out


# ---------------------------------------------------------------------- saved model folders


def _text_encoder(hidden: int, layers: int, heads: int, inter: int, projection: int, with_projection: bool,
                  vocab: int, n_pos: int, device: str) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(vocab_size=vocab, hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                         num_attention_heads=heads, max_position_embeddings=n_pos, projection_dim=projection,
                         bos_token_id=vocab - 2, eos_token_id=vocab - 1, pad_token_id=vocab - 1, hidden_act="gelu")
    with torch.device(device):
        return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg).eval()


def save_random_models(root: Path, family: str, size: str, device: str, dtype: torch.dtype,
                       ip_adapter: bool = True) -> dict[str, Path]:
    """Model folders laid out like the published ones, random weights (saved in ``dtype``).

    Text encoders have the real widths and depths; their vocabulary is the small test tokenizer's
    (no hub here), which only shrinks the embedding table. Returns paths for a ``path:`` preset:
    base, canny, depth, ip_adapter_root (+ ``ip_subfolder`` / ``ip_weight`` names as paths' stems).
    """
    import diffusers
    from safetensors.torch import save_file
    from transformers import CLIPTokenizer, CLIPVisionConfig, CLIPVisionModelWithProjection

    from pipeline.scene.diffusion.pipelines import silence_empty_fp32_warning

    silence_empty_fp32_warning()
    n_pos = TEXT_LEN[size]
    tok = CLIPTokenizer.from_pretrained(str(TOKENIZER_DIR), model_max_length=n_pos)
    vocab = len(tok)
    mods = build_modules(family, size, device, dtype)
    te = _text_encoder(*TEXT_ENCODERS[size]["sd15"], False, vocab, n_pos, device)
    scheduler = diffusers.DDIMScheduler.from_config(scheduler_config())
    if family == "sd15":
        pipe = diffusers.StableDiffusionInpaintPipeline(
            vae=mods["vae"], text_encoder=te, tokenizer=tok, unet=mods["unet"], scheduler=scheduler,
            safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    else:
        te2 = _text_encoder(*TEXT_ENCODERS[size]["sdxl2"], True, vocab, n_pos, device)
        pipe = diffusers.StableDiffusionXLInpaintPipeline(
            vae=mods["vae"], text_encoder=te, text_encoder_2=te2, tokenizer=tok, tokenizer_2=tok,
            unet=mods["unet"], scheduler=scheduler, requires_aesthetics_score=False,
            force_zeros_for_empty_prompt=True)
    pipe.to(dtype=dtype)
    paths = {"base": root / f"{family}-inpaint", "canny": root / f"{family}-controlnet-canny",
             "depth": root / f"{family}-controlnet-depth"}
    pipe.save_pretrained(paths["base"], safe_serialization=True)
    for name, net in zip(("canny", "depth"), mods["controlnets"], strict=True):
        net.save_pretrained(paths[name], safe_serialization=True)
    if ip_adapter:
        sub = "models" if family == "sd15" else "sdxl_models"
        hidden, layers, heads, inter, proj, image_px, patch_px = IMAGE_ENCODERS[size][family]
        vcfg = CLIPVisionConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                                intermediate_size=inter, projection_dim=proj, image_size=image_px,
                                patch_size=patch_px, hidden_act="gelu")
        with torch.device(device):
            enc = CLIPVisionModelWithProjection(vcfg).eval().to(dtype=dtype)
        ip_root = root / f"{family}-ip-adapter"
        enc.save_pretrained(ip_root / sub / "image_encoder", safe_serialization=True)
        sd = ip_adapter_state_dict(mods["unet"], proj, seed=7)
        save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, str(ip_root / sub / "ip-adapter.safetensors"))
        paths["ip_adapter_root"] = ip_root
        paths["ip_subfolder"] = Path(sub)
    del pipe, mods
    return paths
