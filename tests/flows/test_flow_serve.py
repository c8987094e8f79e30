"""Scheduling: prefect.yaml deploys to a real server; `product-scene serve` (flow.serve) runs the
flow on an interval schedule and a scheduled run processes photos dropped into the S3 bucket."""

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

import yaml

from flows.artifacts import TABLE_KEY
from flows.params import DEFAULT_CRON
from flows.process_bucket import process_bucket
from flows.serve import build_parser, deployment_parameters, serve_main
from pipeline.io.storage import Bucket
from pipeline.ledger import Ledger
from tests.flows.checks import assert_exactly_once, flow_run_artifacts
from tests.flows.conftest import TEST_BUCKET, write_images
from tests.flows.servers import _alive, _descendants, stop_pid
from tests.flows.test_flow_s3 import upload_images

REPO = Path(__file__).resolve().parents[2]


def test_prefect_yaml_parameters_match_the_flow():
    spec = yaml.safe_load((REPO / "prefect.yaml").read_text())
    assert [d["name"] for d in spec["deployments"]] == ["process-bucket", "process-bucket-gpu"]
    for dep in spec["deployments"]:
        assert dep["entrypoint"] == "flows/process_bucket.py:process_bucket"
        assert dep["concurrency_limit"] == 1
        assert dep["schedules"][0]["cron"] == DEFAULT_CRON
        validated = process_bucket.validate_parameters(dep["parameters"])
        assert validated["options"].prefix == "incoming/"


def test_serve_arguments_become_validated_parameters(tmp_path):
    args = build_parser().parse_args(["s3://in/", "s3://out/", "--endpoint-url", "http://127.0.0.1:9",
                                      "--move-inputs", "--runner", "dask", "--workers", "3"])
    params = deployment_parameters(args)
    options = process_bucket.validate_parameters(params)["options"]
    assert options.on_success == "move" and options.runner.dask_workers == 3
    assert options.storage.endpoint_url == "http://127.0.0.1:9"
    assert serve_main(["a", "b", "--prefix", "../up"]) == 2
    assert serve_main(["a", "b", "--config", str(tmp_path / "missing.yaml")]) == 2


@pytest.mark.parametrize("case", ["dest-in-prefix", "unknown-theme", "unknown-key", "bad-url"])
def test_serve_refuses_what_a_run_would_refuse_before_serving(tmp_path, monkeypatch, capsys, case):
    def never(*_a, **_k):
        raise AssertionError("served despite an input every scheduled run would refuse")

    monkeypatch.setattr(process_bucket, "serve", never)
    src, dest, config = tmp_path / "shop", tmp_path / "out", tmp_path / "c.yaml"
    config.write_text("scene:\n  theme: paper-white\n")
    if case == "dest-in-prefix":
        dest = src / "incoming" / "scenes"
    elif case == "unknown-theme":
        config.write_text("scene:\n  theme: moon-base\n")
    elif case == "unknown-key":
        config.write_text("placement:\n  longside: 512\n")
    argv = [str(src), str(dest), "--config", str(config)]
    if case == "bad-url":
        argv[0] = "nosuchprotocol://bucket/"
    assert serve_main(argv) == 2
    err = capsys.readouterr().err
    expected = {"dest-in-prefix": "inside the watched prefix", "unknown-theme": "moon-base",
                "unknown-key": "longside", "bad-url": "nosuchprotocol"}[case]
    assert err.startswith("product-scene serve: ") and expected in err and "Traceback" not in err


@pytest.mark.integration
def test_prefect_yaml_deploys_to_a_real_server(prefect_server, tmp_path):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    with get_client(sync_client=True) as client:
        client.create_work_pool(WorkPoolCreate(name="product-scene", type="process"), overwrite=True)
    env = {**os.environ, "PRODUCT_SCENE_HOME": str(REPO), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with get_client(sync_client=True) as client:
        dep = client.read_deployment_by_name("process-bucket/process-bucket")
    assert dep.global_concurrency_limit.limit == 1
    assert dep.schedules[0].schedule.cron == DEFAULT_CRON and dep.enforce_parameter_schema
    assert dep.pull_steps[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(REPO)
    assert set(dep.parameter_openapi_schema["properties"]) == {"source_url", "dest_url", "config", "config_path",
                                                               "options"}


def _deployment(name: str):
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return client.read_deployment_by_name(f"process-bucket/{name}")
        except ObjectNotFound:  # until serve has registered it
            return None


def _runs(deployment_id, *states) -> list:
    """The deployment's flow runs in any of ``states``."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(states)))))


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            stop_pid(proc.pid)


@pytest.mark.integration
def test_served_schedule_processes_photos_dropped_into_s3(prefect_server, s3, tmp_path):
    from prefect.client.schemas.objects import StateType

    name = f"serve-{uuid.uuid4().hex[:6]}"
    root = f"s3://{TEST_BUCKET}/{name}"
    config = tmp_path / "small.yaml"
    config.write_text("placement:\n  long_side: 128\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [sys.executable, "-c", "import sys; from flows.serve import serve_main; sys.exit(serve_main(sys.argv[1:]))",
             f"{root}/src", f"{root}/dest", "--interval", "3", "--name", name, "--config", str(config),
             "--endpoint-url", s3.endpoint],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while (dep := _deployment(name)) is None:
            assert serve.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()[-3000:]
            time.sleep(0.5)
        assert dep.global_concurrency_limit is None  # one run at a time per serve process, no shared slot
        source = Bucket(f"{root}/src", s3.storage_options())
        keys = upload_images(source, 3)  # people drop photos into the bucket
        deadline, hit = time.monotonic() + 120, None
        while hit is None and time.monotonic() < deadline:
            for run in _runs(dep.id, StateType.COMPLETED):
                table = [a for a in flow_run_artifacts(run.id) if a.key == TABLE_KEY]
                if table and len(json.loads(table[0].data)) == len(keys):
                    hit = run
            time.sleep(1)
        assert hit is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert hit.auto_scheduled  # the schedule made this run, not a manual trigger
        assert {a.key for a in flow_run_artifacts(hit.id)} >= {TABLE_KEY, "process-bucket-summary",
                                                                "process-bucket-report"}
    finally:
        _stop(serve)
    assert_exactly_once(Bucket(f"{root}/dest", s3.storage_options()), keys)


SERVE = "import sys; from flows.serve import serve_main; sys.exit(serve_main(sys.argv[1:]))"
SLOW_CONFIG = "placement:\n  long_side: 1024\n"  # about half a second per photo here: kills land mid-batch


def _start_serve(tmp_path: Path, name: str, src: Path, dest: Path, log_name: str) -> subprocess.Popen:
    config = tmp_path / "slow.yaml"
    config.write_text(SLOW_CONFIG)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    with open(tmp_path / log_name, "wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", SERVE, str(src), str(dest), "--interval", "2", "--name", name,
             "--config", str(config), "--workers", "1"],
            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def _state_of(run_id):
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state_type


def _wait(predicate, timeout: float, what: str, log: Path | None = None, poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout}s waiting for {what}\n{tail}")


def _running_mid_batch(name: str, dest: Path, log: Path):
    """Wait until the served deployment has a run that committed two photos and holds a lease."""
    from prefect.client.schemas.objects import StateType

    dep = _wait(lambda: _deployment(name), 90, "serve to register its deployment", log, poll=0.5)
    done_dir, lease_dir = dest / "_ledger" / "done", dest / "_ledger" / "leases"

    def mid_batch() -> bool:
        leases = [n for n in os.listdir(lease_dir) if not n.startswith("batch-")] if lease_dir.is_dir() else []
        return done_dir.is_dir() and len(os.listdir(done_dir)) >= 2 and bool(leases)

    _wait(mid_batch, 120, "a run mid-batch", log, poll=0.01)
    (run,) = _runs(dep.id, StateType.RUNNING)
    return dep, run


def _ledger_settled(dest: Path, n: int) -> bool:
    ledger = Ledger(Bucket(dest))
    return len(ledger.done_names()) == n and not ledger.open_batches() and not ledger.leases()


@pytest.mark.integration
def test_restarted_serve_marks_the_killed_run_crashed_and_resumes_at_once(prefect_server, tmp_path):
    """kill -9 of serve and its flow-run process together (a lost container), then serve again."""
    from prefect.client.schemas.objects import StateType

    src, dest, name = tmp_path / "src", tmp_path / "dest", f"crash-{uuid.uuid4().hex[:6]}"
    keys = write_images(src, 12)
    first = _start_serve(tmp_path, name, src, dest, "serve1.log")
    try:
        dep, dead = _running_mid_batch(name, dest, tmp_path / "serve1.log")
        family = _descendants(first.pid)
        assert len(family) > 1  # serve and its flow-run process
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        _wait(lambda: not any(_alive(p) for p in family), 10, "the killed processes to go")
    finally:
        if first.poll() is None:
            stop_pid(first.pid)
    assert dep.global_concurrency_limit is None  # nothing a dead run could hold
    assert _state_of(dead.id) == StateType.RUNNING  # what a kill -9 leaves behind
    committed = len(os.listdir(dest / "_ledger" / "done"))
    assert committed < len(keys)

    restarted_at = time.monotonic()
    second = _start_serve(tmp_path, name, src, dest, "serve2.log")
    try:
        _wait(lambda: _state_of(dead.id) == StateType.CRASHED, 60, "the dead run to be marked crashed",
              tmp_path / "serve2.log", poll=0.5)
        _wait(lambda: _ledger_settled(dest, len(keys)), 120, "the restarted serve to finish the backlog",
              tmp_path / "serve2.log", poll=0.5)
        resumed_s = time.monotonic() - restarted_at
    finally:
        _stop(second)
    print(f"restart: {committed} photos done before the kill, backlog finished {resumed_s:.0f} s after restart")
    assert resumed_s < 120  # before: nothing ran for 5 minutes (the dead run held the only slot)
    assert_exactly_once(Bucket(dest), keys)


@pytest.mark.integration
def test_killing_serve_alone_stops_its_flow_run(prefect_server, tmp_path):
    from prefect.client.schemas.objects import StateType

    src, dest, name = tmp_path / "src", tmp_path / "dest", f"orphan-{uuid.uuid4().hex[:6]}"
    keys = write_images(src, 60)  # far more than a run finishes while its process notices serve is gone
    serve = _start_serve(tmp_path, name, src, dest, "serve.log")
    children: set[int] = set()
    try:
        _dep, run = _running_mid_batch(name, dest, tmp_path / "serve.log")
        children = _descendants(serve.pid) - {serve.pid}
        assert children  # its flow-run process
        os.kill(serve.pid, signal.SIGKILL)  # serve alone
        killed_at = time.monotonic()
        serve.wait(10)
        _wait(lambda: not any(_alive(p) for p in children), 20, "the flow-run process to stop with serve")
        print(f"flow-run process gone {time.monotonic() - killed_at:.1f} s after kill -9 of serve")
    finally:
        for pid in _descendants(serve.pid) | children:
            if _alive(pid):
                stop_pid(pid)
    _wait(lambda: _state_of(run.id) == StateType.CRASHED, 20, "its run to be marked crashed", poll=0.5)
    assert len(os.listdir(dest / "_ledger" / "done")) < len(keys)  # stopped mid-batch, not finished as an orphan
    leases = Ledger(Bucket(dest)).leases()
    assert all(info.stale() for info in leases)  # its leases are free for the next run at once
