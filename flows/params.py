"""Typed parameters of the ``process-bucket`` flow (pydantic models: the Prefect UI renders them
as forms, deployments are validated against them).

No parameter carries a credential: parameters are stored by the Prefect server in clear. S3
credentials come from the worker's environment (``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_PROFILE``, an instance role, ...); :class:`StorageParams` refuses secret-looking options.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipeline.redact import SECRET_OPTION_RE

DEFAULT_PREFIX = "incoming/"
DEFAULT_CRON = "*/15 * * * *"


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StorageParams(_Params):
    """How to reach the buckets (both source and destination). Credentials come from the environment."""

    endpoint_url: str | None = Field(None, description="S3-compatible endpoint, e.g. http://127.0.0.1:8333")
    region_name: str | None = None
    profile: str | None = Field(None, description="AWS profile name from ~/.aws (not a secret)")
    anon: bool = False
    options: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="extra non-secret fsspec options (e.g. use_ssl)")

    @field_validator("options")
    @classmethod
    def _no_secrets(cls, v: dict[str, Any]) -> dict[str, Any]:
        bad = sorted(k for k in v if SECRET_OPTION_RE.search(k))
        if bad:
            raise ValueError(f"storage options {bad} look like credentials; pass credentials through "
                             "the worker's environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a "
                             "profile), never as flow parameters")
        return v

    def storage_options(self, url: str) -> dict[str, Any]:
        """fsspec ``storage_options`` for ``url`` (empty for local folders)."""
        if not url.startswith(("s3://", "s3a://")):
            return dict(self.options)
        out: dict[str, Any] = dict(self.options)
        if self.endpoint_url:
            out["endpoint_url"] = self.endpoint_url
        if self.region_name:
            out.setdefault("client_kwargs", {})["region_name"] = self.region_name
        if self.profile:
            out["profile"] = self.profile
        if self.anon:
            out["anon"] = True
        return out


class RunnerParams(_Params):
    """Where per-product tasks run.

    threads: a thread pool in the flow process (default); one pipeline per process, shared by the
    threads, with a lock around each call unless the backend is pure CPU numpy (``lock``).
    processes: a process pool; each process loads the models once.
    dask: prefect-dask on a temporary LocalCluster (``dask_workers`` processes) or on an existing
    scheduler (``dask_address``); each Dask worker process loads the models once.
    """

    kind: Literal["threads", "processes", "dask"] = "threads"
    max_workers: int = Field(default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), ge=1, le=256)
    lock: Literal["auto", "always", "never"] = Field(
        "auto", description="serialise pipeline calls within a process (auto: unless studio on CPU)")
    dask_address: str | None = Field(None, description="tcp://host:8786 of a running Dask scheduler")
    dask_workers: int = Field(2, ge=1, le=256, description="LocalCluster worker processes")
    dask_threads_per_worker: int = Field(1, ge=1, le=64)

    @model_validator(mode="after")
    def _address_only_for_dask(self) -> RunnerParams:
        if self.dask_address and self.kind != "dask":
            raise ValueError(f"dask_address is only used with kind='dask', got kind={self.kind!r}")
        return self


class LedgerParams(_Params):
    lease_ttl_s: float = Field(300.0, gt=1, le=86_400, description="lease lifetime without renewal")
    heartbeat_s: float | None = Field(None, gt=0, description="renewal period (default ttl/5)")


class BatchOptions(_Params):
    """Everything about a run except the buckets and the pipeline config."""

    prefix: str = Field(DEFAULT_PREFIX, description="only keys under this prefix of the source")
    on_success: Literal["keep", "move"] = Field(
        "keep", description="keep inputs where they are (default) or move them to processed_prefix")
    processed_prefix: str = "processed/"
    failed_prefix: str = "failed/"
    max_items: int | None = Field(None, ge=1, description="process at most this many new items per run")
    storage: StorageParams = StorageParams()
    runner: RunnerParams = RunnerParams()
    ledger: LedgerParams = LedgerParams()

    @field_validator("prefix", "processed_prefix", "failed_prefix")
    @classmethod
    def _relative_prefix(cls, v: str) -> str:
        if v.startswith("/") or ".." in v.split("/") or any(ord(c) < 32 for c in v):
            raise ValueError(f"prefix must be a relative key prefix without '..', got {v!r}")
        return v

    @model_validator(mode="after")
    def _distinct_prefixes(self) -> BatchOptions:
        if self.on_success == "move":
            for name in ("processed_prefix", "failed_prefix"):
                other = getattr(self, name)
                if other.strip("/") == self.prefix.strip("/") or not other.strip("/"):
                    raise ValueError(f"{name} must differ from prefix when on_success='move', got {other!r}")
        return self
