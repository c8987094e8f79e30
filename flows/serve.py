"""``product-scene serve``: run the ``process-bucket`` flow on a schedule from this machine.

``flow.serve`` registers a deployment with the Prefect API (``PREFECT_API_URL``) and polls it
for scheduled runs, executing each in a subprocess. Default schedule: every 15 minutes; one run
at a time per serve process, and no deployment-wide concurrency limit, so a run killed with its
machine never holds up the schedule (the ledger's leases keep overlapping runs apart). At
start-up, runs an earlier serve left pending or running with their process gone are marked
crashed; a flow-run process stops when its serve process dies (:mod:`flows.dead_runs`).
Credentials come from this process's environment, never from parameters.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from flows.params import DEFAULT_CRON, DEFAULT_PREFIX, BatchOptions, LedgerParams, RunnerParams, StorageParams

log = logging.getLogger(__name__)

DEPLOYMENT_NAME = "process-bucket"

EPILOG = """\
examples:
  product-scene serve s3://shop/ s3://shop-out/ --endpoint-url http://127.0.0.1:8333
  product-scene serve photos/ out/ --interval 60 --move-inputs
  product-scene serve s3://shop/ s3://shop-out/ --runner dask --dask-address tcp://10.0.0.5:8786

Needs a Prefect API: set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api for `prefect server
start`). Credentials come from the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE).
`product-scene doctor --bucket URL --endpoint-url URL` checks both before you serve.

Stop with Ctrl-C or SIGTERM. If serve is killed hard, its running batch stops too and is marked
crashed; the next serve marks runs left behind on this machine crashed and resumes at once.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="product-scene serve", epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                description="Process new photos under SOURCE/<prefix> into DEST on a schedule.")
    p.add_argument("source", help="bucket URL or folder people drop photos into (under --prefix)")
    p.add_argument("dest", help="bucket URL or folder for outputs, reports and the ledger")
    p.add_argument("--config", type=Path, help="pipeline YAML (read by each run on the worker)")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--cron", default=None, help=f"cron schedule (default {DEFAULT_CRON!r})")
    when.add_argument("--interval", type=float, help="run every N seconds instead of a cron schedule")
    p.add_argument("--name", default=DEPLOYMENT_NAME, help="deployment name")
    p.add_argument("--prefix", default=DEFAULT_PREFIX, help="watched prefix of SOURCE (default incoming/)")
    p.add_argument("--move-inputs", action="store_true",
                   help="move inputs to processed/ after success and failed/ (with the reason) after an error")
    p.add_argument("--max-items", type=int, help="at most this many new items per run")
    p.add_argument("--endpoint-url", help="S3-compatible endpoint URL")
    p.add_argument("--region", help="S3 region")
    p.add_argument("--runner", choices=["threads", "processes", "dask"], default="threads")
    p.add_argument("--workers", type=int, help="threads/processes, or Dask LocalCluster workers")
    p.add_argument("--dask-address", help="scheduler address of an existing Dask cluster")
    p.add_argument("--lease-ttl", type=float, default=LedgerParams().lease_ttl_s, help="seconds")
    p.add_argument("--paused", action="store_true", help="register the schedule paused")
    return p


def deployment_parameters(args: argparse.Namespace) -> dict[str, Any]:
    """Flow parameters for the deployment (validated; JSON-ready)."""
    runner: dict[str, Any] = {"kind": args.runner}
    if args.workers:
        runner["dask_workers" if args.runner == "dask" else "max_workers"] = args.workers
    if args.dask_address:
        runner["dask_address"] = args.dask_address
    options = BatchOptions(
        prefix=args.prefix,
        on_success="move" if args.move_inputs else "keep",
        max_items=args.max_items,
        storage=StorageParams(endpoint_url=args.endpoint_url, region_name=args.region),
        runner=RunnerParams(**runner),
        ledger=LedgerParams(lease_ttl_s=args.lease_ttl),
    )
    params: dict[str, Any] = {"source_url": args.source, "dest_url": args.dest,
                              "options": options.model_dump(mode="json")}
    if args.config:
        params["config_path"] = str(args.config.resolve())
    return params


def validate_before_serving(args: argparse.Namespace, params: dict[str, Any]) -> None:
    """Refuse now what every scheduled run would refuse later: a bad or unknown config value, an
    unknown theme, a destination inside the watched prefix, an unusable bucket URL.

    Raises ``ValueError`` naming the problem. Reads only local files; contacts no bucket.
    """
    from flows.process_bucket import check_buckets
    from pipeline.config import load_config
    from pipeline.config.themes import get_theme
    from pipeline.io.storage import Bucket

    config = load_config(params.get("config_path"))
    get_theme(config.scene.theme, config.scene.themes_file)
    options = BatchOptions.model_validate(params["options"])
    buckets = []
    for what, url in (("SOURCE", args.source), ("DEST", args.dest)):
        try:
            buckets.append(Bucket(url, options.storage.storage_options(url)))
        except (ValueError, ImportError) as exc:
            raise ValueError(f"{what} {url!r} is not a usable bucket URL or folder: {exc}") from exc
    check_buckets(*buckets, options.prefix)


def serve_main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``product-scene serve``; blocks while serving. Returns an exit code
    (2 for usage or configuration errors, found before anything is served)."""
    args = build_parser().parse_args(argv)
    try:
        params = deployment_parameters(args)
    except ValidationError as exc:
        print(f"product-scene serve: invalid option: {exc}", file=sys.stderr)
        return 2
    if args.config and not args.config.is_file():
        print(f"product-scene serve: config file not found: {args.config}", file=sys.stderr)
        return 2
    try:
        validate_before_serving(args, params)
    except ValueError as exc:
        print(f"product-scene serve: {exc}", file=sys.stderr)
        return 2
    if not os.environ.get("PREFECT_API_URL"):
        log.warning("PREFECT_API_URL is not set: Prefect will use a temporary local server")
    from prefect.types.entrypoint import EntrypointType

    from flows.dead_runs import SERVE_PID_ENV, crash_dead_runs
    from flows.process_bucket import process_bucket
    from flows.review_waiting import EVENT as REVIEW_WAITING_EVENT
    from pipeline.review.folder import review_command

    schedule: dict[str, Any] = {"interval": args.interval} if args.interval else {"cron": args.cron or DEFAULT_CRON}
    try:
        crash_dead_runs(process_bucket.name, args.name)
    except Exception as exc:  # noqa: BLE001 - serving reports an unreachable API itself
        log.warning("could not look for runs left behind by an earlier serve: %s", exc)
    os.environ[SERVE_PID_ENV] = str(os.getpid())  # flow-run processes stop when this one dies
    # limit=1: one run at a time from this process. No deployment-wide limit: a run that died
    # with its machine would hold that slot until the server's lease expired, and the ledger
    # already keeps overlapping runs (several serve processes, a late worker) apart.
    log.info("review what the runs make with: %s (each run with products waiting emits the Prefect event %s)",
             review_command(args.dest, args.endpoint_url), REVIEW_WAITING_EVENT)
    process_bucket.serve(name=args.name, parameters=params, limit=1, paused=args.paused or None,
                         tags=["product-scene"], entrypoint_type=EntrypointType.MODULE_PATH, **schedule)
    return 0


if __name__ == "__main__":
    sys.exit(serve_main())
