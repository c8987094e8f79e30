from pathlib import Path

import pytest

from pipeline.config import PipelineConfig, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def test_default_yaml_is_exactly_the_defaults():
    assert load_config(CONFIGS / "default.yaml").config_hash() == PipelineConfig().config_hash()


def test_hash_changes_with_values():
    a = PipelineConfig()
    b = a.with_overrides({"scene.theme": "marble-counter"})
    assert a.config_hash() != b.config_hash()
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
