"""DeepCache-style feature reuse for a diffusers UNet2DConditionModel (an approximation, opt-in).

Ma et al., "DeepCache: Accelerating Diffusion Models for Free" (2023): the deep features of a
UNet change slowly between neighbouring denoising steps. Every ``interval``-th step runs the whole
UNet and remembers the outputs of the deep blocks; the steps in between run only the shallow path
(``conv_in``, the first down block, the last up block, ``conv_out``) and take the deep blocks'
outputs from the last full step. The ControlNets are skipped on those steps too
(:class:`pipeline.scene.diffusion.fast_controlnet.FastMultiControlNet` reuses their residuals).

The hooks are installed once; they do nothing outside ``begin()`` / ``end()`` (one pipeline call).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class DeepCache:
    """Counts UNet calls within a pipeline call and serves cached deep-block outputs on skip steps."""

    def __init__(self, unet: Any, interval: int, *, clone: bool = False) -> None:
        if interval < 2:
            raise ValueError(f"interval must be >= 2 (1 means no caching), got {interval}")
        if len(unet.down_blocks) < 2 or len(unet.up_blocks) < 2:
            raise ValueError("DeepCache needs a UNet with at least two down and two up blocks")
        self.interval = interval
        self.clone = clone  # CUDA graphs overwrite their outputs on replay: keep copies
        self.active = False
        self.step = 0
        self.full_steps = 0
        self.cached_steps = 0
        self._cache: dict[str, Any] = {}
        blocks = [(f"down{i}", b) for i, b in enumerate(unet.down_blocks) if i > 0]
        blocks.append(("mid", unet.mid_block))
        blocks += [(f"up{i}", b) for i, b in enumerate(unet.up_blocks) if i < len(unet.up_blocks) - 1]
        for name, block in blocks:
            block.forward = self._wrap(name, block.forward)
        unet.register_forward_hook(self._after_unet)

    @property
    def skipping(self) -> bool:
        """True while the current step reuses the deep features (not a full step)."""
        return self.active and bool(self._cache) and self.step % self.interval != 0

    def begin(self) -> None:
        self.active, self.step = True, 0
        self._cache.clear()

    def end(self) -> None:
        self.active = False
        self._cache.clear()

    def _wrap(self, name: str, forward: Callable[..., Any]) -> Callable[..., Any]:
        def cached_forward(*args: Any, **kwargs: Any) -> Any:
            if self.skipping:
                return self._cache[name]
            out = forward(*args, **kwargs)
            if self.active:
                self._cache[name] = _clone(out) if self.clone else out
            return out

        return cached_forward

    def _after_unet(self, module: Any, args: Any, output: Any) -> None:
        if self.active:
            if self.skipping:
                self.cached_steps += 1
            else:
                self.full_steps += 1
            self.step += 1


def _clone(value: Any) -> Any:
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    return value.clone() if hasattr(value, "clone") else value
