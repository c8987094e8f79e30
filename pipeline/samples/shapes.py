"""Supersampled binary shapes: the drawing primitives of the sample generator.

A :class:`Shape` is a boolean mask drawn at ``SS`` x supersampling inside a window aligned to
whole output pixels. Coverage (the exact anti-aliased alpha of the shape) is the mean of each
``SS x SS`` block, so it takes the values ``k / SS**2``. Boolean operations (union, intersection,
difference) act on the supersampled masks, so coverage stays exact after them.

Coordinates are output pixels as floats: pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``, so its
centre is ``(j + 0.5, i + 0.5)``. Points are ``(x, y)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SS = 4
"""Supersampling factor per axis."""

_SHIFT = 4  # fixed-point fraction bits handed to OpenCV's drawing functions
_FONTS = {
    "simplex": cv2.FONT_HERSHEY_SIMPLEX,
    "duplex": cv2.FONT_HERSHEY_DUPLEX,
    "triplex": cv2.FONT_HERSHEY_TRIPLEX,
    "complex": cv2.FONT_HERSHEY_COMPLEX,
    "plain": cv2.FONT_HERSHEY_PLAIN,
}


@dataclass(frozen=True)
class Shape:
    """A supersampled boolean mask.

    px, py: output-pixel offset of the window's top-left corner (ints).
    ss:     (h*SS, w*SS) bool array; the window covers output pixels [py, py+h) x [px, px+w).
    """

    px: int
    py: int
    ss: np.ndarray

    @property
    def size_hw(self) -> tuple[int, int]:
        """Window size in output pixels."""
        return self.ss.shape[0] // SS, self.ss.shape[1] // SS

    @property
    def window(self) -> tuple[int, int, int, int]:
        """The window as an output-pixel box (x0, y0, x1, y1), exclusive max."""
        h, w = self.size_hw
        return self.px, self.py, self.px + w, self.py + h

    def is_empty(self) -> bool:
        return not bool(self.ss.any())

    def coverage(self) -> np.ndarray:
        """Exact anti-aliased coverage: (h, w) float32 in [0, 1] over :attr:`window`."""
        return block_sum(self.ss).astype(np.float32) * np.float32(1.0 / (SS * SS))

    def bbox(self) -> tuple[int, int, int, int] | None:
        """Output-pixel box (x0, y0, x1, y1) of pixels with any coverage, or None when empty."""
        rows = np.flatnonzero(self.ss.any(axis=1))
        if rows.size == 0:
            return None
        cols = np.flatnonzero(self.ss.any(axis=0))
        return (
            self.px + int(cols[0]) // SS,
            self.py + int(rows[0]) // SS,
            self.px + int(cols[-1]) // SS + 1,
            self.py + int(rows[-1]) // SS + 1,
        )

    def crop_to(self, box: tuple[int, int, int, int]) -> Shape:
        """The same shape in window ``box`` (x0, y0, x1, y1), padding with False or cutting."""
        x0, y0, x1, y1 = box
        out = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), bool)
        sx0, sy0, sx1, sy1 = self.window
        ix0, iy0, ix1, iy1 = max(x0, sx0), max(y0, sy0), min(x1, sx1), min(y1, sy1)
        if ix1 > ix0 and iy1 > iy0:
            out[(iy0 - y0) * SS : (iy1 - y0) * SS, (ix0 - x0) * SS : (ix1 - x0) * SS] = self.ss[
                (iy0 - sy0) * SS : (iy1 - sy0) * SS, (ix0 - sx0) * SS : (ix1 - sx0) * SS
            ]
        return Shape(x0, y0, out)

    def __or__(self, other: Shape) -> Shape:
        box = _union_box(self.window, other.window)
        return Shape(box[0], box[1], self.crop_to(box).ss | other.crop_to(box).ss)

    def __and__(self, other: Shape) -> Shape:
        box = _intersect_box(self.window, other.window)
        return Shape(box[0], box[1], self.crop_to(box).ss & other.crop_to(box).ss)

    def __sub__(self, other: Shape) -> Shape:
        return Shape(self.px, self.py, self.ss & ~other.crop_to(self.window).ss)


def block_sum(ss: np.ndarray) -> np.ndarray:
    """Count of set subpixels per output pixel: (h*SS, w*SS) bool -> (h, w) uint8 in [0, SS*SS]."""
    hs, ws = ss.shape
    u = ss.view(np.uint8).reshape(hs, ws // SS, SS)
    cols = u[:, :, 0].copy()
    for k in range(1, SS):
        cols += u[:, :, k]
    rows = cols.reshape(hs // SS, SS, ws // SS)
    out = rows[:, 0].copy()
    for k in range(1, SS):
        out += rows[:, k]
    return out


def _union_box(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _intersect_box(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    return x0, y0, max(x0, min(a[2], b[2])), max(y0, min(a[3], b[3]))


def _window_for(points: np.ndarray, pad: float) -> tuple[int, int, int, int]:
    x0 = int(np.floor(points[:, 0].min() - pad)) - 1
    y0 = int(np.floor(points[:, 1].min() - pad)) - 1
    x1 = int(np.ceil(points[:, 0].max() + pad)) + 2
    y1 = int(np.ceil(points[:, 1].max() + pad)) + 2
    return x0, y0, x1, y1


def _fixed(points: np.ndarray, px: int, py: int) -> np.ndarray:
    """Output-pixel float points -> fixed-point supersampled ints for cv2 (``shift=_SHIFT``).

    A supersampled pixel j has its centre at output coordinate (j + 0.5) / SS, and cv2 fills
    integer coordinate j when it lies inside, hence the -0.5.
    """
    local = (points - np.array([px, py], np.float64)) * SS - 0.5
    return np.round(local * (1 << _SHIFT)).astype(np.int32)


def polygon(points: np.ndarray | list[tuple[float, float]]) -> Shape:
    """Filled polygon (even-odd rule). points: (N, 2) float (x, y) in output pixels, N >= 3.

    A supersampled pixel is inside when its centre is, so coverage is the exact area up to the
    supersampling error (OpenCV's fillPoly would also fill pixels the edges merely touch).
    """
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if pts.shape[0] < 3:
        raise ValueError(f"polygon needs at least 3 points, got {pts.shape[0]}")
    x0, y0, x1, y1 = _window_for(pts, 0.0)
    h, w = (y1 - y0) * SS, (x1 - x0) * SS
    return Shape(x0, y0, _scanline_fill((pts - np.array([x0, y0], np.float64)) * SS - 0.5, h, w))


def _scanline_fill(q: np.ndarray, h: int, w: int) -> np.ndarray:
    """Even-odd fill of a closed polygon given in supersampled coords (pixel centres at ints)."""
    a, b = q, np.roll(q, -1, axis=0)
    ylo, yhi = np.minimum(a[:, 1], b[:, 1]), np.maximum(a[:, 1], b[:, 1])
    r0 = np.clip(np.ceil(ylo), 0, h).astype(np.int64)
    r1 = np.clip(np.ceil(yhi), 0, h).astype(np.int64)  # rows r with ylo <= r < yhi
    counts = np.maximum(r1 - r0, 0)
    diff = np.zeros((h, w + 1), np.uint8)  # parity survives uint8 wrap-around
    total = int(counts.sum())
    if total:
        edge = np.repeat(np.arange(q.shape[0]), counts)
        rows = np.repeat(r0, counts) + (np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts))
        ax, ay, bx, by = a[edge, 0], a[edge, 1], b[edge, 0], b[edge, 1]
        xs = ax + (rows - ay) * (bx - ax) / (by - ay)
        cols = np.clip(np.ceil(xs), 0, w).astype(np.int64)
        np.add.at(diff, (rows, cols), 1)
    return (np.cumsum(diff[:, :w], axis=1, dtype=np.uint8) & 1).astype(bool)


def stroke(points: np.ndarray | list[tuple[float, float]], width: float, closed: bool = False) -> Shape:
    """A polyline of the given width (output pixels) with round joins and caps."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if width <= 0:
        raise ValueError(f"stroke width must be > 0, got {width}")
    x0, y0, x1, y1 = _window_for(pts, width / 2 + 1)
    canvas = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), np.uint8)
    thickness = max(1, round(width * SS))
    fixed = _fixed(pts, x0, y0)
    cv2.polylines(canvas, [fixed], closed, 1, thickness=thickness, lineType=cv2.LINE_8, shift=_SHIFT)
    return Shape(x0, y0, canvas.astype(bool))


def ellipse_points(
    center: tuple[float, float],
    axes: tuple[float, float],
    angle_deg: float = 0.0,
    start_deg: float = 0.0,
    end_deg: float = 360.0,
    n: int = 180,
) -> np.ndarray:
    """(n, 2) float points on an ellipse arc (angles in degrees, y down, 0 = +x)."""
    t = np.deg2rad(np.linspace(start_deg, end_deg, n, endpoint=(end_deg - start_deg) % 360 != 0))
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    ex, ey = axes[0] * np.cos(t), axes[1] * np.sin(t)
    return np.stack([center[0] + c * ex - s * ey, center[1] + s * ex + c * ey], axis=1)


def ellipse(center: tuple[float, float], axes: tuple[float, float], angle_deg: float = 0.0) -> Shape:
    """Filled ellipse with semi-axes ``axes`` (output pixels)."""
    return polygon(ellipse_points(center, axes, angle_deg, n=max(48, int(2 * (axes[0] + axes[1])))))


def rounded_rect_points(
    x0: float, y0: float, x1: float, y1: float, r: float | tuple[float, float, float, float]
) -> np.ndarray:
    """Outline of a rounded rectangle; r is one radius or (top-left, top-right, bottom-right, bottom-left)."""
    radii = (r, r, r, r) if isinstance(r, (int, float)) else r
    half = min(x1 - x0, y1 - y0) / 2
    tl, tr, br, bl = (min(max(float(v), 0.0), half) for v in radii)
    parts = []
    for cx, cy, rad, a0 in (
        (x1 - tr, y0 + tr, tr, 270),
        (x1 - br, y1 - br, br, 0),
        (x0 + bl, y1 - bl, bl, 90),
        (x0 + tl, y0 + tl, tl, 180),
    ):
        if rad <= 0:
            parts.append(np.array([[cx, cy]]))
        else:
            parts.append(ellipse_points((cx, cy), (rad, rad), 0, a0, a0 + 90, n=max(6, int(rad))))
    return np.concatenate(parts, axis=0)


def smooth_closed(points: np.ndarray | list[tuple[float, float]], per_segment: int = 16) -> np.ndarray:
    """A closed Catmull-Rom spline through ``points``: (N*per_segment, 2) float."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    n = p.shape[0]
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(n):
        p0, p1, p2, p3 = p[(i - 1) % n], p[i], p[(i + 1) % n], p[(i + 2) % n]
        out.append(
            0.5
            * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    return np.concatenate(out, axis=0)


def smooth_open(points: np.ndarray | list[tuple[float, float]], per_segment: int = 16) -> np.ndarray:
    """An open Catmull-Rom spline through ``points`` (end points repeated)."""
    p = np.asarray(points, np.float64).reshape(-1, 2)
    p = np.concatenate([p[:1], p, p[-1:]], axis=0)
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    out = []
    for i in range(1, p.shape[0] - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(
            0.5
            * ((2 * p1) + (-p0 + p2) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2 + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3)
        )
    out.append(p[-2:-1])
    return np.concatenate(out, axis=0)


def text(
    string: str,
    center: tuple[float, float],
    height: float,
    font: str = "duplex",
    weight: float = 0.12,
    width_scale: float = 1.0,
) -> Shape:
    """Text centred on ``center`` whose capital height is about ``height`` output pixels.

    weight: stroke thickness as a fraction of ``height``. width_scale: horizontal stretch.
    Rendered with cv2.putText at SS x resolution (binary), so coverage stays exact.
    """
    if font not in _FONTS:
        raise ValueError(f"font must be one of {sorted(_FONTS)}, got {font!r}")
    if not string or height <= 0:
        raise ValueError(f"text needs a non-empty string and height > 0, got {string!r}, {height}")
    face = _FONTS[font]
    base_h = cv2.getTextSize("H", face, 1.0, 1)[0][1]
    scale = height * SS / base_h
    thick = max(1, round(weight * height * SS))
    (tw, th), base = cv2.getTextSize(string, face, scale, thick)
    pad = thick + 2 * SS
    img = np.zeros((th + base + 2 * pad, tw + 2 * pad), np.uint8)
    cv2.putText(img, string, (pad, pad + th), face, scale, 1, thick, cv2.LINE_8)
    if width_scale != 1.0:
        img = cv2.resize(
            img, (max(1, round(img.shape[1] * width_scale)), img.shape[0]), interpolation=cv2.INTER_NEAREST
        )
    # Place so that the ink's centre lands on ``center``, on the output-pixel grid.
    rows, cols = np.flatnonzero(img.any(axis=1)), np.flatnonzero(img.any(axis=0))
    ink_cx = (cols[0] + cols[-1] + 1) / 2 / SS
    ink_cy = (rows[0] + rows[-1] + 1) / 2 / SS
    px = int(np.floor(center[0] - ink_cx))
    py = int(np.floor(center[1] - ink_cy))
    dx = round((center[0] - ink_cx - px) * SS)
    dy = round((center[1] - ink_cy - py) * SS)
    h = -(-(img.shape[0] + dy) // SS) * SS
    w = -(-(img.shape[1] + dx) // SS) * SS
    out = np.zeros((h, w), bool)
    out[dy : dy + img.shape[0], dx : dx + img.shape[1]] = img.astype(bool)
    return Shape(px, py, out)


def wrap_on_cylinder(shape: Shape, cx: float, radius: float) -> Shape:
    """Wrap a flat print around a vertical cylinder of axis x=cx (output pixels).

    The print's x offset from the axis is read as arc length s; it lands at cx + r*sin(s/r).
    Parts wrapping past the silhouette (|s| > r*pi/2) disappear.
    """
    if radius <= 0:
        raise ValueError(f"radius must be > 0, got {radius}")
    x0, y0, x1, y1 = shape.window
    shape = shape.crop_to((min(x0, int(np.floor(cx)) - 1), y0, max(x1, int(np.ceil(cx)) + 1), y1))
    box = shape.window
    _h, w = shape.ss.shape
    xs = (np.arange(w, dtype=np.float64) + 0.5) / SS + box[0]  # output x of each ss column
    u = np.clip((xs - cx) / radius, -1.0, 1.0)
    s = radius * np.arcsin(u)  # arc length that lands on this column
    src = (cx + s - box[0]) * SS - 0.5
    valid = np.abs((xs - cx) / radius) < 1.0
    src_cols = np.round(src).astype(np.int64)
    ok = valid & (src_cols >= 0) & (src_cols < w)
    out = np.zeros_like(shape.ss)
    out[:, ok] = shape.ss[:, src_cols[ok]]
    return Shape(shape.px, shape.py, out)
