"""A SAM that fails (to load, or on every image: CUDA out of memory, a broken install) turns the
batch classical: the batch report and the Prefect summary count it, and it is warned once."""

from __future__ import annotations

import dataclasses
import json
import logging

import cv2
import pytest

from flows.artifacts import BatchStats, summary_markdown
from pipeline.batch import BatchRunner, run_batch
from pipeline.compose import build_stages
from pipeline.config import PipelineConfig
from pipeline.ledger import record_from_json
from pipeline.segment.classical import ClassicalSegmenter
from pipeline.segment.sam import SamSegmenter
from tests.needs import needs
from tests.synthetic import bottle_on_white

N_PHOTOS = 3


class OutOfMemorySam:
    """Stands in for a loaded SAM whose every prediction dies (what CUDA OOM looks like here)."""

    provenance = {"path": "oom.pth"}

    @property
    def lock(self):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(N_PHOTOS):
        rgb, _ = bottle_on_white(96, 80 + 8 * i)
        cv2.imwrite(str(src / f"p{i}.png"), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    return src


def _config(**overrides) -> PipelineConfig:
    return PipelineConfig().with_overrides({"placement.long_side": 128, "segment.backend": "sam", **overrides})


def _sam_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "SAM" in r.getMessage()]


def test_sam_failing_on_every_image_is_counted_and_warned_once(photos, tmp_path, caplog):
    needs("torch")  # the out-of-memory error is torch's
    config = _config()
    segmenter = SamSegmenter(ClassicalSegmenter(config.segment), OutOfMemorySam(), 0.5)
    runner = BatchRunner(config, stages=dataclasses.replace(build_stages(_config(**{"segment.backend": "classical"})),
                                                            segmenter=segmenter))
    caplog.set_level(logging.INFO)
    _, report, records = run_batch(str(photos), str(tmp_path / "out"), config, batch_id="b1", runner=runner)

    assert [r.status for r in records] == ["ok"] * N_PHOTOS
    assert all(r.fallbacks["segment"].startswith("SAM prediction failed: RuntimeError: CUDA out of memory")
               for r in records)
    fallbacks = report["summary"]["fallbacks"]
    assert fallbacks == {"segment": {"items": N_PHOTOS, "reasons": {"SAM prediction failed": N_PHOTOS}}}
    on_disk = json.loads((tmp_path / "out" / "b1" / "report.json").read_text())
    assert on_disk["summary"]["fallbacks"] == fallbacks
    assert on_disk["items"][0]["fallbacks"]["segment"].startswith("SAM prediction failed")
    assert record_from_json(records[0].as_json()).fallbacks == records[0].fallbacks  # kept by the ledger
    html = (tmp_path / "out" / "b1" / "report.html").read_text()
    assert 'class="notice"' in html and f"{N_PHOTOS} of {N_PHOTOS} items fell back" in html
    assert len(_sam_warnings(caplog)) == 1, _sam_warnings(caplog)

    markdown = summary_markdown(records, BatchStats("b1", "studio", "threads"), None)
    assert f"segment: {N_PHOTOS} of {N_PHOTOS} items fell back" in markdown
    assert "SAM prediction failed ×3" in markdown


@pytest.mark.parametrize("backend,option", [("sam", "segment.sam_checkpoint"), ("onnx", "segment.onnx_model")])
def test_model_that_cannot_load_is_counted_and_warned_once(photos, tmp_path, caplog, backend, option):
    caplog.set_level(logging.INFO)
    config = _config(**{"segment.backend": backend, option: str(tmp_path / f"missing.{backend}")})
    _, report, _ = run_batch(str(photos), str(tmp_path / "out"), config, batch_id="b2")
    assert report["summary"]["fallbacks"]["segment"]["items"] == N_PHOTOS
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "fallback" in r.getMessage()]
    assert len(warnings) == 1 and backend.upper() in warnings[0], warnings


def test_no_fallback_no_notice(photos, tmp_path):
    config = PipelineConfig().with_overrides({"placement.long_side": 128})
    _, report, records = run_batch(str(photos), str(tmp_path / "out"), config, batch_id="b3")
    assert report["summary"]["fallbacks"] == {} and all(r.fallbacks == {} for r in records)
    assert 'class="notice"' not in (tmp_path / "out" / "b3" / "report.html").read_text()
    assert "fallback" not in summary_markdown(records, BatchStats("b3", "studio", "threads"), None)
