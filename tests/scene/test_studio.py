import numpy as np
import pytest

from pipeline.config import ControlConfig, GateConfig, PipelineConfig, SceneConfig, ShadowConfig
from pipeline.control.depth import PseudoDepth
from pipeline.control.maps import build_control_maps
from pipeline.scene import build_scene_backend
from pipeline.scene.studio.backend import StudioBackend, tint_backdrop
from pipeline.scene.studio.surfaces import SURFACES
from pipeline.config.themes import Theme, fill_prompt, get_theme, load_themes


@pytest.fixture(scope="module")
def control(placed_bottle):
    return build_control_maps(placed_bottle, PseudoDepth(), ControlConfig())


@pytest.mark.parametrize("theme_name", sorted(load_themes()))
def test_every_theme_renders(theme_name, placed_bottle, control):
    theme = get_theme(theme_name)
    result = StudioBackend()(placed_bottle, control, theme, seed=3, item_meta={})
    h, w = placed_bottle.placement.out_hw
    assert result.image.shape == (h, w, 3) and result.image.dtype == np.uint8
    assert result.backend == "studio" and not result.product_altered
    assert result.image.std() > 1.0  # not a flat fill


@pytest.mark.parametrize("name", sorted(SURFACES))
@pytest.mark.parametrize("hw,horizon", [((64, 96), 40), ((300, 200), 180), ((512, 512), 317)])
def test_surfaces_are_finite(name, hw, horizon):
    img = SURFACES[name](hw[0], hw[1], [(200, 190, 180), (120, 110, 100), (60, 50, 40)], horizon,
                         np.random.default_rng(0))
    assert img.shape == (*hw, 3) and np.isfinite(img).all()


def test_every_surface_has_a_theme():
    used = {t.surface for t in load_themes().values()}
    assert used == set(SURFACES)


def test_same_seed_same_image_different_seed_different(placed_bottle, control):
    theme = get_theme("marble-counter")
    per_item = SceneConfig(backdrop_per_item=True)
    a = StudioBackend(per_item)(placed_bottle, control, theme, seed=1, item_meta={}).image
    b = StudioBackend(per_item)(placed_bottle, control, theme, seed=1, item_meta={}).image
    c = StudioBackend(per_item)(placed_bottle, control, theme, seed=2, item_meta={}).image
    np.testing.assert_array_equal(a, b)
    assert np.abs(a.astype(int) - c.astype(int)).mean() > 0.5


def test_batch_shares_one_backdrop_by_default(placed_bottle, control):
    theme = get_theme("oak-table")
    backend = StudioBackend(batch_seed=5)
    a = backend(placed_bottle, control, theme, seed=1, item_meta={})
    b = backend(placed_bottle, control, theme, seed=2, item_meta={})
    np.testing.assert_array_equal(a.image, b.image)
    assert a.info["backdrop_seed"] == 5


def test_shadows_darken_the_floor_near_the_product(placed_bottle, control):
    theme = Theme(name="flat", surface="sweep", colors=("#e0e0e0", "#e0e0e0"))
    lit = StudioBackend(SceneConfig(shadow=ShadowConfig(contact_strength=0, cast_strength=0)))
    shaded = StudioBackend()
    a = lit(placed_bottle, control, theme, seed=0, item_meta={}).image.astype(int)
    b = shaded(placed_bottle, control, theme, seed=0, item_meta={}).image.astype(int)
    ys, xs = np.nonzero(placed_bottle.mask)
    below = (slice(ys.max() + 1, ys.max() + 4), slice(xs.min(), xs.max()))
    assert (a[below] - b[below]).mean() > 5


def test_contact_shadow_sits_under_a_thin_lowest_part():
    # A product hanging from a 1-px cable (a shoe floating by its lace): at the 1/4 resolution the
    # shadows are drawn at, the cable averages under alpha 0.5, but the floor under its tip must
    # still darken, or the scene check reads a floating product (ven_adidas_running_shoe).
    from pipeline.scene.studio.backend import shadow_map
    from pipeline.score.scene_checks import scene_signals
    from pipeline.types import Placement, PlacedProduct

    h = w = 512
    alpha = np.zeros((h, w), np.float32)
    alpha[120:300, 150:360] = 1.0  # the body, floating
    alpha[300:420, 250:251] = 1.0  # the cable down to the floor (1 px: 0.25 at 1/4)
    placement = Placement(matrix=np.eye(2, 3), out_hw=(h, w), box_xyxy=(150, 120, 360, 420), horizon_y=300)
    placed = PlacedProduct(rgb=np.zeros((h, w, 3), np.uint8), alpha=alpha, mask=alpha >= 0.5,
                           placement=placement, logo_boxes=())
    darken = shadow_map(placed, ShadowConfig())
    assert darken[421:428, 246:258].min() < 0.8  # the floor just under the tip is shaded
    plate = (np.full((h, w, 3), 220.0) * darken[..., None]).astype(np.uint8)
    contact = scene_signals(plate, placed.mask, placement.horizon_y).contact
    assert contact is not None and contact > GateConfig().scene_contact_min


def test_reflection_option_changes_floor(placed_bottle, control):
    theme = get_theme("studio-grey")
    off = StudioBackend()(placed_bottle, control, theme, seed=0, item_meta={}).image
    on = StudioBackend(SceneConfig(shadow=ShadowConfig(reflection=True)))(
        placed_bottle, control, theme, seed=0, item_meta={}).image
    assert np.abs(on.astype(int) - off.astype(int)).sum() > 0


def test_backdrop_tint_moves_backdrop_never_product(placed_bottle):
    backdrop = np.full(placed_bottle.rgb.shape, 240.0, np.float32)
    out = tint_backdrop(backdrop, placed_bottle.rgb, placed_bottle.alpha, 1.0)
    assert out.shape == backdrop.shape
    # The bottle is blue: the backdrop takes a blue tint (b channel < r channel).
    assert out[..., 2].mean() > out[..., 0].mean()


def test_generate_returns_the_one_studio_scene(placed_bottle, control):
    theme = get_theme("studio-grey")
    backend = StudioBackend()
    scenes = backend.generate(placed_bottle, control, theme, seed=3, item_meta={})
    assert len(scenes) == 1 and scenes[0].backend == "studio" and not scenes[0].product_altered
    np.testing.assert_array_equal(scenes[0].image, backend(placed_bottle, control, theme, seed=3, item_meta={}).image)


def test_backdrop_tint_reads_the_old_harmonise_key(caplog):
    """`scene.harmonise` (the studio tint's old name) still loads, with a warning; both names: an error."""
    assert SceneConfig.model_validate({"harmonise": 0.2}).backdrop_tint == 0.2
    assert "scene.harmonise is now scene.backdrop_tint" in caplog.text
    with pytest.raises(ValueError, match="renamed to 'backdrop_tint'"):
        SceneConfig.model_validate({"harmonise": 0.2, "backdrop_tint": 0.3})


def test_unknown_theme_and_backend_list_valid_names():
    with pytest.raises(ValueError, match="paper-white"):
        get_theme("no-such-theme")
    with pytest.raises(ValueError, match="studio"):
        build_scene_backend(PipelineConfig(scene=SceneConfig.model_construct(backend="nope")))


def test_prompt_placeholders():
    text = fill_prompt("a {colour} {category} on marble", {"category": "mug", "colour": "blue"}, {})
    assert text == "a blue mug on marble"
    assert fill_prompt("a {colour} {category}", {}, {"category": "bottle"}) == "a bottle"
