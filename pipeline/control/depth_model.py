"""Depth from a transformers depth-estimation model (Depth Anything, DPT), for the product.

``control.depth_model`` names the weights: a hub id (``depth-anything/Depth-Anything-V2-Small-hf``,
optionally ``@revision``) or a local folder with the model and its image processor; loaded with
``AutoModelForDepthEstimation`` + ``AutoImageProcessor`` (safetensors only), once per process.

The model sees the product cropped to its box over white, so its resolution goes to the product;
the prediction is normalised inside the product (near = 1) and is 0 outside, like ``PseudoDepth``
(``pipeline.control.maps`` sets it on the floor plane).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pipeline.config import PipelineConfig
from pipeline.models.cache import CachedModel, cache_key, get_or_load
from pipeline.models.devices import resolve_device
from pipeline.models.sources import ModelSource, loaded_provenance, resolve_source

logger = logging.getLogger(__name__)

CROP_MARGIN = 0.05
LOW_PCT, HIGH_PCT = 2.0, 98.0


class ModelDepth:
    """``__call__(rgb HWC uint8, alpha HW float32) -> HW float32 [0, 1]``, near = 1, 0 outside."""

    name = "model"

    def __init__(self, entry: CachedModel[tuple[Any, Any]]) -> None:
        self._entry = entry

    @property
    def provenance(self) -> dict[str, Any]:
        return dict(self._entry.provenance)

    def __call__(self, rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"rgb must be HWC uint8 with 3 channels, got {rgb.shape} {rgb.dtype}")
        if alpha.shape != rgb.shape[:2]:
            raise ValueError(f"alpha must be HW {rgb.shape[:2]}, got {alpha.shape}")
        mask = alpha >= 0.5
        out = np.zeros(alpha.shape, np.float32)
        if not mask.any():
            return out
        ys, xs = crop_box(mask, CROP_MARGIN)
        a = np.clip(alpha[ys, xs], 0.0, 1.0)[..., None]
        crop = (rgb[ys, xs].astype(np.float32) * a + 255.0 * (1.0 - a)).astype(np.uint8)
        raw = self.predict(crop)
        out[ys, xs] = normalise_inside(raw, mask[ys, xs], metric=self._is_metric())
        return out * np.clip(alpha, 0.0, 1.0)

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """Raw model output resized to ``rgb``'s HW (float32; model units)."""
        import torch

        model, processor = self._entry.value
        with self._entry.lock, torch.inference_mode():
            inputs = processor(images=rgb, return_tensors="pt")
            inputs = {k: v.to(model.device) for k, v in inputs.items()}
            pred = model(**inputs).predicted_depth
            pred = torch.nn.functional.interpolate(pred[:, None].float(), size=rgb.shape[:2], mode="bicubic",
                                                   align_corners=False)
        return pred[0, 0].cpu().numpy().astype(np.float32)

    def _is_metric(self) -> bool:
        model, _ = self._entry.value
        return getattr(model.config, "depth_estimation_type", "relative") == "metric"


def crop_box(mask: np.ndarray, margin: float) -> tuple[slice, slice]:
    """Row/column slices of the mask's bounding box grown by ``margin`` of its long side."""
    ys, xs = np.nonzero(mask)
    pad = round(margin * max(int(np.ptp(ys)) + 1, int(np.ptp(xs)) + 1))
    h, w = mask.shape
    return (slice(max(0, ys.min() - pad), min(h, ys.max() + 1 + pad)),
            slice(max(0, xs.min() - pad), min(w, xs.max() + 1 + pad)))


def normalise_inside(raw: np.ndarray, mask: np.ndarray, metric: bool) -> np.ndarray:
    """Robust min-max of ``raw`` over ``mask`` to [0, 1] with near = 1 (metric depth inverted)."""
    values = raw[mask]
    lo, hi = np.percentile(values, [LOW_PCT, HIGH_PCT])
    if hi - lo < 1e-6:
        return np.where(mask, 1.0, 0.0).astype(np.float32)
    d = np.clip((raw - lo) / (hi - lo), 0.0, 1.0)
    if metric:
        d = 1.0 - d
    return np.where(mask, d, 0.0).astype(np.float32)


def _load(resolved: Any, device: str) -> tuple[tuple[Any, Any], dict[str, Any]]:
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    kw = resolved.pretrained_kwargs()
    model = AutoModelForDepthEstimation.from_pretrained(resolved.location, **kw).eval()
    model.to(resolve_device(device))
    kw.pop("use_safetensors", None)
    kw.pop("variant", None)
    processor = AutoImageProcessor.from_pretrained(resolved.location, **kw)
    prov = {**loaded_provenance(resolved), "model_type": model.config.model_type, "device": device}
    return (model, processor), prov


def build_depth_model(config: PipelineConfig) -> ModelDepth:
    """The ``model`` depth backend from ``control.depth_model`` (float32 on ``run.device``).

    Raises ValueError when ``control.depth_model`` is unset, BackendUnavailableError when the
    weights are not here.
    """
    spec = config.control.depth_model
    if not spec:
        raise ValueError(
            "control.depth_backend 'model' needs control.depth_model: a hub id such as "
            "depth-anything/Depth-Anything-V2-Small-hf (optionally @revision) or a local folder"
        )
    source = ModelSource.model_validate(spec)
    resolved = resolve_source(source)
    device = config.run.device
    key = cache_key({"kind": "depth", "source": source.model_dump(), "device": device})
    return ModelDepth(get_or_load(key, lambda: _load(resolved, device)))
