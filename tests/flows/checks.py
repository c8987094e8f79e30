"""Assertions shared by the flow tests: exactly-once outputs and a consistent ledger."""

from __future__ import annotations

from collections import Counter

from pipeline.ledger import LEDGER, Ledger
from pipeline.io.storage import Bucket


def item_folders(dest: Bucket) -> Counter:
    """item id -> how many batch folders hold a copy of it."""
    seen = set()
    for key in dest.list_keys():
        parts = key.split("/")
        if parts[0] != LEDGER and len(parts) >= 3:
            seen.add((parts[0], parts[1]))
    return Counter(item for _batch, item in seen)


def reported_items(dest: Bucket) -> Counter:
    """source key -> how many batch reports list it (processed there)."""
    import json

    counts: Counter = Counter()
    for key in dest.list_keys():
        if key.endswith("/report.json") and key.count("/") == 1:
            report = json.loads(dest.read_bytes(key))
            for item in report["items"]:
                counts[item["source"]] += 1
    return counts


def assert_exactly_once(dest: Bucket, keys: list[str], *, error_keys: tuple[str, ...] = (),
                        ledger: Ledger | None = None) -> None:
    """Every key committed once, one output folder each (none for ``error_keys``: bad files),
    in exactly one batch report; no stray folders, no leases left, ledger consistent."""
    from pipeline.batch import item_id_for_key

    ledger = ledger or Ledger(dest)
    assert ledger.check() == []
    folders = item_folders(dest)
    wanted = {item_id_for_key(k) for k in keys}
    assert {i: n for i, n in folders.items() if i in wanted} == {i: 1 for i in wanted}, folders
    assert set(folders) <= wanted, f"unexpected output folders: {set(folders) - wanted}"
    assert len(ledger.done_names()) == len(keys) + len(error_keys)
    assert ledger.leases() == []
    reports = reported_items(dest)
    assert dict(reports) == {k: 1 for k in [*keys, *error_keys]}, reports


def flow_run_artifacts(flow_run_id) -> list:
    """Artifacts a flow run published (latest versions and history)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


def flow_run_logs(flow_run_id) -> list[str]:
    """Log messages of a flow run and its task runs, as the server stored them (after a flush)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
    from prefect.logging.handlers import APILogWorker

    APILogWorker.drain_all(timeout=5)
    with get_client(sync_client=True) as client:
        logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[flow_run_id])))
    return [log.message for log in logs]


def task_runs_of(flow_run_id, at_least: int = 0, timeout_s: float = 15.0) -> list:
    """Task runs of a flow run as the server has them. The server builds task runs from events the
    client sends in the background, so right after a run some may not be there yet: wait (up to
    ``timeout_s``) until at least ``at_least`` are."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.events.worker import EventsWorker

    EventsWorker.drain_all(timeout=5)
    deadline = time.monotonic() + timeout_s
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
            if len(runs) >= at_least or time.monotonic() > deadline:
                return runs
            time.sleep(0.2)
