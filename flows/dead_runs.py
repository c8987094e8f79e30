"""Flow runs and the processes that run them: a dead run is marked crashed, and a run dies with
the ``product-scene serve`` process that started it.

- :func:`record_run_owner`: at the start of a run, labels on the flow run name the process that
  runs it (the ledger's :class:`~pipeline.ledger.Owner`: node id, PID, process start time).
- :func:`crash_dead_runs`: when ``serve`` starts, runs of its deployment still pending or
  running whose process is gone from this machine (``kill -9``, OOM killer, a lost container)
  are set ``Crashed``, so the UI and the API tell the truth. Runs on other machines, or that
  died before they recorded their process, are left alone (nothing waits on them: the
  deployment has no concurrency limit, the ledger keeps overlapping runs apart).
- :func:`crash_dead_runs_of`: the same sweep at the start of every deployed run, so a dead run
  that start-up missed is marked by the next scheduled run.
- :func:`watch_serve_parent`: in a flow-run process started by ``serve``, a daemon thread
  watches the parent; once ``serve`` is gone (even by ``kill -9``) it sends this process
  SIGTERM, which Prefect turns into a ``Crashed`` run, and the ledger's leases of this process
  become free at once.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

from pipeline.ledger import Owner

log = logging.getLogger(__name__)

SERVE_PID_ENV = "PRODUCT_SCENE_SERVE_PID"
LABEL_NODE = "product-scene.node"
LABEL_PID = "product-scene.pid"
LABEL_PID_START = "product-scene.pid-start"
PARENT_POLL_S = 0.5
_watching = threading.Event()


def owner_labels(owner: Owner) -> dict[str, str]:
    """Flow-run labels naming ``owner``'s process (strings: Prefect labels are key-value)."""
    return {LABEL_NODE: owner.node, LABEL_PID: str(owner.pid),
            LABEL_PID_START: "" if owner.pid_start is None else str(owner.pid_start)}


def owner_from_labels(labels: dict[str, Any], holder: str) -> Owner | None:
    """The process recorded by :func:`owner_labels`, or None when the run recorded none."""
    try:
        node, pid = str(labels[LABEL_NODE]), int(labels[LABEL_PID])
    except (KeyError, TypeError, ValueError):
        return None
    start = str(labels.get(LABEL_PID_START) or "")
    return Owner(node, pid, int(start) if start.isdigit() else None, holder)


def record_run_owner(flow_run_id: Any) -> None:
    """Label the flow run with this process (best effort: a failure is logged, never raised)."""
    if flow_run_id is None:
        return
    from prefect.client.orchestration import get_client

    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run_labels(flow_run_id, owner_labels(Owner.current(str(flow_run_id))))
    except Exception as exc:  # noqa: BLE001 - liveness labels must never fail a batch
        log.warning("could not record this process on flow run %s: %s", flow_run_id, exc)


def crash_dead_runs(flow_name: str, deployment_name: str) -> list[str]:
    """Set ``Crashed`` on the deployment's pending/running runs whose process is gone from this
    machine; returns their ids. Nothing happens when the deployment does not exist yet."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterId,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Crashed

    crashed = []
    with get_client(sync_client=True) as client:
        try:
            deployment = client.read_deployment_by_name(f"{flow_name}/{deployment_name}")
        except ObjectNotFound:
            return []
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(
                any_=[StateType.PENDING, StateType.RUNNING, StateType.CANCELLING]))))
        for run in runs:
            owner = owner_from_labels(dict(run.labels or {}), str(run.id))
            if owner is None or owner.alive() is not False:
                continue  # still running, on another machine, or it never said where it ran
            message = (f"its process (pid {owner.pid}) is gone from this machine; marked crashed by "
                       f"`product-scene serve` at start-up")
            client.set_flow_run_state(run.id, Crashed(message=message), force=True)
            log.warning("flow run %s (%s) was left %s by a dead process: marked crashed", run.name, run.id,
                        run.state_type.value if run.state_type else "?")
            crashed.append(str(run.id))
    return crashed


def crash_dead_runs_of(flow_name: str | None, deployment_name: str | None) -> list[str]:
    """At the start of every deployed run, the same sweep as at ``serve`` start-up (best effort):
    a dead run that start-up missed (not yet labelled then, or the API busy) is marked at the next
    scheduled run. Returns the ids marked crashed; logs, never raises."""
    if not flow_name or not deployment_name:
        return []
    try:
        return crash_dead_runs(flow_name, deployment_name)
    except Exception as exc:  # noqa: BLE001 - liveness bookkeeping must never fail a batch
        log.warning("could not look for dead runs of %s: %s", deployment_name, exc)
        return []


def watch_serve_parent(poll_s: float = PARENT_POLL_S) -> bool:
    """In a flow-run process started by ``serve`` (``PRODUCT_SCENE_SERVE_PID`` is our parent),
    SIGTERM this process once the parent is gone. Returns True when a watcher runs."""
    expected = os.environ.get(SERVE_PID_ENV, "")
    if not expected.isdigit() or int(expected) != os.getppid() or not hasattr(signal, "SIGTERM"):
        return False
    if _watching.is_set():
        return True
    _watching.set()
    parent = int(expected)

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent:
                log.error("the serve process (pid %d) that started this flow run is gone: stopping the run",
                          parent)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="serve-parent-watch", daemon=True).start()
    return True
