"""An ARM template turned into an ordered plan: parameters bound, resources expanded (``copy``, ``condition``),
names and ``dependsOn`` evaluated, implicit ``reference()`` dependencies added, a topological order.

Source: Microsoft Learn, azure-resource-manager/templates/syntax (template sections), resource-dependency
(``dependsOn`` takes names or ids; ``reference`` to a resource in the same template is an implicit dependency;
circular dependencies are refused), copy-resources (``copy.name``/``count``, ``copyIndex()``; a ``dependsOn`` naming
the loop waits for all its instances), conditional-resource-deployment (``condition``), template-parameters
(``defaultValue``, ``allowedValues``; a missing value is refused). What armsim does not evaluate — user-defined
``functions``, property or variable ``copy`` loops, nested ``resources`` arrays, ``existing`` — is refused as
``InvalidTemplate`` rather than half-done.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from typing import Any

from armsim.resources import expressions as ex
from armsim.resources.expressions import TemplateError
from armsim.resources.functions import make_functions, resource_id

TOP_LEVEL = {"$schema", "contentVersion", "apiProfile", "parameters", "variables", "resources", "outputs", "metadata",
             "functions"}
# template-only resource keys (not part of the resource body sent to its provider)
TEMPLATE_KEYS = {"type", "name", "apiVersion", "dependsOn", "condition", "copy", "comments", "metadata"}


@dataclass
class Planned:
    """One resource instance to deploy."""

    name: str  # as evaluated from the template ("vnet" or "vnet/subnet")
    type: str
    id: str
    raw: dict[str, Any]  # the template resource (expressions unevaluated)
    loop: str | None = None
    index: int | None = None
    depends_on: set[str] = field(default_factory=set)  # ids (lower case)


@dataclass
class Plan:
    parameters: dict[str, dict[str, Any]]  # name -> {"type", "value"}
    resources: list[Planned]  # in deployment (topological) order
    outputs: dict[str, Any]


class TemplateScope:
    """Evaluation scope of one template: parameters, lazily evaluated variables, references, the copy index."""

    def __init__(self, template: dict[str, Any], supplied: dict[str, Any], subscription_id: str, tenant_id: str,
                 rg_body: dict[str, Any], deployment_name: str) -> None:
        self.template = template
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        self.rg_body = rg_body
        self.deployment_name = deployment_name
        self.values: dict[str, Any] = {}
        self._variables: dict[str, Any] = {}
        self._evaluating: set[str] = set()
        self.current_copy: tuple[str | None, int] | None = None
        self.referencer: Any = None  # set by the deployment: (name_or_id, api_version, full) -> value
        self.functions = make_functions(self)
        self._bind_parameters(supplied)

    # --- Scope protocol -------------------------------------------------------------------------------------
    def parameter(self, name: str) -> Any:
        for k, v in self.values.items():
            if k.lower() == str(name).lower():
                return copy.deepcopy(v)
        raise TemplateError(f"The template parameter '{name}' is not found. Please see "
                            "https://aka.ms/arm-syntax-parameters for usage details.")

    def variable(self, name: str) -> Any:
        variables = self.template.get("variables") or {}
        key = next((k for k in variables if k.lower() == str(name).lower()), None)
        if key is None:
            raise TemplateError(f"The template variable '{name}' is not found. Please see "
                                "https://aka.ms/arm-syntax-variables for usage details.")
        if key in self._variables:
            return copy.deepcopy(self._variables[key])
        if key in self._evaluating:
            raise TemplateError(f"The template variable '{key}' refers to itself (a circular reference).")
        if key == "copy":
            raise TemplateError("Variable 'copy' loops are not supported by armsim.")
        self._evaluating.add(key)
        try:
            value = ex.evaluate_value(variables[key], self.functions)
        finally:
            self._evaluating.discard(key)
        self._variables[key] = value
        return copy.deepcopy(value)

    def resource_group_body(self) -> dict[str, Any]:
        return self.rg_body

    def deployment_body(self) -> dict[str, Any]:
        return {"name": self.deployment_name, "properties": {"template": {"contentVersion": self.template.get(
            "contentVersion", "1.0.0.0")}}}

    def reference(self, name_or_id: str, api_version: str | None, full: bool) -> Any:
        if self.referencer is None:
            raise TemplateError("The template function 'reference' is not expected at this location (resource "
                                "names, types and dependsOn are evaluated before anything is deployed).")
        return self.referencer(name_or_id, api_version, full)

    def copy_index(self, loop: str | None) -> int:
        if self.current_copy is None or (loop is not None and (self.current_copy[0] or "").lower() != loop.lower()):
            raise TemplateError("The template function 'copyIndex' is not expected at this location (it is valid "
                                "only inside a resource with a 'copy' loop named as given).")
        return self.current_copy[1]

    # --- parameters ---------------------------------------------------------------------------------------------
    def _bind_parameters(self, supplied: dict[str, Any]) -> None:
        declared = self.template.get("parameters") or {}
        unknown = [k for k in supplied if k.lower() not in {d.lower() for d in declared}]
        if unknown:
            raise TemplateError(f"The template parameters '{', '.join(unknown)}' in the parameters file are not "
                                "valid; they are not present in the original template and can therefore not be "
                                "provided at deployment time.")
        lowered = {k.lower(): v for k, v in supplied.items()}
        for name, spec in declared.items():
            given = lowered.get(name.lower())
            if isinstance(given, dict) and "reference" in given:
                raise TemplateError(f"The template parameter '{name}' is a Key Vault reference; armsim has no Key "
                                    "Vault.")
            if isinstance(given, dict) and "value" in given:
                value = given["value"]
            elif "defaultValue" in (spec or {}):
                value = ex.evaluate_value(spec["defaultValue"], self.functions)
            else:
                raise TemplateError(f"The value for the template parameter '{name}' at line '1' and column '1' is "
                                    "not provided. Please see https://aka.ms/arm-create-parameter-file for usage "
                                    "details.")
            allowed = (spec or {}).get("allowedValues")
            if allowed is not None and value not in allowed:
                raise TemplateError(f"The provided value '{value}' for the template parameter '{name}' is not valid. "
                                    f"The parameter value is not part of the allowed value(s): "
                                    f"'{','.join(map(str, allowed))}'.")
            self.values[name] = value

    def parameters_echo(self) -> dict[str, dict[str, Any]]:
        declared = self.template.get("parameters") or {}
        out = {}
        for name, value in self.values.items():
            ptype = str((declared.get(name) or {}).get("type", "string"))
            secure = ptype.lower().startswith("secure")
            out[name] = {"type": output_type(ptype)} if secure else {"type": output_type(ptype), "value": value}
        return out


def output_type(declared: str) -> str:
    """ARM echoes template types capitalized: "string" -> "String", "securestring" -> "SecureString"."""
    low = declared.lower()
    return {"securestring": "SecureString", "secureobject": "SecureObject"}.get(low, low[:1].upper() + low[1:])


def _refused(template: dict[str, Any]) -> None:
    if not isinstance(template, dict):
        raise TemplateError("The template must be a JSON object.")
    extra = sorted(set(template) - TOP_LEVEL)
    if extra:
        raise TemplateError(f"The template has unknown top-level properties: {', '.join(extra)}.")
    if template.get("functions"):
        raise TemplateError("User-defined template functions are not supported by armsim.")
    if not isinstance(template.get("resources", []), list):
        raise TemplateError("The template 'resources' must be an array (symbolic-name templates, languageVersion "
                            "2.0, are not supported by armsim).")


def _unsupported_in_resource(raw: dict[str, Any], where: str) -> None:
    if raw.get("resources"):
        raise TemplateError(f"{where}: nested child 'resources' are not supported by armsim; declare child resources "
                            "at the top level with a 'parent/child' name.")
    if raw.get("existing"):
        raise TemplateError(f"{where}: 'existing' resources are not supported by armsim.")
    for key in ("type", "name", "apiVersion"):
        if not isinstance(raw.get(key), str):
            raise TemplateError(f"{where}: the resource property '{key}' is required and must be a string.")
    props = raw.get("properties")
    if isinstance(props, dict) and isinstance(props.get("copy"), list):
        raise TemplateError(f"{where}: property 'copy' loops are not supported by armsim.")


def _resource_id_for(scope: TemplateScope, rtype: str, name: str) -> str:
    return resource_id(scope.subscription_id, str(scope.rg_body["name"]), rtype, *name.split("/"))


def _check_functions(value: Any, known: set[str]) -> None:
    """Every expression parses and calls only functions armsim has: refused up front, as ARM validates templates."""
    if isinstance(value, dict):
        for v in value.values():
            _check_functions(v, known)
    elif isinstance(value, list):
        for v in value:
            _check_functions(v, known)
    elif ex.is_expression(value):
        _known_calls(ex.parse(value[1:-1]), known)


def _known_calls(node: ex.Node, known: set[str]) -> None:
    if isinstance(node, ex.Call):
        if node.name.lower() not in known:
            raise TemplateError(f"The template function '{node.name}' is not valid (armsim evaluates: "
                                f"{', '.join(sorted(known))}).")
        for a in node.args:
            _known_calls(a, known)
    elif isinstance(node, ex.Member):
        _known_calls(node.target, known)
    elif isinstance(node, ex.Index):
        _known_calls(node.target, known)
        _known_calls(node.index, known)


def build_plan(template: dict[str, Any], scope: TemplateScope) -> Plan:
    """Validate and expand ``template``: what ARM checks before it deploys anything."""
    _refused(template)
    _check_functions({k: template.get(k) for k in ("parameters", "variables", "resources", "outputs")},
                     set(scope.functions) | {"if"})
    expanded: list[Planned] = []
    for i, raw in enumerate(template.get("resources") or []):
        where = f"Template resource at index {i}"
        if not isinstance(raw, dict):
            raise TemplateError(f"{where} must be a JSON object.")
        _unsupported_in_resource(raw, where)
        loop = raw.get("copy")
        instances: list[tuple[str | None, int | None]] = [(None, None)]
        if loop is not None:
            if not isinstance(loop, dict) or not isinstance(loop.get("name"), str):
                raise TemplateError(f"{where}: 'copy' needs a 'name' and a 'count'.")
            count = ex.evaluate_value(loop.get("count"), scope.functions)
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 800:
                raise TemplateError(f"{where}: the copy count must be an integer from 0 to 800, got {count!r}.")
            instances = [(loop["name"], n) for n in range(count)]
        for loop_name, index in instances:
            scope.current_copy = (loop_name, index) if index is not None else None
            try:
                if "condition" in raw and not ex.evaluate_value(raw["condition"], scope.functions):
                    continue
                name = ex.evaluate_value(raw["name"], scope.functions)
                rtype = ex.evaluate_value(raw["type"], scope.functions)
                if not isinstance(name, str) or not isinstance(rtype, str):
                    raise TemplateError(f"{where}: the resource name and type must evaluate to strings.")
                if len(rtype.split("/")) - 1 != len(name.split("/")):
                    raise TemplateError(f"The template resource '{name}' for type '{rtype}' has an incorrect segment "
                                        "length. A nested resource type must have identical number of segments as "
                                        "its resource name.")
                planned = Planned(name, rtype, _resource_id_for(scope, rtype, name), raw, loop_name, index)
                planned.depends_on = {str(d) for d in ex.evaluate_value(raw.get("dependsOn") or [], scope.functions)}
            finally:
                scope.current_copy = None
            expanded.append(planned)
    _resolve_dependencies(expanded, scope)
    outputs = template.get("outputs") or {}
    for oname, spec in outputs.items():
        if not isinstance(spec, dict) or "value" not in spec or "copy" in spec:
            raise TemplateError(f"The template output '{oname}' needs a 'type' and a 'value' (output 'copy' loops are "
                                "not supported by armsim).")
    return Plan(scope.parameters_echo(), _topological(expanded), outputs)


def _referenced_names(value: Any, scope: TemplateScope, out: set[str]) -> None:
    """Names or ids passed to ``reference()`` anywhere in ``value``: implicit dependencies."""
    if isinstance(value, dict):
        for v in value.values():
            _referenced_names(v, scope, out)
    elif isinstance(value, list):
        for v in value:
            _referenced_names(v, scope, out)
    elif ex.is_expression(value):
        _calls(ex.parse(value[1:-1]), scope, out)


def _calls(node: ex.Node, scope: TemplateScope, out: set[str]) -> None:
    if isinstance(node, ex.Call):
        if node.name.lower() == "reference" and node.args:
            # an argument depending on another reference: ordered by dependsOn only
            with contextlib.suppress(TemplateError):
                out.add(str(ex.evaluate(node.args[0], scope.functions)))
        for a in node.args:
            _calls(a, scope, out)
    elif isinstance(node, ex.Member):
        _calls(node.target, scope, out)
    elif isinstance(node, ex.Index):
        _calls(node.target, scope, out)
        _calls(node.index, scope, out)


def _resolve_dependencies(expanded: list[Planned], scope: TemplateScope) -> None:
    by_id = {p.id.lower(): p for p in expanded}
    by_name: dict[str, list[Planned]] = {}
    for p in expanded:
        by_name.setdefault(p.name.lower(), []).append(p)
        if p.loop:
            by_name.setdefault(p.loop.lower(), []).append(p)
    declared_loops = {str((r.get("copy") or {}).get("name", "")).lower() for r in scope.template.get("resources") or []
                      if isinstance(r, dict)}
    for p in expanded:
        implicit: set[str] = set()
        scope.current_copy = (p.loop, p.index) if p.index is not None else None
        try:
            _referenced_names({k: v for k, v in p.raw.items() if k not in TEMPLATE_KEYS}, scope, implicit)
        finally:
            scope.current_copy = None
        resolved: set[str] = set()
        for dep in p.depends_on:
            targets = _targets(dep, by_id, by_name)
            if targets is None:
                if dep.lower() in declared_loops:
                    continue  # a loop with zero instances (or all conditions false): nothing to wait for
                raise TemplateError(f"The resource '{dep}' is not defined in the template. Please see "
                                    "https://aka.ms/arm-syntax for usage details.")
            resolved |= targets
        for ref in implicit:
            resolved |= _targets(ref, by_id, by_name) or set()
        resolved.discard(p.id.lower())
        p.depends_on = resolved


def _targets(dep: str, by_id: dict[str, Planned], by_name: dict[str, list[Planned]]) -> set[str] | None:
    low = dep.lower().rstrip("/")
    if low in by_id:
        return {low}
    if low in by_name:
        return {q.id.lower() for q in by_name[low]}
    # "Microsoft.Network/virtualNetworks/myVnet" (type/name without the id prefix) is accepted by ARM too
    for rid, q in by_id.items():
        if f"{q.type}/{q.name}".lower() == low:
            return {rid}
    return None


def _topological(expanded: list[Planned]) -> list[Planned]:
    """Dependencies first; otherwise template order (stable). A cycle is ARM's 'Circular dependency detected'."""
    done: set[str] = set()
    order: list[Planned] = []
    pending = list(expanded)
    while pending:
        ready = [p for p in pending if p.depends_on <= done]
        if not ready:
            names = ", ".join(f"'{p.name}'" for p in pending)
            raise TemplateError(f"Deployment template validation failed: 'Circular dependency detected on resource: "
                                f"{names}'. Please see https://aka.ms/arm-syntax-resources for usage details.")
        for p in ready:
            order.append(p)
            done.add(p.id.lower())
        pending = [p for p in pending if p.id.lower() not in done]
    return order
