"""Service Bus delivery (main.bicep ``eventsDelivery``): off by default, and when on, every piece is wired.

The option (issue 13, docs/scaling.md) puts a session-enabled Service Bus queue between Event Grid and the app, with
SessionId = the event's Azure subscription, so one instance at a time owns a subscription's ARM write budget. It
needs five things to line up: the parameter, the namespace and session queue, the role assignments on the queue,
the app settings the trigger reads, and an Event Grid subscription that maps SessionId. Each test below reads the
templates (pycep) and evaluates their conditions in both modes; removing any piece of the wiring fails one of them.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep_model import (
    INFRA,
    Ref,
    Scope,
    app_settings,
    main_scope,
    module_params,
    parse,
    resources_of_type,
)

pytestmark = pytest.mark.infra

MODES = ("direct", "serviceBus")
SERVICEBUS_MODULES = ("serviceBus", "serviceBusRoles")
# Built-in role definition ids (Microsoft Learn, "Azure built-in roles", Integration).
SERVICE_BUS_DATA_RECEIVER = "4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0"
SERVICE_BUS_DATA_SENDER = "69a216fc-b8fb-44d8-bc22-1f3c2cd27a39"


def test_the_parameter_defaults_to_direct_and_azd_can_switch_it() -> None:
    """`eventsDelivery` allows exactly the two modes, defaults to direct, and azd maps it to an environment value."""
    declared = parse("main.bicep")["parameters"]["eventsDelivery"]
    allowed = next(d["argument"] for d in declared["decorators"] if d["type"] == "allowed")
    assert sorted(allowed) == sorted(MODES) and declared["default"] == "direct"
    value = json.loads((INFRA / "main.parameters.json").read_text())["parameters"]["eventsDelivery"]["value"]
    match = re.fullmatch(r"\$\{(POOLKEEPER_EVENTS_DELIVERY)=(\w+)\}", value)
    assert match and match.group(2) == "direct", f"main.parameters.json eventsDelivery: {value!r}"


@pytest.mark.parametrize("mode", MODES)
def test_service_bus_modules_deploy_only_in_service_bus_mode(mode: str) -> None:
    """The namespace/queue module and the role-assignment module are deployed exactly when the option is on."""
    main = main_scope(mode)
    for name in SERVICEBUS_MODULES:
        assert main.deployed(main.template["modules"][name]["config"]) is (mode == "serviceBus"), name
    # and nothing else in main.bicep creates Service Bus resources unconditionally
    paths = {module["detail"]["path"] for module in main.template["modules"].values()}
    assert {"modules/servicebus.bicep", "modules/servicebus-roles.bicep"} <= paths
    assert not any(res["type"].startswith("Microsoft.ServiceBus/") for res in main.template["resources"].values())


def test_app_settings_exist_only_in_service_bus_mode() -> None:
    """Direct mode sets no Service Bus setting (so the queue trigger is not registered); serviceBus mode sets all."""
    direct, service_bus = app_settings("direct"), app_settings("serviceBus")
    added = set(service_bus) - set(direct)
    assert added == {"POOLKEEPER_EVENTS_QUEUE", "POOLKEEPER_SERVICEBUS__fullyQualifiedNamespace",
                     "POOLKEEPER_SERVICEBUS__credential", "POOLKEEPER_SERVICEBUS__clientId"}
    assert set(direct) <= set(service_bus)
    # the values come from the servicebus module and the app's own identity, not literals
    assert service_bus["POOLKEEPER_EVENTS_QUEUE"] == Ref("serviceBus.outputs.queueName")
    assert service_bus["POOLKEEPER_SERVICEBUS__fullyQualifiedNamespace"] == Ref(
        "serviceBus.outputs.fullyQualifiedNamespace")
    assert service_bus["POOLKEEPER_SERVICEBUS__credential"] == "managedidentity"
    assert service_bus["POOLKEEPER_SERVICEBUS__clientId"] == Ref("appIdentity.properties.clientId")


def test_the_queue_requires_sessions_on_an_entra_only_standard_namespace() -> None:
    """Sessions (Standard or Premium tier), no SAS keys, TLS 1.2, bounded locks and dead-lettering on expiry."""
    template = parse("modules/servicebus.bicep")
    (namespace,) = resources_of_type(template, "Microsoft.ServiceBus/namespaces").values()
    assert namespace["sku"]["name"] in ("Standard", "Premium")  # Basic has no sessions
    assert namespace["properties"]["disableLocalAuth"] is True
    assert namespace["properties"]["minimumTlsVersion"] == "1.2"
    (queue,) = resources_of_type(template, "Microsoft.ServiceBus/namespaces/queues").values()
    scope = Scope.of(template, location="x", tags={}, resourceToken="t", queueName="poolkeeper-events")
    props = scope.eval(queue["properties"])
    assert props["requiresSession"] is True
    lock = re.fullmatch(r"PT(\d+)M", props["lockDuration"])
    assert lock and 1 <= int(lock.group(1)) <= 5, props["lockDuration"]  # Service Bus allows at most 5 minutes
    assert 1 <= props["maxDeliveryCount"] <= 100
    assert props["deadLetteringOnMessageExpiration"] is True
    assert scope.eval(queue["name"]) == "poolkeeper-events"
    # main.bicep names the queue once, and the app setting reads the module's output of that name
    main = main_scope("serviceBus")
    assert main.eval(module_params(main.template, "serviceBus")["queueName"]) == main.eval("eventsQueueName")


def test_roles_are_assigned_on_the_queue_to_the_right_identities() -> None:
    """Data Receiver for the app's identity and Data Sender for Event Grid's, both scoped to the queue only."""
    template = parse("modules/servicebus-roles.bicep")
    scope = Scope.of(template, namespaceName="ns", queueName="q", receiverPrincipalId="app-principal",
                     senderPrincipalId="eventgrid-principal")
    grants = {}
    for config in resources_of_type(template, "Microsoft.Authorization/roleAssignments").values():
        assert config["scope"] == "queue", f"role assignment not scoped to the queue: {config['scope']!r}"
        props = scope.eval(config["properties"])
        grants[props["principalId"]] = props["roleDefinitionId"]
    role = "/subscriptions/{subscriptionId}/providers/Microsoft.Authorization/roleDefinitions/"
    assert grants == {"app-principal": role + SERVICE_BUS_DATA_RECEIVER,
                      "eventgrid-principal": role + SERVICE_BUS_DATA_SENDER}
    (queue,) = [res for res in template["resources"].values()
                if res["type"] == "Microsoft.ServiceBus/namespaces/queues"]
    assert queue["existing"] is True
    # main.bicep hands the module the app's identity as receiver and Event Grid's as sender
    passed = module_params(parse("main.bicep"), "serviceBusRoles")
    main = main_scope("serviceBus")
    assert main.eval(passed["receiverPrincipalId"]) == Ref("app.outputs.appIdentityPrincipalId")
    assert main.eval(passed["senderPrincipalId"]) == Ref("app.outputs.eventGridIdentityPrincipalId")
    assert "eventGridIdentityPrincipalId" in parse("modules/app.bicep")["outputs"]


def test_event_grid_sets_session_id_from_the_event_subscription_id() -> None:
    """The queue subscription maps SessionId dynamically from data.subscriptionId and delivers with an identity."""
    template = parse("modules/eventgrid-queue.bicep")
    (subscription,) = resources_of_type(template, "Microsoft.EventGrid/systemTopics/eventSubscriptions").values()
    delivery = subscription["properties"]["deliveryWithResourceIdentity"]
    assert delivery["identity"] == {"type": "UserAssigned", "userAssignedIdentity": "eventGridIdentityId"}
    destination = delivery["destination"]
    assert destination["endpointType"] == "ServiceBusQueue"
    assert destination["properties"]["resourceId"] == "serviceBusQueueId"
    mappings = destination["properties"]["deliveryAttributeMappings"]
    assert {"name": "SessionId", "type": "Dynamic", "properties": {"sourceField": "data.subscriptionId"}} in mappings
    assert "destination" not in subscription["properties"], "a keyed destination would bypass the identity"


@pytest.mark.parametrize("mode", MODES)
def test_main_outputs_the_queue_for_the_hook_only_in_service_bus_mode(mode: str) -> None:
    """EVENTGRID_SERVICEBUS_QUEUE_ID (read by the postdeploy hook) is the queue's id in serviceBus mode, else empty."""
    main = main_scope(mode)
    value = main.eval(main.template["outputs"]["EVENTGRID_SERVICEBUS_QUEUE_ID"]["value"])
    assert value == (Ref("serviceBus.outputs.queueId") if mode == "serviceBus" else "")
    eventgrid = Scope.of(parse("eventgrid.bicep"), systemTopicName="t", functionAppName="f", eventGridIdentityId="i",
                         deadLetterStorageAccountId="s", deadLetterContainerName="c",
                         serviceBusQueueId=value if mode == "serviceBus" else "")
    modules = eventgrid.template["modules"]
    resources = eventgrid.template["resources"]
    assert eventgrid.deployed(modules["subscriptionToQueue"]["config"]) is (mode == "serviceBus")
    assert eventgrid.deployed(resources["subscriptionToFunction"]["config"]) is (mode == "direct")
