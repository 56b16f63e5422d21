"""The pieces `azd up` strings together agree with each other, checked without Azure.

azure.yaml names a service that must match the function app's azd tag; the postdeploy hook reads main.bicep outputs
from the azd environment and passes them to eventgrid.bicep parameters. A renamed output or parameter would only
fail halfway through a real deployment, so the names are cross-checked here, and the hook is run against a stub
`az` to see the exact deployment it would make.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from pycep import BicepParser

from tests.infra.bicep_model import app_settings

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
AZURE_YAML = ROOT / "azure.yaml"
HOOK = INFRA / "hooks" / "postdeploy.sh"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"

# azd puts these in every environment itself; they are not template outputs.
AZD_PROVIDED = {"AZURE_SUBSCRIPTION_ID", "AZURE_ENV_NAME", "AZURE_LOCATION", "AZURE_PRINCIPAL_ID"}
# Settings poolkeeper and the Functions host read; all must be set by the template and documented.
REQUIRED_APP_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    "AZURE_CLIENT_ID",
    "POOLKEEPER_CONFIG",
    "POOLKEEPER_ARM_ENDPOINT",
    "POOLKEEPER_OPERATIONS_CONTAINER",
}
# A key-based host storage connection string, or runtime settings Flex Consumption rejects.
FORBIDDEN_APP_SETTINGS = {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME", "FUNCTIONS_EXTENSION_VERSION"}


def _parse(name: str) -> dict[str, Any]:
    return BicepParser().parse(file_path=INFRA / name)


def _resource(template: dict[str, Any], resource_type: str) -> dict[str, Any]:
    found = [res["config"] for res in template["resources"].values() if res["type"] == resource_type]
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def hook_parameters() -> dict[str, str]:
    """``name="$VAR"`` pairs the hook passes to eventgrid.bicep."""
    return dict(re.findall(r'^\s+(\w+)="\$(\w+)"', HOOK.read_text(), flags=re.MULTILINE))


def hook_optional_parameters() -> dict[str, str]:
    """``${VAR:+"name=$VAR"}`` parameters the hook passes only when the variable is set."""
    found = re.findall(r'\$\{(\w+):\+"(\w+)=\$(\w+)"\}', HOOK.read_text())
    assert all(var == again for var, _, again in found), found
    return {name: var for var, name, _ in found}


def hook_required_env() -> set[str]:
    """Environment variables the hook refuses to run without."""
    match = re.search(r"^for name in (.*?); do", HOOK.read_text(), flags=re.MULTILINE | re.DOTALL)
    assert match, "hook has no required-variable loop"
    return set(match.group(1).replace("\\\n", " ").split())


def test_azure_yaml_service_matches_the_function_app_tag() -> None:
    """`azd deploy` finds the app by the azd-service-name tag; a mismatch deploys nothing."""
    config = yaml.safe_load(AZURE_YAML.read_text())
    assert list(config["services"]) == ["api"]
    service = config["services"]["api"]
    assert (service["host"], service["language"], service["project"]) == ("function", "python", ".")
    assert config["infra"]["path"] == "infra" and config["infra"]["module"] == "main"
    site = _resource(_parse("modules/app.bicep"), "Microsoft.Web/sites")
    # union(tags, {'azd-service-name': 'api'}); pycep keeps the quotes of quoted object keys.
    tags = site["tags"]["function"]["parameters"]
    literal = {k.strip("'"): v for arg in tags.values() if isinstance(arg, dict) for k, v in arg.items()}
    assert literal.get("azd-service-name") == "api", f"function app tags: {tags}"


def test_azure_yaml_postdeploy_hook_exists() -> None:
    """The Event Grid subscription is created by the postdeploy hook, so it must be wired and executable."""
    hook = yaml.safe_load(AZURE_YAML.read_text())["hooks"]["postdeploy"]
    assert (ROOT / hook["run"]).resolve() == HOOK
    assert HOOK.stat().st_mode & stat.S_IXUSR, "postdeploy.sh must be executable"
    syntax = subprocess.run(["sh", "-n", str(HOOK)], capture_output=True, text=True, check=False)
    assert syntax.returncode == 0, syntax.stderr


def test_hook_inputs_are_main_outputs_and_eventgrid_parameters() -> None:
    """Every variable the hook needs is a main.bicep output; every parameter it passes is declared and required."""
    outputs = set(_parse("main.bicep")["outputs"])
    missing_outputs = hook_required_env() - outputs - AZD_PROVIDED
    assert not missing_outputs, f"hook reads variables main.bicep does not output: {sorted(missing_outputs)}"
    passed = hook_parameters()
    assert set(passed.values()) <= hook_required_env(), "hook passes a variable it does not check for"
    optional = hook_optional_parameters()
    assert optional == {"serviceBusQueueId": "EVENTGRID_SERVICEBUS_QUEUE_ID"}
    assert set(optional.values()) <= outputs, "the hook's optional variables must be main.bicep outputs"
    declared = _parse("eventgrid.bicep")["parameters"]
    required = {name for name, decl in declared.items() if decl.get("default") is None}
    passed = {**passed, **optional}
    assert set(passed) <= set(declared), f"not eventgrid.bicep parameters: {sorted(set(passed) - set(declared))}"
    assert required <= set(passed), f"eventgrid.bicep parameters the hook never sets: {sorted(required - set(passed))}"


def _stub_az(bin_dir: Path, log: Path) -> None:
    """A fake `az` that records its arguments (one JSON list per call) and succeeds."""
    script = bin_dir / "az"
    script.write_text(
        "#!/bin/sh\n"
        f'python3 -c \'import json,sys; print(json.dumps(sys.argv[1:]))\' "$@" >> "{log}"\n'
        "echo on_resource_event\n"
    )
    script.chmod(0o755)


def _hook_env(bin_dir: Path) -> dict[str, str]:
    env = {"PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin", "HOME": str(bin_dir)}
    for name in hook_required_env():
        env[name] = f"value-of-{name}"
    return env


def _run_hook(tmp_path: Path, env: dict[str, str]) -> list[list[str]]:
    log = tmp_path / "az.log"
    _stub_az(tmp_path, log)
    proc = subprocess.run(["sh", str(HOOK)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [json.loads(line) for line in log.read_text().splitlines()]


def _option(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1]


def test_hook_deploys_eventgrid_bicep_with_the_environment_values(tmp_path: Path) -> None:
    """Run the hook against a stub az: it must deploy infra/eventgrid.bicep with each output as its parameter."""
    calls = _run_hook(tmp_path, _hook_env(tmp_path))
    deploys = [c for c in calls if c[:3] == ["deployment", "group", "create"]]
    assert len(deploys) == 1, calls
    args = deploys[0]
    assert Path(args[args.index("--template-file") + 1]).resolve() == INFRA / "eventgrid.bicep"
    assert args[args.index("--resource-group") + 1] == "value-of-AZURE_RESOURCE_GROUP"
    for name, var in hook_parameters().items():
        assert f"{name}=value-of-{var}" in args
    # direct mode: the function subscription, no queue parameter, and the queue-mode subscription is removed
    assert not [a for a in args if a.startswith("serviceBusQueueId=")]
    assert any(c[:2] == ["functionapp", "function"] for c in calls), "direct mode waits for on_resource_event"
    deletes = [c for c in calls if c[:4] == ["eventgrid", "system-topic", "event-subscription", "delete"]]
    assert [_option(c, "--name") for c in deletes] == ["poolkeeper-on-resource-event-queue"]


def test_hook_points_event_grid_at_the_queue_in_service_bus_mode(tmp_path: Path) -> None:
    """With EVENTGRID_SERVICEBUS_QUEUE_ID set, the hook passes it as serviceBusQueueId and removes the direct one."""
    env = {**_hook_env(tmp_path), "EVENTGRID_SERVICEBUS_QUEUE_ID": "/subscriptions/s/queues/poolkeeper-events"}
    calls = _run_hook(tmp_path, env)
    (args,) = [c for c in calls if c[:3] == ["deployment", "group", "create"]]
    assert "serviceBusQueueId=/subscriptions/s/queues/poolkeeper-events" in args
    assert not any(c[:2] == ["functionapp", "function"] for c in calls), "no function to wait for in queue mode"
    deletes = [c for c in calls if c[:4] == ["eventgrid", "system-topic", "event-subscription", "delete"]]
    assert [_option(c, "--name") for c in deletes] == ["poolkeeper-on-resource-event"]
    assert all(_option(c, "--system-topic-name") == "value-of-EVENTGRID_SYSTEM_TOPIC_NAME" for c in deletes)


def test_hook_refuses_to_run_without_provisioned_outputs(tmp_path: Path) -> None:
    """Without the azd outputs the hook must stop before calling az, naming what is missing."""
    log = tmp_path / "az.log"
    _stub_az(tmp_path, log)
    env = _hook_env(tmp_path)
    del env["EVENTGRID_SYSTEM_TOPIC_NAME"]
    proc = subprocess.run(["sh", str(HOOK)], env=env, capture_output=True, text=True, check=False)
    assert proc.returncode != 0
    assert "EVENTGRID_SYSTEM_TOPIC_NAME is not set" in proc.stderr
    assert not log.exists()


def test_function_app_settings_are_identity_based_and_documented() -> None:
    """The app settings poolkeeper reads are all set, none is key-based, and docs/deploy.md describes each."""
    names = set(app_settings("serviceBus"))  # every setting either mode sets (direct sets a subset)
    assert names >= REQUIRED_APP_SETTINGS, f"missing app settings: {sorted(REQUIRED_APP_SETTINGS - names)}"
    assert not names & FORBIDDEN_APP_SETTINGS, f"forbidden app settings: {sorted(names & FORBIDDEN_APP_SETTINGS)}"
    doc = DEPLOY_DOC.read_text()
    undocumented = sorted(name for name in names if name.startswith("POOLKEEPER_") and f"`{name}`" not in doc)
    assert not undocumented, f"app settings not described in docs/deploy.md: {undocumented}"


def test_identity_only_access_to_storage_and_telemetry() -> None:
    """Shared keys off on storage and local auth off on App Insights, as the identity design assumes."""
    app = _parse("modules/app.bicep")
    storage = _resource(app, "Microsoft.Storage/storageAccounts")["properties"]
    assert storage["allowSharedKeyAccess"] is False and storage["allowBlobPublicAccess"] is False
    insights = _resource(app, "Microsoft.Insights/components")["properties"]
    assert insights["DisableLocalAuth"] is True
    plan = _resource(app, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"} and plan["properties"]["reserved"] is True
    site = _resource(app, "Microsoft.Web/sites")
    deployment_auth = site["properties"]["functionAppConfig"]["deployment"]["storage"]["authentication"]
    assert deployment_auth["type"] == "UserAssignedIdentity"
    main_app_params = _parse("main.bicep")["modules"]["app"]["config"]["params"]
    assert main_app_params["pythonVersion"] == "3.11"


def test_poolkeeper_config_built_by_bicep_is_accepted_by_poolkeeper() -> None:
    """POOLKEEPER_CONFIG as main.bicep builds it ({scopes, bindings}) must pass poolkeeper's own validation.

    The Bicep expression cannot be evaluated offline, so the same shape is rebuilt here from its parts: the
    resource-group ids main.bicep derives from the managed groups, and the bindings from main.parameters.json.
    """
    from poolkeeper.config import parse_config

    config_param = _parse("main.bicep")["modules"]["app"]["config"]["params"]["poolkeeperConfig"]
    assert set(config_param) == {"scopes", "bindings"}, f"POOLKEEPER_CONFIG keys built by main.bicep: {config_param}"
    parameters = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]
    sub = "/subscriptions/00000000-0000-0000-0000-000000000000"
    built = {
        "scopes": [f"{sub}/resourceGroups/rg-web-prod", f"{sub}/resourceGroups/rg-api-prod"],
        "bindings": parameters["poolkeeperBindings"]["value"],
    }
    config = parse_config(built)
    assert config.scopes == tuple(built["scopes"])
