"""ARM core semantics of armsim, through raw HTTPS and the real SDK."""

from __future__ import annotations

import jwt
import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.identity import DefaultAzureCredential

from tests.conftest import SimHandle


def test_default_credential_gets_a_jwt_with_tenant(armsim: SimHandle) -> None:
    token = DefaultAzureCredential().get_token(armsim.info.arm_endpoint + ".default").token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["tid"] == armsim.info.tenant_id
    assert claims["oid"]


def test_arm_routes_need_a_bearer_token(armsim: SimHandle) -> None:
    resp = armsim.http.get(
        armsim.info.arm_endpoint + f"subscriptions/{armsim.subscription_id}/resourcegroups?api-version=2021-04-01"
    )
    assert resp.status_code == 401
    assert resp.json()["error"]["code"] == "AuthenticationFailed"
    bad = armsim.arm("GET", f"/subscriptions/{armsim.subscription_id}/resourcegroups", token="not-a-token")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_identity_endpoint_requires_the_identity_header(armsim: SimHandle) -> None:
    resp = armsim.http.get(armsim.info.identity_endpoint, params={"resource": "x", "api-version": "2019-08-01"})
    assert resp.status_code == 401


def test_api_version_is_required(armsim: SimHandle) -> None:
    resp = armsim.arm("GET", f"/subscriptions/{armsim.subscription_id}/resourcegroups", api_version="")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "MissingApiVersionParameter"


def test_resource_groups_are_case_insensitive_and_keep_casing(armsim: SimHandle) -> None:
    sub = armsim.subscription_id
    put = armsim.arm(
        "PUT", f"/subscriptions/{sub}/resourcegroups/MyGroup", {"location": "westus"}, api_version="2021-04-01"
    )
    assert put.status_code == 201
    got = armsim.arm("GET", f"/subscriptions/{sub}/resourceGroups/mygroup", api_version="2021-04-01")
    assert got.status_code == 200
    assert got.json()["name"] == "MyGroup"
    missing = armsim.arm("GET", f"/subscriptions/{sub}/resourceGroups/nope", api_version="2021-04-01")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ResourceGroupNotFound"


def test_unknown_subscription_is_refused(armsim: SimHandle) -> None:
    resp = armsim.arm("GET", "/subscriptions/00000000-0000-0000-0000-000000000001/resourcegroups")
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "SubscriptionNotFound"


def test_control_endpoint_logs_requests(armsim: SimHandle) -> None:
    armsim.reset_log()
    armsim.arm("GET", f"/subscriptions/{armsim.subscription_id}/resourcegroups")
    log = armsim.requests_log()
    assert len(log) == 1
    entry = log[0]
    for key in ("method", "path", "api_version", "status", "kind", "client_request_id", "duration_ms"):
        assert key in entry
    assert entry["kind"] == "read"


def test_sdk_not_found_maps_to_resource_not_found(armsim: SimHandle) -> None:
    armsim.arm("PUT", f"/subscriptions/{armsim.subscription_id}/resourcegroups/rg1", {"location": "westus"})
    clients = armsim.clients()
    with pytest.raises(ResourceNotFoundError):
        clients.network.load_balancers.get("rg1", "nope")
    with pytest.raises(HttpResponseError):
        clients.network.load_balancers.get("missing-rg", "nope")


def test_cloud_metadata_as_azure_serves_it(armsim: SimHandle) -> None:
    """A list of clouds for api-version 2019-05-01, this cloud alone for later versions (``az cloud register`` asks
    2022-09-01), and a doubled leading slash is fine (az appends ``/metadata/endpoints`` to ``https://host:port/``)."""
    base = armsim.info.arm_endpoint
    listed = armsim.http.get(base + "metadata/endpoints?api-version=2019-05-01").json()
    assert isinstance(listed, list) and listed[0]["resourceManager"] == base
    one = armsim.http.get(base + "/metadata/endpoints?api-version=2022-09-01").json()
    assert one["name"] == "LocalSim" and one["resourceManager"] == base
    assert one["authentication"]["loginEndpoint"] and one["authentication"]["audiences"][0]
