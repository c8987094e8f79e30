from pathlib import Path

import pytest

from pipeline.config import PipelineConfig, load_config
from pipeline.models.fingerprints import config_hash

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def test_default_yaml_is_exactly_the_defaults():
    assert config_hash(load_config(CONFIGS / "default.yaml")) == config_hash(PipelineConfig())


def test_hash_changes_with_values():
    a = PipelineConfig()
    b = a.with_overrides({"scene.theme": "marble-counter"})
    assert config_hash(a) != config_hash(b)
    assert b.scene.theme == "marble-counter"


def test_unknown_keys_are_errors(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("scene:\n  themee: x\n")
    with pytest.raises(ValueError, match="themee"):
        load_config(p)


def test_out_of_range_values_name_the_field(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("placement:\n  product_scale: 7\n")
    with pytest.raises(ValueError, match="product_scale"):
        load_config(p)


def test_extends_merges_and_detects_loops(tmp_path):
    (tmp_path / "base.yaml").write_text("scene:\n  theme: oak-table\nrun:\n  seed: 4\n")
    (tmp_path / "child.yaml").write_text("extends: base.yaml\nrun:\n  seed: 9\n")
    c = load_config(tmp_path / "child.yaml")
    assert (c.scene.theme, c.run.seed) == ("oak-table", 9)
    (tmp_path / "loop.yaml").write_text("extends: loop.yaml\n")
    with pytest.raises(ValueError, match="loop"):
        load_config(tmp_path / "loop.yaml")


def test_missing_file():
    with pytest.raises(ValueError, match="not found"):
        load_config("/nonexistent/x.yaml")


def test_unknown_key_suggests_the_nearest_valid_name(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("placement:\n  longside: 512\nscnee:\n  theme: x\n")
    with pytest.raises(ValueError) as exc:
        load_config(p)
    assert "placement.longside: unknown key; did you mean 'long_side'?" in str(exc.value)
    assert "scnee: unknown key; did you mean 'scene'?" in str(exc.value)


def test_hash_covers_themes_file_contents_weights_and_package_version(tmp_path, monkeypatch):
    """Editing a theme, swapping the weights behind a path or upgrading the package makes a new hash."""
    import pipeline

    themes = tmp_path / "themes.yaml"
    themes.write_text('shop-grey:\n  surface: sweep\n  colors: ["#c8c8c8", "#b4b4b4"]\n')
    weights = tmp_path / "sam.safetensors"
    weights.write_bytes(b"weights v1")
    config = PipelineConfig().with_overrides({"scene.themes_file": str(themes),
                                              "segment.sam_checkpoint": str(weights)})
    before = config_hash(config)
    themes.write_text('shop-grey:\n  surface: sweep\n  colors: ["#b4b4b4", "#b4b4b4"]\n')
    after_theme = config_hash(config)
    weights.write_bytes(b"weights v2")
    after_weights = config_hash(config)
    monkeypatch.setattr(pipeline, "__version__", "99.0")
    after_version = config_hash(config)
    assert len({before, after_theme, after_weights, after_version}) == 4
    assert config_hash(config) == after_version  # stable while nothing changes


def test_output_format_is_validated():
    with pytest.raises(ValueError, match="format"):
        PipelineConfig().with_overrides({"output.format": "gif"})


def test_backends_section_is_typed(tmp_path):
    """Issue 17 bug 3: a typo under backends: was accepted (a plain dict) and the run exited 0."""
    p = tmp_path / "c.yaml"
    p.write_text("backends:\n  difusion: {}\n")
    with pytest.raises(ValueError, match=r"backends\.difusion: unknown key; did you mean 'diffusion'\?"):
        load_config(p)
    p.write_text("extends: sd15.yaml\nbackends:\n  diffusion:\n    stepz: 3\n    accel: {compile: fast}\n")
    with pytest.raises(ValueError) as exc:
        load_config(p)
    assert "backends.diffusion.stepz: unknown key; did you mean 'steps'?" in str(exc.value)
    assert "backends.diffusion.accel.compile: 'fast' is not one of off, regional, full" in str(exc.value)
    sd15 = load_config(CONFIGS / "sd15.yaml")
    assert type(sd15.backends.diffusion).__name__ == "DiffusionConfig" and sd15.backends.diffusion.family == "sd15"
    assert PipelineConfig().model_dump()["backends"] == {}  # no section: nothing in the dump or the hash


def test_shipped_presets_load_by_name_and_as_extends_targets(tmp_path):
    assert load_config("sdxl") == load_config(CONFIGS / "sdxl.yaml")
    assert load_config("default.yaml") == PipelineConfig()
    child = tmp_path / "mine.yaml"
    child.write_text("extends: fast.yaml\nrun:\n  seed: 3\n")  # not beside it: the shipped one
    config = load_config(child)
    assert config.run.seed == 3 and config.backends.diffusion.accel.compile == "regional"
    assert load_config(overrides={"run.seed": 5}).run.seed == 5


def test_yaml_errors_name_the_file_and_line(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("scene:\n  theme: [oak\n")
    with pytest.raises(ValueError, match=r"config .*c\.yaml is not valid YAML: .* at line 3, column 1"):
        load_config(p)
    p.write_text("- a list\n")
    with pytest.raises(ValueError, match="must be a mapping"):
        load_config(p)


def test_a_bad_prompt_template_is_a_theme_error(tmp_path):
    themes = tmp_path / "themes.yaml"
    themes.write_text('odd:\n  surface: wood\n  colors: ["#101010", "#202020"]\n  prompt: "a {0} thing"\n')
    with pytest.raises(ValueError, match=r"theme 'odd': prompt: not a prompt template"):
        PipelineConfig().with_overrides({"scene.themes_file": str(themes), "scene.theme": "odd"})
