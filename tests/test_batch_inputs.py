"""The batch on awkward sources: copies under several names, odd formats, links out of the source,
colour profiles, colliding names, unreadable files, DEST inside SRC (issue 11, points 1-5, 11, 14, 17)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from pipeline.batch import item_id_for_key, run_batch
from pipeline.cli import main
from pipeline.config import PipelineConfig
from pipeline.io.imageio import decode_image
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger
from tests.fixtures.icc import display_p3_like

CONFIG = PipelineConfig().with_overrides({"placement.long_side": 192})


def png(rgb: np.ndarray) -> bytes:
    return cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))[1].tobytes()


def sources_of(out: Path, batch_id: str) -> dict[str, dict]:
    report = json.loads((out / batch_id / "report.json").read_text())
    return {item["source"]: item for item in report["items"]}


# ----------------------------------------------------------------------------- 1. copies under several names


def test_every_copy_gets_its_row_and_output_and_sidecars_count(tmp_path, bottle):
    """Four copies of one photo with different sidecars, plus two plain copies: six rows, six outputs;
    the plain copy reuses the first plain one's result and says so; a second run skips all six, and
    editing one sidecar makes only that key new."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    data = png(bottle[0])
    for k in range(4):
        (src / f"sku{k}.png").write_bytes(data)
        (src / f"sku{k}.json").write_text(json.dumps({"logo_boxes": [[60, 110 + k, 140, 160]]}))
    (src / "plain_a.png").write_bytes(data)
    (src / "plain_b.png").write_bytes(data)
    _, report, records = run_batch(str(src), str(out), CONFIG, batch_id="b1", skip_done=True)
    rows = sources_of(out, "b1")
    assert set(rows) == {f"sku{k}.png" for k in range(4)} | {"plain_a.png", "plain_b.png"}
    assert all(r["status"] == "ok" for r in rows.values())
    assert {r["duplicate_of"] for r in rows.values()} == {None, "plain_a.png"}
    assert rows["plain_b.png"]["duplicate_of"] == "plain_a.png"
    for key in rows:
        meta = json.loads((out / "b1" / item_id_for_key(key) / "meta.json").read_text())
        assert meta["source"] == key
        if key.startswith("sku"):
            assert meta["logo_source"] == "sidecar" and meta["logo_boxes_input"][0][1] == 110 + int(key[3])
    assert Ledger(Bucket(out)).check() == []
    _, report2, again = run_batch(str(src), str(out), CONFIG, batch_id="b2", skip_done=True)
    assert again == [] and report2["extra"]["skipped"] == {"done": 6}
    (src / "sku2.json").write_text(json.dumps({"logo_boxes": [[10, 10, 40, 40]]}))
    _, _, third = run_batch(str(src), str(out), CONFIG, batch_id="b3", skip_done=True)
    assert [r.source for r in third] == ["sku2.png"]


# ----------------------------------------------------------------------------- 2. formats


def _animated_gif(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    frames = [Image.fromarray(rgb), Image.fromarray(255 - rgb)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100)
    return buf.getvalue()


def test_heic_avif_gif_decode_and_other_formats_get_an_error_row(tmp_path, bottle):
    from pipeline.io.formats import SUPPORTED_FORMATS

    rgb = bottle[0]
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><rect/></svg>')
    (src / "scan.bmp").write_bytes(_pil(rgb, "BMP"))
    (src / "spin.gif").write_bytes(_animated_gif(rgb))
    (src / "web.avif").write_bytes(_pil(rgb, "AVIF") if "AVIF" in SUPPORTED_FORMATS else b"\0\0\0\x1cftypavif")
    (src / "phone.heic").write_bytes(_pil(rgb, "HEIF") if "HEIF" in SUPPORTED_FORMATS else b"\0\0\0\x18ftypheic")
    run_batch(str(src), str(out), CONFIG, batch_id="b")
    rows = sources_of(out, "b")
    assert set(rows) == {"logo.svg", "scan.bmp", "spin.gif", "web.avif", "phone.heic"}
    assert rows["logo.svg"]["error"] == "unsupported format .svg; convert to PNG or JPEG"
    assert rows["scan.bmp"]["error"] == "unsupported format .bmp; convert to PNG or JPEG"
    assert rows["spin.gif"]["status"] == "ok" and rows["spin.gif"]["notes"] == ["first frame of 2 only (GIF)"]
    for key, fmt, package in (("web.avif", "AVIF", "pillow-avif-plugin"), ("phone.heic", "HEIF", "pillow-heif")):
        if fmt in SUPPORTED_FORMATS:
            assert rows[key]["status"] == "ok", rows[key]
        else:
            assert rows[key]["error"].startswith(f"unsupported format .{key.split('.')[1]} (install {package}")


def _pil(rgb: np.ndarray, fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt)
    return buf.getvalue()


# ----------------------------------------------------------------------------- 3. DEST inside SRC


def test_cli_refuses_a_destination_inside_the_source(tmp_path, bottle):
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.png").write_bytes(png(bottle[0]))
    assert main(["run", str(src), str(src / "out"), "--no-progress"]) == 2
    assert main(["run", str(src), str(src), "--no-progress"]) == 2
    assert sorted(p.name for p in src.iterdir()) == ["a.png"]


# ----------------------------------------------------------------------------- 4. symlinks


def test_symlink_out_of_the_source_is_refused_with_a_reason(tmp_path, bottle):
    src, out, outside = tmp_path / "in", tmp_path / "out", tmp_path / "private"
    src.mkdir()
    outside.mkdir()
    (outside / "secret.png").write_bytes(png(bottle[0]))
    (src / "real.png").write_bytes(png(bottle[0][:, ::-1].copy()))
    os.symlink(outside / "secret.png", src / "leak.png")
    os.symlink(src / "real.png", src / "alias.png")  # a link that stays inside is fine
    os.symlink(outside, src / "linked_dir")
    _, _, records = run_batch(str(src), str(out), CONFIG, batch_id="b", skip_done=True)
    rows = sources_of(out, "b")
    assert "symbolic link to a file outside the source folder" in rows["leak.png"]["error"]
    assert "linked_dir/secret.png" not in rows  # a linked folder is not walked into
    assert rows["real.png"]["status"] == rows["alias.png"]["status"] == "ok"
    assert not (out / "b" / item_id_for_key("leak.png")).exists()


# ----------------------------------------------------------------------------- 5. ICC profiles


def test_icc_profile_is_converted_to_srgb_recorded_and_outputs_are_srgb(tmp_path, bottle):
    from PIL import ImageCms

    rgb = bottle[0]
    profile = display_p3_like()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG", icc_profile=profile)
    decoded = decode_image(buf.getvalue())
    reference = ImageCms.profileToProfile(Image.fromarray(rgb), ImageCms.ImageCmsProfile(io.BytesIO(profile)),
                                          ImageCms.createProfile("sRGB"), renderingIntent=0, outputMode="RGB")
    assert np.array_equal(decoded.rgb, np.asarray(reference))
    assert np.abs(decoded.rgb.astype(int) - rgb).max() > 10  # P3 -> sRGB moves the blue bottle visibly
    assert decoded.info["icc_profile"]["description"] == "Display P3 (test)"

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "p3.png").write_bytes(buf.getvalue())
    _, _, (record,) = run_batch(str(src), str(out), CONFIG, batch_id="b")
    folder = out / "b" / item_id_for_key("p3.png")
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["source_icc_profile"]["description"] == "Display P3 (test)"
    assert meta["source_icc_profile"]["converted"] is True
    with Image.open(folder / "composite.png") as im:
        assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(im.info["icc_profile"]))
                                              ).startswith("sRGB")
    # Scored against the converted original: the exact-mode composite keeps the product's sRGB colours.
    assert record.verdict == "pass", record.reasons
    assert "colours converted to sRGB from Display P3 (test)" in record.notes


# ----------------------------------------------------------------------------- 11. themes before the batch


def test_unknown_theme_exits_2_before_anything_is_written(tmp_path, bottle):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "a.png").write_bytes(png(bottle[0]))
    assert main(["run", str(src), str(out), "--theme", "no-such-theme", "--no-progress"]) == 2
    preset = tmp_path / "c.yaml"
    preset.write_text("scene:\n  theme: marbel-counter\n")
    assert main(["run", str(src), str(out), "--config", str(preset), "--no-progress"]) == 2
    assert not out.exists()


# ----------------------------------------------------------------------------- 14. item ids


@pytest.mark.parametrize("pair", [("shoes/red.png", "shoes__red.png"), ("a b.png", "a_b.png"),
                                  ("café.png", "caf_.png")])
def test_colliding_names_get_their_own_folders(tmp_path, bottle, pair):
    assert item_id_for_key(pair[0]) != item_id_for_key(pair[1])
    src, out = tmp_path / "in", tmp_path / "out"
    for k, key in enumerate(pair):
        (src / key).parent.mkdir(parents=True, exist_ok=True)
        (src / key).write_bytes(png(np.ascontiguousarray(np.roll(bottle[0], 7 * k, axis=1))))
    _, _, records = run_batch(str(src), str(out), CONFIG, batch_id="b", skip_done=True)
    assert len({r.id for r in records}) == 2 and all(r.status == "ok" for r in records)
    assert len([p for p in (out / "b").iterdir() if p.is_dir()]) == 2
    assert Ledger(Bucket(out)).check() == []


# ----------------------------------------------------------------------------- 17. unreadable files


@pytest.mark.parametrize("error", [PermissionError(13, "Permission denied"), FileNotFoundError(2, "gone")])
def test_permanent_read_errors_are_recorded_once_not_retried_forever(tmp_path, bottle, monkeypatch, error):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    (src / "locked.png").write_bytes(png(bottle[0]))
    real = Bucket.read_bytes

    def read_bytes(self, key, max_bytes=None, size=None):
        if key == "locked.png":
            raise error
        return real(self, key, max_bytes, size)

    monkeypatch.setattr(Bucket, "read_bytes", read_bytes)
    _, _, (record,) = run_batch(str(src), str(out), CONFIG, batch_id="b1", skip_done=True)
    assert record.status == "error" and record.error.startswith("could not read")
    _, report, again = run_batch(str(src), str(out), CONFIG, batch_id="b2", skip_done=True)
    assert again == [] and report["extra"]["skipped"] == {"done": 1}
