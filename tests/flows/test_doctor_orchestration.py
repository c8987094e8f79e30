"""``product-scene doctor`` on orchestration, against the real Prefect server and SeaweedFS."""

from __future__ import annotations

import pytest

from tests.needs import needs

needs("flows")

from pipeline.cli import main
from pipeline.doctor import run_doctor
from pipeline.doctor.orchestration import check_bucket, check_orchestration, check_prefect_api, package_version
from tests.flows.conftest import TEST_BUCKET
from tests.flows.servers import free_port


def _by_name(checks):
    return {c.name: c for c in checks}


def test_packages_report_their_versions():
    names = _by_name(check_orchestration())
    for dist in ("prefect", "s3fs"):
        check = names[f"package {dist}"]
        assert check.ok and check.detail == package_version(dist) and check.detail[0].isdigit()


def test_prefect_api_that_answers(prefect_server):
    check = check_prefect_api(prefect_server.api_url)
    assert check.ok and prefect_server.api_url in check.detail and "server 3." in check.detail


def test_prefect_api_missing_or_silent(monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    unset = check_prefect_api()
    assert not unset.ok and "not set" in unset.detail and "prefect server start" in unset.hint
    dead = check_prefect_api(f"http://127.0.0.1:{free_port()}/api")
    assert not dead.ok and "does not answer" in dead.detail


def test_bucket_reachable_with_the_environment_credentials(s3):
    check = check_bucket(f"s3://{TEST_BUCKET}/", s3.endpoint)
    assert check.ok, check
    assert s3.endpoint in check.detail and "from the environment" in check.detail


def test_bucket_with_wrong_credentials_or_endpoint(s3, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-" + s3.secret_key)
    wrong = check_bucket(f"s3://{TEST_BUCKET}/", s3.endpoint)
    assert not wrong.ok and "AWS_ACCESS_KEY_ID" in wrong.hint, wrong
    assert s3.secret_key not in wrong.detail
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3.secret_key)
    unreachable = check_bucket(f"s3://{TEST_BUCKET}/", f"http://127.0.0.1:{free_port()}")
    assert not unreachable.ok and "reachable from here" in unreachable.hint, unreachable
    missing = check_bucket(f"s3://no-such-bucket-{free_port()}/", s3.endpoint)
    assert not missing.ok and "create the bucket" in missing.hint, missing


def test_cli_doctor_reports_orchestration(prefect_server, s3, monkeypatch, capsys):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["doctor", "--bucket", f"s3://{TEST_BUCKET}/", "--endpoint-url", s3.endpoint]) == 0
    out = capsys.readouterr().out
    for line in ("[ok] package prefect", "[ok] package s3fs", "[ok] prefect api", "[ok] bucket"):
        assert line in out, out


def test_run_doctor_includes_orchestration_without_a_bucket(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    names = _by_name(run_doctor())
    assert {"package prefect", "package s3fs", "prefect api"} <= set(names) and "bucket" not in names
