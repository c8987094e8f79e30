"""Batches for the review tests, made by the real pipeline from the generated samples.

``review_batch``: the generated samples, a copy of one named ``<img src=x onerror=alert(1)>.jpg`` (its
name must be shown as text, never run), and a truncated JPEG (an error item). Mugs get two
variants from a scene backend whose first variant tints the product (as a diffusion repaint
would, in ``harmonised`` mode), so the page
has failures, errors, passes, variants and a non-empty ΔE00 heat map. Bottles get only the
tinted scene, so they fail the gate.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from pipeline.batch import BatchRunner, item_id_for_key, run_batch
from pipeline.compose import build_stages
from pipeline.config import PipelineConfig
from pipeline.samples import write_samples
from pipeline.types import SceneResult
from tests.review.fix_batch import fix_batch, fix_batch_master  # noqa: F401 - fixtures for the fix tests
from tests.review.stores import seaweed, where  # noqa: F401 - fixtures for this folder's tests

EVIL_NAME = "<img src=x onerror=alert(1)>.jpg"
BATCH_ID = "rb"


class TintedFirstVariant:
    """Mugs: two variants (the first with the product tinted); bottles: the tinted one only."""

    name = "tinted-first"

    def __init__(self, studio):
        self.studio = studio

    def generate(self, placed, control, theme, *, seed, item_meta):
        base = self.studio(placed, control, theme, seed=seed, item_meta=item_meta)
        category = item_meta.get("category")
        if category not in ("mug", "bottle"):
            return [base]
        image = base.image.copy()
        product = placed.rgb[placed.mask].astype(np.float32)
        image[placed.mask] = np.clip(product * np.array([0.80, 0.92, 1.10]) + 8, 0, 255).astype(np.uint8)
        tinted = SceneResult(image=image, backend=self.name, product_altered=True, info={"seed": seed})
        if category == "bottle":
            return [tinted]
        return [tinted, SceneResult(image=base.image, backend=self.name, info={"seed": seed + 1})]


def review_config() -> PipelineConfig:
    return PipelineConfig().with_overrides({"placement.size": (384, 384), "restore.mode": "harmonised"})


def make_review_batch(src: Path, dest: Path, batch_id: str = BATCH_ID) -> Path:
    write_samples(src)
    (src / EVIL_NAME).write_bytes((src / "tote_canvas.jpg").read_bytes())
    (src / "broken.jpg").write_bytes((src / "jar_gold.jpg").read_bytes()[:600])
    config = review_config()
    stages = build_stages(config)
    runner = BatchRunner(config, stages=replace(stages, scene=TintedFirstVariant(stages.scene)))
    run_batch(str(src), str(dest), config, batch_id=batch_id, runner=runner)
    return dest / batch_id


@pytest.fixture(scope="session")
def review_batch_master(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("review")
    return make_review_batch(root / "src", root / "out")


@pytest.fixture
def review_batch(review_batch_master, tmp_path) -> Path:
    """A private copy of the batch (tests write decisions into it): DEST/<batch_id>."""
    dest = tmp_path / "out"
    shutil.copytree(review_batch_master, dest / BATCH_ID)
    return dest / BATCH_ID


SHARED = ["mug_red.jpg", "jar_gold.jpg", "tote_canvas.jpg", "bottle_teal.png"]  # in both batches below
REJECTED = "tote_canvas.jpg"  # rejected in the first batch, back with other bytes in the second
CARRIED = "bottle_teal.png"  # rejected in the first batch, back with the same bytes in the second


def make_two_batches(master: Path, dest: Path) -> Path:
    """DEST with the review batch (``rb``: the samples, failures, an error, variants), a second
    batch ``rb2`` in which four of its products come back (``REJECTED``, rejected in ``rb``, with
    other bytes; ``CARRIED``, rejected in ``rb``, with the same bytes), and a small batch ``rb3``
    whose one product kept its floor shadow (a cut-out failure)."""
    from pipeline.catalogue.store import Catalogue
    from pipeline.io.storage import Bucket
    from tests.review.fake_batches import FakeItem, write_fake_batch

    shutil.copytree(master, dest / BATCH_ID)
    cat = Catalogue(Bucket(dest))
    cat.sync()
    for key, note in ((REJECTED, "strap cut off at the top"), (CARRIED, "label tinted green")):
        pid = f"key:{key}"
        version = cat.product(pid)["versions"][f"{BATCH_ID}/{item_id_for_key(key)}"]
        cat.decide(pid, version["id"], "rejected", "alice", note=note, seen_sha256=version["sha256"])
    src, again = master.parent.parent / "src", dest.parent / "again"
    again.mkdir(parents=True, exist_ok=True)
    for key in SHARED:
        stem = key.rsplit(".", 1)[0]
        for path in src.glob(stem + ".*"):
            shutil.copy(path, again / path.name)
    img = cv2.imread(str(again / REJECTED))  # a new shoot of the rejected product: other bytes
    img[:6, :6] = 200
    cv2.imwrite(str(again / REJECTED), img)
    config = review_config()
    stages = build_stages(config)
    runner = BatchRunner(config, stages=replace(stages, scene=TintedFirstVariant(stages.scene)))
    run_batch(str(again), str(dest), config, batch_id="rb2", runner=runner)
    write_fake_batch(dest, "rb3", [FakeItem("shelf/shadow.jpg", "fail")], "2030-01-01T00:00:00+00:00")
    return dest
