import numpy as np

from pipeline.imaging import rgb_to_lab as to_lab
from pipeline.segment.shadows import peel_shadows, shadow_candidates, trim_shadow_fringe


def _scene(part: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lab, backdrop lab, mask) of a blue block on white with ``part`` under it."""
    rgb = np.full((200, 200, 3), 250, np.uint8)
    rgb[40:120, 50:150] = (30, 60, 160)
    if part == "shadow":  # soft, neutral, fading away from the block
        for i, y in enumerate(range(120, 170)):
            rgb[y, 45:155] = round(200 + 50 * i / 50)
    else:  # a flat light-grey sole with a crisp outline
        rgb[120:135, 50:150] = 228
    mask = np.zeros((200, 200), bool)
    if part == "shadow":
        mask[40:170, 45:155] = True
    else:
        mask[40:135, 50:150] = True
    lab = to_lab(rgb)
    return lab, np.broadcast_to(to_lab(np.full((1, 1, 3), 250, np.uint8)), lab.shape).copy(), mask


def _extra(lab: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grad = np.hypot(*np.gradient(lab[..., 0])).astype(np.float32)
    return grad, ~mask


def test_soft_shadow_under_the_product_is_peeled():
    lab, bg, mask = _scene("shadow")
    out = peel_shadows(lab, bg, mask, *_extra(lab, mask))
    assert not out[124:170].any()  # the shadow is gone
    assert out[40:120, 50:150].all()  # the product stays whole


def test_flat_white_part_with_an_outline_is_kept():
    lab, bg, mask = _scene("sole")
    assert shadow_candidates(lab, bg)[0][120:135, 50:150].all()  # it looks like a shadow by colour ...
    out = peel_shadows(lab, bg, mask, *_extra(lab, mask))
    assert out[120:135, 50:150].all()  # ... but is not one


def test_empty_and_full_masks_pass_through():
    lab, bg, _ = _scene("shadow")
    for mask in (np.zeros((200, 200), bool), np.ones((200, 200), bool)):
        np.testing.assert_array_equal(peel_shadows(lab, bg, mask, *_extra(lab, mask)), mask)


def test_thin_contact_shadow_strip_is_trimmed_and_the_product_kept():
    rgb = np.full((120, 120, 3), 250, np.uint8)
    rgb[30:80, 30:90] = (30, 60, 160)
    rgb[80:83, 30:90] = 200  # a 3 px grey contact shadow under the block
    mask = np.zeros((120, 120), bool)
    mask[30:83, 30:90] = True
    lab = to_lab(rgb)
    bg = np.broadcast_to(to_lab(np.full((1, 1, 3), 250, np.uint8)), lab.shape).copy()
    out = trim_shadow_fringe(lab, bg, mask)
    assert not out[80:83].any()
    assert out[30:80, 30:90].all()


def test_shadow_tinted_by_the_product_is_peeled():
    """A pink block casts a short shadow that picks up its pink: too tinted for a plain shadow, but
    its chroma moves only part of the way towards the block's."""
    rgb = np.full((200, 200, 3), 250, np.uint8)
    pink = np.array([235, 60, 110], np.float32)
    rgb[40:120, 50:150] = pink.astype(np.uint8)
    for i, y in enumerate(range(120, 165)):
        grey = 220 + 30 * i / 45
        tint = 0.2 * (1 - i / 45)
        rgb[y, 45:155] = np.round((1 - tint) * grey + tint * pink * grey / 250).astype(np.uint8)
    mask = np.zeros((200, 200), bool)
    mask[40:165, 45:155] = True
    lab = to_lab(rgb)
    bg = np.broadcast_to(to_lab(np.full((1, 1, 3), 250, np.uint8)), lab.shape).copy()
    assert not shadow_candidates(lab, bg)[0][122:126, 50:150].any()  # too pink for a plain shadow
    out = peel_shadows(lab, bg, mask, *_extra(lab, mask))
    assert out[124:165].mean() < 0.05  # the tinted shadow is gone (but for its ends)
    assert out[40:120, 50:150].all()  # the block stays whole
