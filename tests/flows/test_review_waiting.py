"""A flow run that leaves products waiting for review emits ``product-scene.review.waiting`` with
the right counts and the review command, against a real Prefect server; its summary says the same."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.needs import needs

needs("flows")

from flows.artifacts import SUMMARY_KEY
from flows.process_bucket import process_bucket
from flows.review_waiting import EVENT, waiting_counts
from pipeline.catalogue.store import Catalogue
from pipeline.io.storage import Bucket
from tests.flows.checks import flow_run_artifacts
from tests.flows.conftest import _drain_prefect_workers, write_images


def waiting_events(since_ids: set[str], count: int, timeout: float = 60.0) -> list:
    """Events named EVENT that are not in ``since_ids``, once ``count`` of them reached the server."""
    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    async def read():
        async with get_client() as client:
            page = await client.read_events(filter=EventFilter(event=EventNameFilter(name=[EVENT])), limit=50)
            return [e for e in page.events if str(e.id) not in since_ids]

    deadline = time.monotonic() + timeout
    while True:  # at least one read: with timeout=0 this is the snapshot of events already there
        _drain_prefect_workers()
        found = asyncio.run(read())
        if len(found) >= count or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    return sorted(found, key=lambda e: e.occurred)


def test_a_run_with_products_waiting_emits_the_event_with_the_counts(prefect_server, tmp_path: Path, small_config):
    src, dest = tmp_path / "src", tmp_path / "dest"
    write_images(src, 4)
    before = {str(e.id) for e in waiting_events(set(), 0, timeout=0)}
    state = process_bucket(str(src), str(dest), config=small_config, return_state=True)
    first, run_id = state.result(), state.state_details.flow_run_id
    [event] = waiting_events(before, 1)
    counts = event.payload["counts"]
    assert counts == {"waiting": 4, "failed": first["fail"], "passed": first["pass"], "errors": first["error"],
                      "rejected_before": 0, "from_this_batch": 4}
    assert event.payload["batch_id"] == first["batch_id"]
    assert event.payload["review_command"] == f"product-scene review {dest}"
    assert event.resource.id == f"product-scene.destination.{dest}"
    summary = {a.key: a for a in flow_run_artifacts(run_id)}[SUMMARY_KEY].data
    assert "## Review waiting: 4 products" in summary and f"product-scene review {dest}" in summary

    # A reviewer decides one product; the next run brings two new photos: five wait, two of them new.
    cat = Catalogue(Bucket(dest))
    pid, product = next(iter(sorted(cat.load().items())))
    version = next(iter(product["versions"].values()))
    cat.decide(pid, version["id"], "rejected", "alice", seen_sha256=version["sha256"])
    write_images(src, 2, start=10)
    second = process_bucket(str(src), str(dest), config=small_config)
    events = waiting_events(before, 2)
    assert [e.payload["counts"]["waiting"] for e in events] == [4, 5]
    assert events[1].payload["counts"]["from_this_batch"] == 2 and events[1].payload["batch_id"] == second["batch_id"]
    assert waiting_counts(cat.load(), second["batch_id"]) == events[1].payload["counts"]

    # Nothing new: the run stays quiet (no batch, no event).
    assert process_bucket(str(src), str(dest), config=small_config)["processed"] == 0
    time.sleep(1.0)
    assert len(waiting_events(before, 3, timeout=2.0)) == 2


def test_the_readmes_automation_is_one_prefect_accepts_and_reads_the_events_fields():
    """The Automation shown in the README parses as a Prefect automation on this event, and its
    templates name fields the event carries."""
    import re

    import yaml
    from prefect.events.schemas.automations import AutomationCore

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    block = re.search(r"```yaml\n(name: product-scene review waiting\n.*?)```", readme, re.DOTALL).group(1)
    automation = AutomationCore.model_validate(yaml.safe_load(block))
    assert automation.trigger.expect == {EVENT}
    payload = {"counts": waiting_counts({}, "b"), "review_command": "x", "batch_id": "b", "destination": "d"}
    for field in re.findall(r"event\.payload\.([a-z_.]+)", block):
        value = payload
        for part in field.split("."):
            value = value[part]  # a KeyError names a field the event does not carry
