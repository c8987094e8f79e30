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
