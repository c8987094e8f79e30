"""A batch for the fix-mode tests, made by the real pipeline: one product whose cut-out fails, one
that passes, one error item; SOURCE kept beside DEST so a review server can read the photos.

The failing one is the generated ``box_white`` as assets/make_fix_before_after.py encodes it (PNG):
the classical segmenter keeps a chunk of its floor shadow and the gate fails it ("base outline off
the photo's edges"); one "remove" click where bench/eval_fix.py's simulated reviewer puts it
(inside the largest wrong region, from the sample's exact ground truth) fixes it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import pytest

from pipeline.batch import item_id_for_key, run_batch
from pipeline.config import PipelineConfig
from pipeline.io.imageio import encode_png
from pipeline.samples import render_sample, write_samples
from pipeline.segment.refine import Click

FIX_BATCH = "fb"
BAD = "box_white.png"
GOOD = "mug_red.jpg"
BROKEN = "broken.jpg"


def fix_config() -> PipelineConfig:
    return PipelineConfig().with_overrides({"placement.size": (384, 384)})


@dataclass(frozen=True)
class FixBatch:
    """src: SOURCE; dest: DEST (the batch is ``dest / FIX_BATCH``); click: the "remove" click
    (input pixels) that fixes ``BAD``; size: ``BAD``'s photo (w, h)."""

    src: Path
    dest: Path
    click: Click
    size: tuple[int, int]

    def version(self, key: str) -> str:
        return f"{FIX_BATCH}/{item_id_for_key(key)}"


def make_fix_batch(root: Path) -> FixBatch:
    from bench.eval_fix import next_click  # the simulated reviewer's click rule

    src, dest = root / "src", root / "out"
    src.mkdir(parents=True)
    sample = render_sample("box_white")
    (src / BAD).write_bytes(encode_png(sample.rgb))
    write_samples(src, ["mug_red"])
    (src / BROKEN).write_bytes((src / GOOD).read_bytes()[:600])  # a truncated JPEG: an error item
    run_batch(str(src), str(dest), fix_config(), batch_id=FIX_BATCH)
    mask = cv2.imread(str(dest / FIX_BATCH / item_id_for_key(BAD) / "mask.png"), cv2.IMREAD_GRAYSCALE) > 127
    click = next_click(mask, sample.mask)
    assert click is not None and click.kind == "remove"
    return FixBatch(src, dest, click, (sample.rgb.shape[1], sample.rgb.shape[0]))


@pytest.fixture(scope="session")
def fix_batch_master(tmp_path_factory) -> FixBatch:
    return make_fix_batch(tmp_path_factory.mktemp("fix"))


@pytest.fixture
def fix_batch(fix_batch_master, tmp_path) -> FixBatch:
    """A private copy (tests write fixes and decisions into DEST, and change photos in SOURCE)."""
    src, dest = tmp_path / "src", tmp_path / "out"
    shutil.copytree(fix_batch_master.src, src)
    shutil.copytree(fix_batch_master.dest, dest)
    return FixBatch(src, dest, fix_batch_master.click, fix_batch_master.size)
