"""Running the ControlNets of one denoising step with less work than diffusers' MultiControlNetModel.

- :class:`FastMultiControlNet`: a ControlNet whose scale is 0 at this step (outside its guidance
  window) is not run at all (stock runs it and multiplies its residuals by 0, which adds exact
  zeros), and under DeepCache the residuals of the last full step are reused on cached steps.
- :func:`cache_cond_embeddings`: a ControlNet's conditioning embedding (a stack of convolutions
  over the full-resolution control image) depends only on the control image, which the pipeline
  passes unchanged at every step; it is computed once per call instead of once per step. With
  ``dedupe`` it is also computed once per distinct image in the batch: diffusers stacks the same
  control image 2-4 times (the CFG pair, the variants of a product), and each copy's embedding is
  the first one's.

Both keep diffusers' arithmetic and summation order, so outputs are bit-identical to stock; the
dedupe is the same maths on a smaller batch, and a convolution over one image can round
differently from one over two (on the CPU: 1 of 22800 values off by one level in the tiny test).
"""

from __future__ import annotations

from typing import Any

from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel


class FastMultiControlNet(MultiControlNetModel):
    """MultiControlNetModel that skips inactive nets and can reuse residuals (see module docstring).

    ``begin()`` / ``end()`` bracket one pipeline call (the backend's AccelState does this).
    """

    def __init__(self, controlnets: list[Any], *, skip_inactive: bool = True, deepcache: Any = None) -> None:
        super().__init__(controlnets)
        self.skip_inactive = skip_inactive
        self._deepcache = deepcache
        self._last: tuple[list[Any], Any] | None = None
        self._shapes: dict[tuple[int, ...], list[tuple[Any, Any, Any]]] = {}  # sample shape -> (shape, dtype, device)
        self.runs = 0  # ControlNet forward passes actually run (tests, benchmarks)

    def begin(self) -> None:
        self._last = None

    def end(self) -> None:
        self._last = None

    def forward(self, sample: Any, timestep: Any, encoder_hidden_states: Any, controlnet_cond: list[Any],
                conditioning_scale: list[float], class_labels: Any = None, timestep_cond: Any = None,
                attention_mask: Any = None, added_cond_kwargs: dict[str, Any] | None = None,
                cross_attention_kwargs: dict[str, Any] | None = None, guess_mode: bool = False,
                return_dict: bool = True) -> tuple[list[Any], Any]:
        dc = self._deepcache
        if dc is not None and dc.skipping and self._last is not None:
            return self._last
        down: list[Any] | None = None
        mid: Any = None
        for i, (image, scale, net) in enumerate(zip(controlnet_cond, conditioning_scale, self.nets, strict=True)):
            skip = self.skip_inactive and scale == 0.0
            last_chance = down is None and i == len(self.nets) - 1 and tuple(sample.shape) not in self._shapes
            if skip and not last_chance:
                continue
            d, m = net(sample=sample, timestep=timestep, encoder_hidden_states=encoder_hidden_states,
                       controlnet_cond=image, conditioning_scale=scale, class_labels=class_labels,
                       timestep_cond=timestep_cond, attention_mask=attention_mask,
                       added_cond_kwargs=added_cond_kwargs, cross_attention_kwargs=cross_attention_kwargs,
                       guess_mode=guess_mode, return_dict=False)
            self.runs += 1
            if down is None:
                down, mid = list(d), m
            else:  # diffusers' order: earlier nets first
                down = [a + b for a, b in zip(down, d, strict=True)]
                mid = mid + m
        if down is None:  # every net inactive: the zeros stock diffusers would add
            import torch

            *zeros, mid = [torch.zeros(s, dtype=t, device=d) for s, t, d in self._shapes[tuple(sample.shape)]]
            down = zeros
        else:
            self._shapes[tuple(sample.shape)] = [(x.shape, x.dtype, x.device) for x in (*down, mid)]
        if dc is not None:
            self._last = (down, mid)
        return down, mid


def distinct_rows(batch: Any) -> tuple[list[int], list[int]]:
    """(indices of the first copy of each distinct item, for each item the position of its copy in
    that list) of a tensor's leading dimension; items compare by exact equality."""
    import torch

    firsts: list[int] = []
    where: list[int] = []
    for i in range(batch.shape[0]):
        same = next((k for k, j in enumerate(firsts) if torch.equal(batch[j], batch[i])), None)
        if same is None:
            firsts.append(i)
            same = len(firsts) - 1
        where.append(same)
    return firsts, where


def cache_cond_embeddings(net: Any, registry: dict[int, tuple[Any, Any]], dedupe: bool = True) -> None:
    """Make ``net.controlnet_cond_embedding`` reuse its output for the same control-image tensor
    and (``dedupe``) embed each distinct image of the batch once.

    ``registry`` (id(module) -> (input, output)) is cleared by the caller after each pipeline
    call; holding the input keeps its identity unique while it is cached. ``net.cond_images``
    counts the images actually embedded (tests, benchmarks).
    """
    import torch

    module = net.controlnet_cond_embedding
    original = module.forward
    net.cond_images = 0

    @torch.compiler.disable
    def forward(conditioning: Any) -> Any:
        hit = registry.get(id(module))
        if hit is not None and hit[0] is conditioning:
            return hit[1]
        firsts, where = distinct_rows(conditioning) if dedupe else (list(range(conditioning.shape[0])), [])
        if len(firsts) == conditioning.shape[0]:
            out = original(conditioning)
        else:
            out = original(conditioning[firsts])[where]
        net.cond_images += len(firsts)
        registry[id(module)] = (conditioning, out)
        return out

    module.forward = forward
