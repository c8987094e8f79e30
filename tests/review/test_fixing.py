"""pipeline.review.fixing: a fix session over a real batch, without a server (the library the
review server is a thin layer over)."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest

pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")

from pipeline.catalogue.fixes import add_fix_version
from pipeline.catalogue.homes import FIXES_HOME
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.models.fingerprints import config_hash
from pipeline.review.fix_inputs import config_of
from pipeline.review.fixing import BadClick, FixDesk, FixGone, NotFixable, NothingToSave, StaleFix
from pipeline.review.session import ReviewSession
from tests.review.fix_batch import BAD, BROKEN, GOOD


def desk_for(fb, *, source=True) -> FixDesk:
    review = ReviewSession(Bucket(str(fb.dest)), "ana")
    return FixDesk(review, Bucket(str(fb.src)) if source else None)


def decoded(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)


def test_a_click_refines_rerenders_and_regates_and_save_makes_an_undecided_version(fix_batch):
    desk = desk_for(fix_batch)
    pid, version = f"key:{BAD}", fix_batch.version(BAD)
    batch_sha = desk.review.snapshot(pid)[0]["versions"][version]["sha256"]
    start = desk.start(pid, version)
    fix = start["fix"]
    assert start["step"] == 0 and start["verdict"] == "fail" and start["notes"] == []
    # the re-render of the segmenter's own cut-out is the batch's composite, byte for byte: same config, same seed
    assert start["composite"]["sha256"] == batch_sha
    assert any("floor shadow" in r["sentence"] for r in start["reasons"])
    before = {k: desk.picture(fix, start[k] if k == "outline" else start[k]["name"])[0] for k in ("outline", "composite")}

    after = desk.click(fix, fix_batch.click.as_json())
    assert after["step"] == 1 and after["clicks"] == [fix_batch.click.as_json()]
    assert after["verdict"] == "pass" and after["reasons"] == []
    assert after["ms"]["refine"] > 0 and after["ms"]["render"] > 0
    outline = decoded(desk.picture(fix, after["outline"])[0])
    composite = decoded(desk.picture(fix, after["composite"]["name"])[0])
    assert outline.shape[:2] == fix_batch.size[::-1]  # the outline is drawn in the photo's own pixels
    assert (outline[..., 3] != decoded(before["outline"])[..., 3]).mean() > 0.001
    assert (np.abs(composite.astype(int) - decoded(before["composite"]).astype(int)).max(axis=2) > 12).mean() > 0.005
    assert desk.undo(fix)["composite"]["sha256"] == batch_sha  # undo shows the earlier step again
    assert desk.click(fix, fix_batch.click.as_json())["composite"] == after["composite"]  # and it is deterministic

    saved = desk.save(fix, after["composite"]["sha256"])
    assert saved["row"]["version"] == saved["version"] and saved["row"]["state"] == "undecided"
    assert saved["row"]["origin"] == "fix" and saved["row"]["outcome"] == "pass"
    product = desk.review.catalogue.product(pid)
    v = product["versions"][saved["version"]]
    assert v["reviewer"] == "ana" and v["based_on"] == version and v["home"] == FIXES_HOME
    home = fix_batch.dest / FIXES_HOME / v["item"]
    assert hashlib.sha256((fix_batch.dest / FIXES_HOME / v["file"]).read_bytes()).hexdigest() == \
        after["composite"]["sha256"] == v["sha256"]
    corrections = json.loads((fix_batch.dest / v["corrections"]).read_text())
    assert corrections["photo_sha256"] == hashlib.sha256((fix_batch.src / BAD).read_bytes()).hexdigest()
    assert corrections["clicks"] == [fix_batch.click.as_json()] and corrections["meta"]["reviewer"] == "ana"
    meta = json.loads((home / "meta.json").read_text())
    assert meta["fixed"]["based_on"] == version and meta["verdict"] == "pass" and "placement" in meta
    assert PipelineConfig.model_validate(meta["config"]) == PipelineConfig.model_validate(
        json.loads((fix_batch.dest / version / "meta.json").read_text())["config"])
    assert (home / "mask.png").exists() and (home / "original.png").exists()  # the page draws its outline, heat map
    with pytest.raises(FixGone):  # saving closed the fix
        desk.click(fix, fix_batch.click.as_json())


def test_a_fix_of_a_fix_starts_from_its_clicks_and_reset_goes_back_to_the_segmenters_mask(fix_batch):
    desk = desk_for(fix_batch)
    pid = f"key:{BAD}"
    first = desk.start(pid, fix_batch.version(BAD))
    clicked = desk.click(first["fix"], fix_batch.click.as_json())
    saved = desk.save(first["fix"], clicked["composite"]["sha256"])
    again = desk.start(pid, saved["version"])
    assert again["step"] == 1 and again["clicks"] == clicked["clicks"] and again["notes"] == []
    assert again["composite"]["sha256"] == clicked["composite"]["sha256"]
    reset = desk.reset(again["fix"])
    assert reset["step"] == 0 and reset["verdict"] == "fail"


def test_refusals_say_why(fix_batch):
    desk = desk_for(fix_batch)
    pid, version = f"key:{BAD}", fix_batch.version(BAD)
    with pytest.raises(NotFixable, match="error item"):
        desk.start(f"key:{BROKEN}", fix_batch.version(BROKEN))
    with pytest.raises(NotFixable, match="--source"):
        desk_for(fix_batch, source=False).start(pid, version)
    assert desk.availability({"status": "error"})["available"] is False
    with pytest.raises(FixGone):
        desk.start(pid, "fb/nope")
    with pytest.raises(FixGone):
        desk.click("not-a-fix", fix_batch.click.as_json())
    fix = desk.start(pid, version)["fix"]
    w = fix_batch.size[0]
    for bad in ({"kind": "remove", "points": [[w, 5]]}, {"kind": "remove", "points": [[-1, 5]]},
                {"kind": "cut", "points": [[5, 5]]}, {"kind": "keep", "points": "5,5"},
                {"kind": "keep", "points": [[5, 5]], "radius_px": 1e9}):
        with pytest.raises(BadClick):
            desk.click(fix, bad)
    with pytest.raises(NothingToSave):
        desk.save(fix, "0" * 64)
    step = desk.click(fix, fix_batch.click.as_json())
    with pytest.raises(StaleFix, match="not the current step"):
        desk.save(fix, "0" * 64)
    # Someone else's fix of the same product comes in: this one is stale (compare-and-swap).
    other = desk_for(fix_batch)
    add_fix_version(other.review.catalogue, pid, based_on=version, composite=b"x", suffix=".png", reviewer="bo",
                    verdict="pass")
    desk.review._refreshed = 0.0  # the page's poll would pick it up within REFRESH_MIN_S
    with pytest.raises(StaleFix, match="changed since this fix started"):
        desk.save(fix, step["composite"]["sha256"])
    with pytest.raises(StaleFix):
        desk.click(fix, fix_batch.click.as_json())
    # The photo in SOURCE is not the one the batch processed any more.
    img = cv2.imread(str(fix_batch.src / GOOD))
    img[:4, :4] = 0
    cv2.imwrite(str(fix_batch.src / GOOD), img)
    with pytest.raises(NotFixable, match="changed since this batch"):
        desk.start(f"key:{GOOD}", fix_batch.version(GOOD))


def test_the_config_is_the_batchs_and_an_old_batch_without_one_only_when_it_was_the_default():
    config = PipelineConfig().with_overrides({"placement.size": (300, 300)})
    got, chash, notes = config_of({"config": config.model_dump(mode="json"), "config_hash": config_hash(config)})
    assert got == config and chash == config_hash(config) and notes == ()
    assert "differ from the batch's" in config_of({"config": config.model_dump(mode="json"), "config_hash": "x"})[2][0]
    default = PipelineConfig()
    assert config_of({"config_hash": config_hash(default)})[0] == default
    with pytest.raises(NotFixable, match="before items recorded their config"):
        config_of({"config_hash": config_hash(config)})
    with pytest.raises(NotFixable, match="not valid here"):
        config_of({"config": {"placement": {"nonsense": 1}}})
