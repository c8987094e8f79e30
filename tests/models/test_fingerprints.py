"""pipeline.models.fingerprints: what the config hash covers besides the values."""

from __future__ import annotations

from pipeline.config import PipelineConfig
from pipeline.models import fingerprints
from pipeline.models.fingerprints import folder_fingerprint, output_inputs


def test_folder_fingerprint_covers_weights_not_only_configs(tmp_path):
    (tmp_path / "unet").mkdir()
    (tmp_path / "unet" / "config.json").write_text("{}")
    weights = tmp_path / "unet" / "model.safetensors"
    weights.write_bytes(b"a" * 100)
    first = folder_fingerprint(tmp_path)
    weights.write_bytes(b"b" * 100)
    assert folder_fingerprint(tmp_path) != first


def test_large_files_are_fingerprinted_by_their_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(fingerprints, "FULL_HASH_BYTES", 64)
    monkeypatch.setattr(fingerprints, "EDGE_BYTES", 16)
    big = tmp_path / "w.safetensors"
    big.write_bytes(b"h" * 16 + b"m" * 100 + b"t" * 16)
    first = fingerprints.file_fingerprint(big)
    big.write_bytes(b"h" * 16 + b"m" * 100 + b"T" * 16)
    assert fingerprints.file_fingerprint(big) != first


def test_output_inputs_name_themes_weights_and_version(tmp_path):
    weights = tmp_path / "depth.onnx"
    weights.write_bytes(b"x")
    inputs = output_inputs(PipelineConfig().with_overrides({"control.depth_model": str(weights)}))
    assert set(inputs) == {"values", "themes", "weights", "package_version"}
    assert set(inputs["themes"]) == {"default"} and set(inputs["weights"]) == {"control.depth_model"}
