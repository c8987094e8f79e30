"""SAM checkpoints, loaded safely: ``torch.load(weights_only=True)`` or safetensors, never
segment_anything's own ``build_sam(checkpoint=...)`` (which calls ``torch.load`` without it).

The architecture is read from the checkpoint's tensor shapes (:func:`infer_sam_arch`), so the
original vit_b / vit_l / vit_h checkpoints (``sam_vit_b_01ec64.pth``, ``sam_vit_l_0b3195.pth``,
``sam_vit_h_4b8939.pth``) and smaller test models go through the same code; the configured
``model_type`` is checked against it and a mismatch is logged and reported.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pipeline.errors import BackendUnavailableError
from pipeline.models.cache import CachedModel, cache_key, get_or_load
from pipeline.models.devices import resolve_device
from pipeline.models.sources import check_weight_file, file_sha256

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SamArch:
    """The numbers ``segment_anything.build_sam._build_sam`` hard-codes, per checkpoint."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    img_size: int = 1024
    patch_size: int = 16
    window_size: int = 14
    mlp_ratio: float = 4.0
    prompt_embed_dim: int = 256
    mask_in_chans: int = 16
    decoder_depth: int = 2
    decoder_mlp_dim: int = 2048
    decoder_heads: int = 8
    iou_head_depth: int = 3
    iou_head_hidden_dim: int = 256
    num_multimask_outputs: int = 3


KNOWN_ARCHS: dict[str, SamArch] = {
    "vit_b": SamArch(768, 12, 12, (2, 5, 8, 11)),
    "vit_l": SamArch(1024, 24, 16, (5, 11, 17, 23)),
    "vit_h": SamArch(1280, 32, 16, (7, 15, 23, 31)),
}


def _count(state: dict[str, Any], prefix: str) -> int:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return 1 + max((int(m.group(1)) for k in state if (m := pat.match(k))), default=-1)


def infer_sam_arch(state: dict[str, Any]) -> SamArch:
    """Read a :class:`SamArch` from a SAM state dict's shapes (ValueError if it is not SAM)."""
    try:
        embed, _, patch, _ = state["image_encoder.patch_embed.proj.weight"].shape
        grid = state["image_encoder.pos_embed"].shape[1]
        depth = _count(state, "image_encoder.blocks.")
        head_dim = state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1]
        rel = [state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0] for i in range(depth)]
        mlp = state["image_encoder.blocks.0.mlp.lin1.weight"].shape[0]
        prompt_dim = state["image_encoder.neck.0.weight"].shape[0]
        mask_in = state["prompt_encoder.mask_downscaling.0.weight"].shape[0] * 4
        dec_depth = _count(state, "mask_decoder.transformer.layers.")
        dec_mlp = state["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0]
        iou_depth = _count(state, "mask_decoder.iou_prediction_head.layers.")
        iou_hidden = state["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0]
        n_tokens = state["mask_decoder.mask_tokens.weight"].shape[0]
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"not a SAM (segment-anything) state dict: missing or odd {exc}") from exc
    global_idx = tuple(i for i, r in enumerate(rel) if r == 2 * grid - 1)
    windowed = [r for i, r in enumerate(rel) if i not in global_idx]
    return SamArch(
        embed_dim=int(embed),
        depth=depth,
        num_heads=int(embed // head_dim),
        global_attn_indexes=global_idx,
        img_size=int(grid * patch),
        patch_size=int(patch),
        window_size=int((windowed[0] + 1) // 2) if windowed else 0,
        mlp_ratio=mlp / embed,
        prompt_embed_dim=int(prompt_dim),
        mask_in_chans=int(mask_in),
        decoder_depth=dec_depth,
        decoder_mlp_dim=int(dec_mlp),
        iou_head_depth=iou_depth,
        iou_head_hidden_dim=int(iou_hidden),
        num_multimask_outputs=int(n_tokens - 1),
    )


def arch_name(arch: SamArch) -> str:
    """``vit_b``/``vit_l``/``vit_h`` when ``arch`` is one of the published models, else ``custom``."""
    return next((name for name, known in KNOWN_ARCHS.items() if known == arch), "custom")


def build_sam_model(arch: SamArch) -> Any:
    """An uninitialised ``segment_anything.modeling.Sam`` with ``arch``'s dimensions (eval mode)."""
    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = arch.img_size // arch.patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=arch.depth,
            embed_dim=arch.embed_dim,
            img_size=arch.img_size,
            mlp_ratio=arch.mlp_ratio,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            num_heads=arch.num_heads,
            patch_size=arch.patch_size,
            qkv_bias=True,
            use_rel_pos=True,
            global_attn_indexes=arch.global_attn_indexes,
            window_size=arch.window_size,
            out_chans=arch.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=arch.prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(arch.img_size, arch.img_size),
            mask_in_chans=arch.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=arch.num_multimask_outputs,
            transformer=TwoWayTransformer(
                depth=arch.decoder_depth,
                embedding_dim=arch.prompt_embed_dim,
                mlp_dim=arch.decoder_mlp_dim,
                num_heads=arch.decoder_heads,
            ),
            transformer_dim=arch.prompt_embed_dim,
            iou_head_depth=arch.iou_head_depth,
            iou_head_hidden_dim=arch.iou_head_hidden_dim,
        ),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    ).eval()


def read_sam_state_dict(path: Path) -> dict[str, Any]:
    """Tensors of a ``.safetensors`` file, or of a ``.pth`` via ``torch.load(weights_only=True)``."""
    import torch

    check_weight_file(path, allow_pickle=True)  # .pth is the published format; weights_only below
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    if not isinstance(state, dict):
        raise ValueError(f"{path.name}: expected a state dict, got {type(state).__name__}")  # noqa: TRY004
    return state


def _load(path: Path, model_type: str, device: str) -> tuple[Any, dict[str, Any]]:
    state = read_sam_state_dict(path)
    arch = infer_sam_arch(state)
    name = arch_name(arch)
    if name != model_type:
        logger.warning("SAM checkpoint %s is %s, config says model_type %s; using the checkpoint", path.name, name, model_type)
    model = build_sam_model(arch)
    model.load_state_dict(state, strict=True)
    model.to(resolve_device(device))
    prov = {
        "source": "file",
        "path": str(path),
        "sha256": file_sha256(path),
        "model_type": model_type,
        "arch": name,
        "arch_dims": asdict(arch) if name == "custom" else None,
    }
    return model, prov


def load_sam(checkpoint: str | Path, model_type: str, device: str) -> CachedModel[Any]:
    """The cached SAM model for ``checkpoint`` on ``device`` (float32).

    Raises BackendUnavailableError when the file is missing, ValueError when it is not SAM.
    """
    path = Path(checkpoint).expanduser().resolve()
    if not path.is_file():
        raise BackendUnavailableError(f"SAM checkpoint not found: {path}")
    key = cache_key({"kind": "sam", "path": str(path), "device": device})
    return get_or_load(key, lambda: _load(path, model_type, device))
