"""ONNX segmentation backend: a salient-object model (rembg's U²-Net, IS-Net, BiRefNet, BRIA
RMBG families) from a local ``.onnx`` file, checked against the classical mask.

Steps (``OnnxSegmenter.__call__``):
 1. the classical segmenter runs first (its errors propagate: no product, bad input);
 2. the model's own pre-processing (:mod:`pipeline.segment.onnx_presets`), one onnxruntime run,
    its post-processing: saliency in [0, 1] resized back to the matting resolution (the longer
    of ``segment.work_side`` and the model's input side, never above the photo's);
 3. saliency >= 0.5 is the coarse mask; soft alpha + decontaminated colours come from the
    classical path's matting step (:func:`pipeline.segment.matting.refine_alpha`);
 4. the mask is used when its IoU with the classical mask is at least
    ``segment.onnx_min_agreement_iou``.

Fallback: when the model is not set, missing, refused, fails to load, has an unexpected layout,
raises, finds nothing, or disagrees wildly with the classical mask, the classical segmentation is
returned with ``info["fallback_reason"]``; meta.json carries it, the batch report counts it, and
a warning is logged once per kind of reason, not per item.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from pipeline.config import PipelineConfig, SegmentConfig
from pipeline.errors import BackendUnavailableError
from pipeline.models.cache import CachedModel
from pipeline.segment import Segmenter
from pipeline.imaging import iou, resize_long_side
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.segment.fallback import WarnOnce, classical_fallback
from pipeline.segment.matting import refine_alpha
from pipeline.segment.onnx_presets import PRESETS, OnnxPreset, family_for_file, get_preset, postprocess, preprocess
from pipeline.types import Segmentation

logger = logging.getLogger(__name__)


class OnnxSegmenter:
    """``__call__(rgb HWC uint8) -> Segmentation`` (see module docstring).

    base: the classical segmenter. model: the cached ``(InferenceSession, OnnxLayout)``, or None
    with ``load_error`` saying why. preset: the family's processing. min_iou: agreement needed.
    work_side: the classical work size (the matting resolution is at least this).
    """

    name = "onnx"

    def __init__(self, base: Segmenter, model: CachedModel[Any] | None, preset: OnnxPreset | None, min_iou: float,
                 work_side: int = 512, load_error: str | None = None, family: str | None = None):
        if (model is None or preset is None) and not load_error:
            raise ValueError("OnnxSegmenter without a model and preset needs load_error saying why")
        if not 0.0 <= min_iou <= 1.0:
            raise ValueError(f"min_iou must be in [0, 1], got {min_iou}")
        self.base, self.model, self.preset, self.family = base, model, preset, family
        self.min_iou, self.load_error = min_iou, load_error
        self.matting_side = max(work_side, *preset.size) if preset else work_side
        self._warnings = WarnOnce()

    def _fallback(self, base: Segmentation, reason: str) -> Segmentation:
        """The classical segmentation, warning only the first time this kind of reason is seen."""
        return classical_fallback(base, reason, self.name, warn=self._warnings.first(reason))

    def saliency(self, rgb: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
        """The model's saliency for ``rgb`` (HWC uint8) as HW float32 in [0, 1] at ``out_hw``."""
        session, layout = self.model.value
        x = preprocess(rgb, self.preset).astype(layout.input_dtype, copy=False)
        with self.model.lock:
            output = session.run(None, {layout.input_name: x})[0]
        return postprocess(output, self.preset, out_hw)

    def model_segmentation(self, rgb: np.ndarray, base: Segmentation) -> tuple[Segmentation | None, str | None]:
        """(the model's own segmentation of ``rgb``, None) or (None, why there is none): steps 2-3.

        ``base``: the classical segmentation (its backdrop colour un-mixes the edges). No veto.
        """
        if self.model is None or self.preset is None:
            return None, self.load_error or "ONNX model unavailable"
        small, _ = resize_long_side(rgb, self.matting_side)
        try:
            prob = self.saliency(rgb, small.shape[:2])  # 2
        except Exception as exc:  # noqa: BLE001 - any model failure: the classical mask is still valid
            return None, f"ONNX model failed: {type(exc).__name__}: {exc}"
        alpha, foreground = refine_alpha(rgb, prob >= 0.5, small, base.background_rgb)  # 3
        info = {"onnx": self.model.provenance, "family": self.family, "matting_hw": list(small.shape[:2])}
        return Segmentation(alpha=alpha, mask=alpha >= 0.5, foreground=foreground,
                            background_rgb=base.background_rgb, backend=self.name, info=info), None

    def __call__(self, rgb: np.ndarray) -> Segmentation:
        base = self.base(rgb)  # 1
        seg, reason = self.model_segmentation(rgb, base)
        if seg is None:
            return self._fallback(base, reason or "ONNX model unavailable")
        agreement = iou(seg.mask, base.mask)  # 4
        if agreement < self.min_iou:
            return self._fallback(base, f"ONNX model disagrees with the classical mask: IoU {agreement:.3f} < "
                                            f"{self.min_iou:.3f}")
        info = {"onnx": seg.info["onnx"], "family": self.family, "iou_with_classical": round(agreement, 4),
                "matting_hw": seg.info["matting_hw"]}
        return Segmentation(alpha=seg.alpha, mask=seg.mask, foreground=seg.foreground,
                            background_rgb=base.background_rgb, backend=self.name, info=info)


def resolve_family(config: SegmentConfig) -> tuple[str | None, str | None]:
    """(family, None), or (None, why not); ``onnx_family`` is checked by the config."""
    if config.onnx_family:
        return config.onnx_family, None
    family = family_for_file(config.onnx_model or "")
    if family is None:
        return None, (f"cannot tell the model family from the file name {config.onnx_model!r}; set "
                      f"segment.onnx_family to one of: {', '.join(PRESETS)}")
    return family, None


def open_onnx_model(config: SegmentConfig, device: str) -> tuple[CachedModel[Any] | None, str | None, str | None]:
    """(model, family, None) or (None, family or None, why it cannot be used): not set,
    onnxruntime missing, file missing or refused, load failure, family unknown, or an input size
    the family does not take."""
    family, family_error = resolve_family(config)
    if not config.onnx_model:
        return None, family, "segment.onnx_model is not set (e.g. /models/isnet-general-use.onnx)"
    try:
        from pipeline.models.onnx_loader import load_onnx

        model = load_onnx(config.onnx_model, device)
    except ImportError as exc:
        return None, family, f"onnxruntime is not installed (pip install 'product-scene[onnx]'): {exc}"
    except BackendUnavailableError as exc:
        return None, family, str(exc)
    except ValueError as exc:
        return None, family, f"ONNX model unusable: {exc}"
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own classes (InvalidProtobuf, Fail...)
        return None, family, f"ONNX model could not be loaded: {type(exc).__name__}: {exc}"
    if family_error:
        return None, None, family_error
    layout, want = model.value[1], get_preset(family).size
    fixed = tuple(d for d in layout.input_shape[2:] if isinstance(d, int))
    if len(fixed) == 2 and fixed != want:
        return None, family, (f"model {layout.describe()} does not take the {want[0]}x{want[1]} input of family "
                              f"{family!r}; set segment.onnx_family to the model's family")
    return model, family, None


def build_onnx_segmenter(config: PipelineConfig) -> OnnxSegmenter:
    """The ONNX segmenter over the classical one; never raises for a missing or broken model (it
    falls back)."""
    cfg = config.segment
    model, family, error = open_onnx_model(cfg, config.run.device)
    if error:  # the first item's fallback warns, with this reason
        logger.info("ONNX segmenter unavailable, segment backend falls back to classical: %s", error)
    preset = get_preset(family) if family else None
    return OnnxSegmenter(ClassicalSegmenter(cfg), model, preset, cfg.onnx_min_agreement_iou, cfg.work_side,
                         error, family)
