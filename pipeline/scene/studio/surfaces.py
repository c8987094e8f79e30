"""Procedural backdrops: seamless paper sweep, gradient, marble, wood, concrete, linen.

Each surface is a pure function ``(h, w, colors, horizon_y, rng) -> HWC float32 in 0..255``;
``SURFACES`` maps the names a theme may use to them. Noise is built from a few octaves of
resized random grids (value noise), which is fast on the CPU and seedable.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Color = tuple[int, int, int]


def value_noise(h: int, w: int, rng: np.random.Generator, *, base_cells: int = 4, octaves: int = 5,
                persistence: float = 0.55) -> np.ndarray:
    """HW float32 fractal noise in [0, 1]."""
    out = np.zeros((h, w), np.float32)
    amp, total = 1.0, 0.0
    for o in range(octaves):
        cells = base_cells * 2**o
        grid = rng.random((max(2, cells * h // max(h, w) + 1), max(2, cells * w // max(h, w) + 1))).astype(np.float32)
        out += amp * cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        amp *= persistence
    out /= total
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def _mix(c0: Color, c1: Color, t: np.ndarray) -> np.ndarray:
    a = np.asarray(c0, np.float32)
    b = np.asarray(c1, np.float32)
    return a + (b - a) * t[..., None]


def _color(colors: list[Color], i: int) -> Color:
    return colors[min(i, len(colors) - 1)]


def sweep(h: int, w: int, colors: list[Color], horizon_y: int, rng: np.random.Generator) -> np.ndarray:
    """Seamless paper sweep: wall colour curving smoothly into the floor colour, soft vignette."""
    y = np.arange(h, dtype=np.float32)[:, None]
    bend = max(0.18 * h, 1.0)
    t = 1.0 / (1.0 + np.exp(-(y - horizon_y) / (bend / 4)))
    img = _mix(_color(colors, 0), _color(colors, 1), np.broadcast_to(t, (h, w)))
    x = (np.arange(w, dtype=np.float32) - w / 2) / (w / 2)
    vignette = 1.0 - 0.06 * (x[None, :] ** 2) - 0.04 * ((y / h - 0.5) ** 2) * 4
    return img * vignette[..., None]


def gradient(h: int, w: int, colors: list[Color], horizon_y: int, rng: np.random.Generator) -> np.ndarray:
    """Radial light pool behind the product over a vertical two-tone gradient."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = yy / max(h - 1, 1)
    img = _mix(_color(colors, 0), _color(colors, 1), t)
    r = np.hypot((xx - w / 2) / w, (yy - horizon_y) / h)
    glow = np.exp(-(r**2) / 0.08)[..., None]
    light = np.asarray(_color(colors, 2) if len(colors) > 2 else (255, 255, 255), np.float32)
    return img * (1 - 0.35 * glow) + light * 0.35 * glow


def _floor_and_wall(h: int, w: int, wall: np.ndarray, floor: np.ndarray, horizon_y: int) -> np.ndarray:
    y = np.arange(h, dtype=np.float32)[:, None, None]
    t = np.clip((y - horizon_y + 2) / 4.0, 0.0, 1.0)
    return wall * (1 - t) + floor * t


def _perspective_floor(tex: np.ndarray, h: int, w: int, horizon_y: int) -> np.ndarray:
    """Warp a flat texture so it recedes toward the horizon (a tabletop seen from the front)."""
    th, tw = tex.shape[:2]
    src = np.float32([[0, 0], [tw, 0], [tw, th], [0, th]])
    dst = np.float32([[-0.25 * w, horizon_y], [1.25 * w, horizon_y], [1.9 * w, h], [-0.9 * w, h]])
    m = cv2.getPerspectiveTransform(src, dst)
    floor = cv2.warpPerspective(tex, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    # Rows at and above the horizon map to infinity (NaN); the wall covers them anyway.
    return np.nan_to_num(floor, nan=0.0, posinf=0.0, neginf=0.0)


def marble(h: int, w: int, colors: list[Color], horizon_y: int, rng: np.random.Generator) -> np.ndarray:
    """White/grey marble tabletop with turbulent veins, plain wall above."""
    n = value_noise(h, w, rng, base_cells=3, octaves=6)
    xx = np.linspace(0, 1, w, dtype=np.float32)[None, :]
    yy = np.linspace(0, 1, h, dtype=np.float32)[:, None]
    veins = np.abs(np.sin((xx * 3.0 + yy * 1.5 + n * 2.8) * np.pi * 2))
    veins = np.power(veins, 0.25)
    stone = _mix(_color(colors, 2) if len(colors) > 2 else (140, 140, 145), _color(colors, 1), veins)
    stone = stone * (0.96 + 0.04 * n[..., None])
    floor = _perspective_floor(stone, h, w, horizon_y)
    wall = sweep(h, w, [_color(colors, 0), _color(colors, 0)], horizon_y, rng)
    return _floor_and_wall(h, w, wall, floor, horizon_y)


def _streaks(h: int, w: int, rng: np.random.Generator, across: int, along: int) -> np.ndarray:
    """HW float32 [0, 1] noise stretched along x: few cells across the width, many down."""
    grid = rng.random((along, across)).astype(np.float32)
    out = cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC)
    lo, hi = float(out.min()), float(out.max())
    return (out - lo) / max(hi - lo, 1e-6)


def wood(h: int, w: int, colors: list[Color], horizon_y: int, rng: np.random.Generator) -> np.ndarray:
    """Plank tabletop: long grain streaks along each plank, a tone per plank, dark seams."""
    planks = 7
    plank_h = max(4, h // planks)
    fine = 0.6 * _streaks(h, w, rng, across=6, along=h // 3) + 0.4 * _streaks(h, w, rng, across=3, along=h // 8)
    wobble = value_noise(h, w, rng, base_cells=3, octaves=3)
    y = np.arange(h, dtype=np.float32)[:, None]
    rings = 0.5 + 0.5 * np.sin((y / plank_h * 9.0 + wobble * 3.0) * np.pi)
    grain = np.clip(0.55 * fine + 0.45 * rings * fine, 0.0, 1.0)
    dark = _color(colors, 2) if len(colors) > 2 else (110, 72, 40)
    tex = _mix(_color(colors, 1), dark, grain * 0.8)
    tone = 0.88 + 0.2 * rng.random(planks + 1).astype(np.float32)
    tex *= tone[np.minimum(np.arange(h) // plank_h, planks)][:, None, None]
    seams = (np.arange(h) % plank_h < max(1, h // 300 + 1))[:, None]
    tex = np.where(seams[..., None], tex * 0.55, tex)
    floor = _perspective_floor(tex, h, w, horizon_y)
    wall = sweep(h, w, [_color(colors, 0), _color(colors, 0)], horizon_y, rng)
    return _floor_and_wall(h, w, wall, floor, horizon_y)


def concrete(h: int, w: int, colors: list[Color], horizon_y: int, rng: np.random.Generator) -> np.ndarray:
    """Polished concrete: mottled low-frequency noise plus fine speckle, wall and floor alike."""
    n = value_noise(h, w, rng, base_cells=5, octaves=6, persistence=0.6)
    speck = (rng.random((h, w)) > 0.995).astype(np.float32)
    speck = cv2.GaussianBlur(speck, (0, 0), 0.7) * 6
    wall = _mix(_color(colors, 0), _color(colors, 2) if len(colors) > 2 else (150, 150, 150), n * 0.6 - speck * 0.2)
    floor = _mix(_color(colors, 1), _color(colors, 2) if len(colors) > 2 else (150, 150, 150), n * 0.5)
    floor = _perspective_floor(floor, h, w, horizon_y)
    return _floor_and_wall(h, w, wall, floor, horizon_y)


def linen(h: int, w: int, colors: list[Color], horizon_y: int, rng: np.random.Generator) -> np.ndarray:
    """Woven linen cloth: crossing threads with slub irregularity, soft folds."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = max(3.0, min(h, w) / 180.0)
    slub = value_noise(h, w, rng, base_cells=40, octaves=2)
    warp = 0.5 + 0.5 * np.sin(xx * np.pi / period + slub * 2)
    weft = 0.5 + 0.5 * np.sin(yy * np.pi / period + slub * 2)
    weave = 0.5 * warp + 0.5 * weft
    folds = value_noise(h, w, rng, base_cells=2, octaves=3)
    base = _mix(_color(colors, 0), _color(colors, 1), folds * 0.8)
    return base * (0.92 + 0.08 * weave[..., None])


Surface = Callable[[int, int, list[Color], int, np.random.Generator], np.ndarray]

SURFACES: dict[str, Surface] = {
    "sweep": sweep,
    "gradient": gradient,
    "marble": marble,
    "wood": wood,
    "concrete": concrete,
    "linen": linen,
}
