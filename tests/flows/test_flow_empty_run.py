"""A scheduled run that finds nothing new publishes no artifacts and logs one line of its own."""

from __future__ import annotations

import pytest

from tests.needs import needs

needs("flows")

import re

from flows.process_bucket import process_bucket
from tests.flows.checks import flow_run_artifacts, flow_run_logs
from tests.flows.conftest import write_images

# what Prefect's engine logs for every flow and task run (not ours)
ENGINE_LINE = re.compile(r"^(Beginning flow run|View at |Finished in state|Created task run|Executing |"
                         r"Submitting task run|Task run .* - Finished)")


def test_nothing_new_publishes_nothing_and_logs_one_line(prefect_server, tmp_path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    write_images(src, 2)
    first = process_bucket(str(src), str(dest), config=small_config, return_state=True)
    assert first.result()["processed"] == 2
    assert flow_run_artifacts(first.state_details.flow_run_id)  # a real batch does publish

    empty = process_bucket(str(src), str(dest), config=small_config, return_state=True)
    summary, run_id = empty.result(), empty.state_details.flow_run_id
    assert summary["processed"] == 0 and summary["skipped_done"] == 2
    assert flow_run_artifacts(run_id) == []
    ours = [m for m in flow_run_logs(run_id) if not ENGINE_LINE.match(m)]
    assert ours == ["nothing new under incoming/ (2 listed, 2 done)"], ours
