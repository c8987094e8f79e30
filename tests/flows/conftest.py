"""Fixtures for the flow tests: one real Prefect server and one SeaweedFS per session, tiny images.

The Prefect server (≈20 s to start here) and SeaweedFS (≈1 s) are started once per session on
free ports with their own data folders, checked to be ours, and stopped by PID at the end.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.flows.servers import PrefectServer, SeaweedServer, free_port

# Prefect reads its settings when it is first imported, and threads that do not inherit a
# context (Prefect's own workers) see only those: announce this session's server address and a
# PREFECT_HOME of its own (client state out of ~/.prefect) before anything imports prefect.
_ANNOUNCED_PORT = 0
if "prefect" not in sys.modules:
    _ANNOUNCED_PORT = free_port()
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="ps-prefect-client-")
    os.environ["PREFECT_API_URL"] = f"http://127.0.0.1:{_ANNOUNCED_PORT}/api"
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

TEST_BUCKET = "ps-test"


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """A Prefect API server of our own; this process's Prefect client points at it."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = PrefectServer(tmp_path_factory.mktemp("prefect-home"), port=_ANNOUNCED_PORT).start()
    saved = {k: os.environ.get(k) for k in server.client_env()}
    os.environ.update(server.client_env())
    try:
        with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
            yield server
    finally:
        _drain_prefect_workers()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def _drain_prefect_workers() -> None:
    """Send buffered logs and events before the server goes away."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        with contextlib.suppress(Exception):  # nothing buffered, or the worker never started
            worker.drain_all(timeout=5)


@pytest.fixture(scope="session")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedServer]:
    """SeaweedFS with a bucket ``ps-test``; AWS_* credentials of its own are exported."""
    server = SeaweedServer(tmp_path_factory.mktemp("weed") / "data").start()
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    server.make_bucket(TEST_BUCKET)
    try:
        yield server
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def synthetic_product(index: int, side: int = 112) -> np.ndarray:
    """A distinct little product on white: HWC uint8 RGB (colour, shape and label vary with index)."""
    rng = np.random.default_rng(index)
    img = np.full((side, side, 3), 255, np.uint8)
    colour = tuple(int(c) for c in rng.integers(20, 200, 3))
    x0, y0 = int(rng.integers(18, 30)), int(rng.integers(14, 26))
    x1, y1 = side - int(rng.integers(18, 30)), side - int(rng.integers(10, 20))
    if index % 2:
        cv2.rectangle(img, (x0, y0), (x1, y1), colour, -1)
    else:
        cv2.ellipse(img, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2, (y1 - y0) // 2), 0, 0, 360, colour, -1)
    cv2.putText(img, f"P{index}", (x0 + 6, (y0 + y1) // 2 + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (250, 250, 250), 1)
    return img


def encode(img: np.ndarray, suffix: str = ".png") -> bytes:
    ok, buf = cv2.imencode(suffix, cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
    assert ok
    return buf.tobytes()


def write_images(folder: Path, count: int, start: int = 0, prefix: str = "incoming") -> list[str]:
    """``count`` product photos under ``folder/prefix``; returns their keys."""
    keys = []
    for i in range(start, start + count):
        key = f"{prefix}/product_{i:03d}.{'png' if i % 3 else 'jpg'}"
        path = folder / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode(synthetic_product(i), "." + key.rsplit(".", 1)[1]))
        keys.append(key)
    return keys


@pytest.fixture
def small_config():
    from pipeline.config import PipelineConfig

    return PipelineConfig().with_overrides({"placement.long_side": 128})


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "integration: real servers, subprocesses, clusters (run by default)")
