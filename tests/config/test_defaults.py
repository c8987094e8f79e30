"""configs/default.yaml lists every setting with its default (issue 17 bug 5)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from pipeline.config import PipelineConfig
from pipeline.config.bundled import bundled_file
from pipeline.config.defaults import default_yaml, main

DEFAULT_YAML = Path(__file__).resolve().parents[2] / "configs" / "default.yaml"


def _flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict) and node:
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def _settings() -> dict[str, Any]:
    """Every setting of the models with its default (JSON form), the unset backend sections as None."""
    values = PipelineConfig().model_dump(mode="json")
    values["backends"] = {name: None for name in PipelineConfig.model_fields["backends"].annotation.model_fields}
    return _flatten(values)


def test_default_yaml_lists_every_setting_with_its_default():
    written = _flatten(yaml.safe_load(DEFAULT_YAML.read_text()))
    expected = _settings()
    missing = sorted(set(expected) - set(written))
    assert not missing, f"configs/default.yaml lacks {missing}: run `make default-config`"
    assert not sorted(set(written) - set(expected)), "configs/default.yaml has keys the models do not"
    wrong = {k: (written[k], v) for k, v in expected.items() if written[k] != v}
    assert not wrong, f"configs/default.yaml values differ from the models' defaults (file, model): {wrong}"


def test_default_yaml_is_the_generated_file():
    assert DEFAULT_YAML.read_text() == default_yaml(), "configs/default.yaml is stale: run `make default-config`"
    assert main([str(DEFAULT_YAML), "--check"]) == 0


def test_check_mode_reports_a_stale_file(tmp_path):
    stale = tmp_path / "default.yaml"
    stale.write_text(default_yaml().replace("  work_side: 512", "  work_side: 768"))
    assert main([str(stale), "--check"]) == 1
    assert main([str(stale)]) == 0 and stale.read_text() == default_yaml()


def test_the_shipped_default_yaml_is_the_repository_one():
    assert bundled_file("default.yaml").read_bytes() == DEFAULT_YAML.read_bytes()
