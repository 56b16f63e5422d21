"""Pure helpers of the operator tool: failure explanations, operation staleness, schedules and log levels."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta

import pytest
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from azure.identity import CredentialUnavailableError

from poolkeeper.clierrors import CliError, explain, preflight
from poolkeeper.logs import parse_level
from poolkeeper.settings import resolve_schedule
from poolkeeper.workflow_cli import effective_status, last_activity

ENV = {"POOLKEEPER_ARM_ENDPOINT": "https://127.0.0.1:1", "REQUESTS_CA_BUNDLE": "/tmp/ca.pem"}


def wrapped(inner: BaseException) -> ServiceRequestError:
    try:
        raise ServiceRequestError("connection failed", error=inner) from inner
    except ServiceRequestError as err:
        return err


def test_a_certificate_failure_names_the_bundle() -> None:
    line = explain(wrapped(ssl.SSLCertVerificationError("certificate verify failed")), ENV)
    assert line is not None and "not trusted" in line and "/tmp/ca.pem" in line


def test_a_missing_credential_mentions_az_login_and_armsim() -> None:
    line = explain(CredentialUnavailableError("DefaultAzureCredential failed to retrieve a token"), ENV)
    assert line is not None and "az login" in line and "armsim.env" in line


def test_a_refused_credential_and_a_dropped_connection() -> None:
    assert "refused the credential" in (explain(ClientAuthenticationError("bad token"), ENV) or "")
    assert "lost the connection" in (explain(wrapped(ConnectionResetError("reset")), ENV) or "")


def test_an_unknown_failure_is_not_explained() -> None:
    assert explain(RuntimeError("something else"), ENV) is None


def test_preflight_reports_a_closed_arm_port() -> None:
    with pytest.raises(CliError, match=r"cannot reach ARM at https://127\.0\.0\.1:1 .*armsim"):
        preflight({"POOLKEEPER_ARM_ENDPOINT": "https://127.0.0.1:1"}, timeout=1)


def record(status: str, last: datetime) -> dict:
    stamp = last.isoformat(timespec="seconds").replace("+00:00", "Z")
    return {"id": "op1", "status": status, "createdAt": "2026-01-01T00:00:00Z",
            "steps": [{"key": "a", "startedAt": "2026-01-01T00:00:01Z", "batches": [{"at": stamp}]}]}


def test_last_activity_is_the_latest_timestamp_anywhere_in_the_record() -> None:
    last = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert last_activity(record("running", last)) == last


def test_a_running_operation_without_progress_is_stale() -> None:
    last = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert effective_status(record("running", last), now=last + timedelta(minutes=14)) == "running"
    assert effective_status(record("running", last), now=last + timedelta(minutes=16)) == "stale"
    assert effective_status(record("succeeded", last), now=last + timedelta(days=3)) == "succeeded"


def test_schedules_come_from_app_settings_with_documented_defaults() -> None:
    hourly = {"POOLKEEPER_SWEEP_SCHEDULE": "0 0 * * * *"}
    assert resolve_schedule("%POOLKEEPER_SWEEP_SCHEDULE%", hourly) == "0 0 * * * *"
    assert resolve_schedule("%POOLKEEPER_RESUME_SCHEDULE%", {}) == "0 */5 * * * *"
    assert resolve_schedule("0 */15 * * * *", {}) == "0 */15 * * * *"
    with pytest.raises(ValueError, match="UNKNOWN_SCHEDULE"):
        resolve_schedule("%UNKNOWN_SCHEDULE%", {})


def test_log_levels() -> None:
    assert parse_level("info") == 20
    with pytest.raises(ValueError, match="not one of DEBUG, INFO"):
        parse_level("loud")
