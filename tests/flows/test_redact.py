"""Credentials are scrubbed from strings and log records; parameters refuse them."""

from __future__ import annotations

import logging

import pytest

from tests.needs import needs

needs("flows")

from pydantic import ValidationError

from flows.params import BatchOptions, RunnerParams, StorageParams
from pipeline.redact import RedactingFilter, redact, register_storage_options


def test_env_credentials_and_url_userinfo_are_redacted(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI-very-secret")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE123")
    text = "failed: key AKIAEXAMPLE123 secret wJalrXUtnFEMI-very-secret at s3://user:pw@bucket/x"
    assert redact(text) == "failed: key *** secret *** at s3://***@bucket/x"


def test_registered_storage_options_are_redacted_and_summarised():
    options = {"endpoint_url": "http://127.0.0.1:9000", "secret": "opt-secret-value-1",
               "client_kwargs": {"aws_session_token": "tok-value-22"}}
    register_storage_options(options)
    assert redact("x opt-secret-value-1 y tok-value-22") == "x *** y ***"


def test_log_filter_scrubs_messages_args_and_tracebacks(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-in-a-log-line")
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "bad creds %s", ("sekrit-in-a-log-line",), None)
    try:
        raise RuntimeError("boom sekrit-in-a-log-line")
    except RuntimeError:
        import sys
        record.exc_info = sys.exc_info()
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "bad creds ***"
    assert "sekrit" not in record.exc_text and "boom ***" in record.exc_text


@pytest.mark.parametrize("options", [{"secret": "x"}, {"aws_secret_access_key": "x"}, {"token": "t"},
                                     {"password": "p"}])
def test_storage_params_refuse_credentials(options):
    with pytest.raises(ValidationError, match="look like credentials"):
        StorageParams(options=options)


def test_storage_params_build_fsspec_options():
    params = StorageParams(endpoint_url="http://127.0.0.1:1", region_name="eu-west-1", options={"use_ssl": False})
    assert params.storage_options("s3://b/x") == {"endpoint_url": "http://127.0.0.1:1", "use_ssl": False,
                                                  "client_kwargs": {"region_name": "eu-west-1"}}
    assert params.storage_options("/local/dir") == {"use_ssl": False}


@pytest.mark.parametrize("bad", [{"prefix": "../x"}, {"prefix": "/abs"}, {"max_items": 0},
                                 {"on_success": "move", "processed_prefix": "incoming/"},
                                 {"runner": {"kind": "threads", "dask_address": "tcp://x:1"}},
                                 {"runner": {"kind": "gpu"}}, {"ledger": {"lease_ttl_s": 0}}, {"unknown": 1}])
def test_batch_options_validation(bad):
    with pytest.raises(ValidationError):
        BatchOptions.model_validate(bad)


def test_runner_params_defaults():
    params = RunnerParams()
    assert params.kind == "threads" and 1 <= params.max_workers <= 4 and params.lock == "auto"
