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
import yaml

from flows.artifacts import TABLE_KEY
from flows.params import DEFAULT_CRON
from flows.process_bucket import process_bucket
from flows.serve import build_parser, deployment_parameters, serve_main
from pipeline.storage import Bucket
from tests.flows.checks import assert_exactly_once, flow_run_artifacts
from tests.flows.conftest import TEST_BUCKET
from tests.flows.servers import stop_pid
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


def _completed_runs(deployment_id) -> list:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType

    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.COMPLETED]))))


@pytest.mark.integration
def test_served_schedule_processes_photos_dropped_into_s3(prefect_server, s3, tmp_path):
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
        assert dep.global_concurrency_limit.limit == 1
        source = Bucket(f"{root}/src", s3.storage_options())
        keys = upload_images(source, 3)  # people drop photos into the bucket
        deadline, hit = time.monotonic() + 120, None
        while hit is None and time.monotonic() < deadline:
            for run in _completed_runs(dep.id):
                table = [a for a in flow_run_artifacts(run.id) if a.key == TABLE_KEY]
                if table and len(json.loads(table[0].data)) == len(keys):
                    hit = run
            time.sleep(1)
        assert hit is not None, (tmp_path / "serve.log").read_text()[-3000:]
        assert hit.auto_scheduled  # the schedule made this run, not a manual trigger
        assert {a.key for a in flow_run_artifacts(hit.id)} >= {TABLE_KEY, "process-bucket-summary",
                                                                "process-bucket-report"}
    finally:
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)
            try:
                serve.wait(15)
            except subprocess.TimeoutExpired:
                stop_pid(serve.pid)
    assert_exactly_once(Bucket(f"{root}/dest", s3.storage_options()), keys)
