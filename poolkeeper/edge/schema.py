"""The JSON Schema subset the routes declare, checked at the edge before any handler (and any ARM read) runs.

The same schemas are published in the OpenAPI document, so what is documented is what is enforced. Supported
keywords: type, properties, required, additionalProperties (false), maxProperties, minLength, maxLength, pattern,
enum, minimum, maximum, items, maxItems, uniqueItems. Messages name the field, and echo input only shortened.
"""

from __future__ import annotations

import re
from typing import Any

from poolkeeper.edge.answer import shorten

Schema = dict[str, Any]
MAX_ERRORS = 10

_TYPES: dict[str, tuple[type, ...]] = {"object": (dict,), "array": (list,), "string": (str,), "integer": (int,),
                                       "boolean": (bool,), "number": (int, float)}


def _is(value: Any, kind: str) -> bool:
    if kind in ("integer", "number") and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def _matches(pattern: str, value: str) -> bool:
    """ECMA-262 semantics, as JSON Schema says: ``$`` is the end of the string (Python's also allows a final
    newline before it)."""
    if pattern.endswith("$") and value.endswith("\n"):
        return False
    return re.search(pattern, value) is not None


def problems(value: Any, schema: Schema, path: str = "") -> list[str]:
    """Every way ``value`` breaks ``schema`` (at most :data:`MAX_ERRORS`), each naming its field."""
    out: list[str] = []
    _check(value, schema, path, out)
    return out[:MAX_ERRORS]


def _name(path: str) -> str:
    return path or "the body"


def _check(value: Any, schema: Schema, path: str, out: list[str]) -> None:
    if len(out) >= MAX_ERRORS:
        return
    kind = schema.get("type")
    if kind and not _is(value, kind):
        out.append(f"{_name(path)} must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}, got "
                   f"{type(value).__name__} {shorten(value, 60)}")
        return
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{_name(path)} must be one of {schema['enum']}, got {shorten(value, 60)}")
    if isinstance(value, dict):
        _check_object(value, schema, path, out)
    elif isinstance(value, list):
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            out.append(f"{_name(path)} lists {len(value)} items; at most {schema['maxItems']} are accepted")
            return
        if schema.get("uniqueItems") and len({repr(v) for v in value}) != len(value):
            out.append(f"{_name(path)} lists an item more than once")
        for i, item in enumerate(value):
            _check(item, schema.get("items") or {}, f"{path}[{i}]", out)
    elif isinstance(value, str):
        if len(value) > schema.get("maxLength", len(value)):
            out.append(f"{_name(path)} is {len(value)} characters long; at most {schema['maxLength']} are accepted")
        elif len(value) < schema.get("minLength", 0):
            out.append(f"{_name(path)} must not be empty")
        elif "pattern" in schema and not _matches(schema["pattern"], value):
            out.append(f"{_name(path)} {shorten(value, 60)} does not match {schema['pattern']}")
    elif isinstance(value, int) and not isinstance(value, bool) and (
            value < schema.get("minimum", value) or value > schema.get("maximum", value)):
        out.append(f"{_name(path)} must be between {schema.get('minimum')} and {schema.get('maximum')}, "
                   f"got {shorten(value, 30)}")


def _check_object(value: dict[str, Any], schema: Schema, path: str, out: list[str]) -> None:
    props: dict[str, Schema] = schema.get("properties") or {}
    if "maxProperties" in schema and len(value) > schema["maxProperties"]:
        extra = f"; give one of {', '.join(props)}" if schema["maxProperties"] == 1 and props else ""
        out.append(f"{_name(path)} has {len(value)} fields; at most {schema['maxProperties']} are accepted{extra}")
        return
    prefix = f"{path}." if path else ""
    if schema.get("additionalProperties") is False:
        for key in value:
            if key not in props:
                out.append(f"unknown field {shorten(key, 60)} in {_name(path)} (accepted: {', '.join(props)})")
    for key in schema.get("required") or ():
        if key not in value:
            out.append(f"missing required field {key!r}" + (f" in {path}" if path else ""))
    for key, sub in props.items():
        if key in value:
            _check(value[key], sub, f"{prefix}{key}", out)
