"""Tests for the synthetic sample generator (pipeline.samples)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.samples import SAMPLE_SPECS, Sample, render_sample, shapes, write_samples

NAMES = sorted(SAMPLE_SPECS)
REQUIRED_COVERS = {
    "text",
    "logo",
    "white_on_white",
    "hole",
    "floor_shadow",
    "off_white_background",
    "grey_sweep_background",
    "two_products",
    "touches_border",
    "cylinder_shading",
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, Sample]:
    return {name: render_sample(name) for name in NAMES}


def _border(img: np.ndarray) -> np.ndarray:
    return np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]], axis=0)


def _mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


# ---- the catalogue -----------------------------------------------------------------------------
def test_catalogue_size_and_coverage():
    assert 10 <= len(SAMPLE_SPECS) <= 20
    covered = set().union(*(spec.covers for spec in SAMPLE_SPECS.values()))
    assert REQUIRED_COVERS <= covered, REQUIRED_COVERS - covered
    categories = {spec.category for spec in SAMPLE_SPECS.values()}
    assert {"bottle", "box", "mug", "jar", "tube", "shoe"} <= categories
    for name, spec in SAMPLE_SPECS.items():
        assert spec.fmt in ("jpg", "png"), name
        assert 640 <= max(spec.design_wh) <= 1000, name
    assert any(s.fmt == "png" for s in SAMPLE_SPECS.values()) and any(s.fmt == "jpg" for s in SAMPLE_SPECS.values())


# ---- rendered arrays ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_shapes_dtypes_and_ground_truth(rendered, name):
    s = rendered[name]
    w, h = SAMPLE_SPECS[name].design_wh
    assert s.name == name
    assert s.rgb.shape == (h, w, 3) and s.rgb.dtype == np.uint8
    assert s.alpha.shape == (h, w) and s.alpha.dtype == np.float32
    assert s.mask.shape == (h, w) and s.mask.dtype == bool
    assert float(s.alpha.min()) >= 0.0 and float(s.alpha.max()) <= 1.0
    np.testing.assert_array_equal(s.mask, s.alpha >= 0.5)
    # Exact 4x4 supersampled coverage: multiples of 1/16, with anti-aliased edge pixels.
    np.testing.assert_array_equal(s.alpha * 16, np.round(s.alpha * 16))
    assert ((s.alpha > 0) & (s.alpha < 1)).sum() > 100
    assert 0.05 < s.mask.mean() < 0.9
    assert {"category", "colour", "notes"} <= set(s.meta)


@pytest.mark.parametrize("name", NAMES)
def test_logo_boxes_inside_product_and_image(rendered, name):
    s = rendered[name]
    h, w = s.mask.shape
    mx0, my0, mx1, my1 = _mask_bbox(s.mask)
    if {"text", "logo"} & set(SAMPLE_SPECS[name].covers):
        assert len(s.logo_boxes) >= 2
    for box in s.logo_boxes:
        assert all(isinstance(v, int) for v in box)
        x0, y0, x1, y1 = box
        assert 0 <= x0 < x1 <= w and 0 <= y0 < y1 <= h, box
        assert mx0 <= x0 and my0 <= y0 and x1 <= mx1 and y1 <= my1, (box, (mx0, my0, mx1, my1))
        assert s.mask[y0:y1, x0:x1].mean() > 0.9  # printed on the product, not on the background


@pytest.mark.parametrize("name", NAMES)
def test_covered_hard_cases_are_really_there(rendered, name):
    s = rendered[name]
    covers = set(SAMPLE_SPECS[name].covers)
    n_products = cv2.connectedComponents(s.mask.astype(np.uint8), connectivity=8)[0] - 1
    n_background = cv2.connectedComponents((~s.mask).astype(np.uint8), connectivity=4)[0] - 1
    touches = bool(_border(s.mask).any())
    assert touches == ("touches_border" in covers)
    assert n_products == (2 if "two_products" in covers else 1)
    if "hole" in covers:
        assert n_background >= 2  # a hole through the product shows the background
    bg = np.median(_border(s.rgb[..., :].astype(np.float32)).reshape(-1, 3)[~_border(s.mask)], axis=0)
    diff = np.abs(s.rgb.astype(np.float32) - bg).max(axis=2)
    if "white_on_white" in covers:
        # Some product pixels differ from the background by only a few levels.
        assert (diff[s.mask] < 8).mean() > 0.01
    if "floor_shadow" in covers:
        # Shadow pixels are visibly darker than the background yet are background.
        lum, bg_lum = s.rgb.astype(np.float32).mean(axis=2), float(bg.mean())
        assert ((lum < bg_lum - 15) & ~s.mask & (s.alpha == 0)).sum() > 500
    if "white_rim" in covers:
        # A thin white part (rim) sits right against the white background.
        assert (diff[s.mask] < 8).mean() > 0.002
    if "floor_reflection" in covers:
        # Below the product a tinted mirror image lies on the floor, and it is background.
        below = np.arange(s.mask.shape[0])[:, None] > np.nonzero(s.mask)[0].max()
        tint = s.rgb.max(axis=2).astype(np.int16) - s.rgb.min(axis=2)
        assert (below & (tint > 15)).sum() > 500
    if "off_white_background" in covers:
        assert bg.max() - bg.min() >= 3 and bg.min() < 248
    if "see_through_gap" in covers:
        # A large background region inside the product's outline, closed off from the frame.
        n, labels, stats, _ = cv2.connectedComponentsWithStats((~s.mask).astype(np.uint8), connectivity=4)
        x0, y0, x1, y1 = _mask_bbox(s.mask)
        inner = [i for i in range(1, n) if not _border(labels == i).any()]
        assert max(stats[i, cv2.CC_STAT_AREA] for i in inner) > 0.05 * (x1 - x0) * (y1 - y0)
    if "white_panel" in covers:
        # A product part as light as the backdrop, wholly inside the product.
        panel = s.mask & (diff < 8)
        n, labels, stats, _ = cv2.connectedComponentsWithStats(panel.astype(np.uint8), connectivity=8)
        edge = s.mask & ~cv2.erode(s.mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
        inside = [i for i in range(1, n) if not (edge & (labels == i)).any()]
        assert max(stats[i, cv2.CC_STAT_AREA] for i in inside) > 0.1 * s.mask.sum()
    if "textured_backdrop" in covers:
        # Folds: the backdrop varies by more than sensor noise over tens of pixels.
        lum = cv2.GaussianBlur(s.rgb.astype(np.float32).mean(axis=2), (0, 0), 4)
        assert np.std(lum[~s.mask]) > 3
    if "tall" in covers:
        x0, y0, x1, y1 = _mask_bbox(s.mask)
        assert y1 - y0 >= 2.5 * (x1 - x0)
    if "grey_sweep_background" in covers:
        col = s.rgb[:, 2].astype(np.float32).mean(axis=1)
        assert col[-5:].mean() - col[:5].mean() > 8  # lighter at the floor than at the top


def test_deterministic_for_a_seed():
    a = render_sample("mug_red", seed=3, size=(160, 200))
    b = render_sample("mug_red", seed=3, size=(160, 200))
    for field in ("rgb", "alpha", "mask"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert a.logo_boxes == b.logo_boxes and a.meta == b.meta
    c = render_sample("mug_red", seed=4, size=(160, 200))
    assert not np.array_equal(a.rgb, c.rgb)


def test_custom_size_keeps_ground_truth_exact():
    s = render_sample("sneaker_navy", size=(123, 321))
    assert s.rgb.shape == (123, 321, 3) and s.mask.shape == (123, 321)
    np.testing.assert_array_equal(s.mask, s.alpha >= 0.5)
    for x0, y0, x1, y1 in s.logo_boxes:
        assert 0 <= x0 < x1 <= 321 and 0 <= y0 < y1 <= 123


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError) as err:
        render_sample("no_such_product")
    msg = str(err.value)
    assert "no_such_product" in msg and all(name in msg for name in NAMES)


@pytest.mark.parametrize("size", [(10, 10), (100,), (100.0, 100), (5000, 100), "100x100"])
def test_bad_size_raises(size):
    with pytest.raises(ValueError, match="size"):
        render_sample("mug_red", size=size)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_bad_seed_raises(seed):
    with pytest.raises(ValueError, match="seed"):
        render_sample("mug_red", seed=seed)


# ---- writing -------------------------------------------------------------------------------------
def test_write_samples_files_sidecar_and_ground_truth(tmp_path, rendered):
    names = ["mug_white", "box_white"]  # one png, one jpg
    paths = write_samples(tmp_path, names=names, seed=0)
    assert [p.name for p in paths] == ["mug_white.png", "box_white.jpg"]
    for name, path in zip(names, paths):
        s = rendered[name]
        img = cv2.cvtColor(cv2.imread(str(path), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        assert img.shape == s.rgb.shape
        if path.suffix == ".png":
            np.testing.assert_array_equal(img, s.rgb)
        else:  # JPEG quality 95: close, not exact
            assert np.abs(img.astype(int) - s.rgb.astype(int)).mean() < 2.0
        side = json.loads((tmp_path / f"{name}.json").read_text())
        assert set(side) == {"category", "colour", "logo_boxes"}
        assert side["category"] == SAMPLE_SPECS[name].category
        assert [tuple(b) for b in side["logo_boxes"]] == list(s.logo_boxes)
        gt = cv2.imread(str(tmp_path / "_ground_truth" / f"{name}_mask.png"), cv2.IMREAD_UNCHANGED)
        assert gt.dtype == np.uint8 and gt.ndim == 2 and set(np.unique(gt)) <= {0, 255}
        np.testing.assert_array_equal(gt == 255, s.mask)
    leftovers = [p for p in tmp_path.rglob("*") if p.name.endswith(".part")]
    assert leftovers == []
    # Same seed, same bytes (rewriting replaces the files in place).
    first = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert len(first) == 4 * len(names)  # photo, sidecar, mask, alpha
    write_samples(tmp_path, names=["box_white"], seed=0)
    assert {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()} == first


def test_write_samples_unknown_name_writes_nothing(tmp_path):
    with pytest.raises(ValueError, match="valid names"):
        write_samples(tmp_path / "out", names=["mug_red", "nope"])
    assert not (tmp_path / "out").exists()
    with pytest.raises(TypeError, match="names"):
        write_samples(tmp_path / "out", names="mug_red")


# ---- drawing primitives ----------------------------------------------------------------------------
def test_polygon_coverage_is_exact():
    sq = shapes.polygon([(10, 10), (20, 10), (20, 20), (10, 20)])
    assert sq.coverage().sum() == pytest.approx(100.0)
    half = shapes.polygon([(10.5, 10), (20.5, 10), (20.5, 20), (10.5, 20)])
    cov = half.coverage()
    assert cov.sum() == pytest.approx(100.0)
    assert sorted(np.unique(cov).tolist()) == [0.0, 0.5, 1.0]
    assert half.bbox() == (10, 10, 21, 20)


def test_ellipse_area_and_boolean_ops():
    disc = shapes.ellipse((50, 50), (30, 20))
    assert disc.coverage().sum() == pytest.approx(np.pi * 30 * 20, rel=0.01)
    ring = disc - shapes.ellipse((50, 50), (15, 10))
    assert ring.coverage().sum() == pytest.approx(np.pi * (600 - 150), rel=0.02)
    both = disc | shapes.polygon([(0, 0), (5, 0), (5, 5), (0, 5)])
    assert both.coverage().sum() == pytest.approx(disc.coverage().sum() + 25, rel=1e-6)
    assert (disc & shapes.polygon([(200, 200), (210, 200), (210, 210)])).is_empty()


def test_text_shape_and_bad_arguments():
    t = shapes.text("LOGO", (100, 50), 20)
    x0, y0, x1, y1 = t.bbox()
    assert 15 <= y1 - y0 <= 25 and x1 - x0 > 40
    assert abs((x0 + x1) / 2 - 100) <= 2 and abs((y0 + y1) / 2 - 50) <= 2
    with pytest.raises(ValueError, match="font"):
        shapes.text("A", (0, 0), 10, font="comic")
    with pytest.raises(ValueError, match="at least 3"):
        shapes.polygon([(0, 0), (1, 1)])
    with pytest.raises(ValueError, match="width"):
        shapes.stroke([(0, 0), (1, 1)], 0)
