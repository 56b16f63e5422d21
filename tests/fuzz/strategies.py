"""Hypothesis strategies for hostile HTTP requests and Event Grid deliveries."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from poolkeeper.edge.routes import ROUTES, Route

TEXT = st.text(max_size=40)
WEIRD_TEXT = st.one_of(TEXT, st.sampled_from(["..", ".", "%2e%2e", "../..", "\x00", "\ud800", "é", " ", "\n",
                                               "a" * 5000, "/subscriptions/", "{}", "null"]))
JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), WEIRD_TEXT)
JSON = st.recursive(JSON_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                      st.dictionaries(TEXT, inner, max_size=5)), max_leaves=20)


def _q(text: str) -> str:
    return quote(text, safe="", errors="surrogatepass")  # lone surrogates become invalid UTF-8: hostile, on purpose


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


@st.composite
def resource_ids(draw: st.DrawFn, subscription: str, rg: str) -> str:
    group = draw(st.sampled_from([rg, rg.upper(), "elsewhere", "myTutorial8x"]))
    sub = draw(st.sampled_from([subscription, "00000000-0000-0000-0000-000000000000"]))
    kind = draw(st.sampled_from(["Microsoft.Compute/virtualMachines", "Microsoft.Network/networkInterfaces",
                                 "Microsoft.Compute/virtualMachineScaleSets", "Microsoft.Network/loadBalancers"]))
    name = draw(st.one_of(st.sampled_from(["myVM1", "myNic2", "myLoadBalancer", "nope"]), WEIRD_TEXT))
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return f"/subscriptions/{sub}/resourceGroups/{group}"
    if shape == 1:
        return draw(WEIRD_TEXT)
    return f"/subscriptions/{sub}/resourceGroups/{group}/providers/{kind}/{name}"


@st.composite
def bodies(draw: st.DrawFn, route: Route, subscription: str, rg: str) -> bytes:
    """Valid-looking bodies (in and out of scope), random JSON, and malformed bytes."""
    choice = draw(st.integers(0, 9))
    lb = f"/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Network/loadBalancers/myLoadBalancer"
    if choice <= 3 and route.body is not None:
        props = route.body.get("properties", {})
        body: dict[str, Any] = {}
        for key in props:
            if draw(st.booleans()):
                if key == "loadBalancer":
                    body[key] = draw(st.one_of(st.just(lb), resource_ids(subscription, rg)))
                elif key in ("resourceId",):
                    body[key] = draw(resource_ids(subscription, rg))
                elif key == "binding":
                    body[key] = draw(st.one_of(st.just("web"), WEIRD_TEXT))
                elif key == "scaleSets":
                    body[key] = draw(st.lists(st.one_of(st.just("myVMSS"), WEIRD_TEXT), max_size=60))
                elif props[key].get("type") == "integer":
                    body[key] = draw(st.one_of(st.integers(-5, 70000), st.booleans(), WEIRD_TEXT))
                elif props[key].get("type") == "boolean":
                    body[key] = draw(st.one_of(st.booleans(), st.integers(0, 1), TEXT))
                else:
                    body[key] = draw(st.one_of(st.sampled_from(["MyNatPool", "myHTTPRule", "LBRule"]), WEIRD_TEXT))
        if draw(st.integers(0, 5)) == 0:
            body[draw(TEXT)] = draw(JSON)
        return encode(body)
    if choice == 4:
        return encode(draw(JSON))
    if choice == 5:
        depth = draw(st.sampled_from([10, 33, 100, 3000]))
        return b"[" * depth + b"]" * depth
    if choice == 6:
        return draw(st.binary(max_size=200))
    if choice == 7:
        return draw(st.sampled_from([b"", b"   ", b"{}", b"{\"binding\": \"web\", \"binding\": \"x\"}", b"NaN",
                                     b"{\"resourceId\": NaN}", b"[1e999]", b"{\"a\": \"\\ud800\"}", b"1" * 5000,
                                     b"{\"resourceId\": \"" + b"x" * 70_000 + b"\"}"]))
    if choice == 8:
        return encode({f"k{i}": i for i in range(draw(st.integers(0, 3000)))})
    return encode({})


@st.composite
def requests_(draw: st.DrawFn, subscription: str, rg: str, key: str) -> dict[str, Any]:
    route = draw(st.sampled_from(ROUTES))
    path = route.path
    exact = True  # the path names the route (so the key must be checked)
    if "{id}" in path:
        ident = draw(st.one_of(st.just("0123456789ab"), st.text("0123456789abcdef", min_size=12, max_size=12),
                               WEIRD_TEXT))
        safe = ".%" if draw(st.booleans()) else ""
        path = path.replace("{id}", quote(ident, safe=safe, errors="surrogatepass"))
        exact = bool(ident) and ident.strip("/") == ident
    if draw(st.integers(0, 15)) == 0:
        exact = False
        path = draw(st.sampled_from(["/api/", "/api/nope", "/api/operations", "/api/operations/../reconcile",
                                     "/api/reconcile/..", "/API/RECONCILE", "/", "/api/health/x"]))
    method = route.method if draw(st.integers(0, 7)) else draw(st.sampled_from(["GET", "POST", "PUT", "DELETE",
                                                                                 "PATCH", "HEAD"]))
    names = st.one_of(st.sampled_from(["dryRun", "dryrun", "DRYRUN", "dry_run", "force", "code", ""]), TEXT)
    values = st.one_of(st.sampled_from(["true", "false", "1", "0", "TRUE", "yes", "", "on"]), TEXT)
    pairs = draw(st.lists(st.tuples(names, values), max_size=3))
    auth = draw(st.sampled_from(["header", "query", "none", "wrong"]))
    headers: dict[str, str] = {"Content-Type": draw(st.sampled_from(["application/json", "text/plain", "x/y"]))}
    if auth == "header":
        headers["x-functions-key"] = key
    elif auth == "wrong":
        headers["x-functions-key"] = key + "x"
    elif auth == "query":
        pairs.append(("code", key))
    query = "&".join(f"{_q(k)}={_q(v)}" for k, v in pairs)
    body = draw(bodies(route, subscription, rg)) if method in ("POST", "PUT", "PATCH") else b""
    framing = draw(st.sampled_from(["length", "length", "length", "chunked"]))
    return {"route": route, "method": method, "path": path + (f"?{query}" if query else ""), "headers": headers,
            "body": body, "framing": framing, "auth": auth, "exact_route": exact}


@st.composite
def events(draw: st.DrawFn, subscription: str, rg: str) -> Any:
    """ARM events (Event Grid and CloudEvents schema), in and out of scope, and broken ones."""
    rid = draw(resource_ids(subscription, rg))
    kind = draw(st.sampled_from(["Microsoft.Resources.ResourceWriteSuccess",
                                 "Microsoft.Resources.ResourceDeleteSuccess",
                                 "Microsoft.EventGrid.SubscriptionValidationEvent", "Other.Event"]))
    operation = draw(st.sampled_from(["Microsoft.Compute/virtualMachines/write",
                                      "Microsoft.Network/networkInterfaces/write",
                                      "Microsoft.Compute/virtualMachines/delete", "Microsoft.Storage/x/write"]))
    data: Any = draw(st.one_of(
        st.fixed_dictionaries({"resourceUri": st.one_of(st.just(rid), WEIRD_TEXT),
                               "operationName": st.just(operation), "status": st.just("Succeeded")},
                              optional={"claims": st.dictionaries(TEXT, TEXT, max_size=2),
                                        "correlationId": TEXT, "validationCode": TEXT}),
        JSON))
    if draw(st.booleans()):
        event: Any = {"id": draw(TEXT), "eventType": kind, "subject": rid, "eventTime": "2026-11-22T00:00:00Z",
                      "dataVersion": "2", "metadataVersion": "1", "topic": f"/subscriptions/{subscription}",
                      "data": data}
    else:
        event = {"specversion": "1.0", "id": draw(TEXT), "type": kind, "source": f"/subscriptions/{subscription}",
                 "subject": rid, "time": draw(st.sampled_from(["2026-11-22T00:00:00Z", "yesterday", ""])),
                 "data": data}
    if draw(st.integers(0, 4)) == 0:
        key = draw(st.sampled_from(list(event)))
        event[key] = draw(JSON)
    return event


@st.composite
def deliveries(draw: st.DrawFn, subscription: str, rg: str) -> tuple[bytes, dict[str, str]]:
    kind = draw(st.sampled_from(["Notification", "SubscriptionValidation", "SubscriptionDeletion", "", "x"]))
    headers = {"aeg-event-type": kind, "Content-Type": "application/json"}
    shape = draw(st.integers(0, 6))
    if shape <= 3:
        return encode(draw(st.lists(events(subscription, rg), max_size=4))), headers
    if shape == 4:
        return encode(draw(events(subscription, rg))), headers
    if shape == 5:
        return encode(draw(JSON)), headers
    return draw(st.sampled_from([b"", b"[", b"[" * 2000 + b"]" * 2000, b"\xff\xfe", b"[null]",
                                 b"[{\"eventType\": \"Microsoft.EventGrid.SubscriptionValidationEvent\", "
                                 b"\"data\": \"x\"}]"])), headers
