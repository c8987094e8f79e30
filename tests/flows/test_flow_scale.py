"""Scale-out: the batch on a Dask LocalCluster (2 worker processes) and on a process pool;
each worker process builds its pipeline once."""

from __future__ import annotations

import os
import socket

import pytest

from tests.needs import needs

needs("flows")

from flows.params import BatchOptions, RunnerParams
from flows.process_bucket import process_bucket
from flows.runners import make_task_runner
from pipeline.io.storage import Bucket
from tests.flows.checks import assert_exactly_once
from tests.flows.conftest import write_images

pytestmark = pytest.mark.integration


def test_batch_on_a_dask_local_cluster_with_two_workers(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 8)
    options = BatchOptions(runner=RunnerParams(kind="dask", dask_workers=2))
    summary = process_bucket(str(src), str(dest), config=small_config, options=options)
    assert summary["processed"] == len(keys) and summary["error"] == 0
    workers = summary["workers"]
    assert f"{socket.gethostname()}:{os.getpid()}" not in workers  # ran in the cluster, not here
    assert 1 <= len(workers) <= 2 and set(workers.values()) == {1}  # one pipeline per worker process
    assert_exactly_once(Bucket(dest), keys)


def test_task_runner_choice():
    from prefect.task_runners import ProcessPoolTaskRunner, ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert isinstance(make_task_runner(RunnerParams(max_workers=3)), ThreadPoolTaskRunner)
    assert isinstance(make_task_runner(RunnerParams(kind="processes", max_workers=2)), ProcessPoolTaskRunner)
    remote = make_task_runner(RunnerParams(kind="dask", dask_address="tcp://127.0.0.1:8786"))
    assert isinstance(remote, DaskTaskRunner) and remote.address == "tcp://127.0.0.1:8786"
    local = make_task_runner(RunnerParams(kind="dask", dask_workers=3))
    assert local.cluster_kwargs["n_workers"] == 3 and local.cluster_kwargs["processes"] is True


def test_batch_on_a_process_pool(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    keys = write_images(src, 4)
    options = BatchOptions(runner=RunnerParams(kind="processes", max_workers=2))
    summary = process_bucket(str(src), str(dest), config=small_config, options=options)
    assert summary["processed"] == len(keys)
    assert f"{socket.gethostname()}:{os.getpid()}" not in summary["workers"]
    assert set(summary["workers"].values()) == {1}
    assert_exactly_once(Bucket(dest), keys)
