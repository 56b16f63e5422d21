"""The ARM template functions armsim evaluates, as Microsoft Learn documents them.

Sources (Microsoft Learn, azure-resource-manager/templates/): template-functions-resource (resourceId, reference,
resourceGroup, subscription), template-functions-string (concat, format, uniqueString, toLower, toUpper, string,
base64, replace, substring, split, guid, empty, contains, length), template-functions-logical (if, and, or, not, bool,
true, false), template-functions-comparison (equals, less, greater), template-functions-deployment (parameters,
variables, deployment), template-functions-numeric (add, sub, mul, div, mod, int, copyIndex),
template-functions-array (createArray, first, last, union), template-functions-object (createObject, json).

``uniqueString`` in Azure is a 13-character base-32 hash whose algorithm Microsoft does not publish; armsim's is
deterministic over the same inputs with the same length and alphabet (UNCONFIRMED: not Azure's values).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, Protocol

from armsim.resources.expressions import Function, TemplateError


class Scope(Protocol):
    """What the functions may know about the deployment being evaluated."""

    subscription_id: str
    tenant_id: str

    def parameter(self, name: str) -> Any: ...
    def variable(self, name: str) -> Any: ...
    def resource_group_body(self) -> dict[str, Any]: ...
    def deployment_body(self) -> dict[str, Any]: ...
    def reference(self, name_or_id: str, api_version: str | None, full: bool) -> Any: ...
    def copy_index(self, loop: str | None) -> int: ...


def resource_id(subscription_id: str, resource_group: str, *args: Any) -> str:
    """``resourceId([subscriptionId], [resourceGroupName], resourceType, name1, [name2], ...)``."""
    words = [str(a) for a in args]
    type_at = next((i for i, w in enumerate(words) if "/" in w and "." in w.split("/")[0]), None)
    if type_at is None or type_at > 2:
        raise TemplateError("The template function 'resourceId' needs a fully qualified resource type such as "
                            "'Microsoft.Network/loadBalancers'.")
    prefix, rtype, names = words[:type_at], words[type_at], words[type_at + 1:]
    if len(prefix) == 2:
        subscription_id, resource_group = prefix
    elif len(prefix) == 1:
        resource_group = prefix[0]
    namespace, *types = rtype.split("/")
    if len(types) != len(names) or not types:
        raise TemplateError(f"Unable to evaluate template language function 'resourceId': the type '{rtype}' "
                            f"requires {len(types)} resource name argument(s), {len(names)} given.")
    path = "".join(f"/{t}/{n}" for t, n in zip(types, names, strict=True))
    return f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{namespace}{path}"


def unique_string(*parts: Any) -> str:
    digest = hashlib.sha256("-".join(str(p) for p in parts).encode()).digest()
    return base64.b32encode(digest).decode().lower()[:13]


def _format(fmt: str, *args: Any) -> str:
    """.NET composite formatting as ARM's ``format`` uses it: ``{0}``, ``{1:D3}`` (numeric formats kept simple)."""

    def repl(m: re.Match[str]) -> str:
        i = int(m.group(1))
        if i >= len(args):
            raise TemplateError(f"The template function 'format' has no argument {i} for '{fmt}'.")
        spec = m.group(2)
        value = args[i]
        if spec and spec.upper().startswith("D") and isinstance(value, int):
            return str(value).zfill(int(spec[1:] or 0))
        return _string(value)

    return re.sub(r"\{(\d+)(?::([^}]*))?\}", repl, fmt.replace("{{", "\0").replace("}}", "\1")).replace(
        "\0", "{").replace("\1", "}")


def _string(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"  # ARM's string(true) is "True"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _concat(*args: Any) -> Any:
    if args and all(isinstance(a, list) for a in args):
        return [x for a in args for x in a]
    return "".join(_string(a) for a in args)


def _equals(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a == b  # ARM's equals is case-sensitive for strings
    return bool(a == b)


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return str(item) in container
    if isinstance(container, dict):
        return any(k.lower() == str(item).lower() for k in container)
    return item in container


def _union(*args: Any) -> Any:
    if all(isinstance(a, dict) for a in args):
        out: dict[str, Any] = {}
        for a in args:
            out.update(a)
        return out
    seen: list[Any] = []
    for a in args:
        for x in a:
            if x not in seen:
                seen.append(x)
    return seen


def _guid(*parts: Any) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "-".join(str(p) for p in parts)))


def _need(name: str, count: int | tuple[int, int]) -> Callable[[Function], Function]:
    low, high = (count, count) if isinstance(count, int) else count

    def wrap(fn: Function) -> Function:
        def checked(*args: Any) -> Any:
            if not low <= len(args) <= high:
                raise TemplateError(f"The template function '{name}' expects {low}"
                                    f"{'' if low == high else f' to {high}'} argument(s), got {len(args)}.")
            try:
                return fn(*args)
            except TemplateError:
                raise
            except (TypeError, ValueError, KeyError, ZeroDivisionError) as err:
                raise TemplateError(f"Unable to evaluate template language function '{name}': {err}.") from err

        return checked

    return wrap


def make_functions(scope: Scope) -> dict[str, Function]:
    """The function table for one evaluation scope (names in lower case: ARM function names are case-insensitive)."""
    rg = scope.resource_group_body
    table: dict[str, tuple[int | tuple[int, int], Function]] = {
        "parameters": (1, scope.parameter),
        "variables": (1, scope.variable),
        "resourceid": ((2, 9), lambda *a: resource_id(scope.subscription_id, str(rg()["name"]), *a)),
        "subscriptionresourceid": ((2, 9), lambda *a: resource_id(scope.subscription_id, "", *a).replace(
            "/resourceGroups//", "/")),
        "reference": ((1, 3), lambda name, api=None, full=None: scope.reference(
            str(name), api, str(full or "").lower() == "full")),
        "resourcegroup": (0, lambda: dict(rg())),
        "subscription": (0, lambda: {"id": f"/subscriptions/{scope.subscription_id}",
                                     "subscriptionId": scope.subscription_id, "tenantId": scope.tenant_id,
                                     "displayName": "armsim"}),
        "deployment": (0, scope.deployment_body),
        # providers() is deprecated but still served (Learn: template-functions-resource#providers); az's scale-set
        # template's outputs use providers(...).apiVersions[0]
        "providers": ((1, 2), lambda ns, rtype="": {"namespace": ns, "resourceType": rtype,
                                                      "locations": ["West US", "East US", "West Europe"],
                                                      "apiVersions": ["2024-07-01"]}),
        "copyindex": ((0, 2), lambda *a: _copy_index(scope, *a)),
        "concat": ((1, 64), _concat),
        "format": ((1, 64), _format),
        "uniquestring": ((1, 64), unique_string),
        "guid": ((1, 64), _guid),
        "string": (1, _string),
        "int": (1, lambda v: int(v)),
        "bool": (1, lambda v: v if isinstance(v, bool) else str(v).lower() == "true"),
        "json": (1, lambda v: json.loads(v)),
        "tolower": (1, lambda v: str(v).lower()),
        "toupper": (1, lambda v: str(v).upper()),
        "base64": (1, lambda v: base64.b64encode(str(v).encode()).decode()),
        "replace": (3, lambda s, a, b: str(s).replace(str(a), str(b))),
        "substring": ((2, 3), lambda s, i, n=None: str(s)[int(i):] if n is None else str(s)[int(i):int(i) + int(n)]),
        "split": (2, lambda s, d: str(s).split(d) if isinstance(d, str) else re.split("|".join(map(re.escape, d)),
                                                                                     str(s))),
        "length": (1, lambda v: len(v)),
        "empty": (1, lambda v: v is None or len(v) == 0),
        "contains": (2, _contains),
        "equals": (2, _equals),
        "not": (1, lambda v: not v),
        "and": ((2, 64), lambda *a: all(a)),
        "or": ((2, 64), lambda *a: any(a)),
        "true": (0, lambda: True),
        "false": (0, lambda: False),
        "null": (0, lambda: None),
        "less": (2, lambda a, b: a < b),
        "greater": (2, lambda a, b: a > b),
        "add": (2, lambda a, b: int(a) + int(b)),
        "sub": (2, lambda a, b: int(a) - int(b)),
        "mul": (2, lambda a, b: int(a) * int(b)),
        "div": (2, lambda a, b: int(int(a) / int(b))),
        "mod": (2, lambda a, b: int(a) % int(b)),
        "createarray": ((0, 64), lambda *a: list(a)),
        "createobject": ((0, 64), lambda *a: dict(zip(a[0::2], a[1::2], strict=True))),
        "first": (1, lambda v: v[0] if v else None),
        "last": (1, lambda v: v[-1] if v else None),
        "union": ((1, 64), _union),
    }
    return {name: _need(name, count)(fn) for name, (count, fn) in table.items()}


def _copy_index(scope: Scope, *args: Any) -> int:
    loop: str | None = None
    offset = 0
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool):
            offset = a
        else:
            loop = str(a)
    return scope.copy_index(loop) + offset
