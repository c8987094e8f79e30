"""The plain CLI killed mid-batch (``kill -9``, Ctrl-C), locally and with its destination on S3
(SeaweedFS): the next run starts by writing the dead batch's report, so every item committed
before the kill is in exactly one report (issue 16: 5 items locally, 3 on S3 and 3 after Ctrl-C
were in none)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.needs import needs

needs("flows")

from pipeline.cli import main
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger
from tests.flows.checks import assert_exactly_once, reported_items
from tests.flows.conftest import TEST_BUCKET, write_images
from tests.flows.servers import stop_pid

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration
N_IMAGES = 10


def _mid_batch(ledger: Ledger) -> bool:
    """Some items committed and another one holding its lease right now."""
    try:
        return len(ledger.done_names()) >= 3 and any(not i.name.startswith("batch-") for i in ledger.leases())
    except Exception:  # noqa: BLE001 - a half-written lease file, a busy server: look again
        return False


@pytest.mark.parametrize("where", ["local", "s3"])
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["kill-9", "ctrl-c"])
def test_cli_killed_mid_batch_then_rerun_reports_every_committed_item_once(request, tmp_path, where, sig):
    src = tmp_path / "src"
    keys = [k.split("/", 1)[1] for k in write_images(tmp_path, N_IMAGES, prefix="src")]
    extra: list[str] = []
    if where == "s3":
        s3 = request.getfixturevalue("s3")
        dest_url = f"s3://{TEST_BUCKET}/{uuid.uuid4().hex[:8]}/out"
        dest = Bucket(dest_url, s3.storage_options())
        extra = ["--endpoint-url", s3.endpoint]
    else:
        dest_url = str(tmp_path / "out")
        dest = Bucket(dest_url)
    argv = ["run", str(src), dest_url, "--no-progress", "--workers", "1", "--size", "128x128", *extra]
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", *argv, "--batch-id", "killed"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    ledger = Ledger(dest)
    try:
        deadline = time.monotonic() + 120
        while not _mid_batch(ledger):
            assert proc.poll() is None, f"the run ended before the kill: {proc.stderr.read().decode()[-2000:]}"
            assert time.monotonic() < deadline, "timed out waiting for the batch to be mid-way"
            time.sleep(0.01)
        os.kill(proc.pid, sig)
        code = proc.wait(30)
    finally:
        if proc.poll() is None:
            stop_pid(proc.pid)
    assert code == (-signal.SIGKILL if sig == signal.SIGKILL else 130)
    committed = len(ledger.done_names())
    assert 3 <= committed < N_IMAGES, "the kill must land mid-batch"
    assert not dest.exists("killed/report.json")

    assert main([*argv, "--batch-id", "rerun"]) == 0
    assert dict(reported_items(dest)) == {k: 1 for k in keys}
    killed = json.loads(dest.read_bytes("killed/report.json"))
    assert len(killed["items"]) == committed and killed["extra"]["recovered"] is True
    assert_exactly_once(dest, keys, ledger=Ledger(dest))
    assert Ledger(dest).open_batches() == {}
