"""ARM template expressions: ``"[concat(parameters('a'), '-x')]"`` parsed and evaluated without ``eval``.

Grammar (Microsoft Learn, "Syntax and expressions in ARM templates", azure-resource-manager/templates/
template-expressions): a string value starting with ``[`` and ending with ``]`` is an expression; ``[[`` at the start
escapes a literal ``[``. An expression is a function call, a string literal in single quotes (``''`` escapes a quote),
an integer, or ``null``/``true``/``false`` (via the functions of the same name), followed by any number of
property accesses ``.name`` and index accesses ``[expr]``.

Functions are looked up in a table the caller supplies (``armsim.resources.functions``); an unknown function, a bad
argument or a syntax error raises :class:`TemplateError`, which a deployment answers as ARM's ``InvalidTemplate``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class TemplateError(Exception):
    """What ARM answers as ``InvalidTemplate`` (the message names the template part and the problem)."""


# --- syntax tree --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Member:
    target: Node
    name: str


@dataclass(frozen=True)
class Index:
    target: Node
    index: Node


Node = Literal | Call | Member | Index

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<ident>[A-Za-z_][A-Za-z0-9_]*)|(?P<sym>[()\[\].,]))"
)


def _tokenize(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        if not text[pos:].strip():
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise TemplateError(f"The template language expression '{text}' is not valid: unexpected character "
                                f"'{text[pos:].strip()[:1]}' at position {pos}.")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def _fail(self, why: str) -> TemplateError:
        return TemplateError(f"The template language expression '{self.text}' is not valid: {why}.")

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def expect(self, sym: str) -> None:
        tok = self.peek()
        if tok != ("sym", sym):
            raise self._fail(f"expected '{sym}' but found '{tok[1] if tok else 'the end'}'")
        self.i += 1

    def parse(self) -> Node:
        node = self.expression()
        if self.peek() is not None:
            raise self._fail(f"unexpected '{self.peek()[1]}' after the expression")  # type: ignore[index]
        return node

    def expression(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self._fail("it is empty or ends too early")
        self.i += 1
        kind, text = tok
        node: Node
        if kind == "str":
            node = Literal(text[1:-1].replace("''", "'"))
        elif kind == "num":
            node = Literal(float(text) if "." in text else int(text))
        elif kind == "ident":
            self.expect("(")
            args: list[Node] = []
            if self.peek() != ("sym", ")"):
                args.append(self.expression())
                while self.peek() == ("sym", ","):
                    self.i += 1
                    args.append(self.expression())
            self.expect(")")
            node = Call(text, tuple(args))
        else:
            raise self._fail(f"unexpected '{text}'")
        while True:
            tok = self.peek()
            if tok == ("sym", "."):
                self.i += 1
                name = self.peek()
                if name is None or name[0] != "ident":
                    raise self._fail("a property name must follow '.'")
                self.i += 1
                node = Member(node, name[1])
            elif tok == ("sym", "["):
                self.i += 1
                index = self.expression()
                self.expect("]")
                node = Index(node, index)
            else:
                return node


def parse(text: str) -> Node:
    """Parse the inside of ``[...]`` (without the brackets)."""
    return _Parser(text).parse()


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("[") and value.endswith("]") and not value.startswith("[[")


# --- evaluation ---------------------------------------------------------------------------------------------------
Function = Callable[..., Any]


def evaluate(node: Node, functions: dict[str, Function]) -> Any:
    """Evaluate a parsed expression. ``if`` evaluates only the branch it takes (ARM does the same)."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call):
        name = node.name.lower()
        if name == "if":
            if len(node.args) != 3:
                raise TemplateError("The template function 'if' expects exactly three arguments.")
            cond = evaluate(node.args[0], functions)
            if not isinstance(cond, bool):
                raise TemplateError("The template function 'if' expects a boolean as its first argument.")
            return evaluate(node.args[1] if cond else node.args[2], functions)
        fn = functions.get(name)
        if fn is None:
            raise TemplateError(
                f"The template function '{node.name}' is not valid (armsim evaluates: "
                f"{', '.join(sorted(functions))}, if)."
            )
        return fn(*(evaluate(a, functions) for a in node.args))
    if isinstance(node, Member):
        target = evaluate(node.target, functions)
        if not isinstance(target, dict):
            raise TemplateError(f"The language expression property '{node.name}' can't be evaluated: the value is "
                                f"not an object.")
        for k, v in target.items():
            if k.lower() == node.name.lower():  # ARM property access is case-insensitive
                return v
        raise TemplateError(f"The language expression property '{node.name}' doesn't exist, available properties "
                            f"are '{', '.join(target)}'.")
    target = evaluate(node.target, functions)
    index = evaluate(node.index, functions)
    if isinstance(target, list) and isinstance(index, int) and not isinstance(index, bool):
        if not 0 <= index < len(target):
            raise TemplateError(f"The language expression index {index} is out of range (length {len(target)}).")
        return target[index]
    if isinstance(target, dict) and isinstance(index, str):
        return evaluate(Member(Literal(target), index), functions)
    raise TemplateError("The language expression index is not valid for the value it indexes.")


def evaluate_string(value: str, functions: dict[str, Function]) -> Any:
    """A template string: an expression's value, a ``[[``-escaped literal, or the string itself."""
    if value.startswith("[["):
        return value[1:]
    if is_expression(value):
        return evaluate(parse(value[1:-1]), functions)
    return value


def evaluate_value(value: Any, functions: dict[str, Function]) -> Any:
    """Evaluate every expression inside a JSON value (objects' keys stay as written)."""
    if isinstance(value, str):
        return evaluate_string(value, functions)
    if isinstance(value, list):
        return [evaluate_value(v, functions) for v in value]
    if isinstance(value, dict):
        return {k: evaluate_value(v, functions) for k, v in value.items()}
    return value
