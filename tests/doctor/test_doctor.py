"""``product-scene doctor``: what is usable here, what is missing (never loads weights)."""

from __future__ import annotations

import importlib.util

import pytest
import yaml

from pipeline.config import PipelineConfig
from pipeline.doctor import DoctorCheck, format_doctor, run_doctor


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _by_name(checks):
    return {c.name: c for c in checks}


def test_default_config_reports_cpu_backends_and_presets(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checks = run_doctor()
    names = _by_name(checks)
    assert all(isinstance(c, DoctorCheck) for c in checks)
    for ok in ("scene: studio", "segment: classical", "depth: pseudo"):
        assert names[ok].ok, names[ok]
    presets = [c for c in checks if c.name.startswith("scene: diffusion [")]
    assert {c.name for c in presets} == {"scene: diffusion [sd15.yaml]", "scene: diffusion [sdxl.yaml]"}
    if importlib.util.find_spec("torch") is not None:
        assert names["package torch"].ok and names["run device/dtype"].ok, names["run device/dtype"]
        assert not names["segment: sam"].ok and "sam_checkpoint" in names["segment: sam"].detail
        for c in presets:  # found here, or the hint says what to fetch
            assert ("weights found" in c.detail) if c.ok else ("huggingface-cli download" in c.hint)
    else:  # a core install: doctor says what to install, the CPU backends stay usable
        assert not names["package torch"].ok and "pip install torch" in names["package torch"].hint
        assert names["gpu"].detail == "torch not installed"
        assert not names["segment: sam"].ok and "pip install" in names["segment: sam"].hint
        assert all(not c.ok and "not installed" in c.detail and "pip install" in c.hint for c in presets)
    text = format_doctor(checks)
    assert "[ok] scene: studio" in text and "usable backends:" in text


def test_tiny_models_are_found(tiny):
    from tests.fixtures.tiny_models import diffusion_section

    config = PipelineConfig().with_overrides({
        "segment.sam_checkpoint": str(tiny.sam_checkpoint),
        "control.depth_model": str(tiny.depth_model),
        "backends.diffusion": diffusion_section(tiny),
    })
    names = _by_name(run_doctor(config))
    assert names["segment: sam"].ok and names["depth: model"].ok
    diff = names["scene: diffusion [config]"]
    assert diff.ok and "all 5 weights found" in diff.detail


def test_missing_weights_and_bad_dtype_are_explained(tiny, tmp_path):
    from tests.fixtures.tiny_models import diffusion_section

    section = diffusion_section(tiny)
    section["controlnets"][0]["source"] = {"path": str(tmp_path / "gone")}
    config = PipelineConfig.model_validate({"run": {"device": "cpu", "dtype": "float16"},
                                            "backends": {"diffusion": section}})
    names = _by_name(run_doctor(config))
    assert not names["scene: diffusion [config]"].ok and "controlnet canny" in names["scene: diffusion [config]"].detail
    assert not names["run device/dtype"].ok and "float32" in names["run device/dtype"].hint
    with pytest.raises(ValueError, match="backends.diffusion: controlnets: at least one"):  # at load, not in doctor
        PipelineConfig().with_overrides({"backends.diffusion": {"base": "/x"}})


def test_cli_doctor(tiny, tmp_path, capsys):
    from pipeline import cli  # a broken import fails the test, never skips it

    preset = tmp_path / "tiny.yaml"
    preset.write_text(yaml.safe_dump({"segment": {"sam_checkpoint": str(tiny.sam_checkpoint)}}))
    assert cli.main(["doctor", "--config", str(preset)]) == 0
    out = capsys.readouterr().out
    assert "[ok] segment: sam" in out and "usable backends:" in out
