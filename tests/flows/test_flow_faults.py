"""Faults: the flow process killed with SIGKILL mid-batch, the S3 server restarted mid-batch,
several runs started at once. Each ends with every product processed exactly once."""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.needs import needs

needs("flows")

from flows.params import BatchOptions, RunnerParams, StorageParams
from flows.process_bucket import process_bucket
from pipeline.ledger import Ledger
from pipeline.io.storage import Bucket
from tests.flows.checks import assert_exactly_once, item_folders, task_runs_of
from tests.flows.conftest import TEST_BUCKET, write_images
from tests.flows.servers import SeaweedServer, stop_pid
from tests.flows.test_flow_s3 import upload_images

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration

RUN_FLOW = """
import sys
from flows.params import BatchOptions
from flows.process_bucket import process_bucket
from pipeline.config import PipelineConfig
config = PipelineConfig.model_validate_json(sys.argv[3])
process_bucket(sys.argv[1], sys.argv[2], config=config, options=BatchOptions.model_validate_json(sys.argv[4]))
"""


def in_thread(target) -> threading.Thread:
    """A started thread running ``target`` in a copy of this context (Prefect's settings live there)."""
    thread = threading.Thread(target=contextvars.copy_context().run, args=(target,))
    thread.start()
    return thread


def _wait_for(predicate, timeout: float, what: str, poll: float = 0.02) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def _visible(folder: Path) -> list[str]:
    return [n for n in os.listdir(folder) if not n.startswith(".")] if folder.is_dir() else []


def test_kill_9_mid_batch_then_rerun(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 14)
    done_dir, lease_dir = dest / "_ledger" / "done", dest / "_ledger" / "leases"
    options = BatchOptions(runner=RunnerParams(max_workers=2))
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_FLOW, str(src), str(dest), small_config.model_dump_json(),
         options.model_dump_json()],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        def mid_item() -> bool:  # some items committed, others holding a lease right now
            return len(_visible(done_dir)) >= 3 and any(not n.startswith("batch-") for n in _visible(lease_dir))

        _wait_for(mid_item, 120, "three committed items and one in flight", poll=0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            stop_pid(proc.pid)
    committed = len(_visible(done_dir))  # a temp file of a half-done create is not a commit
    in_flight = [n for n in _visible(lease_dir) if not n.startswith("batch-")]
    assert 3 <= committed < len(keys), "the kill must land mid-batch"
    partial = sorted(i for i, n in item_folders(Bucket(dest)).items())
    print(f"kill -9 after {committed} commits; leases left by the dead run: {len(in_flight)}; "
          f"item folders on disk: {len(partial)}")

    summary = process_bucket(str(src), str(dest), config=small_config, options=options)
    assert summary["processed"] == len(keys) - committed
    assert len(summary["recovered_batches"]) == 1  # the killed batch got its report
    assert_exactly_once(Bucket(dest), keys)


@pytest.fixture
def own_s3(s3, tmp_path) -> SeaweedServer:
    """A SeaweedFS of this test alone (it gets restarted), with the session's credentials."""
    server = SeaweedServer(tmp_path / "weed", access_key=s3.access_key, secret_key=s3.secret_key).start()
    server.make_bucket(TEST_BUCKET)
    yield server
    server.stop()


def test_s3_restart_mid_batch_loses_nothing(prefect_server, own_s3, small_config):
    root = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}"
    source = Bucket(f"{root}/src", own_s3.storage_options())
    dest = Bucket(f"{root}/dest", own_s3.storage_options())
    keys = upload_images(source, 10)
    options = BatchOptions(storage=StorageParams(endpoint_url=own_s3.endpoint),
                           runner=RunnerParams(max_workers=2))
    results: list = []
    runner = in_thread(lambda: results.append(
        process_bucket(f"{root}/src", f"{root}/dest", config=small_config, options=options, return_state=True)))

    def committed() -> int:
        try:
            return len(Ledger(dest).done_names())
        except Exception:  # noqa: BLE001 - the server may be down right now
            return 0

    _wait_for(lambda: committed() >= 2, 120, "two committed items", poll=0.05)
    at_restart = committed()
    own_s3.restart(down_s=2.0)
    runner.join(180)
    assert not runner.is_alive()
    first = results[0].result(raise_on_failure=False)
    retried = [t.name for t in task_runs_of(results[0].state_details.flow_run_id) if t.run_count > 1]
    print(f"S3 restart: first run -> {first if not isinstance(first, dict) else {k: first[k] for k in ('processed', 'storage_failures')}}; retried tasks: {retried}")
    assert 2 <= at_restart < len(keys), f"the restart must hit the batch in the middle ({at_restart} committed)"
    if not isinstance(first, dict) or first["storage_failures"]:
        process_bucket(f"{root}/src", f"{root}/dest", config=small_config, options=options)  # resume
    dest = Bucket(f"{root}/dest", own_s3.storage_options())
    assert_exactly_once(dest, keys)


def test_overlapping_runs_never_process_a_product_twice(prefect_server, tmp_path, small_config):
    """A late worker starting several overdue runs at once: the leases split the work."""
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 9)
    options = BatchOptions(runner=RunnerParams(max_workers=2))
    summaries: list[dict] = []
    barrier = threading.Barrier(3)

    def one_run() -> None:
        barrier.wait()
        summaries.append(process_bucket(str(src), str(dest), config=small_config, options=options))

    threads = [in_thread(one_run) for _ in range(3)]
    [t.join(180) for t in threads]
    assert len(summaries) == 3
    assert sum(s["processed"] for s in summaries) == len(keys)
    assert sorted(k for s in summaries for k in s["items"]) == keys
    assert_exactly_once(Bucket(dest), keys)
    assert sum(item_folders(Bucket(dest)).values()) == len(keys)
