"""Event subscription filters, evaluated the way Event Grid evaluates them.

Why a module of its own: the filter is what decides whether poolkeeper ever hears about a change, so its semantics
must be Azure's, not "something close": string comparisons are case-insensitive, values inside one advanced filter
are OR-ed, advanced filters are AND-ed with each other and with the event-type and subject filters, and the negated
string operators match when the key is absent from the event.
"""

from __future__ import annotations

from typing import Any

from armsim.errors import ArmError

# operatorType -> whether it takes "values" (a list) rather than "value" (a scalar)
OPERATORS: dict[str, bool] = {
    "StringBeginsWith": True,
    "StringEndsWith": True,
    "StringContains": True,
    "StringIn": True,
    "StringNotBeginsWith": True,
    "StringNotEndsWith": True,
    "StringNotContains": True,
    "StringNotIn": True,
    "NumberIn": True,
    "NumberNotIn": True,
    "NumberLessThan": False,
    "NumberLessThanOrEquals": False,
    "NumberGreaterThan": False,
    "NumberGreaterThanOrEquals": False,
    "BoolEquals": False,
    "IsNullOrUndefined": False,
    "IsNotNull": False,
}
MAX_ADVANCED_FILTERS = 25
MAX_FILTER_VALUES = 25
_MISSING = object()


def _bad(message: str) -> ArmError:
    return ArmError(400, "InvalidRequest", message)


def normalize(raw: Any) -> dict[str, Any]:
    """Validate a ``properties.filter`` and fill Azure's defaults, refusing what Event Grid would refuse."""
    if not isinstance(raw, dict | None):
        raise _bad("properties.filter must be an object.")
    f = dict(raw or {})
    types = f.get("includedEventTypes")
    if types is not None and (not isinstance(types, list) or not all(isinstance(t, str) for t in types)):
        raise _bad("properties.filter.includedEventTypes must be a list of event type strings.")
    f.setdefault("subjectBeginsWith", "")
    f.setdefault("subjectEndsWith", "")
    f.setdefault("isSubjectCaseSensitive", False)
    advanced = f.get("advancedFilters") or []
    if not isinstance(advanced, list):
        raise _bad("properties.filter.advancedFilters must be a list.")
    if len(advanced) > MAX_ADVANCED_FILTERS:
        raise _bad(f"At most {MAX_ADVANCED_FILTERS} advanced filters are allowed per event subscription.")
    for i, af in enumerate(advanced):
        where = f"properties.filter.advancedFilters[{i}]"
        if not isinstance(af, dict):
            raise _bad(f"{where} must be an object with operatorType, key and value(s).")
        op = af.get("operatorType")
        if op not in OPERATORS:
            raise _bad(f"{where}.operatorType '{op}' is not valid. Valid: {', '.join(OPERATORS)}.")
        if not isinstance(af.get("key"), str) or not af["key"]:
            raise _bad(f"{where}.key is required (e.g. 'data.operationName', 'subject', 'eventType').")
        if OPERATORS[op]:
            values = af.get("values")
            if not isinstance(values, list) or not values:
                raise _bad(f"{where}.values must be a non-empty list for operator {op}.")
            if len(values) > MAX_FILTER_VALUES:
                raise _bad(f"{where}.values has {len(values)} entries; at most {MAX_FILTER_VALUES} are allowed.")
        elif op not in ("IsNullOrUndefined", "IsNotNull") and "value" not in af:
            raise _bad(f"{where}.value is required for operator {op}.")
    f["advancedFilters"] = advanced
    return f


def resolve(event: dict[str, Any], key: str) -> Any:
    """The value at a dotted key ('data.operationName') of an event; ``_MISSING`` if absent. Keys are matched
    case-insensitively, as Event Grid does for its envelope."""
    node: Any = event
    for part in key.split("."):
        if not isinstance(node, dict):
            return _MISSING
        if part in node:
            node = node[part]
            continue
        low = part.lower()
        match = next((k for k in node if k.lower() == low), None)
        if match is None:
            return _MISSING
        node = node[match]
    return node


def _string_test(op: str, value: str, wanted: list[Any]) -> bool:
    v = value.lower()
    ws = [str(w).lower() for w in wanted]
    base = op.replace("Not", "")
    if base == "StringBeginsWith":
        hit = any(v.startswith(w) for w in ws)
    elif base == "StringEndsWith":
        hit = any(v.endswith(w) for w in ws)
    elif base == "StringContains":
        hit = any(w in v for w in ws)
    else:  # StringIn
        hit = v in ws
    return not hit if "Not" in op else hit


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _scalar_test(op: str, value: Any, af: dict[str, Any]) -> bool:
    if op.startswith("String"):
        return isinstance(value, str) and _string_test(op, value, af["values"])
    if op == "BoolEquals":
        return isinstance(value, bool) and value == bool(af["value"])
    num = _number(value)
    if num is None:
        return op == "NumberNotIn"
    if op == "NumberIn":
        return any(_number(w) == num for w in af["values"])
    if op == "NumberNotIn":
        return all(_number(w) != num for w in af["values"])
    ref = _number(af["value"])
    if ref is None:
        return False
    return {
        "NumberLessThan": num < ref,
        "NumberLessThanOrEquals": num <= ref,
        "NumberGreaterThan": num > ref,
        "NumberGreaterThanOrEquals": num >= ref,
    }[op]


def advanced_match(event: dict[str, Any], af: dict[str, Any], on_arrays: bool) -> bool:
    """One advanced filter against one event (in the schema it is delivered in)."""
    op = af["operatorType"]
    value = resolve(event, af["key"])
    if op == "IsNullOrUndefined":
        return value is _MISSING or value is None
    if op == "IsNotNull":
        return value is not _MISSING and value is not None
    negated = "Not" in op
    if value is _MISSING or value is None:
        return negated  # a missing key satisfies only the negated operators
    if isinstance(value, list):
        if not on_arrays:
            return negated
        tests = [_scalar_test(op, v, af) for v in value]
        return all(tests) if negated else any(tests)
    return _scalar_test(op, value, af)


def matches(flt: dict[str, Any], eg_event: dict[str, Any], delivered: dict[str, Any]) -> bool:
    """Whether an event passes a normalized filter. ``eg_event`` is the Event Grid-schema event (for event type
    and subject); ``delivered`` is the event in the subscription's delivery schema, which advanced-filter keys
    refer to."""
    types = flt.get("includedEventTypes")
    if types:
        wanted = {t.lower() for t in types}
        if "all" not in wanted and eg_event.get("eventType", "").lower() not in wanted:
            return False
    subject = str(eg_event.get("subject", ""))
    begins, ends = str(flt.get("subjectBeginsWith") or ""), str(flt.get("subjectEndsWith") or "")
    if not flt.get("isSubjectCaseSensitive"):
        subject, begins, ends = subject.lower(), begins.lower(), ends.lower()
    if not subject.startswith(begins) or not subject.endswith(ends):
        return False
    on_arrays = bool(flt.get("enableAdvancedFilteringOnArrays"))
    return all(advanced_match(delivered, af, on_arrays) for af in flt.get("advancedFilters") or [])
