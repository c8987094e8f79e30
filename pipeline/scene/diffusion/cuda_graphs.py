"""CUDA graphs for the UNet and ControlNet forwards (``accel.cuda_graphs``): launch overhead off.

At 512 px a denoising step launches thousands of small kernels; on a fast GPU the step is
launch-bound (the issue's stock timings are the same at 512 and 768 px). :class:`GraphedForward`
replaces a module's ``forward``: the first call with a new input signature (shapes, dtypes and the
non-tensor arguments, e.g. a ControlNet's conditioning scale) warms up and captures one graph; later
calls copy the inputs into the graph's static buffers and replay it. Static shapes per resolution
bucket, as with torch.compile; the capture costs about one step.

Replays overwrite the outputs of the previous replay: the diffusers loop consumes them within the
step (guidance, scheduler step, ControlNet residuals into the UNet), which is what the
graph-semantics test checks on the CPU with :func:`eager_capture`. A signature whose capture fails
(a host sync inside the forward, say) runs eagerly from then on and is logged once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

WARMUP_CALLS = 2  # eager calls on a side stream before capture (cuBLAS / cuDNN handles, autotuning)


@dataclass
class Captured:
    """One graph: static input leaves (tensors are buffers), its outputs, and how to replay it."""

    static: list[Any]
    outputs: Any
    replay: Callable[[], None]

    def run(self, leaves: list[Any]) -> Any:
        import torch

        for buf, x in zip(self.static, leaves, strict=True):
            if isinstance(buf, torch.Tensor):
                buf.copy_(x)
        self.replay()
        return self.outputs


def _static_call(fn: Callable[..., Any], leaves: list[Any], spec: Any) -> tuple[list[Any], Callable[[], Any]]:
    import torch
    from torch.utils._pytree import tree_unflatten

    static = [x.clone() if isinstance(x, torch.Tensor) else x for x in leaves]

    def call() -> Any:
        args, kwargs = tree_unflatten(static, spec)
        return fn(*args, **kwargs)

    return static, call


def cuda_capture(fn: Callable[..., Any], leaves: list[Any], spec: Any) -> Captured:
    """Warm up on a side stream, then capture ``fn`` on static copies of ``leaves`` into a CUDA graph."""
    import torch

    static, call = _static_call(fn, leaves, spec)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(WARMUP_CALLS):
            call()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        outputs = call()
    return Captured(static, outputs, graph.replay)


def eager_capture(fn: Callable[..., Any], leaves: list[Any], spec: Any) -> Captured:
    """CPU stand-in with a graph's semantics: static input buffers, and outputs that are the same
    tensors on every replay, overwritten in place (tests of the aliasing rules)."""
    import torch
    from torch.utils._pytree import tree_flatten

    static, call = _static_call(fn, leaves, spec)
    outputs = call()
    out_leaves = [t for t in tree_flatten(outputs)[0] if isinstance(t, torch.Tensor)]

    def replay() -> None:
        fresh = [t for t in tree_flatten(call())[0] if isinstance(t, torch.Tensor)]
        for dst, src in zip(out_leaves, fresh, strict=True):
            dst.copy_(src)

    return Captured(static, outputs, replay)


class GraphedForward:
    """``module.forward`` replaced by graph replays, one graph per input signature."""

    def __init__(self, module: Any, name: str, capture: Callable[..., Captured] = cuda_capture) -> None:
        self.name = name
        self._original = module.forward
        self._capture = capture
        self._graphs: dict[Any, Captured] = {}
        self._failed: set[Any] = set()
        self.captures = 0
        self.replays = 0
        module.forward = self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import torch
        from torch.utils._pytree import tree_flatten

        leaves, spec = tree_flatten((args, kwargs))
        key = (str(spec), tuple((tuple(x.shape), x.dtype, str(x.device)) if isinstance(x, torch.Tensor)
                                else ("value", repr(x)) for x in leaves))
        if key in self._failed or torch.is_grad_enabled():
            return self._original(*args, **kwargs)
        entry = self._graphs.get(key)
        if entry is None:
            try:
                entry = self._capture(self._original, leaves, spec)
            except Exception as exc:  # noqa: BLE001 - any capture failure: run this signature eagerly
                logger.warning("cuda_graphs: %s not captured for this input (%s); running it eagerly", self.name, exc)
                self._failed.add(key)
                return self._original(*args, **kwargs)
            self._graphs[key] = entry
            self.captures += 1
        self.replays += 1
        return entry.run(leaves)
