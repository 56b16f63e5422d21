"""The ``$filter`` language of ARM's resource listing (``GET /subscriptions/{s}/resources``).

Source: azure-rest-api-specs, specification/resources/resource-manager/Microsoft.Resources/stable/2024-11-01/
resources.json, ``Resources_List`` ``$filter``: comparison operators ``eq`` and ``ne`` on ``resourceGroup``,
``resourceType``, ``name``, ``location``, ``tagName``/``tagValue`` (a tag filter), ``substringof(value, property)`` and
``startswith``-style functions; clauses combined with ``and``/``or``. az builds ``resourceGroup eq 'g' and name eq 'n'
and resourceType eq 'T'`` (azure-cli, ``azure/cli/core/commands/arm.py``/``network`` resource lookups).

A small recursive-descent parser; a filter it does not understand is refused with ARM's ``InvalidFilterInQueryString``
(UNCONFIRMED: the code is Azure's for a malformed ``$filter`` in resource listing as seen in public az issue logs;
the message is ours).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from armsim.errors import ArmError

Predicate = Callable[[dict[str, Any]], bool]

_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<word>[A-Za-z_][A-Za-z0-9_./]*)|(?P<sym>[(),]))")


@dataclass(frozen=True)
class _Tok:
    kind: str  # str | word | sym
    text: str


def _bad(filter_text: str, why: str) -> ArmError:
    return ArmError(400, "InvalidFilterInQueryString", f"Invalid $filter '{filter_text}': {why}.")


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _bad(text, f"unexpected character at position {pos}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "str":
            value = value[1:-1].replace("''", "'")
        out.append(_Tok(kind, value))
        pos = m.end()
    return out


def _field(resource: dict[str, Any], name: str) -> str | None:
    low = name.lower()
    if low == "resourcegroup":
        rid = str(resource.get("id", ""))
        parts = rid.split("/")
        for i, p in enumerate(parts):
            if p.lower() == "resourcegroups" and i + 1 < len(parts):
                return parts[i + 1]
        return None
    if low == "resourcetype":
        return str(resource.get("type", ""))
    if low in ("name", "location", "kind", "managedby"):
        value = resource.get({"managedby": "managedBy"}.get(low, low))
        return None if value is None else str(value)
    return None


# string comparisons: ARM compares names, types, groups and locations case-insensitively
_FIELDS = ("resourcegroup", "resourcetype", "name", "location", "kind", "managedby")


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self, kind: str | None = None, text: str | None = None) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise _bad(self.text, "it ends too early")
        if (kind and tok.kind != kind) or (text and tok.text.lower() != text):
            raise _bad(self.text, f"expected {text or kind} but found '{tok.text}'")
        self.i += 1
        return tok

    def parse(self) -> Predicate:
        pred = self.disjunction()
        if self.peek() is not None:
            raise _bad(self.text, f"unexpected '{self.peek().text}'")  # type: ignore[union-attr]
        return pred

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while (t := self.peek()) is not None and t.kind == "word" and t.text.lower() == "or":
            self.i += 1
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def conjunction(self) -> Predicate:
        start = self.i
        parts = [self.atom()]
        while (t := self.peek()) is not None and t.kind == "word" and t.text.lower() == "and":
            self.i += 1
            parts.append(self.atom())
        pair = _tag_pair(self.toks[start:self.i])
        if pair is not None:
            # "tagName eq 'k' and tagValue eq 'v'" is one condition: tag k has value v (not any tag with value v)
            name, value = pair
            return lambda r: any(k.lower() == name and str(v).lower() == value
                                 for k, v in (r.get("tags") or {}).items())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def atom(self) -> Predicate:
        tok = self.take()
        if tok.kind == "sym" and tok.text == "(":
            inner = self.disjunction()
            self.take("sym", ")")
            return inner
        if tok.kind != "word":
            raise _bad(self.text, f"unexpected '{tok.text}'")
        fname = tok.text.lower()
        if fname in ("substringof", "startswith"):
            self.take("sym", "(")
            first = self.take()
            self.take("sym", ",")
            second = self.take()
            self.take("sym", ")")
            if fname == "substringof":  # substringof('value', name)
                needle, prop = first, second
            else:  # startswith(name, 'value')
                prop, needle = first, second
            if needle.kind != "str" or prop.kind != "word" or prop.text.lower() not in _FIELDS:
                raise _bad(self.text, f"{fname} takes a string and one of {', '.join(_FIELDS)}")
            value, pname = needle.text.lower(), prop.text
            if fname == "substringof":
                return lambda r: value in (_field(r, pname) or "").lower()
            return lambda r: (_field(r, pname) or "").lower().startswith(value)
        op = self.take("word").text.lower()
        if op not in ("eq", "ne"):
            raise _bad(self.text, f"operator '{op}' is not supported (use eq or ne)")
        value_tok = self.take("str")
        return self._comparison(tok.text, op, value_tok.text)

    def _comparison(self, prop: str, op: str, value: str) -> Predicate:
        low = prop.lower()
        want = value.lower()
        if low == "tagname":
            # "tagName eq 'k' and tagValue eq 'v'" is one tag condition: tagValue alone is refused by ARM
            return (lambda r: want in {k.lower() for k in (r.get("tags") or {})}) if op == "eq" else (
                lambda r: want not in {k.lower() for k in (r.get("tags") or {})})
        if low == "tagvalue":
            return lambda r: any(str(v).lower() == want for v in (r.get("tags") or {}).values()) == (op == "eq")
        if low not in _FIELDS:
            raise _bad(self.text, f"'{prop}' cannot be filtered on")
        return lambda r: ((_field(r, prop) or "").lower() == want) == (op == "eq")


def _tag_pair(toks: list[_Tok]) -> tuple[str, str] | None:
    """(name, value), lower case, when the tokens are exactly ``tagName eq 'k' and tagValue eq 'v'``."""
    words = [(t.kind, t.text.lower()) for t in toks]
    if len(words) == 7 and [w[1] for w in words[:2]] == ["tagname", "eq"] and words[3][1] == "and" \
            and [w[1] for w in words[4:6]] == ["tagvalue", "eq"] and words[2][0] == words[6][0] == "str":
        return words[2][1], words[6][1]
    return None


def compile_filter(text: str | None) -> Predicate:
    """A predicate over listed resources (the listing's own JSON) for a ``$filter``; everything when empty."""
    if not text or not text.strip():
        return lambda r: True
    return _Parser(text).parse()
