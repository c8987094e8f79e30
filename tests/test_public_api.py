"""``import pipeline`` is cheap and exports the few objects a user calls (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}).stdout


def test_import_pipeline_loads_nothing_heavy():
    loaded = json.loads(_fresh("import json, sys, pipeline; print(json.dumps(sorted(sys.modules)))"))
    heavy = {"numpy", "cv2", "pydantic", "yaml", "torch", "PIL", "pipeline.config", "pipeline.compose"}
    assert not heavy & set(loaded), sorted(heavy & set(loaded))


def test_the_exports_are_the_real_objects(tmp_path):
    import pipeline
    from pipeline.batch import run_batch
    from pipeline.compose import build_stages, process_product
    from pipeline.config import PipelineConfig, load_config

    assert set(pipeline.__all__) == {"PipelineConfig", "__version__", "build_stages", "load_config",
                                     "process_product", "run_batch"}
    assert (pipeline.load_config, pipeline.PipelineConfig, pipeline.build_stages, pipeline.process_product,
            pipeline.run_batch) == (load_config, PipelineConfig, build_stages, process_product, run_batch)
    assert "run_batch" in dir(pipeline)


def test_one_photo_through_the_exports(bottle):
    import cv2
    import pytest

    import pipeline

    config = pipeline.load_config(overrides={"placement.long_side": 256})
    rgb, _ = bottle
    ok, png = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    result = pipeline.process_product(png.tobytes(), name="bottle.png", config=config,
                                      stages=pipeline.build_stages(config), seed=0)
    assert ok and result.composite.shape[:2] == (256, 256)
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        pipeline.nope  # noqa: B018
