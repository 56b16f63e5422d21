"""Read infra/*.bicep offline (pycep-parser) and evaluate the small expressions that decide what a deployment contains.

No Bicep compiler runs in CI, so "is this module deployed when eventsDelivery is 'direct'?" is answered by evaluating
the parsed condition against chosen parameter values. Only the operators the templates use for such decisions are
supported (==, !=, !, &&, ||, ?:, empty(), literals, parameter/variable names); anything else raises, so a test never
silently reads an expression it does not understand. References to other resources' or modules' properties evaluate
to a :class:`Ref` (a value known only at deployment), which is truthy and never empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"


@cache
def parse(relative: str) -> dict[str, Any]:
    """The pycep model of ``infra/<relative>`` (cached: the files do not change during a run)."""
    return BicepParser().parse(file_path=INFRA / relative)


@dataclass(frozen=True)
class Ref:
    """A value only known at deployment, e.g. ``serviceBus.outputs.queueName``."""

    path: str


class Unsupported(ValueError):
    """An expression this evaluator does not understand (extend it rather than guess)."""


def _ref_path(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "operator" in node and node["operator"]["type"] == "property_accessor":
        operands = node["operator"]["operands"]
        return f"{_ref_path(operands['operand_1'])}.{_ref_path(operands['operand_2'])}"
    raise Unsupported(f"not a property path: {node!r}")


@dataclass(frozen=True)
class Scope:
    """Parameter values (given or default) and variables of one template, for :meth:`eval`."""

    template: Mapping[str, Any]
    params: Mapping[str, Any]

    @classmethod
    def of(cls, template: Mapping[str, Any], **given: Any) -> Scope:
        """``template``'s parameters: ``given`` where supplied, else their declared default."""
        declared: Mapping[str, Any] = template.get("parameters") or {}
        unknown = set(given) - set(declared)
        if unknown:
            raise KeyError(f"not parameters of the template: {sorted(unknown)}")
        values = {name: decl.get("default") for name, decl in declared.items()}
        values.update(given)
        return cls(template=template, params=values)

    def eval(self, node: Any) -> Any:
        """The value of a pycep expression node in this scope."""
        if isinstance(node, bool | int | float) or node is None:
            return node
        if isinstance(node, str):
            if node in self.params:
                return self.params[node]
            variables: Mapping[str, Any] = self.template.get("variables") or {}
            if node in variables:
                return self.eval(variables[node]["value"])
            return node  # pycep renders string literals and names alike; anything not in scope is a literal
        if isinstance(node, list):
            return [self.eval(item) for item in node]
        if isinstance(node, dict) and "operator" in node:
            return self._operator(node["operator"])
        if isinstance(node, dict) and "function" in node:
            return self._function(node["function"])
        if isinstance(node, dict):
            return {key: self.eval(value) for key, value in node.items()}
        raise Unsupported(f"unexpected node {node!r}")

    def _operator(self, op: Mapping[str, Any]) -> Any:
        kind, operands = op["type"], op["operands"]
        if kind == "property_accessor":
            return Ref(_ref_path({"operator": op}))
        if kind == "equals":
            return self.eval(operands["operand_1"]) == self.eval(operands["operand_2"])
        if kind == "not_equals":
            return self.eval(operands["operand_1"]) != self.eval(operands["operand_2"])
        if kind == "not":
            return not self.eval(operands["bool_value"])
        if kind == "and":
            return all(self.eval(value) for value in operands.values())
        if kind == "or":
            return any(self.eval(value) for value in operands.values())
        if kind == "conditional":
            chosen = "true_value" if self.eval(operands["condition"]) else "false_value"
            return self.eval(operands[chosen])
        raise Unsupported(f"operator {kind}")

    def _function(self, fn: Mapping[str, Any]) -> Any:
        kind, parameters = fn["type"], fn.get("parameters") or {}
        if kind == "empty":
            value = self.eval(parameters["item_to_test"])
            return False if isinstance(value, Ref) else not value
        if kind == "concat":
            parts = [self.eval(value) for value in parameters.values()]
            if all(isinstance(part, list) for part in parts):
                return [item for part in parts for item in part]
            return Ref(f"concat({parts!r})")
        if kind == "subscription_resource_id" and parameters.get("subscription_id") is None:
            names = [self.eval(value) for key, value in sorted(parameters.items())
                     if key.startswith("resource_name_") and value is not None]
            return "/subscriptions/{subscriptionId}/providers/" + "/".join([self.eval(parameters["resource_type"]),
                                                                            *map(str, names)])
        return Ref(f"{kind}(...)")  # deployment-time functions (guid, uniqueString, ...) are not evaluated

    def deployed(self, config: Mapping[str, Any]) -> bool:
        """Whether a resource or module with this pycep ``config`` is deployed (its ``if (...)`` condition)."""
        return "condition" not in config or bool(self.eval(config["condition"]))


def body(config: Mapping[str, Any]) -> Mapping[str, Any]:
    """A resource or module's own properties, under its ``if``/loop wrapper when it has one."""
    inner = config.get("config")
    return inner if isinstance(inner, dict) and ("condition" in config or "loop_type" in config) else config


def resources_of_type(template: Mapping[str, Any], resource_type: str) -> dict[str, Mapping[str, Any]]:
    """Symbolic name -> pycep config of every resource of ``resource_type`` (existing ones excluded)."""
    return {
        name: res["config"]
        for name, res in (template.get("resources") or {}).items()
        if res["type"] == resource_type and not res.get("existing")
    }


def module_params(template: Mapping[str, Any], module: str) -> Mapping[str, Any]:
    """The ``params`` a template passes to one of its modules."""
    return body(template["modules"][module]["config"])["params"]


def main_scope(mode: str) -> Scope:
    """main.bicep's scope with placeholder required parameters and ``eventsDelivery = mode``."""
    return Scope.of(parse("main.bicep"), environmentName="env", location="westeurope",
                    managedResourceGroups="rg-a", eventsDelivery=mode)


def app_settings(mode: str) -> dict[str, Any]:
    """The function app's settings (name -> evaluated value) as main.bicep configures app.bicep in ``mode``."""
    main = main_scope(mode)
    passed = {name: main.eval(value) for name, value in module_params(main.template, "app").items()}
    app_template = parse("modules/app.bicep")
    app = Scope.of(app_template, **{k: v for k, v in passed.items() if k in app_template["parameters"]})
    (site,) = resources_of_type(app_template, "Microsoft.Web/sites").values()
    entries = app.eval(body(site)["properties"]["siteConfig"]["appSettings"])
    assert isinstance(entries, list), f"appSettings did not evaluate to a list: {entries!r}"
    return {entry["name"]: entry["value"] for entry in entries}
