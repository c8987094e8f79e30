"""Tiny synthetic product photos for unit tests (the full sample set lives in pipeline.samples)."""

from __future__ import annotations

import cv2
import numpy as np


def bottle_on_white(h: int = 240, w: int = 200, *, bg: tuple[int, int, int] = (252, 252, 250),
                    shadow: bool = True, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A shaded blue bottle with a printed white label and text, a soft floor shadow; drawn at
    4x and area-downsampled so its edges are anti-aliased like a photo's.

    Returns (rgb HWC uint8, ground-truth mask HW bool = coverage >= 0.5).
    """
    big, big_mask = _bottle(h * 4, w * 4, bg, shadow, seed)
    rgb = cv2.resize(big, (w, h), interpolation=cv2.INTER_AREA)
    cover = cv2.resize(big_mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA)
    return rgb, cover >= 0.5


def _bottle(h: int, w: int, bg: tuple[int, int, int], shadow: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    s = h / 240
    rng = np.random.default_rng(seed)
    img = np.empty((h, w, 3), np.float32)
    img[:] = bg
    mask = np.zeros((h, w), np.uint8)
    cx, top, bottom, half = w // 2, h // 6, h - h // 8, w // 6
    if shadow:
        sh = np.zeros((h, w), np.float32)
        cv2.ellipse(sh, (cx + int(10 * s), bottom), (int(half * 1.6), int(8 * s)), 0, 0, 360, 1.0, -1)
        sh = cv2.GaussianBlur(sh, (0, 0), 5 * s)
        img *= (1 - 0.35 * sh)[..., None]
    cv2.rectangle(mask, (cx - half, top + int(30 * s)), (cx + half, bottom), 1, -1)
    cv2.rectangle(mask, (cx - half // 3, top), (cx + half // 3, top + int(30 * s)), 1, -1)
    m = mask.astype(bool)
    xs = np.linspace(-1, 1, w, dtype=np.float32)[None, :]
    shade = 0.75 + 0.25 * np.cos(np.clip((xs - (cx / w * 2 - 1)) * 3, -1.5, 1.5))
    body = np.array([40, 80, 170], np.float32) * shade[..., None]
    img = np.where(m[..., None], np.broadcast_to(body, img.shape), img)
    label = np.zeros_like(m)
    label[top + int(70 * s) : top + int(120 * s), cx - half + int(6 * s) : cx + half - int(6 * s)] = True
    img[label] = (235, 232, 225)
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.putText(img, "AQUA", (cx - half + int(10 * s), top + int(102 * s)), cv2.FONT_HERSHEY_SIMPLEX, 0.55 * s,
                (20, 30, 60), max(1, int(2 * s)), cv2.LINE_AA)
    img = img + rng.normal(0, 1.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), m


def mug_with_handle(h: int = 200, w: int = 240) -> tuple[np.ndarray, np.ndarray]:
    """A red mug whose handle encloses a hole that shows the white background."""
    img = np.full((h, w, 3), 255, np.uint8)
    mask = np.zeros((h, w), np.uint8)
    cv2.rectangle(mask, (60, 50), (150, 170), 1, -1)
    cv2.ellipse(mask, (150, 110), (40, 35), 0, 0, 360, 1, 14)
    m = mask.astype(bool)
    img[m] = (190, 30, 40)
    return img, m
