"""The custom role in infra/ grants exactly the RBAC actions poolkeeper's ARM calls need.

The action list lives in one file, infra/role-actions.json, which main.bicep loads with loadJsonContent. The
executor modules register the actions of every ARM-calling function with ``poolkeeper.armcalls.needs_actions``;
importing them fills the registry, and ``required_actions()`` must then equal the file. A missing action breaks
poolkeeper in production with a 403; an unused one is privilege nobody needs. Neither direction is tolerated.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
ROLE_ACTIONS_FILE = INFRA / "role-actions.json"
MAIN_BICEP = INFRA / "main.bicep"

# The modules whose decorated functions make poolkeeper's ARM calls. Both must exist: a missing one means part of
# the executor is unregistered, and the comparison below would be checking an incomplete set.
EXECUTOR_MODULES = ("poolkeeper.executor", "poolkeeper.workflows")

# Provider/resourceType[/...]/(read|write|delete|action) -- no wildcards, which would defeat the point.
_ACTION = re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/(read|write|delete|action)$")


@dataclass(frozen=True)
class ActionDiff:
    """How the role's action list differs from what the code needs."""

    missing: frozenset[str]
    unused: frozenset[str]

    @property
    def matches(self) -> bool:
        """True when the role grants exactly the needed actions."""
        return not self.missing and not self.unused

    def describe(self) -> str:
        """Human-readable difference for an assertion message."""
        lines = []
        if self.missing:
            lines.append("missing from infra/role-actions.json (the code calls ARM with these; it would get 403):")
            lines += [f"  + {action}" for action in sorted(self.missing)]
        if self.unused:
            lines.append("granted by infra/role-actions.json but registered by no executor function (remove them):")
            lines += [f"  - {action}" for action in sorted(self.unused)]
        return "\n".join(lines) or "role matches the code"


def compare_actions(required: Iterable[str], granted: Iterable[str]) -> ActionDiff:
    """Compare what the code needs with what the role grants. RBAC action strings are case-insensitive."""
    need = {action.lower(): action for action in required}
    have = {action.lower(): action for action in granted}
    return ActionDiff(
        missing=frozenset(need[key] for key in need.keys() - have.keys()),
        unused=frozenset(have[key] for key in have.keys() - need.keys()),
    )


def load_role_actions(path: Path = ROLE_ACTIONS_FILE) -> list[str]:
    """The role's action list as Bicep sees it (a JSON list of strings)."""
    data: Any = json.loads(path.read_text())
    assert isinstance(data, list) and all(isinstance(a, str) for a in data), f"{path} must be a JSON list of strings"
    return data


def import_executor_modules(names: Iterable[str] = EXECUTOR_MODULES) -> list[str]:
    """Import the executor modules so their ``needs_actions`` decorators run; return why any could not be.

    A module that does not exist is reported (not skipped): the comparison would otherwise pass or fail on a
    partial registry. A module that exists but fails to import is reported with its error.
    """
    problems: list[str] = []
    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError as exc:  # the parent package itself is missing
            problems.append(f"{name}: cannot be located ({exc})")
            continue
        if spec is None:
            problems.append(
                f"{name} does not exist yet: the executor must define it and decorate its ARM-calling functions with "
                "poolkeeper.armcalls.needs_actions(...) before the role can be checked against the code"
            )
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # report any import failure with the module it came from
            problems.append(f"{name} exists but failed to import: {type(exc).__name__}: {exc}")
    return problems


def json_loads_by_variable(template: dict[str, Any]) -> dict[str, str]:
    """Variables of a parsed template assigned ``loadJsonContent('<file>')``, mapped to the file name."""
    out: dict[str, str] = {}
    for name, var in (template.get("variables") or {}).items():
        value = var.get("value")
        function = value.get("function") if isinstance(value, dict) else None
        if isinstance(function, dict) and function.get("type") == "load_json_content":
            out[name] = function["parameters"]["file_path"]
    return out


def test_role_actions_file_is_well_formed() -> None:
    """Unique, exact action strings: duplicates hide drift and wildcards grant more than any call needs."""
    actions = load_role_actions()
    assert actions, "infra/role-actions.json is empty"
    lowered = [a.lower() for a in actions]
    duplicates = sorted({a for a in lowered if lowered.count(a) > 1})
    assert not duplicates, f"duplicate actions: {duplicates}"
    malformed = [a for a in actions if not _ACTION.match(a)]
    assert not malformed, f"not exact RBAC actions (wildcards or typos): {malformed}"


def test_main_bicep_builds_the_role_from_the_shared_file() -> None:
    """main.bicep must load role-actions.json and put exactly that list in the role, assignable per resource group."""
    template = BicepParser().parse(file_path=MAIN_BICEP)
    loaders = [name for name, file in json_loads_by_variable(template).items() if file == ROLE_ACTIONS_FILE.name]
    assert len(loaders) == 1, f"main.bicep must load {ROLE_ACTIONS_FILE.name} into exactly one variable: {loaders}"
    roles = [res for res in template["resources"].values() if res["type"] == "Microsoft.Authorization/roleDefinitions"]
    assert len(roles) == 1, "main.bicep must define exactly one custom role"
    permissions = roles[0]["config"]["properties"]["permissions"]
    assert [p["actions"] for p in permissions] == [loaders[0]], "the role's actions must be the loaded list, only"
    assert all(p.get("dataActions", []) == [] for p in permissions), "poolkeeper needs no data-plane actions"
    # Never at subscription scope unless explicitly opted in.
    assert template["parameters"]["assignAtSubscriptionScope"]["default"] is False


def test_role_assignments_are_per_managed_resource_group() -> None:
    """The default assignment loops over the managed resource groups, scoped to each one."""
    template = BicepParser().parse(file_path=MAIN_BICEP)
    module = template["modules"]["managedRgRole"]
    assert module["detail"]["path"] == "modules/managed-rg-role.bicep"
    loop = module["config"]["loop_type"]["detail"]
    assert loop["array_name"] == "managedResourceGroupNames"
    scope = module["config"]["config"]["scope"]["function"]
    assert scope["type"] == "resource_group" and scope["parameters"]["resource_group_name"] == loop["item_name"]


def test_role_grants_exactly_what_the_executor_registers() -> None:
    """required_actions() after importing the executor == infra/role-actions.json."""
    problems = import_executor_modules()
    assert not problems, (
        "cannot derive the needed RBAC actions from the code, so the custom role is unchecked:\n  "
        + "\n  ".join(problems)
    )
    from poolkeeper.armcalls import registered_calls, required_actions

    required = required_actions()
    assert required, "the executor modules imported but registered no ARM calls with needs_actions(...)"
    diff = compare_actions(required, load_role_actions())
    calls = "\n".join(f"  {fn}: {sorted(acts)}" for fn, acts in sorted(registered_calls().items()))
    assert diff.matches, f"{diff.describe()}\nregistered ARM calls:\n{calls}"


def test_comparison_reports_a_removed_action_as_missing() -> None:
    """Drop one action from a copy of the role: the comparison must name it as missing (and nothing else)."""
    granted = load_role_actions()
    required = set(granted)
    removed = "Microsoft.Network/loadBalancers/backendAddressPools/join/action"
    assert removed in granted
    reduced = [a for a in granted if a != removed]
    diff = compare_actions(required, reduced)
    assert not diff.matches
    assert diff.missing == {removed} and not diff.unused
    assert removed in diff.describe()


def test_comparison_reports_an_extra_action_as_unused() -> None:
    """An action nobody registered is excess privilege and must be reported too."""
    granted = [*load_role_actions(), "Microsoft.Network/loadBalancers/delete"]
    diff = compare_actions(set(load_role_actions()), granted)
    assert diff.unused == {"Microsoft.Network/loadBalancers/delete"} and not diff.missing


def test_module_import_check_reports_a_missing_module() -> None:
    """A module that does not exist must be reported, not silently ignored (no skip can stand in for the check)."""
    problems = import_executor_modules(["poolkeeper.no_such_module_for_this_test"])
    assert len(problems) == 1 and "does not exist yet" in problems[0]
