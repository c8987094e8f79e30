"""The doctor's orchestration checks: Prefect and s3fs installed, the Prefect API answering, a
bucket reachable with this environment's credentials.

No Prefect import (versions come from package metadata, the API is asked over plain HTTP), and
nothing is written: the bucket check lists at most one key.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from importlib import metadata

from pipeline.doctor.result import DoctorCheck
from pipeline.redact import redact

HTTP_TIMEOUT_S = 3.0
S3_TIMEOUT_S = 5
FLOWS_HINT = "pip install -e '.[flows]'  (Prefect flows, s3:// buckets)"


def package_version(dist: str) -> str | None:
    """The installed version of distribution ``dist`` (not imported), or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def check_packages() -> list[DoctorCheck]:
    out = []
    for dist, used_by in (("prefect", "serve, the process-bucket flow"), ("s3fs", "s3:// buckets")):
        version = package_version(dist)
        out.append(DoctorCheck(f"package {dist}", version is not None, version or "not installed",
                               "" if version else f"{FLOWS_HINT}; needed by: {used_by}"))
    return out


def _get(url: str) -> tuple[int | None, bytes, str]:
    """(HTTP status or None, body, error text) of a GET with a short timeout."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_S) as resp:  # noqa: S310 - the user's own API URL
            return resp.status, resp.read(4096), ""
    except urllib.error.HTTPError as err:
        return err.code, b"", str(err)
    except (OSError, ValueError) as err:
        return None, b"", str(getattr(err, "reason", None) or err)


def check_prefect_api(api_url: str | None = None) -> DoctorCheck:
    """Does ``PREFECT_API_URL`` (or ``api_url``) answer ``/health``? Reports the server version."""
    name = "prefect api"
    url = api_url if api_url is not None else os.environ.get("PREFECT_API_URL", "")
    if not url:
        return DoctorCheck(name, False, "PREFECT_API_URL is not set (serve and flows would start a temporary "
                                        "local server)",
                           "prefect server start, then export PREFECT_API_URL=http://127.0.0.1:4200/api")
    base = url.rstrip("/")
    shown = redact(base)
    status, body, error = _get(f"{base}/health")
    if status != 200:
        why = f"HTTP {status}" if status else error
        return DoctorCheck(name, False, f"{shown} does not answer: {redact(why)}",
                           "start the server (prefect server start) or fix PREFECT_API_URL")
    status, body, _ = _get(f"{base}/admin/version")
    version = ""
    if status == 200:
        try:
            version = f" (server {json.loads(body)})"
        except ValueError:
            version = ""
    return DoctorCheck(name, True, f"{shown} answers{version}")


def _credential_source() -> str:
    if os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"):
        return "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY from the environment"
    if os.environ.get("AWS_PROFILE"):
        return f"profile {os.environ['AWS_PROFILE']!r}"
    return "no AWS_* credentials in the environment (config files or an instance role, if any)"


def check_bucket(url: str, endpoint_url: str | None = None) -> DoctorCheck:
    """Can this environment list ``url`` (a folder, ``s3://bucket/prefix``, any fsspec URL)?"""
    from pipeline.io.storage import Bucket

    name = "bucket"
    remote = "://" in url and not url.startswith("file://")
    options: dict = {}
    via = ""
    if remote and url.startswith(("s3://", "s3a://")):
        if package_version("s3fs") is None:
            return DoctorCheck(name, False, f"{redact(url)}: s3fs not installed", FLOWS_HINT)
        options = {"skip_instance_cache": True, "config_kwargs": {
            "connect_timeout": S3_TIMEOUT_S, "read_timeout": S3_TIMEOUT_S, "retries": {"max_attempts": 1}}}
        if endpoint_url:
            options["endpoint_url"] = endpoint_url
        via = f" via {endpoint_url or 'the default AWS endpoint'}, {_credential_source()}"
    try:
        bucket = Bucket(url, options)
        if "s3" in (bucket.fs.protocol if isinstance(bucket.fs.protocol, tuple) else (bucket.fs.protocol,)):
            s3_bucket, prefix, _ = bucket.fs.split_path(bucket.root)
            bucket.fs.call_s3("list_objects_v2", Bucket=s3_bucket, Prefix=prefix, MaxKeys=1)
        elif not bucket.fs.exists(bucket.root):
            raise FileNotFoundError(f"{bucket.root} does not exist")
    except Exception as exc:  # noqa: BLE001 - every failure is a line of the report
        return DoctorCheck(name, False, f"{redact(url)}{via}: {redact(_why(exc))}", _bucket_hint(exc, endpoint_url))
    return DoctorCheck(name, True, f"{redact(url)} reachable{via}")


def _why(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:300]


def _bucket_hint(exc: BaseException, endpoint_url: str | None) -> str:
    text = f"{type(exc).__name__} {exc}".lower()
    if isinstance(exc, PermissionError) or any(w in text for w in ("denied", "signature", "invalidaccesskey",
                                                                    "forbidden", "credentials")):
        return "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy"
    if isinstance(exc, FileNotFoundError) or "nosuchbucket" in text:
        return "create the bucket or fix the URL"
    if not endpoint_url:
        return "an S3-compatible server needs --endpoint-url (e.g. http://127.0.0.1:8333)"
    return "is the endpoint up and reachable from here?"


def check_orchestration(bucket: str | None = None, endpoint_url: str | None = None) -> list[DoctorCheck]:
    """Packages, the Prefect API, and ``bucket`` when given."""
    checks = check_packages() + [check_prefect_api()]
    if bucket:
        checks.append(check_bucket(bucket, endpoint_url))
    return checks
