"""pipeline.catalogue.stored_fixes: a batch rerun into the same DEST reproduces a reviewer's fixed
mask from the stored corrections, and never applies them to other photo bytes."""

from __future__ import annotations

import hashlib
import json

import cv2
import numpy as np
import pytest

pytest.importorskip("skimage", reason="fixing a cut-out needs the review extra (scikit-image)")

from pipeline.batch import item_id_for_key, run_batch
from pipeline.catalogue.homes import FIXES_HOME
from pipeline.catalogue.stored_fixes import STORED_FIX_KEY, stored_corrections
from pipeline.compose import build_stages
from pipeline.io.imageio import decode_image, encode_png
from pipeline.io.storage import Bucket
from pipeline.review.fixing import FixDesk
from pipeline.review.session import ReviewSession
from tests.review.fix_batch import BAD, GOOD, fix_config


def mask_of(path) -> np.ndarray:
    return cv2.imread(str(path), cv2.IMREAD_GRAYSCALE) > 127


def save_a_fix(fb) -> tuple[ReviewSession, dict]:
    review = ReviewSession(Bucket(str(fb.dest)), "ana")
    desk = FixDesk(review, Bucket(str(fb.src)))
    fix = desk.start(f"key:{BAD}", fb.version(BAD))["fix"]
    step = desk.click(fix, fb.click.as_json())
    saved = desk.save(fix, step["composite"]["sha256"])
    return review, review.catalogue.product(f"key:{BAD}")["versions"][saved["version"]]


def test_a_rerun_reproduces_the_fixed_mask_from_the_stored_corrections(fix_batch):
    fb = fix_batch
    _, fixed = save_a_fix(fb)
    item = item_id_for_key(BAD)
    run_batch(str(fb.src), str(fb.dest), fix_config(), batch_id="again")
    again = fb.dest / "again" / item
    fixed_mask = mask_of(fb.dest / FIXES_HOME / fixed["item"] / "mask.png")
    assert np.array_equal(mask_of(again / "mask.png"), fixed_mask)
    assert not np.array_equal(mask_of(fb.dest / "fb" / item / "mask.png"), fixed_mask)  # the segmenter's own differs
    meta = json.loads((again / "meta.json").read_text())
    stored = meta["segment_info"][STORED_FIX_KEY]
    assert stored["version"] == fixed["id"] and stored["applied"] is True and stored["clicks"] == 1
    assert meta["verdict"] == "pass"
    # same config, same seed: the rerun's composite is the fix's, byte for byte
    assert (again / "composite.png").read_bytes() == (fb.dest / FIXES_HOME / fixed["file"]).read_bytes()
    other = json.loads((fb.dest / "again" / item_id_for_key(GOOD) / "meta.json").read_text())
    assert STORED_FIX_KEY not in other["segment_info"]  # a product without a fix is processed as always


def test_other_photo_bytes_under_the_same_key_are_not_fixed_nor_is_a_rejected_fix_replayed(fix_batch):
    fb = fix_batch
    review, fixed = save_a_fix(fb)
    bucket = Bucket(str(fb.dest))
    data = (fb.src / BAD).read_bytes()
    assert stored_corrections(bucket, BAD, None, "0" * 64) is None
    assert stored_corrections(bucket, BAD, None, hashlib.sha256(data).hexdigest())[0] == fixed["id"]
    rgb = decode_image(data).rgb.copy()
    rgb[:3, :3] = 250  # a new shoot: other bytes, nearly the same picture
    (fb.src / BAD).write_bytes(encode_png(rgb))
    run_batch(str(fb.src), str(fb.dest), fix_config(), batch_id="newshot")
    out = fb.dest / "newshot" / item_id_for_key(BAD)
    assert STORED_FIX_KEY not in json.loads((out / "meta.json").read_text())["segment_info"]
    segmenter = build_stages(fix_config()).segmenter
    assert np.array_equal(mask_of(out / "mask.png"), segmenter(rgb).mask)  # the segmenter's mask, not the fix's
    # back to the photo the fix was made on, but the fix was rejected: not replayed either
    (fb.src / BAD).write_bytes(data)
    review.catalogue.decide(f"key:{BAD}", fixed["id"], "rejected", "bo", note="cut into the box",
                            seen_sha256=fixed["sha256"])
    run_batch(str(fb.src), str(fb.dest), fix_config(), batch_id="rejected")
    meta = json.loads((fb.dest / "rejected" / item_id_for_key(BAD) / "meta.json").read_text())
    assert STORED_FIX_KEY not in meta["segment_info"]
