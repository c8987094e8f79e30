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
    # diffusion: the measured memory model (weights mapped once for all workers, the rest each)
    from pipeline.config import load_config
    from pipeline.config.bundled import bundled_file
    from pipeline.config.diffusion import diffusion_config
    from pipeline.scene.diffusion.memory import diffusion_worker_memory

    sd15 = load_config(bundled_file("sd15.yaml")).with_overrides({"run.device": "cpu", "run.dtype": "float32"})
    mem = diffusion_worker_memory(diffusion_config(sd15), "float32")
    monkeypatch.setattr(pool, "available_memory", lambda: mem.weights_bytes + 2 * mem.private_bytes + 1)
    assert default_workers(sd15) == 2  # not 1: the second worker shares the first one's weights
    monkeypatch.setattr(pool, "available_memory", lambda: mem.resident_bytes - 1)
    assert default_workers(sd15) == 1  # never 0


def test_workers_take_the_callers_environment_not_the_fork_servers(tmp_path, monkeypatch):
    """The fork server keeps the environment of its first use; credentials set later (AWS_*) must
    still reach the workers, and variables unset since must be gone."""
    from pipeline.batch import pool

    monkeypatch.setenv("PS_TEST_STALE", "old")
    environ = {k: v for k, v in __import__("os").environ.items() if k != "PS_TEST_STALE"}
    environ["AWS_ACCESS_KEY_ID"] = "fresh-key"
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "stale-key")
    limits = []
    monkeypatch.setattr(pool, "limit_threads", limits.append)  # this test process keeps its threads
    pool._init_worker(CONFIG.model_dump_json(), str(tmp_path), str(tmp_path / "out"), None, False, 30, 1, environ)
    import os

    assert os.environ["AWS_ACCESS_KEY_ID"] == "fresh-key" and "PS_TEST_STALE" not in os.environ
    assert limits == [1, 1]  # before the stages are built and again after (a backend may load torch)
    pool._STATE.clear()


def test_limit_threads_caps_opencv_blas_and_torch_in_a_worker():
    """What a worker of two on two cores gets: one thread in OpenCV, every BLAS/OpenMP pool and torch."""
    import subprocess
    import sys

    code = (
        "import json, cv2, numpy, torch\n"
        "from threadpoolctl import threadpool_info\n"
        "from pipeline.batch.pool import limit_threads\n"
        "limit_threads(1)\n"
        "print(json.dumps({'cv2': cv2.getNumThreads(), 'torch': torch.get_num_threads(),\n"
        "                  'pools': sorted({p['num_threads'] for p in threadpool_info()})}))\n"
    )
    pytest.importorskip("torch")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                          env={**__import__("os").environ, "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got == {"cv2": 1, "torch": 1, "pools": [1]}


def test_threads_per_worker_splits_the_cores(monkeypatch):
    from pipeline.batch import pool

    monkeypatch.setattr(pool, "available_cores", lambda: 8)
    assert [pool.threads_per_worker(w) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def _marked_processes(mark: str) -> list[int]:
    """Live (not zombie) processes whose environment holds ``PS_TEST_MARK=mark``."""
    import os

    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as fh:
                if f"PS_TEST_MARK={mark}".encode() not in fh.read().split(b"\0"):
                    continue
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
        except OSError:
            continue
        found.append(int(pid))
    return found


@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="reads /proc to find the workers")
def test_workers_and_fork_server_exit_when_the_parent_is_killed(tmp_path, bottle):
    """kill -9 of a --workers 2 parent: its fork server and both workers are gone within a second
    or two (they used to hold their call-queue pipes open and run forever)."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import uuid

    _photos(tmp_path / "in", bottle, 40)
    mark = uuid.uuid4().hex
    env = {**os.environ, "PS_TEST_MARK": mark, "PYTHONPATH": os.getcwd()}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "run", str(tmp_path / "in"), str(tmp_path / "out"),
                             "--workers", "2", "--no-progress", "--size", "192x192", "--batch-id", "k"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not list((tmp_path / "out" / "k").glob("*/meta.json")):  # the workers are working
            assert proc.poll() is None and time.monotonic() < deadline, "the batch never started"
            time.sleep(0.05)
        children = [p for p in _marked_processes(mark) if p != proc.pid]
        assert len(children) >= 2  # the fork server and the workers
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    killed = time.monotonic()
    while (left := _marked_processes(mark)) and time.monotonic() - killed < 10:
        time.sleep(0.05)
    assert not left, f"still running {time.monotonic() - killed:.1f} s after kill -9: {left}"
    assert time.monotonic() - killed < 2.0
