"""The named samples: one scene function per sample and the literal :data:`SAMPLE_SPECS` table.

Each scene sets the background, nudges the product by a small seeded jitter (a few design
pixels) and calls the recipes in :mod:`pipeline.samples.products`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from pipeline.samples import products as pr
from pipeline.samples import shading as sh
from pipeline.samples.canvas import Canvas
from pipeline.samples.products import Brand

Scene = Callable[[Canvas, np.random.Generator], None]

OFF_WHITE = (240.0, 238.0, 232.0)
WHITE = (255.0, 255.0, 255.0)


@dataclass(frozen=True)
class SampleSpec:
    """One named sample.

    design_wh: native (width, height) in pixels; the default output size.
    fmt: file format written by ``write_samples`` ("jpg" at quality 95, or "png").
    covers: the hard cases this sample exercises (for tests and the README).
    """

    category: str
    colour: str
    notes: str
    design_wh: tuple[int, int]
    fmt: str
    background: str
    covers: tuple[str, ...]
    scene: Scene


def _jitter(c: Canvas, rng: np.random.Generator, amount: float = 8.0) -> None:
    c.offset = (float(rng.uniform(-amount, amount)), float(rng.uniform(-amount / 2, amount / 2)))


def _grey_sweep(c: Canvas, horizon: float) -> None:
    c.set_background(sh.sweep((222, 223, 226), (242, 242, 241), horizon * c.dh, 0.12 * c.dh, c.dh, c.dw))


def scene_bottle_teal(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(OFF_WHITE)
    _jitter(c, rng)
    brand = Brand("AQUA", "HYDRATING SHAMPOO  250 ml", (14, 58, 68), "disc_triangle", (222, 118, 40))
    pr.draw_bottle(c, 350, 905, 790, 300, body=(22, 112, 122), cap=(48, 48, 54), label=(246, 241, 226), brand=brand)


def scene_box_white(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("PURE", "NATURAL SOAP  4 BARS", (34, 82, 160), "triangle")
    pr.draw_box(
        c,
        230,
        310,
        585,
        800,
        150,
        90,
        albedo=(253, 253, 251),
        tones=(0.975, 0.9, 0.995),
        edge=(214, 214, 212),
        brand=brand,
    )


def scene_mug_red(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background((252, 252, 251))
    _jitter(c, rng)
    brand = Brand("CAFE", "ROASTED DAILY SINCE 1998", (246, 243, 236), "ring_letter")
    pr.draw_mug(c, 400, 665, 420, 190, body=(178, 30, 36), inside=(238, 234, 228), brand=brand)


def scene_mug_white(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("MORNING", "GOOD THINGS TAKE TIME", (28, 28, 30), "leaf", (58, 128, 70))
    pr.draw_mug(c, 400, 665, 420, 190, body=(250, 249, 246), inside=(244, 242, 238), brand=brand, fill=0.8, gloss=0.25)


def scene_jar_gold(c: Canvas, rng: np.random.Generator) -> None:
    _grey_sweep(c, 0.58)
    _jitter(c, rng)
    brand = Brand("LUMA", "NIGHT REPAIR CREAM  50 ml", (122, 92, 42), "crescent")
    pr.draw_jar(c, 450, 610, 230, 215, 110, body=(248, 244, 238), lid=(204, 162, 82), brand=brand, fill=0.72)


def scene_tube_toothpaste(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("FRESH", "WHITENING TOOTHPASTE  75 ml", (20, 70, 160), "disc_triangle", (214, 40, 52))
    pr.draw_tube(c, 90, 900, 430, 52, body=(250, 250, 249), cap=(30, 92, 172), stripe=(214, 40, 52), brand=brand)


def scene_sneaker_navy(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("RUNR", "", (244, 244, 242), "crescent", (244, 244, 242))
    pr.draw_sneaker(
        c,
        110,
        545,
        780,
        upper=(38, 48, 88),
        sole=(252, 252, 250),
        lace=(246, 246, 244),
        accent=(188, 44, 44),
        brand=brand,
    )


def scene_tote_canvas(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background((245, 243, 238))
    _jitter(c, rng)
    brand = Brand("MARKET", "FRESH FROM THE FARM", (40, 40, 40), "leaf", (196, 82, 40))
    pr.draw_tote(c, 140, 440, 660, 930, cloth=(230, 218, 194), brand=brand, seed=int(rng.integers(1 << 31)))


def scene_pair_bottle_jar(c: Canvas, rng: np.random.Generator) -> None:
    _grey_sweep(c, 0.5)
    _jitter(c, rng, 6.0)
    bottle = Brand("VIOLA", "BODY LOTION  200 ml", (92, 48, 112), "ring_letter")
    pr.draw_bottle(c, 330, 700, 560, 200, body=(112, 62, 132), cap=(196, 196, 200), label=(250, 250, 250), brand=bottle)
    jar = Brand("VIOLA", "BODY BUTTER  100 ml", (92, 48, 112), "ring_letter")
    pr.draw_jar(c, 690, 712, 150, 140, 70, body=(250, 250, 250), lid=(112, 62, 132), brand=jar, fill=0.7)


def scene_box_kraft_cropped(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background((254, 254, 254))
    _jitter(c, rng)
    brand = Brand("ORGANIC", "WHOLE GRAIN OATS  1 kg", (36, 30, 24), "leaf", (40, 110, 60))
    pr.draw_box(
        c,
        250,
        230,
        1000,
        980,
        120,
        80,
        albedo=(200, 164, 118),
        tones=(0.97, 0.85, 1.0),
        edge=(150, 120, 86),
        brand=brand,
    )


def scene_pump_bottle_white(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(OFF_WHITE)
    _jitter(c, rng)
    brand = Brand("SOFT", "GENTLE HAND WASH  300 ml", (128, 108, 90), "leaf", (150, 170, 120))
    pr.draw_bottle(
        c,
        350,
        925,
        800,
        280,
        body=(252, 252, 250),
        cap=(236, 236, 236),
        label=(252, 252, 250),
        brand=brand,
        closure="pump",
        fill=0.8,
        gloss=0.3,
    )


def scene_mug_teal_glossy(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("TIDE", "BREWED BY THE SEA", (240, 246, 246), "crescent")
    pr.draw_mug(c, 400, 600, 400, 180, body=(22, 128, 150), inside=(236, 238, 238), brand=brand, gloss=0.5)
    c.reflect(600, strength=0.3, fade=90)


def scene_mug_yellow_rim(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("SUNNY", "GOOD MORNING", (30, 30, 32), "ring_letter")
    pr.draw_mug(c, 400, 690, 440, 200, body=(218, 190, 70), inside=(250, 250, 248), brand=brand,
                rim=(252, 252, 251), fill=0.75)


def scene_bottle_mirror_floor(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("NOIR", "EAU DE PARFUM  100 ml", (232, 206, 150), "ring_letter")
    pr.draw_bottle(c, 350, 560, 470, 170, body=(70, 40, 26), cap=(214, 182, 104), label=(40, 22, 14),
                   brand=brand, fill=0.55, gloss=0.5)
    c.reflect(560, strength=0.55, fade=240)


def scene_box_white_panel(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    brand = Brand("PURE", "HERBAL TEA  20 BAGS", (40, 70, 52), "leaf", (60, 120, 70))
    pr.draw_box(c, 220, 260, 600, 780, 150, 90, albedo=(74, 128, 92), tones=(0.98, 0.8, 1.0), edge=(48, 86, 60),
                brand=brand, panel=(254, 254, 253))


def scene_chair_see_through(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(WHITE)
    _jitter(c, rng)
    pr.draw_chair(c, 420, 900, 420, 820, colour=(236, 228, 214))


def scene_mug_wrinkled_cloth(c: Canvas, rng: np.random.Generator) -> None:
    c.set_background(sh.wrinkled_cloth((246, 245, 242), c.dw, c.dh, seed=int(rng.integers(1 << 31))))
    _jitter(c, rng)
    brand = Brand("TERRA", "STONEWARE", (246, 240, 228), "leaf")
    pr.draw_mug(c, 430, 620, 300, 230, body=(176, 92, 64), inside=(238, 232, 222), brand=brand, fill=0.6,
                gloss=0.2)


SAMPLE_SPECS: dict[str, SampleSpec] = {
    "bottle_teal": SampleSpec(
        "bottle",
        "teal",
        "shampoo bottle with a cream wrapped label, dark cap",
        (700, 1000),
        "png",
        "off-white 240,238,232",
        ("text", "logo", "off_white_background", "cylinder_shading", "floor_shadow"),
        scene_bottle_teal,
    ),
    "box_white": SampleSpec(
        "box",
        "white",
        "white carton on pure white: faces differ from the background by a few dE, grey fold lines",
        (900, 900),
        "jpg",
        "white 255",
        ("white_on_white", "text", "logo", "floor_shadow"),
        scene_box_white,
    ),
    "mug_red": SampleSpec(
        "mug",
        "red",
        "glossy red mug, handle hole shows the background, white print",
        (900, 800),
        "jpg",
        "white 252",
        ("hole", "text", "logo", "cylinder_shading", "floor_shadow"),
        scene_mug_red,
    ),
    "mug_white": SampleSpec(
        "mug",
        "white",
        "white ceramic mug on white, handle hole, black print",
        (900, 800),
        "png",
        "white 255",
        ("white_on_white", "hole", "text", "logo", "floor_shadow"),
        scene_mug_white,
    ),
    "jar_gold": SampleSpec(
        "jar",
        "cream and gold",
        "cosmetic jar with a ribbed gold lid on a grey paper sweep",
        (900, 760),
        "jpg",
        "light grey sweep, vertical gradient",
        ("grey_sweep_background", "text", "logo", "cylinder_shading"),
        scene_jar_gold,
    ),
    "tube_toothpaste": SampleSpec(
        "tube",
        "white and blue",
        "white toothpaste tube lying on white, blue cap, crimped end",
        (1000, 560),
        "jpg",
        "white 255",
        ("white_on_white", "text", "logo", "floor_shadow"),
        scene_tube_toothpaste,
    ),
    "sneaker_navy": SampleSpec(
        "shoe",
        "navy",
        "low-top sneaker, navy upper, white laces and white rubber sole on white",
        (1000, 640),
        "jpg",
        "white 255",
        ("white_on_white", "logo", "text", "floor_shadow"),
        scene_sneaker_navy,
    ),
    "tote_canvas": SampleSpec(
        "bag",
        "natural canvas",
        "canvas tote with two strap loops (holes), fabric texture and folds",
        (800, 1000),
        "jpg",
        "off-white 245,243,238",
        ("hole", "text", "logo", "texture", "off_white_background"),
        scene_tote_canvas,
    ),
    "pair_bottle_jar": SampleSpec(
        "bottle and jar",
        "purple and white",
        "two products in one photo: lotion bottle and body-butter jar",
        (1000, 800),
        "png",
        "light grey sweep, vertical gradient",
        ("two_products", "grey_sweep_background", "text", "logo"),
        scene_pair_bottle_jar,
    ),
    "box_kraft_cropped": SampleSpec(
        "box",
        "kraft brown",
        "large kraft carton cut by the right and bottom frame edges",
        (900, 900),
        "jpg",
        "white 254",
        ("touches_border", "text", "logo"),
        scene_box_kraft_cropped,
    ),
    "pump_bottle_white": SampleSpec(
        "bottle",
        "white",
        "white pump bottle on an off-white background (product brighter than the background)",
        (700, 1000),
        "jpg",
        "off-white 240,238,232",
        ("white_on_white", "off_white_background", "text", "logo"),
        scene_pump_bottle_white,
    ),
    "mug_teal_glossy": SampleSpec(
        "mug",
        "teal",
        "teal mug on a glossy white floor: its mirror image below the contact line is background",
        (900, 900),
        "jpg",
        "white 255, glossy floor",
        ("floor_reflection", "hole", "text", "logo", "floor_shadow"),
        scene_mug_teal_glossy,
    ),
    "mug_yellow_rim": SampleSpec(
        "mug",
        "yellow and white",
        "yellow mug with a white glazed rim and white inside on white: the rim and inside are product",
        (900, 840),
        "jpg",
        "white 255",
        ("white_rim", "hole", "text", "logo", "floor_shadow"),
        scene_mug_yellow_rim,
    ),
    "bottle_mirror_floor": SampleSpec(
        "bottle",
        "dark amber",
        "tall perfume bottle on a mirror floor: its crisp, dark mirror image below the base line is background",
        (700, 1000),
        "jpg",
        "white 255, mirror floor",
        ("floor_reflection", "text", "logo", "tall"),
        scene_bottle_mirror_floor,
    ),
    "box_white_panel": SampleSpec(
        "box",
        "green with a white panel",
        "green carton whose front carries a white label panel as light as the backdrop: product, not a hole",
        (900, 900),
        "jpg",
        "white 255",
        ("white_panel", "text", "logo", "floor_shadow"),
        scene_box_white_panel,
    ),
    "chair_see_through": SampleSpec(
        "chair",
        "off-white",
        "painted chair on white: the opening under the back rail and between the legs shows the backdrop",
        (840, 1000),
        "png",
        "white 255",
        ("see_through_gap", "hole", "floor_shadow"),
        scene_chair_see_through,
    ),
    "mug_wrinkled_cloth": SampleSpec(
        "mug",
        "terracotta",
        "terracotta mug on a wrinkled white cloth: folds and creases the product does not continue",
        (900, 900),
        "jpg",
        "white cloth with folds",
        ("textured_backdrop", "hole", "text", "logo"),
        scene_mug_wrinkled_cloth,
    ),
}
