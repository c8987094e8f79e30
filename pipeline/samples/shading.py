"""Colour fields: how a painted region is lit.

A field is a function ``field(X, Y) -> (h, w, 3) float32`` in 0..255, where ``X`` and ``Y`` are
the design coordinates of the pixel centres of the painted window (broadcastable float arrays,
``X`` of shape (1, w) and ``Y`` of shape (h, 1)). Shading is deliberately soft, like a studio
shot with a key light from the upper left and white fill cards: cylinders get a horizontal
lighting gradient, a specular band and a faint rim; boxes get one tone per face plus a slight
gradient.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Field = Callable[[np.ndarray, np.ndarray], np.ndarray]
RGB = tuple[float, float, float]

_KEY = np.array([-0.5, 0.86])  # key light direction in the (x, z) plane: from the left-front


def _rgb(colour: RGB) -> np.ndarray:
    return np.asarray(colour, np.float32).reshape(1, 1, 3)


def _finish(albedo: RGB, intensity: np.ndarray, specular: np.ndarray | float = 0.0) -> np.ndarray:
    out = _rgb(albedo) * intensity[..., None] + 255.0 * np.asarray(specular, np.float32)[..., None]
    return np.clip(out, 0.0, 255.0).astype(np.float32)


def flat(colour: RGB) -> Field:
    """A constant colour."""

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(X.shape, Y.shape)
        return np.broadcast_to(_rgb(colour), (*shape, 3)).astype(np.float32)

    return field


def profile(ys: list[float], values: list[float]) -> Callable[[np.ndarray], np.ndarray]:
    """Piecewise-linear profile (e.g. a bottle's half width as a function of y)."""
    ys_a, vs_a = np.asarray(ys, np.float64), np.asarray(values, np.float64)
    return lambda y: np.interp(y, ys_a, vs_a)


def cylinder_intensity(u: np.ndarray, fill: float, gloss: float) -> tuple[np.ndarray, np.ndarray]:
    """Lighting across a cylinder, u in [-1, 1] from its left to its right silhouette.

    fill: the darkest intensity (studio fill light), 0..1. gloss: specular strength, 0..1.
    Returns (intensity, specular), both shaped like ``u``.
    """
    u = np.clip(u, -1.0, 1.0)
    nz = np.sqrt(1.0 - u * u)
    wrap = 0.6
    diffuse = np.clip((_KEY[0] * u + _KEY[1] * nz + wrap) / (1.0 + wrap), 0.0, 1.0)
    intensity = fill + (1.0 - fill) * diffuse
    # Edges darken a little more (fresnel-ish falloff), then a faint bounce rim from the white floor.
    intensity = intensity * (1.0 - 0.10 * u**8) + 0.04 * np.exp(-(((u - 0.93) / 0.05) ** 2))
    specular = gloss * (0.85 * np.exp(-(((u + 0.42) / 0.07) ** 2)) + 0.25 * np.exp(-(((u - 0.55) / 0.12) ** 2)))
    return intensity, specular


def cylinder(
    albedo: RGB,
    cx: float,
    half_width: float | Callable[[np.ndarray], np.ndarray],
    fill: float = 0.62,
    gloss: float = 0.35,
    top_y: float = 0.0,
    bottom_y: float = 1000.0,
) -> Field:
    """An upright cylinder (axis x = cx) lit from the left; half_width may vary with y.

    A slight vertical falloff (2 % darker at ``bottom_y`` than at ``top_y``) gives depth.
    """

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        hw = half_width(Y) if callable(half_width) else half_width
        u = (X - cx) / np.maximum(hw, 1e-3)
        intensity, spec = cylinder_intensity(u, fill, gloss)
        t = np.clip((Y - top_y) / max(bottom_y - top_y, 1e-3), 0.0, 1.0)
        return _finish(albedo, intensity * (1.0 - 0.04 * t), spec)

    return field


def lying_cylinder(
    albedo: RGB,
    center_y: float | Callable[[np.ndarray], np.ndarray],
    half_height: float | Callable[[np.ndarray], np.ndarray],
    fill: float = 0.62,
    gloss: float = 0.3,
) -> Field:
    """A cylinder lying along x, lit from above; centre line and half height may vary with x."""

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        cy = center_y(X) if callable(center_y) else center_y
        hh = half_height(X) if callable(half_height) else half_height
        u = (Y - cy) / np.maximum(hh, 1e-3)  # -1 top, +1 bottom (towards the floor)
        intensity, spec = cylinder_intensity(u, fill, gloss)
        return _finish(albedo, intensity, spec)

    return field


def gradient(albedo: RGB, p0: tuple[float, float], p1: tuple[float, float], i0: float, i1: float) -> Field:
    """Intensity changes linearly from i0 at point p0 to i1 at point p1 (a lit plane)."""
    d = np.asarray(p1, np.float64) - np.asarray(p0, np.float64)
    dd = float(d @ d) or 1.0

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        t = np.clip(((X - p0[0]) * d[0] + (Y - p0[1]) * d[1]) / dd, 0.0, 1.0)
        return _finish(albedo, i0 + (i1 - i0) * t)

    return field


def ring(
    albedo: RGB,
    center: tuple[float, float],
    inner_axes: tuple[float, float],
    outer_axes: tuple[float, float],
    fill: float = 0.6,
    gloss: float = 0.3,
) -> Field:
    """A bent tube (a mug handle) between an inner and an outer ellipse: rounded across its width."""

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        dx, dy = X - center[0], Y - center[1]
        rho_i = np.sqrt((dx / inner_axes[0]) ** 2 + (dy / inner_axes[1]) ** 2)
        rho_o = np.sqrt((dx / outer_axes[0]) ** 2 + (dy / outer_axes[1]) ** 2)
        t = np.clip((rho_i - 1.0) / np.maximum(rho_i - rho_o, 1e-3), 0.0, 1.0)  # 0 inner .. 1 outer
        # Outer side of the handle faces away from the key light on the right of a mug.
        intensity, spec = cylinder_intensity(2.0 * t - 1.0, fill, gloss)
        return _finish(albedo, intensity * (1.0 - 0.12 * (dy / outer_axes[1]).clip(0, 1)), spec)

    return field


def textured(base: Field, texture: np.ndarray, scale: tuple[float, float], strength: float) -> Field:
    """Multiply ``base`` by (1 + strength * texture) sampled at output pixels.

    texture: (H, W) float32 zero-mean noise at output resolution; scale: (sx, sy) design->output.
    """

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        col = base(X, Y)
        ix = np.clip((X * scale[0]).astype(np.int64), 0, texture.shape[1] - 1)
        iy = np.clip((Y * scale[1]).astype(np.int64), 0, texture.shape[0] - 1)
        tex = texture[iy, ix]
        return np.clip(col * (1.0 + strength * tex)[..., None], 0.0, 255.0).astype(np.float32)

    return field


def multiply(base: Field, factor: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Field:
    """``base`` times a scalar factor field (e.g. a fold or an occlusion term)."""

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return np.clip(base(X, Y) * factor(X, Y)[..., None], 0.0, 255.0).astype(np.float32)

    return field


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def sweep(wall: RGB, floor: RGB, horizon_y: float, softness: float, height: float, width: float) -> Field:
    """A studio paper sweep: ``wall`` colour above, ``floor`` colour below, a smooth bend at
    ``horizon_y`` over ``softness`` (design units), and a faint vignette toward the corners."""

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        t = smoothstep(horizon_y - softness, horizon_y + softness, Y)[..., None]
        top = _rgb(wall) * (0.97 + 0.03 * np.clip(Y / max(horizon_y, 1.0), 0, 1))[..., None]
        col = top * (1 - t) + _rgb(floor) * t
        r2 = ((X - width / 2) / (width / 2)) ** 2 + ((Y - height / 2) / (height / 2)) ** 2
        return np.clip(col * (1.0 - 0.025 * r2)[..., None], 0, 255).astype(np.float32)

    return field


def wrinkled_cloth(colour: RGB, width: float, height: float, seed: int, waves: int = 14, depth: float = 0.06) -> Field:
    """A white cloth (a bedsheet) thrown in soft folds, lit from the upper left: the cloth's height
    is a sum of ``waves`` random long waves (wavelengths 12-35% of the frame, random directions and
    phases, each fading out along its length), and the intensity follows its slope towards the
    light (1 +- about ``depth``). Deterministic in ``seed``; ``width``/``height``: the design frame."""
    rng = np.random.default_rng(seed)
    size = max(width, height)
    params = []
    for _ in range(waves):
        angle = rng.uniform(0, np.pi)
        wavelength = rng.uniform(0.12, 0.35) * size
        params.append((np.cos(angle), np.sin(angle), 2 * np.pi / wavelength, rng.uniform(0, 2 * np.pi),
                       rng.uniform(0.4, 1.0) * wavelength / (2 * np.pi), rng.uniform(0, width), rng.uniform(0, height),
                       rng.uniform(0.3, 0.6) * size))
    light = np.array([-0.6, -0.8])  # from the upper left, in the image plane

    def field(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        gx = np.zeros(np.broadcast_shapes(X.shape, Y.shape), np.float64)
        gy = np.zeros_like(gx)
        for dx, dy, k, phase, amp, cx, cy, length in params:
            along = -(X - cx) * dy + (Y - cy) * dx
            envelope = np.exp(-((along / length) ** 2))  # a fold dies out along its length
            slope = amp * k * np.cos(k * ((X - cx) * dx + (Y - cy) * dy) + phase) * envelope
            gx = gx + slope * dx
            gy = gy + slope * dy
        shade = 1.0 + depth * (gx * light[0] + gy * light[1]) / 1.2
        return np.clip(_rgb(colour) * shade[..., None], 0, 255).astype(np.float32)

    return field
