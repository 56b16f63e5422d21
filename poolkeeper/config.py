"""poolkeeper configuration: which VMs and scale sets go into which load-balancer pool.

The configuration is JSON (a file path or inline JSON in ``POOLKEEPER_CONFIG``). It is validated completely up
front, because a typo discovered at 3 a.m. by the event handler is worse than a refused deployment: unknown keys are
rejected, and every error names the exact field path (``bindings[1].natRule.frontendPortRange``) and what a valid
value looks like.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from poolkeeper.flexrecord import DEFAULT_GRACE_S
from poolkeeper.ids import ResourceId, in_scope
from poolkeeper.settings import CONFIG_VAR, Settings

ENV_VAR = CONFIG_VAR
DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
DEFAULT_UPGRADE_BATCH_SIZE = 20
DEFAULT_FLEX_GRACE_S = DEFAULT_GRACE_S
PROTOCOLS = {"tcp": "Tcp", "udp": "Udp", "all": "All"}
NAT_MODES = ("v1", "v2")
_BINDING_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ConfigError(ValueError):
    """Invalid configuration. ``errors`` lists every problem, each prefixed with its field path."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid poolkeeper configuration:\n  " + "\n  ".join(self.errors) if len(errors) > 1
                         else f"invalid poolkeeper configuration: {errors[0]}")


@dataclass(frozen=True)
class Match:
    """Selection criteria; all given criteria must hold. ``tags`` is a plain dict (not hashable, never mutated)."""

    resource_group: str | None = None
    availability_set: str | None = None
    scale_set: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    name_pattern: str | None = None


@dataclass(frozen=True)
class NatRuleConfig:
    """Per-VM NAT access. v1: one rule per VM (``pk-{vm}-{backendPort}``); v2: one rule V2 over the whole pool."""

    backend_port: int
    protocol: str
    frontend_ip_configuration: str
    frontend_port_range: tuple[int, int]
    mode: str = "v1"


@dataclass(frozen=True)
class Binding:
    """One rule of the configuration: subjects matching ``match`` belong in ``load_balancer``/``backend_pool``."""

    name: str
    match: Match
    load_balancer: str
    backend_pool: str
    nat_rule: NatRuleConfig | None = None
    apply_model_to_instances: bool = True
    # a managed NIC someone else took out of the pool: "never" put back by poolkeeper (reported as PK013; `restore`
    # or the person puts it back), "always" put back by every run (poolkeeper.maintenance)
    repair: str = "never"

    @property
    def pool_id(self) -> str:
        """The backend pool id (the load balancer id's casing is kept)."""
        return str(ResourceId.parse(self.load_balancer).child("backendAddressPools", self.backend_pool))

    @property
    def frontend_id(self) -> str | None:
        """The NAT frontend IP configuration id, if the binding has a natRule."""
        if self.nat_rule is None:
            return None
        return str(ResourceId.parse(self.load_balancer).child("frontendIPConfigurations",
                                                              self.nat_rule.frontend_ip_configuration))


@dataclass(frozen=True)
class Limits:
    """How much one run may change (``poolkeeper.limits``) and when it stops writing (the executor's breaker).

    ``max_changes_per_run``/``max_changes_percent`` count *change units* (one subject's dependent changes: a NIC's
    pool join with its NAT rule and the rule's creation are one unit); None means no limit. The breaker stops
    applying once more than ``breaker_error_rate`` of the run's writes failed, after at least
    ``breaker_min_writes`` writes. ``min_in_rotation``: a drain is refused if it would leave a pool with fewer
    members in rotation.
    """

    max_changes_per_run: int | None = None
    max_changes_percent: float | None = None
    breaker_error_rate: float = 0.5
    breaker_min_writes: int = 5
    min_in_rotation: int = 1


@dataclass(frozen=True)
class Config:
    """The validated configuration. ``guardrails`` is the validated section as given (guardrail id → mode and
    parameters); ``poolkeeper.guardrails.settings.effective`` fills in defaults."""

    scopes: tuple[str, ...]
    bindings: tuple[Binding, ...] = ()
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT
    guardrails: Mapping[str, Any] = field(default_factory=dict)
    upgrade_batch_size: int = DEFAULT_UPGRADE_BATCH_SIZE
    dry_run: bool = False
    limits: Limits = field(default_factory=Limits)
    #: Flexible members created within this many seconds after poolkeeper read Azure for its model write count as
    #: possibly created from the old model (``poolkeeper.flexrecord``)
    flexible_wired_grace_s: int = DEFAULT_FLEX_GRACE_S

    def binding(self, name: str) -> Binding | None:
        """The binding with this exact name, or None."""
        for b in self.bindings:
            if b.name == name:
                return b
        return None


# -- loading ------------------------------------------------------------------------------------------------------


def load_config(source: str) -> Config:
    """Load from inline JSON (text starting with ``{``) or from a JSON file path."""
    text = source.strip()
    if text.startswith("{"):
        origin = "inline configuration"
    else:
        path = Path(source)
        origin = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError([f"cannot read configuration file {source!r}: {exc.strerror or exc}; "
                               f"{ENV_VAR} must be a JSON file path or inline JSON starting with '{{'"]) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError([f"{origin} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"]) from exc
    return parse_config(data)


def load_config_from_env(environ: Mapping[str, str] | None = None) -> Config:
    """Load the configuration named by ``POOLKEEPER_CONFIG`` (a path or inline JSON)."""
    source = Settings.from_env(environ).config_source
    if not source:
        raise ConfigError([f"{ENV_VAR} is not set; set it to a JSON file path or to inline JSON starting with '{{'"])
    return load_config(source)


def parse_config(data: object) -> Config:
    """Validate an already-decoded JSON document; raises :class:`ConfigError` listing every problem."""
    v = _Validator()
    config = v.config(data)
    if v.errors or config is None:
        raise ConfigError(v.errors or ["configuration is empty"])
    return config


# -- validation ---------------------------------------------------------------------------------------------------

_TOP_KEYS = {"scopes", "armEndpoint", "bindings", "guardrails", "upgradeBatchSize", "dryRun", "limits",
              "flexibleWiredGraceSeconds"}
_BINDING_KEYS = {"name", "match", "loadBalancer", "backendPool", "natRule", "applyModelToInstances", "repair"}
_LIMIT_KEYS = {"maxChangesPerRun", "maxChangesPercent", "breakerErrorRate", "breakerMinWrites", "minInRotation"}
REPAIR_MODES = ("never", "always")
_MATCH_KEYS = {"resourceGroup", "availabilitySet", "scaleSet", "tags", "namePattern"}
_NAT_KEYS = {"backendPort", "protocol", "frontendIpConfiguration", "frontendPortRange", "mode"}


class _Validator:
    """Collects every error with its path, so one run shows all the typos at once."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def err(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def obj(self, path: str, value: object, allowed: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.err(path, f"must be a JSON object, got {_kind(value)}")
            return None
        unknown = sorted(set(value) - allowed)
        if unknown:
            self.err(path, f"unknown key(s) {', '.join(repr(k) for k in unknown)}; "
                           f"allowed keys are {', '.join(sorted(allowed))}")
        return value

    def string(self, path: str, value: object) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.err(path, f"must be a non-empty string, got {_kind(value)}")
            return None
        return value.strip()

    def integer(self, path: str, value: object, low: int, high: int) -> int | None:
        if isinstance(value, bool) or not isinstance(value, int):
            self.err(path, f"must be an integer from {low} to {high}, got {_kind(value)}")
            return None
        if not low <= value <= high:
            self.err(path, f"{value} is out of range; give an integer from {low} to {high}")
            return None
        return value

    def boolean(self, path: str, value: object) -> bool | None:
        if not isinstance(value, bool):
            self.err(path, f"must be true or false, got {_kind(value)}")
            return None
        return value

    # -- sections ------------------------------------------------------------------------------------------------
    def config(self, data: object) -> Config | None:
        top = self.obj("(top level)", data, _TOP_KEYS)
        if top is None:
            return None
        scopes = self.scopes(top.get("scopes"))
        endpoint = DEFAULT_ARM_ENDPOINT
        if "armEndpoint" in top:
            s = self.string("armEndpoint", top["armEndpoint"])
            if s is not None:
                if not s.startswith("https://"):
                    self.err("armEndpoint", f"{s!r} must be an https:// URL, e.g. {DEFAULT_ARM_ENDPOINT}")
                endpoint = s.rstrip("/")
        guardrails: dict[str, Any] = {}
        if "guardrails" in top:
            if isinstance(top["guardrails"], dict):
                guardrails = top["guardrails"]
                from poolkeeper.guardrails.settings import validate  # the catalog imports this module

                self.errors += validate(guardrails)
            else:
                self.err("guardrails", f"must be a JSON object, got {_kind(top['guardrails'])}")
        batch = DEFAULT_UPGRADE_BATCH_SIZE
        if "upgradeBatchSize" in top:
            batch = self.integer("upgradeBatchSize", top["upgradeBatchSize"], 1, 1000) or batch
        grace = DEFAULT_FLEX_GRACE_S
        if "flexibleWiredGraceSeconds" in top:
            given = self.integer("flexibleWiredGraceSeconds", top["flexibleWiredGraceSeconds"], 0, 86400)
            grace = given if given is not None else grace
        dry_run = False
        if "dryRun" in top:
            dry_run = bool(self.boolean("dryRun", top["dryRun"]))
        limits = self.limits(top["limits"]) if "limits" in top else Limits()
        bindings: list[Binding] = []
        raw_bindings = top.get("bindings", [])
        if not isinstance(raw_bindings, list):
            self.err("bindings", f"must be a JSON list of binding objects, got {_kind(raw_bindings)}")
            raw_bindings = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(raw_bindings):
            b = self.binding(f"bindings[{i}]", raw, scopes)
            if b is None:
                continue
            if b.name in seen:
                self.err(f"bindings[{i}].name", f"{b.name!r} is already used by bindings[{seen[b.name]}]; "
                                                "binding names must be unique")
            seen.setdefault(b.name, i)
            bindings.append(b)
        return Config(scopes=tuple(scopes), bindings=tuple(bindings), arm_endpoint=endpoint,
                      guardrails=guardrails, upgrade_batch_size=batch, dry_run=dry_run, limits=limits,
                      flexible_wired_grace_s=grace)

    def number(self, path: str, value: object, low: float, high: float) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.err(path, f"must be a number from {low:g} to {high:g}, got {_kind(value)}")
            return None
        if not low <= value <= high:
            self.err(path, f"{value} is out of range; give a number from {low:g} to {high:g}")
            return None
        return float(value)

    def limits(self, value: object) -> Limits:
        raw = self.obj("limits", value, _LIMIT_KEYS)
        if raw is None:
            return Limits()
        d = Limits()
        per_run = self.integer("limits.maxChangesPerRun", raw["maxChangesPerRun"], 1, 1_000_000) \
            if "maxChangesPerRun" in raw else None
        pct = self.number("limits.maxChangesPercent", raw["maxChangesPercent"], 0.1, 100) \
            if "maxChangesPercent" in raw else None
        rate = self.number("limits.breakerErrorRate", raw["breakerErrorRate"], 0, 1) \
            if "breakerErrorRate" in raw else None
        min_writes = self.integer("limits.breakerMinWrites", raw["breakerMinWrites"], 1, 100_000) \
            if "breakerMinWrites" in raw else None
        rotation = self.integer("limits.minInRotation", raw["minInRotation"], 0, 100_000) \
            if "minInRotation" in raw else None
        return Limits(max_changes_per_run=per_run, max_changes_percent=pct,
                      breaker_error_rate=d.breaker_error_rate if rate is None else rate,
                      breaker_min_writes=min_writes or d.breaker_min_writes,
                      min_in_rotation=d.min_in_rotation if rotation is None else rotation)

    def scopes(self, value: object) -> list[str]:
        example = "/subscriptions/<id> or /subscriptions/<id>/resourceGroups/<group>"
        if value is None:
            self.err("scopes", f"is required: a non-empty list of {example}")
            return []
        if not isinstance(value, list) or not value:
            self.err("scopes", f"must be a non-empty list of {example}, got {_kind(value)}")
            return []
        out: list[str] = []
        for i, raw in enumerate(value):
            s = self.string(f"scopes[{i}]", raw)
            if s is None:
                continue
            try:
                rid = ResourceId.parse(s)
            except ValueError as exc:
                self.err(f"scopes[{i}]", str(exc))
                continue
            if not rid.is_scope:
                self.err(f"scopes[{i}]", f"{s!r} is a resource, not a scope; give {example}")
                continue
            out.append(str(rid))
        return out

    def binding(self, path: str, raw: object, scopes: list[str]) -> Binding | None:
        b = self.obj(path, raw, _BINDING_KEYS)
        if b is None:
            return None
        ok = True
        name = self.string(f"{path}.name", b.get("name"))
        if name is not None and not _BINDING_NAME.match(name):
            self.err(f"{path}.name", f"{name!r} must be 1-64 characters of letters, digits, '-', '_' or '.'")
            name = None
        match = self.match(f"{path}.match", b.get("match"))
        lb = self.resource(f"{path}.loadBalancer", b.get("loadBalancer"), "Microsoft.Network/loadBalancers")
        if lb is not None and scopes and not in_scope(lb, scopes):
            self.err(f"{path}.loadBalancer", f"{lb} is outside every configured scope ({', '.join(scopes)}); "
                                             "add its subscription or resource group to scopes")
            ok = False
        pool = self.string(f"{path}.backendPool", b.get("backendPool"))
        if pool is not None and "/" in pool:
            self.err(f"{path}.backendPool", f"{pool!r} must be the pool's name (e.g. myBackEndPool), not an id")
            pool = None
        nat = None
        if b.get("natRule") is not None:
            nat = self.nat_rule(f"{path}.natRule", b["natRule"])
            ok = ok and nat is not None
        apply_model = True
        if "applyModelToInstances" in b:
            got = self.boolean(f"{path}.applyModelToInstances", b["applyModelToInstances"])
            apply_model = True if got is None else got
        repair = "never"
        if "repair" in b:
            if b["repair"] in REPAIR_MODES:
                repair = b["repair"]
            else:
                self.err(f"{path}.repair", f"must be one of {', '.join(REPAIR_MODES)}, got {_kind(b['repair'])}")
                ok = False
        if name is None or match is None or lb is None or pool is None or not ok:
            return None
        return Binding(name=name, match=match, load_balancer=lb, backend_pool=pool, nat_rule=nat,
                       apply_model_to_instances=apply_model, repair=repair)

    def resource(self, path: str, value: object, full_type: str) -> str | None:
        s = self.string(path, value)
        if s is None:
            return None
        try:
            rid = ResourceId.parse(s)
        except ValueError as exc:
            self.err(path, str(exc))
            return None
        if not rid.is_type(full_type) or rid.resource_group is None:
            self.err(path, f"{s!r} is a {rid.type or 'scope'} id; expected a {full_type} id like "
                           f"/subscriptions/<id>/resourceGroups/<group>/providers/{full_type}/<name>")
            return None
        return str(rid)

    def match(self, path: str, value: object) -> Match | None:
        m = self.obj(path, value, _MATCH_KEYS)
        if m is None:
            return None
        if not any(m.get(k) not in (None, {}, "") for k in _MATCH_KEYS):
            self.err(path, "must give at least one of resourceGroup, availabilitySet, scaleSet, tags, namePattern "
                           "(an empty match would take every VM in scope)")
            return None
        ok = True
        values: dict[str, str | None] = {}
        for key in ("resourceGroup", "availabilitySet", "scaleSet", "namePattern"):
            if m.get(key) is None:
                values[key] = None
                continue
            s = self.string(f"{path}.{key}", m[key])
            ok = ok and s is not None
            values[key] = s
        type_of = {"availabilitySet": "Microsoft.Compute/availabilitySets",
                   "scaleSet": "Microsoft.Compute/virtualMachineScaleSets"}
        for key, full_type in type_of.items():
            s = values[key]
            if s is not None and "/" in s:
                values[key] = self.resource(f"{path}.{key}", s, full_type)
                ok = ok and values[key] is not None
        if values["resourceGroup"] is not None and "/" in values["resourceGroup"]:
            self.err(f"{path}.resourceGroup", f"{values['resourceGroup']!r} must be a resource group name")
            ok = False
        tags: dict[str, str] = {}
        raw_tags = m.get("tags")
        if raw_tags is not None:
            if not isinstance(raw_tags, dict):
                self.err(f"{path}.tags", f"must be an object of tag name to string value, got {_kind(raw_tags)}")
                ok = False
            else:
                for k, val in raw_tags.items():
                    if not isinstance(val, str):
                        self.err(f"{path}.tags.{k}", f"must be a string (tag values are strings), got {_kind(val)}")
                        ok = False
                    else:
                        tags[k] = val
        if not ok:
            return None
        return Match(resource_group=values["resourceGroup"], availability_set=values["availabilitySet"],
                     scale_set=values["scaleSet"], tags=tags, name_pattern=values["namePattern"])

    def nat_rule(self, path: str, value: object) -> NatRuleConfig | None:
        n = self.obj(path, value, _NAT_KEYS)
        if n is None:
            return None
        backend = self.integer(f"{path}.backendPort", n.get("backendPort"), 1, 65535)
        protocol = None
        raw_proto = n.get("protocol")
        if isinstance(raw_proto, str) and raw_proto.lower() in PROTOCOLS:
            protocol = PROTOCOLS[raw_proto.lower()]
        else:
            self.err(f"{path}.protocol", f"{raw_proto!r} must be one of Tcp, Udp, All")
        frontend = self.string(f"{path}.frontendIpConfiguration", n.get("frontendIpConfiguration"))
        if frontend is not None and "/" in frontend:
            self.err(f"{path}.frontendIpConfiguration", f"{frontend!r} must be the frontend IP configuration's "
                                                         "name on the binding's load balancer, not an id")
            frontend = None
        port_range = self.port_range(f"{path}.frontendPortRange", n.get("frontendPortRange"))
        mode = n.get("mode", "v1")
        if mode not in NAT_MODES:
            self.err(f"{path}.mode", f"{mode!r} must be \"v1\" (one NAT rule per VM) or \"v2\" (one NAT rule V2 "
                                     "over the backend pool)")
            mode = None
        if backend is None or protocol is None or frontend is None or port_range is None or mode is None:
            return None
        return NatRuleConfig(backend_port=backend, protocol=protocol, frontend_ip_configuration=frontend,
                             frontend_port_range=port_range, mode=mode)

    def port_range(self, path: str, value: object) -> tuple[int, int] | None:
        hint = "give [start, end] with 1 <= start <= end <= 65534, e.g. [50001, 50100]"
        if not isinstance(value, list) or len(value) != 2:
            self.err(path, f"must be a list of two integers; {hint}")
            return None
        start = self.integer(f"{path}[0]", value[0], 1, 65534)
        end = self.integer(f"{path}[1]", value[1], 1, 65534)
        if start is None or end is None:
            return None
        if start > end:
            self.err(path, f"start {start} is above end {end}; give [start, end] with start <= end")
            return None
        return (start, end)


def _kind(value: object) -> str:
    """A short description of a JSON value for error messages."""
    if value is None:
        return "nothing (null or missing)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    return "an object"
