"""Task-runner choice from a typed parameter (:class:`~flows.params.RunnerParams`)."""

from __future__ import annotations

from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from flows.params import RunnerParams


def make_task_runner(params: RunnerParams) -> TaskRunner:
    """A fresh (not started) task runner for ``params``; use it as a context manager.

    threads -> ``ThreadPoolTaskRunner(max_workers)``; processes -> ``ProcessPoolTaskRunner``;
    dask -> prefect-dask ``DaskTaskRunner`` on ``dask_address`` or on a temporary
    ``distributed.LocalCluster`` of ``dask_workers`` single-threaded worker processes.
    """
    if params.kind == "threads":
        return ThreadPoolTaskRunner(max_workers=params.max_workers)
    if params.kind == "processes":
        return ProcessPoolTaskRunner(max_workers=params.max_workers)
    if params.kind == "dask":
        from prefect_dask import DaskTaskRunner

        if params.dask_address:
            return DaskTaskRunner(address=params.dask_address)
        return DaskTaskRunner(
            cluster_class="distributed.LocalCluster",
            cluster_kwargs={
                "n_workers": params.dask_workers,
                "threads_per_worker": params.dask_threads_per_worker,
                "processes": True,
                "dashboard_address": None,
                "host": "127.0.0.1",
            },
        )
    raise ValueError(f"runner kind must be one of threads, processes, dask; got {params.kind!r}")
