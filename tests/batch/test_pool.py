"""run --workers N: processes give the same items, outputs and ledger as one process; formats."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from pipeline.batch import item_id_for_key, run_batch
from pipeline.batch.pool import default_workers
from pipeline.config import PipelineConfig
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger
from pipeline.models.fingerprints import config_hash

CONFIG = PipelineConfig().with_overrides({"placement.long_side": 192})


def _photos(folder, bottle, n):
    folder.mkdir()
    for k in range(n):
        rgb = np.ascontiguousarray(np.roll(bottle[0], 5 * k, axis=1))
        (folder / f"p{k}.png").write_bytes(cv2.imencode(".png", rgb[..., ::-1])[1].tobytes())
    (folder / "p0_copy.png").write_bytes((folder / "p0.png").read_bytes())


def test_two_workers_match_one_worker_and_keep_the_ledger_whole(tmp_path, bottle):
    _photos(tmp_path / "in", bottle, 4)
    _, _, one = run_batch(str(tmp_path / "in"), str(tmp_path / "one"), CONFIG, batch_id="b", workers=1)
    _, report, two = run_batch(str(tmp_path / "in"), str(tmp_path / "two"), CONFIG, batch_id="b", workers=2,
                               skip_done=True)
    assert [r.source for r in two] == [r.source for r in one]  # listing order, whatever finished first
    for a, b in zip(one, two, strict=True):
        assert (a.verdict, a.metrics, a.duplicate_of) == (b.verdict, b.metrics, b.duplicate_of)
        composite = f"b/{a.id}/composite.png"
        assert Bucket(tmp_path / "one").read_bytes(composite) == Bucket(tmp_path / "two").read_bytes(composite)
    assert next(r for r in two if r.source == "p0_copy.png").duplicate_of == "p0.png"
    assert Ledger(Bucket(tmp_path / "two")).check() == []
    _, again, none = run_batch(str(tmp_path / "in"), str(tmp_path / "two"), CONFIG, batch_id="c", workers=2,
                               skip_done=True)
    assert none == [] and again["extra"]["skipped"] == {"done": 5}


@pytest.mark.parametrize(("fmt", "magic"), [("jpeg", b"\xff\xd8\xff"), ("webp", b"RIFF")])
def test_composite_format_and_quality(tmp_path, bottle, fmt, magic):
    from PIL import Image, ImageCms

    _photos(tmp_path / "in", bottle, 1)
    config = CONFIG.with_overrides({"output.format": fmt, "output.quality": 80})
    _, _, records = run_batch(str(tmp_path / "in"), str(tmp_path / "out"), config, batch_id="b")
    folder = tmp_path / "out" / "b" / item_id_for_key("p0.png")
    suffix = {"jpeg": "jpg", "webp": "webp"}[fmt]
    data = (folder / f"composite.{suffix}").read_bytes()
    assert data.startswith(magic) and records[0].outputs["composite"].endswith(f"composite.{suffix}")
    with Image.open(folder / f"composite.{suffix}") as im:
        assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(__import__("io").BytesIO(
            im.info["icc_profile"]))).startswith("sRGB")
    for name in ("mask.png", "original.png"):
        assert (folder / name).read_bytes().startswith(b"\x89PNG")
    assert (folder / "thumbs.jpg").read_bytes().startswith(b"\xff\xd8\xff")
    assert not (folder / "canny.png").exists() and not (folder / "depth.png").exists()  # --debug-outputs only
    assert json.loads((folder / "meta.json").read_text())["config_hash"] != config_hash(CONFIG)


def test_default_workers_is_cores_capped_by_memory(monkeypatch):
    from pipeline.batch import pool

    monkeypatch.setattr(pool, "available_cores", lambda: 8)
    monkeypatch.setattr(pool, "available_memory", lambda: 3 * pool.WORKER_BYTES_CPU + 1)
    assert default_workers(PipelineConfig()) == 3
    monkeypatch.setattr(pool, "available_memory", lambda: 64 * pool.WORKER_BYTES_CPU)
    assert default_workers(PipelineConfig()) == 8
    assert default_workers(PipelineConfig().with_overrides({"run.device": "cuda"})) == 1


def test_workers_take_the_callers_environment_not_the_fork_servers(tmp_path, monkeypatch):
    """The fork server keeps the environment of its first use; credentials set later (AWS_*) must
    still reach the workers, and variables unset since must be gone."""
    from pipeline.batch import pool

    monkeypatch.setenv("PS_TEST_STALE", "old")
    environ = {k: v for k, v in __import__("os").environ.items() if k != "PS_TEST_STALE"}
    environ["AWS_ACCESS_KEY_ID"] = "fresh-key"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "stale-key")
    threads = cv2.getNumThreads()
    try:
        pool._init_worker(CONFIG.model_dump_json(), str(tmp_path), str(tmp_path / "out"), None, False, 30, 1, environ)
    finally:
        cv2.setNumThreads(threads)
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == "fresh-key" and "PS_TEST_STALE" not in os.environ
    pool._STATE.clear()
