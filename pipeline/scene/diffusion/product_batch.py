"""Several products of one size bucket in one pipeline call (``DiffusionBackend.generate_batch``).

diffusers takes one prompt per image as embeddings with a batch dimension, one IP-Adapter embedding
per image, and, with several ControlNets, one control tensor per ControlNet holding the batch (a
nested list of images per product is refused by its input checks). These helpers merge the
per-product pieces into that form; each image keeps its own seeded generator, so a product's noise
is the same as in a call of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def merge_prompt_kwargs(per_product: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate each ``*_embeds`` tensor of the products' prompt kwargs along the batch axis."""
    import torch

    keys = per_product[0].keys()
    if not all(k.endswith("_embeds") for k in keys):
        raise ValueError(f"product batching needs prompt embeddings (accel.cache_prompt_embeds), got {sorted(keys)}")
    return {k: torch.cat([p[k] for p in per_product]) for k in keys}


def merge_ip_embeds(per_product: Sequence[list[Any]], do_cfg: bool) -> list[Any]:
    """One tensor per IP-Adapter: with CFG diffusers expects ``cat([negatives, positives])``."""
    import torch

    merged = []
    for k in range(len(per_product[0])):
        parts = [p[k] for p in per_product]
        if do_cfg:
            neg, pos = zip(*(t.chunk(2) for t in parts), strict=True)
            merged.append(torch.cat([*neg, *pos]))
        else:
            merged.append(torch.cat(parts))
    return merged


def stack_control_images(per_product: Sequence[Sequence[np.ndarray]]) -> list[Any]:
    """One NCHW float tensor in [0, 1] per ControlNet, N = products (HWC uint8 images in)."""
    import torch

    out = []
    for k in range(len(per_product[0])):
        batch = np.stack([p[k] for p in per_product]).astype(np.float32) / 255.0
        out.append(torch.from_numpy(batch).permute(0, 3, 1, 2).contiguous())
    return out
