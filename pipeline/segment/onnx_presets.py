"""Pre- and post-processing of the salient-object ONNX models that rembg ships, per family.

Every family takes one RGB image as NCHW float32 ``(1, 3, H, W)`` and returns a saliency map whose
first channel of the first output is the mask, ``(1, C, h, w)`` or ``(1, h, w)``. They differ in
input size, scaling, mean/std, resampling and whether the output still needs a sigmoid.

The constants are rembg's (danielgatis/rembg, ``rembg/sessions/*.py``, read 2026-12):
``base.py`` ``BaseSession.normalize`` resizes with PIL LANCZOS, divides by the image's own maximum
(not 255: U²-Net's ``ToTensorLab`` does the same), then ``(x - mean) / std`` per channel;
``u2net.py``, ``u2netp.py``, ``u2net_human_seg.py``, ``silueta.py``: 320x320, ImageNet mean/std;
``dis_general_use.py``, ``dis_anime.py``: 1024x1024, ImageNet mean, std 1.0;
``birefnet_general.py`` (and ``_lite``, ``_portrait``, ``_dis``, ``_hrsod``, ``_cod``, ``_massive``,
which only change the file): 1024x1024, ImageNet mean/std, sigmoid on the output;
``bria_rmbg.py`` (``bria-rmbg-2.0.onnx``): 1024x1024, ImageNet mean/std, no sigmoid.
Each predict() then min-max normalises ``out[0][:, 0]`` and resizes it back with LANCZOS.
RMBG-1.4 (``briaai/RMBG-1.4`` ``onnx/model.onnx``) is not in rembg; BRIA's own ``utilities.py``
resizes bilinearly, divides by 255, normalises with mean 0.5 and std 1.0, and min-max normalises
a bilinearly resized output (the exported graph ends in a sigmoid already).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from pipeline.registry import lookup

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class OnnxPreset:
    """One model family.

    size: model input (height, width). scale: ``max`` divides by the image's maximum (rembg),
    ``255`` by 255. mean/std: per RGB channel, on the scaled [0, 1] values. resample: how the
    image is resized to ``size`` and the mask back. sigmoid: the output is a logit.
    files: the file names the family is published under (to guess the family from a path).
    """

    size: tuple[int, int]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    scale: Literal["max", "255"] = "max"
    resample: Literal["lanczos", "bilinear"] = "lanczos"
    sigmoid: bool = False
    files: tuple[str, ...] = ()


def _u2net(*files: str) -> OnnxPreset:
    return OnnxPreset((320, 320), IMAGENET_MEAN, IMAGENET_STD, files=files)


def _isnet(*files: str) -> OnnxPreset:
    return OnnxPreset((1024, 1024), IMAGENET_MEAN, (1.0, 1.0, 1.0), files=files)


def _birefnet(*files: str) -> OnnxPreset:
    return OnnxPreset((1024, 1024), IMAGENET_MEAN, IMAGENET_STD, sigmoid=True, files=files)


PRESETS: dict[str, OnnxPreset] = {
    "u2net": _u2net("u2net.onnx"),
    "u2netp": _u2net("u2netp.onnx"),
    "u2net_human_seg": _u2net("u2net_human_seg.onnx"),
    "silueta": _u2net("silueta.onnx"),
    "isnet-general-use": _isnet("isnet-general-use.onnx"),
    "isnet-anime": _isnet("isnet-anime.onnx"),
    "birefnet-general": _birefnet("birefnet-general.onnx", "BiRefNet-general-epoch_244.onnx"),
    "birefnet-general-lite": _birefnet("birefnet-general-lite.onnx", "BiRefNet-general-bb_swin_v1_tiny-epoch_232.onnx"),
    "birefnet-portrait": _birefnet("birefnet-portrait.onnx", "BiRefNet-portrait-epoch_150.onnx"),
    "birefnet-dis": _birefnet("birefnet-dis.onnx", "BiRefNet-DIS-epoch_590.onnx"),
    "birefnet-hrsod": _birefnet("birefnet-hrsod.onnx", "BiRefNet-HRSOD_DHU-epoch_115.onnx"),
    "birefnet-cod": _birefnet("birefnet-cod.onnx", "BiRefNet-COD-epoch_125.onnx"),
    "birefnet-massive": _birefnet("birefnet-massive.onnx", "BiRefNet-massive-TR_DIS5K_TR_TEs-epoch_420.onnx"),
    "bria-rmbg-2.0": OnnxPreset((1024, 1024), IMAGENET_MEAN, IMAGENET_STD,
                                files=("bria-rmbg.onnx", "bria-rmbg-2.0.onnx")),
    "bria-rmbg-1.4": OnnxPreset((1024, 1024), (0.5, 0.5, 0.5), (1.0, 1.0, 1.0), scale="255", resample="bilinear",
                                files=("bria-rmbg-1.4.onnx", "RMBG-1.4.onnx")),
}


def get_preset(family: str) -> OnnxPreset:
    """The preset named ``family``; ValueError lists the valid names."""
    return lookup(PRESETS, family, "segment.onnx_family")


def family_for_file(path: str | Path) -> str | None:
    """The family whose published file name is ``path``'s name (case-insensitive), else None."""
    name = Path(path).name.lower()
    return next((family for family, p in PRESETS.items() if name in (f.lower() for f in p.files)), None)


def preprocess(rgb: np.ndarray, preset: OnnxPreset) -> np.ndarray:
    """rgb HWC uint8 -> the model input, NCHW float32 ``(1, 3, *preset.size)``."""
    h, w = preset.size
    if preset.resample == "lanczos":  # PIL's LANCZOS filters when shrinking, as rembg's does
        small = np.asarray(Image.fromarray(rgb).resize((w, h), Image.Resampling.LANCZOS), np.float32)
    else:  # torch F.interpolate(mode="bilinear"), as BRIA's utilities.py
        small = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    scale = max(float(small.max()), 1e-6) if preset.scale == "max" else 255.0
    x = (small / scale - np.asarray(preset.mean, np.float32)) / np.asarray(preset.std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def postprocess(output: np.ndarray, preset: OnnxPreset, out_hw: tuple[int, int]) -> np.ndarray:
    """The model's first output -> saliency HW float32 in [0, 1] at ``out_hw``.

    First image, first channel; sigmoid when the family outputs logits; min-max normalised;
    resized (LANCZOS or bilinear up, area down). ValueError for a wrong rank, NaN/inf or a
    constant map (nothing salient).
    """
    a = np.asarray(output, np.float32)
    if a.ndim not in (3, 4):
        raise ValueError(f"model output must be (1, C, h, w) or (1, h, w), got shape {a.shape}")
    a = a[0, 0] if a.ndim == 4 else a[0]
    if not np.isfinite(a).all():
        raise ValueError("model output holds NaN or inf")
    if preset.sigmoid:
        a = 1.0 / (1.0 + np.exp(-a))
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-6:
        raise ValueError(f"model output is constant ({lo:.4g}): nothing salient found")
    a = (a - lo) / (hi - lo)
    h, w = out_hw
    if (h, w) != a.shape:
        up = h * w > a.size
        interp = (cv2.INTER_LANCZOS4 if preset.resample == "lanczos" else cv2.INTER_LINEAR) if up else cv2.INTER_AREA
        a = cv2.resize(a, (w, h), interpolation=interp)
    return np.clip(a, 0.0, 1.0)
