"""The app indexes as the Functions host would: one FunctionApp, unique names, every function has a trigger,
parameter names equal binding names."""

from __future__ import annotations

import inspect

import azure.functions as func

import function_app
from poolkeeper_local.host import indexed_functions


def test_exactly_one_function_app() -> None:
    apps = [v for v in vars(function_app).values() if isinstance(v, func.FunctionApp)]
    assert len(apps) == 1


def test_functions_have_unique_names_triggers_and_matching_parameters() -> None:
    functions = indexed_functions(function_app.app)
    names = [f.get_function_name() for f in functions]
    assert len(names) == len(set(n.lower() for n in names)), names
    for fn in functions:
        trigger = fn.get_trigger()
        assert trigger is not None, f"{fn.get_function_name()} has no trigger"
        params = set(inspect.signature(fn.get_user_function()).parameters)
        bound = {b.name for b in fn.get_bindings() if b.name != "$return"}
        assert params == bound, f"{fn.get_function_name()}: parameters {params} != bindings {bound}"


def test_the_functions_the_infra_wires_exist() -> None:
    names = {f.get_function_name() for f in indexed_functions(function_app.app)}
    assert {"on_resource_event", "reconcile", "health", "compliance_sweep"} <= names


def test_function_app_only_registers_blueprints() -> None:
    source = inspect.getsource(function_app)
    assert "@app." not in source, "function_app.py must only register blueprints from handlers/"
