"""Every config mistake exits 2 naming the field, before anything is listed or written (issues 16, 17).

Each case failed on main before the config package: it exited 1 after listing the source, or 0
(a ``backends: difusion:`` typo ran; ``score.gate.ssim_min: 7`` failed every item).
"""

from __future__ import annotations

import logging

import pytest

from pipeline import cli
from pipeline.io.storage import Bucket

GOOD_THEME = 'my-look:\n  surface: sweep\n  colors: ["#ffffff", "#e4e0d8"]\n'


@pytest.fixture()
def no_listing(monkeypatch, caplog):
    """Fail the test if the source is listed; keep log records for caplog (no rich handler)."""
    def listed(self, prefix=""):
        raise AssertionError("the source was listed before the config error was reported")

    monkeypatch.setattr(Bucket, "list_images", listed)
    monkeypatch.setattr("pipeline.progress.setup_logging", lambda level: None)
    caplog.set_level(logging.ERROR, logger="pipeline.cli")
    return caplog


def _run(tmp_path, *args: str) -> int:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "a.png").write_bytes(b"not looked at")
    return cli.main(["run", str(src), str(tmp_path / "dest"), "--no-progress", *args])


def _config(tmp_path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


def _themes(tmp_path, text: str) -> str:
    path = tmp_path / "themes.yaml"
    path.write_text(text)
    return _config(tmp_path, f"scene:\n  themes_file: {path}\n  theme: my-look\n")


CASES = {
    "malformed YAML": (lambda t: ["--config", _config(t, "scene: [a\n")], ("is not valid YAML:", "at line 2")),
    "typo under backends": (lambda t: ["--config", _config(t, "backends:\n  difusion: {}\n")],
                            "backends.difusion: unknown key; did you mean 'diffusion'?"),
    "typo inside the diffusion section": (
        lambda t: ["--config", _config(t, "extends: sd15.yaml\nbackends:\n  diffusion:\n    stepz: 3\n")],
        "backends.diffusion.stepz: unknown key; did you mean 'steps'?"),
    "unknown backend name": (lambda t: ["--backend", "foo"], "scene.backend: 'foo' is not one of studio, diffusion"),
    "unknown segment backend in a file": (lambda t: ["--config", _config(t, "segment:\n  backend: sam2\n")],
                                          "segment.backend: 'sam2' is not one of classical, sam, onnx, fused; did you mean 'sam'?"),
    "diffusion without its section": (lambda t: ["--backend", "diffusion"], "needs a 'backends: {diffusion: ...}'"),
    "typo in a theme name": (lambda t: ["--theme", "paper-whit"],
                             "scene.theme: unknown theme 'paper-whit' (did you mean 'paper-white'?)"),
    "missing themes file": (lambda t: ["--config", _config(t, f"scene:\n  themes_file: {t}/gone.yaml\n")],
                            "scene.themes_file: themes file not found"),
    "typo in a theme field": (lambda t: ["--config", _themes(t, GOOD_THEME.replace("colors", "colours"))],
                              ("theme 'my-look'", "colours: unknown key; did you mean 'colors'?")),
    "theme with a bad colour": (lambda t: ["--config", _themes(t, GOOD_THEME.replace("#e4e0d8", "#zz0000"))],
                                "theme 'my-look': colors: colours must be '#rrggbb'"),
    "theme with an unknown surface": (lambda t: ["--config", _themes(t, GOOD_THEME.replace("sweep", "swoop"))],
                                      "theme 'my-look': surface: 'swoop' is not one of sweep, gradient, marble, wood, concrete, linen"),
    "theme with grain 1e9": (lambda t: ["--config", _themes(t, GOOD_THEME + "  grain: 1e9\n")],
                             "theme 'my-look': grain: Input should be less than or equal to 16"),
    "gate limit out of range": (lambda t: ["--config", _config(t, "score:\n  gate:\n    ssim_min: 7\n")],
                                "score.gate.ssim_min: Input should be less than or equal to 1"),
    "missing config file": (lambda t: ["--config", str(t / "nope.yaml")], "config file not found"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_run_exits_2_naming_the_field_before_listing(case, tmp_path, no_listing):
    make_args, expected = CASES[case]
    assert _run(tmp_path, *make_args(tmp_path)) == 2
    assert not (tmp_path / "dest").exists(), "nothing is written"
    messages = "\n".join(r.getMessage() for r in no_listing.records)
    expected = (expected,) if isinstance(expected, str) else expected
    assert all(part in messages for part in expected), messages


@pytest.mark.parametrize("batch_id", ["../x", "_ledger", ".hidden", "a/b", ""])
def test_unsafe_or_reserved_batch_ids_are_usage_errors(batch_id, tmp_path, no_listing, capsys):
    with pytest.raises(SystemExit) as exc:
        _run(tmp_path, "--batch-id", batch_id)
    assert exc.value.code == 2 and "--batch-id" in capsys.readouterr().err
    assert not (tmp_path / "dest").exists()


def test_run_batch_refuses_a_reserved_batch_id_too(tmp_path):
    from pipeline.batch import run_batch
    from pipeline.config import PipelineConfig

    with pytest.raises(ValueError, match="reserved"):
        run_batch(str(tmp_path), str(tmp_path / "dest"), PipelineConfig(), batch_id="_ledger")


def test_doctor_exits_2_on_a_bad_config_like_run(tmp_path, no_listing):
    bad = _config(tmp_path, "segment:\n  work_sid: 768\n")
    assert cli.main(["doctor", "--config", bad]) == 2
    assert _run(tmp_path, "--config", bad) == 2
    messages = [r.getMessage() for r in no_listing.records]
    assert len(messages) == 2 and all("segment.work_sid: unknown key; did you mean 'work_side'?" in m
                                      for m in messages)
