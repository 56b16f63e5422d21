"""`plan`/`apply` filters (`--binding`, `--resource-id`) and exit codes (0 nothing refused, 2 findings), as an operator
runs them: a separate process configured by its environment."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable

from poolkeeper_local.localrun import tutorial_config
from tests.conftest import SimHandle
from tests.e2e.test_cli import run_cli


def test_resource_id_limits_the_plan_to_one_vm(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    vm2 = sim.rid("myTutorial8", "Microsoft.Compute/virtualMachines/myVM2")
    result = run_cli(sim, "plan", "--json", "--resource-id", vm2, config=tutorial_config(sim.info))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)[0]["plan"]
    changes = answer["changes"]
    assert changes and all("myVM2" in json.dumps(c) for c in [*changes, *answer["findings"]])
    outside = run_cli(sim, "plan", "--resource-id", "/subscriptions/00000000-0000-0000-0000-000000000000/"
                      "resourceGroups/elsewhere", config=tutorial_config(sim.info))
    assert outside.returncode == 2 and "outside the configured scopes" in outside.stderr


def test_binding_filter_and_findings_exit_2(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    config = tutorial_config(sim.info)
    second = copy.deepcopy(config["bindings"][0])
    second.update(name="also-web", natRule=None)
    second.pop("natRule")
    config["bindings"].append(second)  # matches the same VMs: the plan reports it
    whole = run_cli(sim, "plan", config=config)
    assert whole.returncode == 2, whole.stdout + whole.stderr
    assert "REPORT" in whole.stdout
    only = run_cli(sim, "plan", "--json", "--binding", "web", config=config)
    plan = json.loads(only.stdout)[0]["plan"]
    reported = plan["findings"]
    assert plan["changes"] and {c["binding"] for c in [*plan["changes"], *reported]} == {"web"}
    assert only.returncode == (2 if reported else 0), only.stderr
    unknown = run_cli(sim, "plan", "--binding", "nope", config=config)
    assert unknown.returncode == 2 and "unknown binding 'nope'" in unknown.stderr
