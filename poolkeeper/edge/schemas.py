"""The request and answer schemas of the routes (JSON Schema 2020-12, the dialect of OpenAPI 3.1).

Bounds here are the edge's defence against huge inputs (issue 9): every string has a maxLength, every list a
maxItems, so nothing large reaches a handler, an ARM read, or an echo in an error message.
"""

from __future__ import annotations

from typing import Any

from poolkeeper.ids import OPERATION_ID_PATTERN

Schema = dict[str, Any]

RESOURCE_ID_MAX = 1024  # ARM ids are a few hundred characters (names are at most 64-90 characters per segment)
NAME_MAX = 80  # load balancer child resources: 1-80 characters (Microsoft.Network naming rules)
# a scale set's intent record must fit Azure's 256-character tag value, so a handful of scale sets is the most
# a workflow can act on; 50 is a bound well above any request that can succeed
SCALE_SETS_MAX = 50

RESOURCE_ID: Schema = {"type": "string", "minLength": 1, "maxLength": RESOURCE_ID_MAX,
                       "description": "an Azure resource id, /subscriptions/<id>/resourceGroups/<group>/..."}
NAME: Schema = {"type": "string", "minLength": 1, "maxLength": NAME_MAX}
BINDING_NAME: Schema = {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$",
                        "description": "a binding name from the configuration"}
SCALE_SETS: Schema = {"type": "array", "maxItems": SCALE_SETS_MAX, "uniqueItems": True,
                      "items": {"type": "string", "minLength": 1, "maxLength": RESOURCE_ID_MAX},
                      "description": "scale-set names (in the load balancer's resource group) or ids"}
BATCH_SIZE: Schema = {"type": "integer", "minimum": 1, "maximum": 1000}

RECONCILE: Schema = {
    "type": "object", "additionalProperties": False, "maxProperties": 1,
    "properties": {"resourceId": RESOURCE_ID, "binding": BINDING_NAME},
    "description": "{} reconciles everything; or one resource (its resource group, scoped to it); or one binding",
}

CHECK: Schema = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "guardrails": {"type": "array", "maxItems": 64, "uniqueItems": True,
                       "items": {"type": "string", "pattern": "^PK[0-9]{3}$"},
                       "description": "only these guardrail ids (default: every enabled one)"},
        "failOn": {"type": "string", "enum": ["info", "low", "medium", "high", "critical"],
                   "description": "the severity at or above which `failed` is true (default high)"},
    },
    "description": "{} checks every enabled guardrail",
}
FINDINGS: Schema = {"type": "object", "required": ["findings", "failed"],
                    "properties": {"findings": {"type": "array", "items": {"type": "object"}},
                                   "failOn": {"type": "string"}, "failed": {"type": "boolean"},
                                   "summary": {"type": "object"}}}


def _workflow(required: tuple[str, ...], **props: Schema) -> Schema:
    return {"type": "object", "additionalProperties": False, "required": list(required),
            "properties": {"loadBalancer": RESOURCE_ID, **props, "scaleSets": SCALE_SETS, "batchSize": BATCH_SIZE,
                           "allowRolling": {"type": "boolean"}}}


REMOVE_NATPOOL = _workflow(("loadBalancer", "natPool"), natPool=NAME, deleteFrontend={"type": "boolean"},
                           deletePublicIp={"type": "boolean"})
MIGRATE_NATPOOL = _workflow(("loadBalancer", "natPool"), natPool=NAME, backendPool=NAME, ruleName=NAME)
CHANGE_PROBED_PORT = _workflow(("loadBalancer", "rule", "newBackendPort"), rule=NAME,
                               newBackendPort={"type": "integer", "minimum": 1, "maximum": 65535})

OPERATION_ID: Schema = {"type": "string", "pattern": OPERATION_ID_PATTERN,
                        "description": "the operationId a workflow request answered (12 lowercase hex characters)"}

ERROR: Schema = {
    "type": "object", "required": ["error"],
    "properties": {"error": {"type": "string", "description": "what is wrong and what to do"},
                   "code": {"type": "string", "description": "Azure's error code, when Azure refused"},
                   "problems": {"type": "array", "items": {"type": "object"},
                                "description": "each refusal Azure would make: code, message, what to do"},
                   "operationId": {"type": "string"}},
}
OUTCOMES: Schema = {"type": "object", "required": ["outcomes"],
                    "properties": {"outcomes": {"type": "array", "items": {"type": "object"}}}}
OPERATION: Schema = {"type": "object", "description": "the operation record: intent, status, steps, port mappings"}
RUNNING: Schema = {"type": "object", "required": ["operationId", "status", "statusUrl"],
                   "properties": {"operationId": {"type": "string"}, "status": {"type": "string"},
                                  "statusUrl": {"type": "string"}, "message": {"type": "string"}}}
HEALTH: Schema = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}

VM_REQUEST: Schema = {"type": "object", "additionalProperties": False, "required": ["vmId"],
                      "properties": {"vmId": RESOURCE_ID}, "description": '{"vmId": "<virtual machine id>"}'}
MAINTENANCE: Schema = {"type": "object", "required": ["vmId", "status", "dryRun", "entries"],
                       "properties": {"vmId": {"type": "string"}, "status": {"type": "string"},
                                      "dryRun": {"type": "boolean"},
                                      "entries": {"type": "array", "items": {"type": "object"},
                                                  "description": "per pool: method (adminState or membership), "
                                                                 "loadBalancer, backendPool, ipConfiguration"}}}
REPORT: Schema = {"type": "object", "required": ["schemaVersion", "summary"],
                  "description": "the run report (poolkeeper/report.schema.json)",
                  "properties": {"schemaVersion": {"type": "string"}, "summary": {"type": "object"}}}
