"""The sample canvas: a background, a product layer stack, and exact product coverage.

Recipes draw in *design* coordinates (the sample's native pixel grid); the canvas maps them to
the requested output size (``sx``, ``sy``) before rasterising, so every size gets crisp,
exactly anti-aliased edges.

Compositing: product layers are accumulated premultiplied (``prem``, ``acc``), and the union of
their supersampled masks is kept (``union``). At the end the product colour ``F = prem / acc``
is composited over the background ``B`` with the exact union coverage ``alpha``:
``rgb = alpha * F + (1 - alpha) * B``. Shadows only darken ``B``, so they are background.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from pipeline.samples import shapes
from pipeline.samples.shading import RGB, Field, flat
from pipeline.samples.shapes import SS, Shape

Point = tuple[float, float]


class Canvas:
    """One sample being drawn.

    design_wh: the recipe's coordinate frame (width, height); out_hw: output (height, width).
    """

    def __init__(self, design_wh: tuple[int, int], out_hw: tuple[int, int]):
        self.dw, self.dh = design_wh
        self.H, self.W = out_hw
        self.sx = self.W / self.dw
        self.sy = self.H / self.dh
        self.bg = np.full((self.H, self.W, 3), 255.0, np.float32)
        self.prem = np.zeros((self.H, self.W, 3), np.float32)
        self.acc = np.zeros((self.H, self.W), np.float32)
        self.union = np.zeros((self.H * SS, self.W * SS), bool)
        self.logos: list[tuple[int, int, int, int]] = []
        self.frame = (0, 0, self.W, self.H)
        self.offset = (0.0, 0.0)  # design-unit shift applied to everything drawn (scene jitter)

    # ---- geometry (design coordinates in, output-pixel shapes out) -------------------------
    def to_out(self, points: np.ndarray | Sequence[Point]) -> np.ndarray:
        p = np.asarray(points, np.float64).reshape(-1, 2)
        return (p + np.asarray(self.offset)) * np.array([self.sx, self.sy])

    def poly(self, points: np.ndarray | Sequence[Point], smooth: bool = False) -> Shape:
        out = self.to_out(points)
        return shapes.polygon(shapes.smooth_closed(out) if smooth else out)

    def ellipse(self, center: Point, axes: tuple[float, float], angle_deg: float = 0.0) -> Shape:
        n = max(64, int(2 * (axes[0] * self.sx + axes[1] * self.sy)))
        return shapes.polygon(self.to_out(shapes.ellipse_points(center, axes, angle_deg, n=n)))

    def rrect(self, x0: float, y0: float, x1: float, y1: float, r: float | tuple[float, float, float, float]) -> Shape:
        return shapes.polygon(self.to_out(shapes.rounded_rect_points(x0, y0, x1, y1, r)))

    def stroke(self, points: np.ndarray | Sequence[Point], width: float, smooth: bool = False) -> Shape:
        out = self.to_out(points)
        return shapes.stroke(shapes.smooth_open(out) if smooth else out, width * float(np.sqrt(self.sx * self.sy)))

    def text(
        self,
        string: str,
        center: Point,
        height: float,
        font: str = "duplex",
        weight: float = 0.12,
        width_scale: float = 1.0,
    ) -> Shape:
        c = self.to_out([center])[0]
        return shapes.text(string, (c[0], c[1]), height * self.sy, font, weight, width_scale * self.sx / self.sy)

    def wrap(self, shape: Shape, cx: float, radius: float) -> Shape:
        """Wrap a flat print around an upright cylinder (design units)."""
        return shapes.wrap_on_cylinder(shape, (cx + self.offset[0]) * self.sx, radius * self.sx)

    # ---- painting ---------------------------------------------------------------------------
    def _grid(self, box: tuple[int, int, int, int]) -> tuple[np.ndarray, np.ndarray]:
        x0, y0, x1, y1 = box
        X = ((np.arange(x0, x1, dtype=np.float64) + 0.5) / self.sx - self.offset[0])[None, :]
        Y = ((np.arange(y0, y1, dtype=np.float64) + 0.5) / self.sy - self.offset[1])[:, None]
        return X, Y

    def set_background(self, colour: Field | RGB) -> None:
        """Fill the whole background with a colour or field."""
        field = colour if callable(colour) else flat(colour)
        saved, self.offset = self.offset, (0.0, 0.0)
        X, Y = self._grid(self.frame)
        self.offset = saved
        self.bg[:] = np.broadcast_to(field(X, Y), self.bg.shape)

    def paint(self, shape: Shape, colour: Field | RGB, logo: bool = False) -> Shape:
        """Paint a product part (over earlier parts). Returns the shape clipped to the frame.

        logo=True records the painted region's box as a logo/text region.
        """
        if _outside(shape, self.frame):
            shape = shape.crop_to(_clip_box(shape.window, self.frame))
        if shape.is_empty():
            return shape
        field = colour if callable(colour) else flat(colour)
        x0, y0, x1, y1 = shape.window
        cov = shape.coverage()
        col = field(*self._grid(shape.window))
        c3 = cov[..., None]
        self.prem[y0:y1, x0:x1] = c3 * col + (1.0 - c3) * self.prem[y0:y1, x0:x1]
        self.acc[y0:y1, x0:x1] = cov + (1.0 - cov) * self.acc[y0:y1, x0:x1]
        self.union[y0 * SS : y1 * SS, x0 * SS : x1 * SS] |= shape.ss
        if logo:
            box = shape.bbox()
            if box is not None:
                self.logos.append(box)
        return shape

    def shadow(self, center: Point, axes: tuple[float, float], softness: float, strength: float) -> None:
        """Darken the background (floor) under a soft elliptical shadow.

        softness: blur scale in design units; strength: darkening at the centre, 0..1.
        The profile is a smoothed ellipse edge: 1 inside, falling off over ~2*softness outside.
        """
        cx, cy = center
        ax, ay = axes
        pad = 4 * softness
        ox, oy = self.offset
        box = (
            max(0, int((cx + ox - ax - pad) * self.sx)),
            max(0, int((cy + oy - ay - pad) * self.sy)),
            min(self.W, int(np.ceil((cx + ox + ax + pad) * self.sx)) + 1),
            min(self.H, int(np.ceil((cy + oy + ay + pad) * self.sy)) + 1),
        )
        if box[2] <= box[0] or box[3] <= box[1]:
            return
        X, Y = self._grid(box)
        rho = np.sqrt(((X - cx) / ax) ** 2 + ((Y - cy) / ay) ** 2)
        dist = (rho - 1.0) * min(ax, ay)  # ~ signed distance to the edge, design units
        s = strength * 0.5 * (1.0 - np.tanh(dist / max(softness, 1e-3) * 0.9))
        x0, y0, x1, y1 = box
        self.bg[y0:y1, x0:x1] *= (1.0 - s)[..., None].astype(np.float32)

    def reflect(self, floor_y: float, strength: float, fade: float) -> None:
        """Mirror what is painted so far into the background below ``floor_y`` (design units): a
        glossy floor. The reflection is background (the product mask does not change); it fades
        from ``strength`` (0..1) at the floor line with an exponential scale of ``fade`` design units.
        Call it after the product is painted."""
        yf = (floor_y + self.offset[1]) * self.sy
        alpha = shapes.block_sum(self.union).astype(np.float32) / float(SS * SS)
        colour = self.prem / np.maximum(self.acc, 1e-6)[..., None]
        y0 = int(np.ceil(yf))
        ys = np.arange(y0, self.H)
        src = np.rint(2.0 * yf - ys).astype(int)
        ok = src >= 0
        ys, src = ys[ok], src[ok]
        if ys.size == 0:
            return
        weight = (strength * np.exp(-(ys - yf) / max(fade * self.sy, 1e-3)))[:, None] * alpha[src]
        w3 = weight[..., None].astype(np.float32)
        self.bg[ys] = (1.0 - w3) * self.bg[ys] + w3 * colour[src]

    # ---- result -----------------------------------------------------------------------------
    def finish(self, noise_sigma: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(rgb HWC uint8 with sensor noise, alpha HW float32 exact coverage)."""
        alpha = shapes.block_sum(self.union).astype(np.float32) / float(SS * SS)
        fg = self.prem / np.maximum(self.acc, 1e-6)[..., None]
        a3 = alpha[..., None]
        rgb = a3 * fg + (1.0 - a3) * self.bg
        if noise_sigma > 0:
            lum = rng.normal(0.0, noise_sigma, (self.H, self.W, 1)).astype(np.float32)
            chroma = rng.normal(0.0, noise_sigma * 0.5, (self.H, self.W, 3)).astype(np.float32)
            rgb = rgb + lum + chroma
        return np.clip(np.rint(rgb), 0, 255).astype(np.uint8), alpha


def _clip_box(box: tuple[int, int, int, int], frame: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x0, y0 = min(max(box[0], frame[0]), frame[2]), min(max(box[1], frame[1]), frame[3])
    return x0, y0, max(x0, min(box[2], frame[2])), max(y0, min(box[3], frame[3]))


def _outside(shape: Shape, frame: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = shape.window
    return x0 < frame[0] or y0 < frame[1] or x1 > frame[2] or y1 > frame[3]
