import cv2
import numpy as np
import pytest

from pipeline.config import RestoreConfig
from pipeline.place import find_logo_regions, parse_sidecar, read_sidecar_boxes
from pipeline.restore import restore_product
from pipeline.restore.paste import alpha_paste, restore_logos
from pipeline.types import SceneResult
from tests.needs import reference


def _logo_ssim(a, b, box):
    x0, y0, x1, y1 = box
    ga = cv2.cvtColor(a[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(b[y0:y1, x0:x1], cv2.COLOR_RGB2GRAY)
    return reference("skimage.metrics").structural_similarity(ga, gb, data_range=255)


def test_exact_paste_copies_product_pixels(placed_bottle):
    scene = np.full(placed_bottle.rgb.shape, 30, np.uint8)
    out = restore_product(SceneResult(image=scene, backend="studio"), placed_bottle, RestoreConfig())
    full = placed_bottle.alpha >= 1.0
    np.testing.assert_array_equal(out[full], placed_bottle.rgb[full])
    np.testing.assert_array_equal(out[placed_bottle.alpha == 0], scene[placed_bottle.alpha == 0])


def test_alpha_paste_blends_edges():
    prod = np.full((4, 4, 3), 200, np.uint8)
    scene = np.zeros((4, 4, 3), np.uint8)
    alpha = np.full((4, 4), 0.5, np.float32)
    assert alpha_paste(prod, alpha, scene)[0, 0, 0] == 100


@pytest.mark.parametrize("damage", ["cast", "blur", "warp"])
def test_harmonised_restore_repairs_logos(placed_bottle, damage):
    scene = np.full(placed_bottle.rgb.shape, 90, np.uint8)
    clean = alpha_paste(placed_bottle.rgb, placed_bottle.alpha, scene)
    altered = clean.astype(np.float32)
    m = placed_bottle.mask
    if damage == "cast":
        altered[m] = altered[m] * (0.8, 0.95, 1.15) + 10
    elif damage == "blur":
        altered[m] = cv2.GaussianBlur(clean, (0, 0), 2.5).astype(np.float32)[m]
    else:
        shift = np.float32([[1, 0, 2.5], [0, 1, 1.5]])
        warped = cv2.warpAffine(clean, shift, clean.shape[1::-1], borderMode=cv2.BORDER_REFLECT)
        altered[m] = warped.astype(np.float32)[m]
    altered = np.clip(altered, 0, 255).astype(np.uint8)
    box = placed_bottle.logo_boxes[0]
    before = _logo_ssim(altered, clean, box)
    fixed = restore_product(SceneResult(image=altered, backend="diffusion", product_altered=True),
                            placed_bottle, RestoreConfig(mode="harmonised"))
    after = _logo_ssim(fixed, clean, box)
    assert after > 0.92
    if damage != "cast":  # grey-level SSIM barely sees a colour cast
        assert after > before + 0.1


def test_auto_logo_regions_find_the_label_text(bottle):
    rgb, gt = bottle
    boxes = find_logo_regions(rgb, gt, max_regions=4)
    assert boxes
    # The "AQUA" text sits around y 100..130 in the 240 px bottle image.
    assert any(b[1] <= 112 <= b[3] for b in boxes)


def test_plain_product_has_no_logo_regions():
    rgb = np.full((200, 200, 3), 255, np.uint8)
    mask = np.zeros((200, 200), bool)
    mask[40:160, 60:140] = True
    rgb[mask] = (120, 40, 40)
    assert find_logo_regions(rgb, mask) == ()


def test_sidecar_boxes_parsed_clipped_and_validated():
    assert read_sidecar_boxes(None, (100, 100)) is None
    assert read_sidecar_boxes({"category": "mug"}, (100, 100)) is None
    assert read_sidecar_boxes({"logo_boxes": [[10, 10, 200, 50]]}, (100, 100)) == ((10, 10, 100, 50),)
    with pytest.raises(ValueError, match=r"logo_boxes\[0\]"):
        read_sidecar_boxes({"logo_boxes": [[1, 2, 3]]}, (100, 100))
    with pytest.raises(ValueError, match="not valid JSON"):
        parse_sidecar(b"{nope", "x.json")


def test_restore_logos_leaves_background_alone(placed_bottle):
    frame = np.full(placed_bottle.rgb.shape, 77, np.uint8)
    out = restore_logos(frame, placed_bottle, 2.0)
    backdrop = placed_bottle.alpha == 0
    np.testing.assert_array_equal(out[backdrop], frame[backdrop])
    assert not np.array_equal(out, frame)  # the logo was rebuilt


def _box_zone(placed, grow):
    x0, y0, x1, y1 = placed.logo_boxes[0]
    zone = np.zeros(placed.mask.shape, bool)
    zone[max(0, y0 - grow) : y1 + grow, max(0, x0 - grow) : x1 + grow] = True
    return zone


def test_relit_repaint_gives_the_logo_its_light(placed_bottle):
    """A repaint that is the product under 12% less light: the rebuilt logo takes that light
    (within rounding) and keeps the original's detail."""
    dim = np.clip(placed_bottle.rgb.astype(np.float32) * 0.88 + 0.5, 0, 255).astype(np.uint8)
    relit = alpha_paste(dim, placed_bottle.alpha, np.full_like(dim, 90))
    frame = cv2.GaussianBlur(relit, (0, 0), 1.5)
    out = restore_logos(frame, placed_bottle, 8.0)
    inner = _box_zone(placed_bottle, 0) & (cv2.erode(placed_bottle.mask.view(np.uint8), np.ones((25, 25))) > 0)
    ratio = out[inner].astype(np.float32).mean() / placed_bottle.rgb[inner].astype(np.float32).mean()
    assert 0.86 < ratio < 0.90
    box = placed_bottle.logo_boxes[0]
    assert _logo_ssim(frame, relit, box) < 0.9  # the blur of the repaint
    assert _logo_ssim(out, relit, box) > 0.97  # sharp again, under the repaint's light


def test_noise_repaint_keeps_the_original_light(placed_bottle):
    """A repaint that is colour noise (random weights) does not drag the logo with it: the box comes
    back as the original, and the zone reaches CONTEXT_PX past the box."""
    from pipeline.restore.logos import CONTEXT_PX, SEAM_PX

    rng = np.random.default_rng(0)
    blotches = cv2.resize(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), placed_bottle.rgb.shape[1::-1],
                          interpolation=cv2.INTER_CUBIC)
    out = restore_logos(blotches, placed_bottle, 8.0)
    inner = _box_zone(placed_bottle, CONTEXT_PX) & (placed_bottle.alpha >= 1.0)
    assert np.abs(out[inner].astype(int) - placed_bottle.rgb[inner]).max() <= 2
    far = ~_box_zone(placed_bottle, CONTEXT_PX + SEAM_PX)
    np.testing.assert_array_equal(out[far], blotches[far])  # nothing changes past the seam


def test_a_dense_printed_label_is_found():
    """mug_red's label (logo, text line, small print) merges with the mug's own edges into one
    large sparse blob; the dense-window pass still finds the text boxes of the sidecar."""
    from pipeline.samples import render_sample

    s = render_sample("mug_red")
    found = find_logo_regions(s.rgb, s.mask)
    canvas = np.zeros(s.mask.shape, bool)
    for x0, y0, x1, y1 in found:
        canvas[y0:y1, x0:x1] = True
    covered = [canvas[y0:y1, x0:x1].mean() >= 0.5 for x0, y0, x1, y1 in s.logo_boxes]
    assert sum(covered) >= 2, (found, s.logo_boxes)
