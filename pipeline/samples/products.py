"""Product recipes: parametric bottles, boxes, mugs, jars, tubes, sneakers, totes.

Every recipe draws on a :class:`~pipeline.samples.canvas.Canvas` in design coordinates, paints
its printed text and logo marks with ``logo=True`` (so their boxes are recorded), and casts its
own floor shadow onto the background (shadows are background in the ground truth). Recipes are
deterministic; the scenes in :mod:`pipeline.samples.catalog` choose positions and colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from pipeline.samples import shading as sh
from pipeline.samples.canvas import Canvas
from pipeline.samples.shading import RGB
from pipeline.samples.shapes import Shape


@dataclass(frozen=True)
class Brand:
    """What is printed on a product: a wordmark, a small tagline, a logo mark and their inks."""

    name: str
    tagline: str
    ink: RGB
    mark: str = "disc_triangle"  # disc_triangle | ring_letter | triangle | leaf | crescent
    mark_ink: RGB | None = None


def mark(c: Canvas, kind: str, center: tuple[float, float], size: float, letter: str = "A") -> Shape:
    """A simple logo mark of about ``size`` design units across."""
    cx, cy = center
    r = size / 2
    if kind == "disc_triangle":
        tri = [(cx, cy - 0.55 * r), (cx + 0.5 * r, cy + 0.35 * r), (cx - 0.5 * r, cy + 0.35 * r)]
        return c.ellipse(center, (r, r)) - c.poly(tri)
    if kind == "ring_letter":
        ring = c.ellipse(center, (r, r)) - c.ellipse(center, (0.82 * r, 0.82 * r))
        return ring | c.text(letter, center, 0.9 * r, font="duplex", weight=0.16)
    if kind == "triangle":
        return c.poly([(cx, cy - r), (cx + 0.95 * r, cy + 0.75 * r), (cx - 0.95 * r, cy + 0.75 * r)]) - c.poly(
            [(cx, cy - 0.2 * r), (cx + 0.38 * r, cy + 0.5 * r), (cx - 0.38 * r, cy + 0.5 * r)]
        )
    if kind == "leaf":
        a = c.ellipse((cx - 0.32 * r, cy + 0.32 * r), (r, r))
        b = c.ellipse((cx + 0.32 * r, cy - 0.32 * r), (r, r))
        return (a & b) - c.stroke([(cx - 0.55 * r, cy + 0.55 * r), (cx + 0.45 * r, cy - 0.45 * r)], 0.08 * size)
    if kind == "crescent":
        return c.ellipse(center, (r, 0.75 * r), -18) - c.ellipse(
            (cx + 0.12 * r, cy - 0.3 * r), (0.92 * r, 0.6 * r), -18
        )
    raise ValueError(f"mark kind must be one of crescent, disc_triangle, leaf, ring_letter, triangle; got {kind!r}")


def _arc(cx: float, cy: float, ax: float, ay: float, a0: float, a1: float, n: int = 40) -> np.ndarray:
    t = np.deg2rad(np.linspace(a0, a1, n))
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def floor_shadow(
    c: Canvas,
    cx: float,
    floor_y: float,
    half_width: float,
    depth: float,
    strength: float = 0.22,
    contact_half_width: float | None = None,
) -> None:
    """A soft drop shadow plus a tight contact shadow where an object meets the floor."""
    c.shadow(
        (cx + 0.12 * half_width, floor_y + 0.2 * depth),
        (1.05 * half_width, depth),
        softness=0.5 * depth + 10,
        strength=strength,
    )
    contact = 0.96 * half_width if contact_half_width is None else contact_half_width
    c.shadow((cx, floor_y), (contact, 0.2 * depth), softness=4, strength=strength * 1.3)


# ---- upright cylinders ------------------------------------------------------------------------
def draw_bottle(
    c: Canvas,
    cx: float,
    base_y: float,
    height: float,
    width: float,
    body: RGB,
    cap: RGB,
    label: RGB,
    brand: Brand,
    closure: str = "cap",
    fill: float = 0.6,
    gloss: float = 0.35,
    shadow: bool = True,
) -> None:
    """An upright bottle with shoulders, a neck, a cap (or a pump) and a wrapped label."""
    hw = width / 2
    nw = 0.34 * hw if closure == "cap" else 0.42 * hw
    e = 0.08 * hw  # perspective: the bottom edge is an ellipse arc
    neck_top = base_y - 0.86 * height
    neck_bot = base_y - 0.80 * height
    shoulder = base_y - 0.66 * height
    ts = np.linspace(0, 1, 24)
    ys = [neck_top, neck_bot] + list(neck_bot + (shoulder - neck_bot) * ts[1:]) + [base_y - e]
    hws = [nw, nw] + list(nw + (hw - nw) * np.sin(ts[1:] * np.pi / 2) ** 0.6) + [hw]
    right = np.stack([cx + np.asarray(hws), np.asarray(ys)], axis=1)
    bottom = _arc(cx, base_y - e, hw, e, 0, 180)
    left = right[::-1] * np.array([-1, 1]) + np.array([2 * cx, 0])
    outline = np.concatenate([right, bottom, left], axis=0)
    prof = sh.profile(ys + [base_y], hws + [hw])
    field = sh.cylinder(body, cx, prof, fill=fill, gloss=gloss, top_y=neck_top, bottom_y=base_y)
    if shadow:
        floor_shadow(c, cx, base_y - e * 0.3, hw, 0.35 * hw)
    body_shape = c.paint(c.poly(outline), field)

    # Closure.
    if closure == "cap":
        cw = 0.42 * hw
        cap_top = base_y - height
        cap_shape = c.rrect(cx - cw, cap_top, cx + cw, neck_top + 0.02 * height, (0.12 * cw, 0.12 * cw, 0, 0))
        c.paint(cap_shape, sh.cylinder(cap, cx, cw, fill=0.55, gloss=0.25))
        for k in np.linspace(-0.8, 0.8, 9):
            x = cx + cw * np.sin(k * np.pi / 2)
            rib = c.stroke([(x, cap_top + 0.1 * cw), (x, neck_top - 0.05 * cw)], 0.07 * cw) & cap_shape
            c.paint(rib, sh.cylinder(tuple(0.8 * v for v in cap), cx, cw, fill=0.55, gloss=0.0))
    else:  # pump: collar, stem, actuator with a nozzle to the right
        cw = 0.5 * hw
        collar_top = neck_top - 0.06 * height
        c.paint(
            c.rrect(cx - cw, collar_top, cx + cw, neck_top + 0.02 * height, 0.1 * cw),
            sh.cylinder(cap, cx, cw, fill=0.55, gloss=0.3),
        )
        stem_w = 0.12 * hw
        head_bot = collar_top - 0.07 * height
        c.paint(
            c.rrect(cx - stem_w, head_bot - 2, cx + stem_w, collar_top + 2, 0),
            sh.cylinder(cap, cx, stem_w, fill=0.5, gloss=0.3),
        )
        head_top = head_bot - 0.06 * height
        head = c.rrect(cx - 0.36 * hw, head_top, cx + 0.36 * hw, head_bot, (0.08 * hw, 0.08 * hw, 0.02 * hw, 0.02 * hw))
        nozzle = c.poly(
            [
                (cx + 0.3 * hw, head_top + 0.015 * height),
                (cx + 0.95 * hw, head_top + 0.02 * height),
                (cx + 0.95 * hw, head_top + 0.045 * height),
                (cx + 0.3 * hw, head_bot - 0.005 * height),
            ]
        )
        c.paint(head | nozzle, sh.gradient(cap, (0, head_top), (0, head_bot), 1.0, 0.8))

    # Label band with elliptic (perspective) top and bottom edges, wrapped print.
    y0, y1 = base_y - 0.58 * height, base_y - 0.16 * height
    band = np.concatenate([_arc(cx, y0, hw * 1.02, e, 180, 0), _arc(cx, y1, hw * 1.02, e, 0, 180)], axis=0)
    label_shape = c.poly(band) & body_shape
    c.paint(label_shape, sh.cylinder(label, cx, hw, fill=fill + 0.05, gloss=gloss * 0.5))
    _cylinder_print(c, brand, cx, hw, (y0 + y1) / 2, y1 - y0, label_shape, fill)


def _cylinder_print(
    c: Canvas, brand: Brand, cx: float, r: float, mid_y: float, band_h: float, clip: Shape, fill: float
) -> None:
    """Logo mark, wordmark and tagline stacked on a cylinder label, wrapped and clipped."""
    ink = sh.cylinder(brand.ink, cx, r, fill=fill, gloss=0.0)
    mark_ink = sh.cylinder(brand.mark_ink or brand.ink, cx, r, fill=fill, gloss=0.0)
    m = c.wrap(mark(c, brand.mark, (cx, mid_y - 0.24 * band_h), 0.26 * band_h, brand.name[:1]), cx, r) & clip
    c.paint(m, mark_ink, logo=True)
    word_h = min(0.17 * band_h, 1.3 * r / max(len(brand.name), 1))
    word = c.wrap(c.text(brand.name, (cx, mid_y + 0.07 * band_h), word_h, font="triplex", weight=0.14), cx, r) & clip
    c.paint(word, ink, logo=True)
    tag_h = min(0.06 * band_h, 2.2 * r / max(len(brand.tagline), 1))
    tag = c.wrap(c.text(brand.tagline, (cx, mid_y + 0.3 * band_h), tag_h, font="simplex", weight=0.12), cx, r) & clip
    c.paint(tag, ink, logo=True)


def draw_mug(
    c: Canvas,
    cx: float,
    base_y: float,
    height: float,
    radius: float,
    body: RGB,
    inside: RGB,
    brand: Brand,
    fill: float = 0.6,
    gloss: float = 0.4,
    rim: RGB | None = None,
) -> None:
    """A mug with its handle on the right: the handle's hole shows the background.

    rim: colour of the rim seen from above (default: the body colour; a white glaze is common)."""
    r = radius
    e = 0.17 * r
    top = base_y - height
    floor_shadow(c, cx + 0.15 * r, base_y - 0.3 * e, 1.25 * r, 0.35 * r, contact_half_width=0.95 * r)
    body_field = sh.cylinder(body, cx, r, fill=fill, gloss=gloss, top_y=top, bottom_y=base_y)

    # Handle behind the body: outer ellipse minus inner ellipse.
    hc = (cx + 1.02 * r, top + 0.47 * height)
    outer, inner = (0.5 * r, 0.33 * height), (0.3 * r, 0.2 * height)
    handle = c.ellipse(hc, outer) - c.ellipse(hc, inner)
    c.paint(handle, sh.ring(body, hc, inner, outer, fill=fill, gloss=gloss * 0.6))

    wall = c.rrect(cx - r, top, cx + r, base_y - e, 0) | c.ellipse((cx, base_y - e), (r, e))
    c.paint(wall, body_field)
    # Rim (top ellipse), then the inside seen over the rim: far wall lit, near wall in shade.
    c.paint(c.ellipse((cx, top), (r, e)), sh.gradient(rim or body, (cx, top - e), (cx, top + e), 1.0, 0.9))
    t = 0.055 * r
    c.paint(
        c.ellipse((cx, top + 0.1 * t), (r - t, e - t * e / r)),
        sh.gradient(inside, (cx, top - e), (cx, top + e), 0.95, 0.55),
    )

    # Print on the front, wrapped around the cylinder.
    ink = sh.cylinder(brand.ink, cx, r, fill=fill, gloss=0.0)
    mid = top + 0.52 * height
    logo = (
        c.wrap(mark(c, brand.mark, (cx - 0.05 * r, mid - 0.16 * height), 0.22 * height, brand.name[:1]), cx, r) & wall
    )
    c.paint(logo, sh.cylinder(brand.mark_ink or brand.ink, cx, r, fill=fill, gloss=0.0), logo=True)
    word = (
        c.wrap(
            c.text(brand.name, (cx - 0.05 * r, mid + 0.06 * height), 0.11 * height, font="duplex", weight=0.16), cx, r
        )
        & wall
    )
    c.paint(word, ink, logo=True)
    tag = (
        c.wrap(c.text(brand.tagline, (cx - 0.05 * r, mid + 0.17 * height), 0.035 * height, font="simplex"), cx, r)
        & wall
    )
    c.paint(tag, ink, logo=True)


def draw_jar(
    c: Canvas,
    cx: float,
    base_y: float,
    radius: float,
    body_h: float,
    lid_h: float,
    body: RGB,
    lid: RGB,
    brand: Brand,
    fill: float = 0.6,
    shadow: bool = True,
) -> None:
    """A wide cosmetic jar with a ribbed screw lid; print on the body."""
    r = radius
    e = 0.14 * r
    if shadow:
        floor_shadow(c, cx, base_y - 0.3 * e, r, 0.3 * r)
    body_top = base_y - body_h
    body_shape = c.rrect(cx - r, body_top, cx + r, base_y - e, 0) | c.ellipse((cx, base_y - e), (r, e))
    c.paint(body_shape, sh.cylinder(body, cx, r, fill=fill, gloss=0.3, top_y=body_top, bottom_y=base_y))
    rl = 1.03 * r
    lid_bot = body_top + 0.06 * body_h
    lid_top = lid_bot - lid_h
    lid_side = c.rrect(cx - rl, lid_top, cx + rl, lid_bot, 0) | c.ellipse((cx, lid_bot), (rl, e * 1.03))
    lid_field = sh.cylinder(lid, cx, rl, fill=0.55, gloss=0.5)
    c.paint(lid_side, lid_field)
    for k in np.linspace(-0.92, 0.92, 31):
        x = cx + rl * np.sin(k * np.pi / 2)
        rib = c.stroke([(x, lid_top + 0.2 * lid_h), (x, lid_bot + 0.5 * e)], 0.008 * r) & lid_side
        c.paint(rib, sh.cylinder(tuple(0.72 * v for v in lid), cx, rl, fill=0.55, gloss=0.0))
    c.paint(
        c.ellipse((cx, lid_top), (rl, e * 1.03)), sh.gradient(lid, (cx - rl, lid_top), (cx + rl, lid_top), 1.02, 0.8)
    )
    mid = body_top + 0.55 * body_h
    _cylinder_print(c, brand, cx, r, mid, 0.85 * body_h, body_shape, fill)


# ---- boxes ------------------------------------------------------------------------------------
def draw_box(
    c: Canvas,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    dx: float,
    dy: float,
    albedo: RGB,
    tones: tuple[float, float, float],
    edge: RGB,
    brand: Brand,
    shadow: bool = True,
    panel: RGB | None = None,
) -> None:
    """A carton in three-quarter view: front face (x0..x1, y0..y1), right side and top receding
    by (dx, -dy). tones: intensity of (front, side, top). ``edge`` colours the fold lines.
    panel: a label panel of this colour on the front face, outlined by a thin ink line, under the
    print (a white panel on a coloured carton is product, not a see-through hole)."""
    front = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    side = [(x1, y0), (x1 + dx, y0 - dy), (x1 + dx, y1 - dy), (x1, y1)]
    top = [(x0, y0), (x0 + dx, y0 - dy), (x1 + dx, y0 - dy), (x1, y0)]
    if shadow:
        w = x1 + dx - x0
        c.shadow((x0 + 0.58 * w, y1 - 0.3 * dy), (0.55 * w, 0.5 * dy + 10), softness=0.22 * dy + 8, strength=0.18)
        c.shadow(((x0 + x1) / 2, y1), (0.5 * (x1 - x0), 3), softness=3, strength=0.3)
    tf, ts, tt = tones
    front_shape = c.paint(c.poly(front), sh.gradient(albedo, (x0, y0), (x1, y1), tf, tf * 0.965))
    c.paint(c.poly(side), sh.gradient(albedo, (x1, y0), (x1 + dx, y1), ts, ts * 0.93))
    c.paint(c.poly(top), sh.gradient(albedo, (x0 + dx, y0 - dy), (x1, y0), tt, tt * 0.99))
    # Fold lines and a darker bottom edge (occlusion at the floor).
    for a, b in ((front[0], front[1]), (front[1], front[2]), (top[0], top[1]), (top[1], top[2]), (top[2], side[2])):
        c.paint(c.stroke([a, b], 1.6), edge)
    c.paint(c.stroke([front[0], front[3], front[2], side[2]], 1.2), edge)
    # Print on the front face.
    fw, fh = x1 - x0, y1 - y0
    ink = sh.gradient(brand.ink, (x0, y0), (x1, y1), tf, tf * 0.965)
    if panel is not None:
        px0, py0, px1, py1 = x0 + 0.1 * fw, y0 + 0.12 * fh, x1 - 0.1 * fw, y0 + 0.76 * fh
        c.paint(c.rrect(px0, py0, px1, py1, 0.03 * fw) & front_shape,
                sh.gradient(panel, (x0, y0), (x1, y1), 1.0, 0.99))
        c.paint(c.stroke([(px0, py0), (px1, py0), (px1, py1), (px0, py1), (px0, py0)], 1.4) & front_shape, ink)
    mink = sh.gradient(brand.mark_ink or brand.ink, (x0, y0), (x1, y1), tf, tf * 0.965)
    c.paint(
        mark(c, brand.mark, (x0 + 0.5 * fw, y0 + 0.3 * fh), 0.28 * min(fw, fh), brand.name[:1]) & front_shape,
        mink,
        logo=True,
    )
    word_h = min(0.09 * fh, 1.25 * fw / max(len(brand.name), 1))
    c.paint(
        c.text(brand.name, (x0 + 0.5 * fw, y0 + 0.55 * fh), word_h, font="triplex", weight=0.15) & front_shape,
        ink,
        logo=True,
    )
    tag_h = min(0.03 * fh, 1.9 * fw / max(len(brand.tagline), 1))
    c.paint(
        c.text(brand.tagline, (x0 + 0.5 * fw, y0 + 0.66 * fh), tag_h, font="simplex", weight=0.12) & front_shape,
        ink,
        logo=True,
    )
    # A thin coloured band near the bottom of the front.
    band = (
        c.poly([(x0, y0 + 0.82 * fh), (x1, y0 + 0.82 * fh), (x1, y0 + 0.86 * fh), (x0, y0 + 0.86 * fh)]) & front_shape
    )
    c.paint(band, sh.gradient(brand.mark_ink or brand.ink, (x0, y0), (x1, y1), tf, tf * 0.965))


# ---- a chair: the opening under its back rail shows the backdrop ------------------------------------
def draw_chair(c: Canvas, cx: float, floor_y: float, width: float, height: float, colour: RGB) -> None:
    """A painted chair seen from the front: two back posts and a top rail frame an opening that
    shows the backdrop (a see-through gap, background in the ground truth), a seat in slight
    perspective, four legs. Lit from the upper left; a soft floor shadow under the seat."""
    hw = width / 2
    post_w, rail_h = 0.1 * width, 0.14 * height
    back_top = floor_y - height
    seat_y = floor_y - 0.47 * height  # the seat's back edge
    seat_d = 0.07 * height  # the seat seen from a little above
    leg_w = 0.075 * width
    c.shadow((cx + 0.05 * width, floor_y - 0.01 * height), (0.62 * width, 0.05 * height), softness=0.04 * height,
             strength=0.2)
    wood = sh.gradient(colour, (cx - hw, back_top), (cx + hw, floor_y), 1.0, 0.9)
    shade = sh.gradient(colour, (cx - hw, back_top), (cx + hw, floor_y), 0.86, 0.78)
    for x in (cx - hw + 0.06 * width, cx + hw - 0.06 * width - leg_w):  # back legs (behind, in shade)
        c.paint(c.rrect(x, seat_y, x + leg_w, floor_y - 0.04 * height, 0.2 * leg_w), shade)
    for x in (cx - hw, cx + hw - post_w):  # back posts
        c.paint(c.rrect(x, back_top, x + post_w, seat_y + 2, (0.4 * post_w, 0.4 * post_w, 0, 0)), wood)
    c.paint(c.rrect(cx - hw, back_top + 0.02 * height, cx + hw, back_top + 0.02 * height + rail_h, 0.03 * width),
            sh.gradient(colour, (cx, back_top), (cx, back_top + rail_h), 1.0, 0.93))
    seat = [(cx - hw, seat_y), (cx + hw, seat_y), (cx + hw + 0.05 * width, seat_y + seat_d),
            (cx - hw - 0.05 * width, seat_y + seat_d)]
    c.paint(c.poly(seat), sh.gradient(colour, (cx, seat_y), (cx, seat_y + seat_d), 1.0, 0.95))
    apron = [(cx - hw - 0.05 * width, seat_y + seat_d), (cx + hw + 0.05 * width, seat_y + seat_d),
             (cx + hw + 0.05 * width, seat_y + seat_d + 0.06 * height),
             (cx - hw - 0.05 * width, seat_y + seat_d + 0.06 * height)]
    c.paint(c.poly(apron), shade)
    for x in (cx - hw - 0.04 * width, cx + hw + 0.04 * width - leg_w):  # front legs
        c.paint(c.rrect(x, seat_y + seat_d, x + leg_w, floor_y, 0.15 * leg_w), wood)


# ---- a tube lying on the floor ----------------------------------------------------------------
def draw_tube(
    c: Canvas,
    x0: float,
    x1: float,
    floor_y: float,
    cap_h: float,
    body: RGB,
    cap: RGB,
    stripe: RGB,
    brand: Brand,
) -> None:
    """A squeeze tube lying along x: cap on the left, crimped flat end on the right."""
    cap_len = 0.1 * (x1 - x0)
    h0, h1 = 1.35 * cap_h, 1.9 * cap_h  # half heights: at the shoulder, at the crimp
    xb = x0 + cap_len
    xs = np.linspace(xb, x1, 40)
    tt = (xs - xb) / (x1 - xb)
    hh = h0 + (h1 - h0) * tt**1.4
    hh[:3] *= np.array([0.82, 0.93, 0.98])  # rounded shoulder

    def half_h(x: np.ndarray) -> np.ndarray:
        return np.interp(x, xs, hh)

    def cy_of(x: np.ndarray) -> np.ndarray:  # the tube rests on the floor
        return floor_y - np.interp(x, xs, hh)

    top = np.stack([xs, floor_y - 2 * hh], axis=1)
    bot = np.stack([xs[::-1], np.full_like(xs, floor_y)], axis=1)
    outline = np.concatenate([top, [(x1 + 2, floor_y - 2 * h1), (x1 + 2, floor_y)], bot], axis=0)
    c.shadow(((x0 + x1) / 2 + 10, floor_y - 4), ((x1 - x0) / 2, 0.4 * cap_h + 6), softness=10, strength=0.22)
    c.shadow(((x0 + x1) / 2, floor_y), ((x1 - x0) / 2, 3), softness=3, strength=0.3)
    field = sh.lying_cylinder(body, cy_of, half_h, fill=0.72, gloss=0.3)
    body_shape = c.paint(c.poly(outline), field)
    # Cap: a ribbed cylinder lying along x.
    cap_shape = c.rrect(
        x0, floor_y - cap_h * 2 + 0.05 * cap_h, xb + 4, floor_y - 0.05 * cap_h, (0.25 * cap_h, 0, 0, 0.25 * cap_h)
    )
    cap_field = sh.lying_cylinder(cap, floor_y - cap_h, 0.95 * cap_h, fill=0.6, gloss=0.35)
    c.paint(cap_shape, cap_field)
    for x in np.linspace(x0 + 0.15 * cap_len, xb - 0.1 * cap_len, 7):
        c.paint(
            c.stroke([(x, floor_y - 1.9 * cap_h), (x, floor_y - 0.1 * cap_h)], 2.2) & cap_shape,
            sh.lying_cylinder(tuple(0.8 * v for v in cap), floor_y - cap_h, 0.95 * cap_h, fill=0.6, gloss=0.0),
        )
    # Crimped end: flat band with ridges.
    crimp_x = x1 - 0.07 * (x1 - x0)
    crimp = (
        c.poly(
            [
                (crimp_x, floor_y - 2 * h1 - 4),
                (x1 + 4, floor_y - 2 * h1 - 4),
                (x1 + 4, floor_y + 4),
                (crimp_x, floor_y + 4),
            ]
        )
        & body_shape
    )
    c.paint(crimp, sh.gradient(body, (crimp_x, 0), (x1, 0), 0.97, 0.9))
    for y in np.linspace(floor_y - 2 * h1 + 6, floor_y - 6, 14):
        c.paint(c.stroke([(crimp_x + 6, y), (x1 - 2, y)], 1.4) & crimp, tuple(0.86 * v for v in body))
    # A coloured wave stripe and the print.
    wx = np.linspace(xb, crimp_x, 30)
    wy = cy_of(wx) + np.interp(wx, xs, hh) * (0.62 + 0.12 * np.sin((wx - xb) / (crimp_x - xb) * np.pi * 1.5))
    wave = c.stroke(np.stack([wx, wy], axis=1), 0.22 * h0, smooth=True) & body_shape
    c.paint(wave, sh.lying_cylinder(stripe, cy_of, half_h, fill=0.72, gloss=0.2))
    mid_x = xb + 0.42 * (crimp_x - xb)
    ink = sh.lying_cylinder(brand.ink, cy_of, half_h, fill=0.72, gloss=0.0)
    hm = float(np.interp(mid_x, xs, hh))
    c.paint(
        c.text(brand.name, (mid_x, float(cy_of(mid_x)) - 0.2 * hm), 0.42 * hm, font="triplex", weight=0.16)
        & body_shape,
        ink,
        logo=True,
    )
    c.paint(
        c.text(brand.tagline, (mid_x, float(cy_of(mid_x)) + 0.22 * hm), 0.12 * hm, font="simplex") & body_shape,
        ink,
        logo=True,
    )
    mx = xb + 0.82 * (crimp_x - xb)
    c.paint(
        mark(c, brand.mark, (mx, float(cy_of(mx)) - 0.12 * hm), 0.6 * hm, brand.name[:1]) & body_shape,
        sh.lying_cylinder(brand.mark_ink or brand.ink, cy_of, half_h, fill=0.72, gloss=0.0),
        logo=True,
    )


# ---- a sneaker in side view ---------------------------------------------------------------------
def draw_sneaker(
    c: Canvas,
    x0: float,
    floor_y: float,
    length: float,
    upper: RGB,
    sole: RGB,
    lace: RGB,
    accent: RGB,
    brand: Brand,
    mirror: bool = False,
) -> None:
    """A low-top sneaker, heel left and toe right (``mirror`` flips it), white rubber sole."""
    L = length

    def P(pts: list[tuple[float, float]]) -> np.ndarray:
        a = np.asarray(pts, np.float64)
        u = 1.0 - a[:, 0] if mirror else a[:, 0]
        return np.stack([x0 + u * L, floor_y - a[:, 1] * L], axis=1)

    c.shadow((x0 + 0.5 * L, floor_y - 0.005 * L), (0.52 * L, 0.05 * L), softness=0.035 * L, strength=0.24)
    c.shadow((x0 + 0.5 * L, floor_y), (0.47 * L, 0.006 * L), softness=3, strength=0.35)
    upper_pts = [
        (0.03, 0.08),
        (0.0, 0.2),
        (0.02, 0.33),
        (0.07, 0.36),
        (0.14, 0.33),
        (0.24, 0.34),
        (0.31, 0.41),
        (0.36, 0.42),
        (0.40, 0.37),
        (0.52, 0.29),
        (0.66, 0.21),
        (0.8, 0.16),
        (0.93, 0.12),
        (0.99, 0.07),
        (0.95, 0.05),
        (0.5, 0.05),
        (0.08, 0.05),
    ]
    up_field = sh.multiply(
        sh.gradient(upper, (0, floor_y - 0.4 * L), (0, floor_y), 1.0, 0.78),
        lambda X, Y: (
            1.0
            + 0.12
            * np.exp(-(((X - (x0 + 0.55 * L)) / (0.2 * L)) ** 2 + ((Y - (floor_y - 0.25 * L)) / (0.08 * L)) ** 2))
        ),
    )
    upper_shape = c.paint(c.poly(P(upper_pts), smooth=True), up_field)
    # Collar lining (the opening), toe cap, heel tab, side logo.
    lining = (
        c.poly(P([(0.05, 0.33), (0.1, 0.345), (0.2, 0.33), (0.28, 0.37), (0.24, 0.35), (0.12, 0.32)]), smooth=True)
        & upper_shape
    )
    c.paint(lining, tuple(0.55 * v for v in upper))
    toe = c.poly(P([(0.78, 0.05), (0.8, 0.13), (0.9, 0.125), (0.99, 0.08), (0.97, 0.05)]), smooth=True) & upper_shape
    c.paint(toe, sh.gradient(accent, (0, floor_y - 0.15 * L), (0, floor_y), 1.0, 0.85))
    heel = c.poly(P([(-0.01, 0.08), (-0.01, 0.31), (0.03, 0.33), (0.05, 0.2), (0.04, 0.08)]), smooth=True) & upper_shape
    c.paint(heel, sh.gradient(accent, (0, floor_y - 0.32 * L), (0, floor_y), 1.0, 0.82))
    tongue = c.poly(P([(0.3, 0.38), (0.31, 0.44), (0.35, 0.455), (0.39, 0.43), (0.37, 0.37)]), smooth=True)
    c.paint(
        tongue,
        sh.gradient(
            tuple(min(255.0, 1.2 * v + 8) for v in upper), (0, floor_y - 0.46 * L), (0, floor_y - 0.36 * L), 1.0, 0.8
        ),
    )
    tx = 0.17 if not mirror else 0.83
    c.paint(
        c.text(brand.name, (x0 + tx * L, floor_y - 0.245 * L), 0.026 * L, font="simplex", weight=0.16) & upper_shape,
        brand.ink,
        logo=True,
    )
    sw = P([(0.2, 0.11), (0.4, 0.13), (0.62, 0.2), (0.46, 0.16), (0.3, 0.14)])
    swoosh = c.poly(sw, smooth=True) & upper_shape
    c.paint(
        swoosh, sh.gradient(brand.mark_ink or brand.ink, (0, floor_y - 0.25 * L), (0, floor_y), 1.0, 0.85), logo=True
    )
    # Stitching: dashes along the sole line and the collar.
    stitch = tuple(min(255.0, 0.6 * v + 100) for v in upper)
    for path in (
        P([(0.04, 0.105), (0.3, 0.103), (0.6, 0.105), (0.8, 0.115)]),
        P([(0.03, 0.29), (0.07, 0.31), (0.14, 0.29), (0.24, 0.30)]),
    ):
        pts = _resample(path, 0.012 * L)
        for a, b in zip(pts[0::2], pts[1::2]):
            c.paint(c.stroke([a, b], 0.003 * L) & upper_shape, stitch)
    # Eyelets and laces along the throat.
    throat = P([(0.39, 0.36), (0.49, 0.31), (0.59, 0.26), (0.69, 0.215)])
    lower = P([(0.35, 0.33), (0.45, 0.28), (0.55, 0.23), (0.65, 0.19)])
    for p in np.concatenate([throat, lower]):
        c.paint(c.ellipse((p[0], p[1]), (0.009 * L, 0.009 * L)), (190, 192, 196))
        c.paint(c.ellipse((p[0], p[1]), (0.0045 * L, 0.0045 * L)), (30, 30, 34))
    lace_field = sh.gradient(lace, (0, floor_y - 0.4 * L), (0, floor_y - 0.15 * L), 1.0, 0.9)
    for i in range(len(throat) - 1):
        for a, b in ((lower[i], throat[i + 1]), (throat[i], lower[i + 1])):
            c.paint(c.stroke([a, b], 0.012 * L), lace_field)
    # Sole: white rubber foxing with a thin accent line and a grey tread edge.
    sole_pts = [
        (0.0, 0.085),
        (-0.007, 0.045),
        (0.012, 0.006),
        (0.06, 0.0),
        (0.5, 0.0),
        (0.92, 0.002),
        (0.985, 0.02),
        (1.005, 0.06),
        (0.99, 0.095),
        (0.9, 0.09),
        (0.5, 0.085),
        (0.1, 0.085),
    ]
    sole_shape = c.paint(
        c.poly(P(sole_pts), smooth=True), sh.gradient(sole, (0, floor_y - 0.09 * L), (0, floor_y), 1.0, 0.955)
    )
    line = c.stroke(P([(0.0, 0.05), (0.5, 0.05), (0.95, 0.055), (1.0, 0.06)]), 0.006 * L, smooth=True) & sole_shape
    c.paint(line, accent)
    tread = c.poly(P([(-0.01, 0.014), (1.01, 0.014), (1.01, -0.01), (-0.01, -0.01)])) & sole_shape
    c.paint(tread, tuple(0.9 * v for v in sole))
    top_edge = (
        c.stroke(P([(0.0, 0.085), (0.5, 0.085), (0.9, 0.09), (0.99, 0.095)]), 0.003 * L, smooth=True) & sole_shape
    )
    c.paint(top_edge, tuple(0.93 * v for v in sole))


def _resample(points: np.ndarray, step: float) -> np.ndarray:
    """Points every ``step`` design units along a polyline."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    d = np.concatenate([[0.0], np.cumsum(seg)])
    t = np.arange(0.0, d[-1], step)
    return np.stack([np.interp(t, d, points[:, 0]), np.interp(t, d, points[:, 1])], axis=1)


# ---- a tote bag ---------------------------------------------------------------------------------
def fabric_texture(shape_hw: tuple[int, int], seed: int) -> np.ndarray:
    """(H, W) float32 zero-mean weave-like noise at output resolution (deterministic in seed)."""
    rng = np.random.default_rng(seed)
    h, w = shape_hw
    n = rng.normal(0.0, 1.0, (h, w)).astype(np.float32)
    n = cv2.GaussianBlur(n, (0, 0), 1.0)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    weave = 0.35 * np.sin(xx * 2.2) * np.sin(yy * 2.2)
    out = n / (n.std() + 1e-6) + weave
    return (out / (out.std() + 1e-6)).astype(np.float32)


def draw_tote(
    c: Canvas,
    x0: float,
    y0: float,
    x1: float,
    y1: float,
    cloth: RGB,
    brand: Brand,
    seed: int,
) -> None:
    """A canvas tote with two strap loops (holes show the background), folds and a print."""
    w, h = x1 - x0, y1 - y0
    c.shadow(((x0 + x1) / 2 + 0.04 * w, y1 - 2), (0.47 * w, 0.035 * h), softness=0.03 * h, strength=0.2)
    c.shadow(((x0 + x1) / 2, y1), (0.49 * w, 3), softness=3, strength=0.25)
    tex = fabric_texture((c.H, c.W), seed)

    # Back strap first (behind the body), then the body, then the front strap over it.
    def strap(dx: float, dy: float) -> Shape:
        return c.stroke(_arc((x0 + x1) / 2 + dx, y0 + 0.06 * h + dy, 0.25 * w, 0.5 * h, 180, 360, n=60), 0.055 * w)

    back_field = sh.gradient(cloth, (0, y0 - 0.5 * h), (0, y0), 0.8, 0.72)
    c.paint(strap(0.03 * w, -0.05 * h), sh.textured(back_field, tex, (c.sx, c.sy), 0.022))
    sag = [
        (x0, y0),
        (x0 + 0.5 * w, y0 + 0.012 * h),
        (x1, y0),
        (x1 + 0.02 * w, y1),
        (x0 + 0.5 * w, y1 + 0.01 * h),
        (x0 - 0.02 * w, y1),
    ]

    def folds(X: np.ndarray, Y: np.ndarray) -> np.ndarray:
        return (
            1.0
            - 0.06 * np.sin((X - x0) / w * 9.0 + 0.8) * sh.smoothstep(y0, y1, Y)
            - 0.05 * np.exp(-(((X - x0 - 0.7 * w) / (0.03 * w)) ** 2))
        )

    body_field = sh.textured(
        sh.multiply(sh.gradient(cloth, (x0, y0), (x1, y1), 0.98, 0.85), folds), tex, (c.sx, c.sy), 0.022
    )
    body = c.paint(c.poly(np.asarray(sag)), body_field)
    hem = c.poly([(x0 - 5, y0 - 5), (x1 + 5, y0 - 5), (x1 + 5, y0 + 0.04 * h), (x0 - 5, y0 + 0.04 * h)]) & body
    c.paint(hem, sh.textured(sh.gradient(cloth, (x0, y0), (x1, y0), 0.9, 0.8), tex, (c.sx, c.sy), 0.025))
    c.paint(
        strap(0.0, 0.0),
        sh.textured(sh.gradient(cloth, (0, y0 - 0.5 * h), (0, y0 + 0.1 * h), 1.0, 0.85), tex, (c.sx, c.sy), 0.022),
    )
    # The print: logo mark, wordmark, tagline (fabric texture shows through the ink).
    ink = sh.textured(sh.multiply(sh.flat(brand.ink), folds), tex, (c.sx, c.sy), 0.03)
    mx = x0 + 0.5 * w
    c.paint(
        mark(c, brand.mark, (mx, y0 + 0.32 * h), 0.22 * w, brand.name[:1]) & body,
        sh.textured(sh.multiply(sh.flat(brand.mark_ink or brand.ink), folds), tex, (c.sx, c.sy), 0.03),
        logo=True,
    )
    c.paint(
        c.text(brand.name, (mx, y0 + 0.58 * h), min(0.09 * h, 1.2 * w / len(brand.name)), font="triplex", weight=0.15)
        & body,
        ink,
        logo=True,
    )
    c.paint(c.text(brand.tagline, (mx, y0 + 0.7 * h), 0.03 * h, font="simplex", weight=0.14) & body, ink, logo=True)
