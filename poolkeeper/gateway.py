"""The one door to Azure Resource Manager: every read and write poolkeeper makes goes through ``ArmGateway``.

Why one door: so that every call is retried the same way (bounded by a deadline, not a count, honouring
``Retry-After``: ``pacing.RetryBudget``; a call still throttled or busy at the deadline raises :class:`ArmBusy`, which
the reconciler takes to its next round instead of reporting it refused), carries
the run's correlation id, is counted and logged, and declares the RBAC actions it needs (``needs_actions``), from
which the deployment's custom role is checked.

Bodies are raw ARM JSON (the SDK's models are REST-shaped mappings), so the pure planner sees exactly what ARM
returns and a read-modify-write sends back everything it read — nobody else's change is dropped.
"""

from __future__ import annotations

import operator
import threading
import time
from collections import Counter
from collections.abc import Callable
from types import MethodType
from typing import Any, Generic, TypeVar, cast, overload

from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from tenacity import RetryCallState, Retrying, retry_if_exception

from poolkeeper.armcalls import needs_actions
from poolkeeper.clients import ArmClients
from poolkeeper.correlation import own_correlation_id
from poolkeeper.ids import ResourceId
from poolkeeper.logs import get_logger
from poolkeeper.lro import PutPolling
from poolkeeper.pacing import RetryBudget, RetryDecision, retry_after_from_headers

T = TypeVar("T")
A = TypeVar("A")
R = TypeVar("R")
log = get_logger("arm")

TRANSIENT_STATUS = frozenset({409, 429, 500, 502, 503, 504})
TERMINAL_STATES = frozenset({"succeeded", "failed", "canceled"})


class PreconditionFailed(Exception):
    """A write lost an ETag race (412): someone changed the resource since we read it. Re-read and re-plan."""

    def __init__(self, resource_id: str) -> None:
        super().__init__(
            f"{resource_id} changed since it was read (412 PreconditionFailed); re-reading and re-planning"
        )
        self.resource_id = resource_id


class ArmRefused(Exception):
    """ARM refused a request for a reason retrying will not fix (a 4xx with Azure's error code)."""

    def __init__(self, resource_id: str, status: int, code: str, message: str) -> None:
        super().__init__(f"Azure refused the change to {resource_id}: {status} {code}: {message}")
        self.resource_id = resource_id
        self.status = status
        self.code = code
        self.azure_message = message


class ArmBusy(Exception):
    """ARM kept answering "throttled", "busy" or a server error until the retry deadline passed.

    Not a refusal: the change is fine and ARM would accept it later, so the reconciler leaves it for its next round
    (issue 13: throttling is pacing, not failure).
    """

    def __init__(self, resource_id: str, status: int | None, code: str, waited_s: float) -> None:
        super().__init__(f"{resource_id}: ARM still busy or throttling after {waited_s:.1f} s "
                         f"({status or 'no answer'} {code}); left for the next round")
        self.resource_id = resource_id
        self.status = status
        self.code = code


def _status(err: BaseException) -> int | None:
    return getattr(err, "status_code", None) if isinstance(err, HttpResponseError) else None


def _code(err: HttpResponseError) -> str:
    error = getattr(err, "error", None)
    return str(getattr(error, "code", "") or "")


def is_transient(err: BaseException) -> bool:
    """Worth retrying: throttling, a busy resource, server errors, a dropped connection."""
    if isinstance(err, ServiceRequestError | ServiceResponseError):
        return True
    status = _status(err)
    if status == 409 and isinstance(err, HttpResponseError):
        # 409 is also "this conflicts with the resource's state" (not transient); retry only the busy kind
        return _code(err) in ("AnotherOperationInProgress", "Conflict", "OperationNotAllowed", "RetryableError", "")
    return status in TRANSIENT_STATUS


def retry_after_seconds(err: BaseException | None) -> float | None:
    """The server's retry hint: ``retry-after-ms``/``x-ms-retry-after-ms`` (precise) or ``Retry-After`` seconds."""
    response = getattr(err, "response", None)
    headers = getattr(response, "headers", None)
    if not headers:
        return None
    return retry_after_from_headers(headers)


def _rg_name(resource_id: str) -> tuple[str, str]:
    rid = ResourceId.parse(resource_id)
    return rid.resource_group or "", rid.names[-1]


class _Read(Generic[A, R]):
    """One kind of read of one ARM resource type, declared as a row (:class:`ArmGateway`'s ``list_*``/``get_*``):
    the ``op`` its log lines name, the RBAC ``action`` it needs and the SDK operations group (``compute.…`` or
    ``network.…`` of :class:`ArmClients`). Bound to a gateway it is a method, registered with ``needs_actions``
    under its own name (``ArmGateway.list_vms``), so the custom role is still derived from the code."""

    def __init__(self, op: str, action: str, operations: str) -> None:
        self.op = op
        self.action = action
        self.operations = operator.attrgetter(operations)
        self.method: Callable[[ArmGateway, A], R] | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        def method(gateway: ArmGateway, arg: A) -> R:
            return self.read(gateway, self.operations(gateway.clients), arg)

        method.__name__, method.__qualname__, method.__module__ = name, f"{owner.__qualname__}.{name}", owner.__module__
        method.__doc__ = self.__doc__
        self.method = needs_actions(self.action)(method)

    @overload
    def __get__(self, gateway: None, owner: type | None = None) -> _Read[A, R]: ...
    @overload
    def __get__(self, gateway: ArmGateway, owner: type | None = None) -> Callable[[A], R]: ...
    def __get__(self, gateway: ArmGateway | None, owner: type | None = None) -> _Read[A, R] | Callable[[A], R]:
        if gateway is None or self.method is None:
            return self
        return cast(Callable[[A], R], MethodType(self.method, gateway))

    def read(self, gateway: ArmGateway, operations: Any, arg: A) -> R:
        raise NotImplementedError


class _ListIn(_Read[ResourceId, list[dict[str, Any]]]):
    """Every resource of the type in a scope: a resource group's (``list``) or the whole subscription's
    (``list_all``)."""

    def read(self, gateway: ArmGateway, operations: Any, scope: ResourceId) -> list[dict[str, Any]]:
        if scope.resource_group:
            return gateway._list(self.op, str(scope), operations.list, scope.resource_group)
        return gateway._list(self.op, str(scope), operations.list_all)


class _GetById(_Read[str, dict[str, Any] | None]):
    """One resource by id; None when it is not there."""

    def read(self, gateway: ArmGateway, operations: Any, resource_id: str) -> dict[str, Any] | None:
        rg, name = _rg_name(resource_id)
        return gateway._read(self.op, resource_id, operations.get, rg, name)


class ArmGateway:
    """Typed ARM operations over the official SDK clients, with retries, counting and correlation ids."""

    def __init__(
        self,
        clients: ArmClients,
        *,
        correlation_id: str | None = None,
        max_attempts: int | None = None,
        max_wait: float = 60.0,
        retry_window_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clients = clients
        # always a poolkeeper correlation id: ARM echoes it in the events of these writes, which is how they are
        # recognised as poolkeeper's own (poolkeeper.correlation); a foreign id asked for is logged, not sent
        self.correlation_id = own_correlation_id(correlation_id)
        if correlation_id and correlation_id != self.correlation_id:
            log.info("correlation id replaced by a poolkeeper one",
                     extra={"requested_correlation_id": correlation_id[:100], "correlation_id": self.correlation_id})
        self.max_attempts = max_attempts  # an extra bound on attempts (None: the deadline alone bounds retries)
        self.max_wait = max_wait  # the longest single wait between attempts
        self.retry_window_s = retry_window_s  # how long one call may keep retrying before it is left for later
        self.sleep = sleep
        self.clock = clock
        self.calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()  # the executor writes independent resources from several threads

    def _count(self, kind: str) -> None:
        with self._calls_lock:
            self.calls[kind] += 1

    # ------------------------------------------------------------------------------------------------ plumbing
    def _call(self, kind: str, what: str, resource_id: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Send one request, retrying transient answers until ``retry_window_s`` has passed (``RetryBudget``).

        tenacity runs the attempts; the policy is ``pacing.RetryBudget``: each wait is what the server asked
        (``retry-after-ms``/``Retry-After``) or an exponential backoff, capped at ``max_wait``. A transient answer
        that outlives the window raises :class:`ArmBusy` (the caller defers the change); any other error is raised
        as is.
        """
        headers = {"x-ms-correlation-request-id": self.correlation_id, **kwargs.pop("headers", {})}
        started_at = self.clock()
        budget = RetryBudget(deadline=started_at + self.retry_window_s, max_backoff=self.max_wait)
        decisions: list[RetryDecision] = []  # the policy's answer per failure (tenacity asks wait, then stop)

        def wait(state: RetryCallState) -> float:
            err = state.outcome.exception() if state.outcome is not None else None
            hint = retry_after_seconds(err) if err is not None else None
            decision = budget.decide(self.clock(), state.attempt_number,
                                     min(hint, self.max_wait) if hint is not None else None)
            decisions.append(decision)
            return decision.wait

        def stop(state: RetryCallState) -> bool:
            too_many = self.max_attempts is not None and state.attempt_number >= self.max_attempts
            return too_many or not decisions or not decisions[-1].retry

        # tenacity drives the loop (wait computed before stop, so the deadline policy sees the server's hint);
        # RetryBudget is the pure policy: retry while the next attempt can start before the deadline
        retrying = Retrying(retry=retry_if_exception(is_transient), wait=wait, stop=stop, sleep=self.sleep,
                            reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    number = attempt.retry_state.attempt_number
                    self._count(kind)
                    started = time.perf_counter()
                    try:
                        result = fn(*args, headers=headers, **kwargs)
                    except (HttpResponseError, ServiceRequestError, ServiceResponseError) as err:
                        status = _status(err)
                        log.info(
                            "arm call failed",
                            extra={"op": what, "resource": resource_id, "status": status,
                                   "code": _code(err) if isinstance(err, HttpResponseError) else "",
                                   "attempt": number, "correlation_id": self.correlation_id},
                        )
                        raise
                    # every ARM call, with the run's correlation id (issue 4); filter on "op" to quieten reads
                    log.info(
                        "arm call",
                        extra={"op": what, "kind": kind, "resource": resource_id, "attempt": number,
                               "ms": round((time.perf_counter() - started) * 1000, 1),
                               "correlation_id": self.correlation_id},
                    )
                    return result
        except (HttpResponseError, ServiceRequestError, ServiceResponseError) as err:
            if not is_transient(err):
                raise
            code = _code(err) if isinstance(err, HttpResponseError) else ""
            raise ArmBusy(resource_id, _status(err), code, self.clock() - started_at) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def _read(
        self, what: str, resource_id: str, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any] | None:
        try:
            model = self._call("read", what, resource_id, fn, *args, **kwargs)
        except ResourceNotFoundError:
            return None
        except HttpResponseError as err:
            if err.status_code == 404:
                return None
            raise self._refused(resource_id, err) from err
        return _raw(model)

    def _list(self, what: str, scope: str, fn: Callable[..., Any], *args: Any) -> list[dict[str, Any]]:
        def fetch(headers: dict[str, str]) -> list[dict[str, Any]]:
            return [_raw(item) for item in fn(*args, headers=headers)]

        return self._call("read", what, scope, lambda headers: fetch(headers))

    def _refused(self, resource_id: str, err: HttpResponseError) -> Exception:
        if err.status_code == 412:
            return PreconditionFailed(resource_id)
        message = str(getattr(getattr(err, "error", None), "message", "") or err.message)
        return ArmRefused(resource_id, err.status_code or 0, _code(err) or "Unknown", message)

    def _lro(
        self, kind: str, what: str, resource_id: str, begin: Callable[..., Any], *args: Any,
        settle: Callable[[], T], done: Callable[[Any], T] = lambda r: r, gone_ok: bool = False, **kwargs: Any,
    ) -> T | None:
        """Start a long-running operation and wait for it: the one LRO dance of the gateway.

        The start is retried like every call; the poller's result goes through ``done``. If polling itself fails
        transiently (throttled, dropped), the operation was already accepted, so it is not repeated: ``settle``
        watches the resource until the operation's effect is there, and its answer is returned instead. A refusal
        raises :class:`ArmRefused` (412: :class:`PreconditionFailed`); with ``gone_ok`` a 404 at the start means
        done (a delete of something already gone) and returns None.
        """
        try:
            poller = self._call(kind, what, resource_id, begin, *args, **kwargs)
        except HttpResponseError as err:
            if gone_ok and (isinstance(err, ResourceNotFoundError) or err.status_code == 404):
                return None
            raise self._refused(resource_id, err) from err
        try:
            return done(poller.result())
        except HttpResponseError as err:
            if not is_transient(err):
                raise self._refused(resource_id, err) from err
        except (ServiceRequestError, ServiceResponseError):
            pass
        return settle()

    def _write_lro(
        self, what: str, resource_id: str, begin: Callable[..., Any], get: Callable[[], dict[str, Any] | None],
        *args: Any, **kwargs: Any,
    ) -> dict[str, Any] | None:
        """A long-running PUT; a lost poll settles on the resource's provisioningState.

        Polled by :class:`poolkeeper.lro.PutPolling`: the server's ``Retry-After`` before every poll, the first
        included, and no GET once the operation has succeeded (issue 13: at most one read per VM). The answer is the
        final body only when ARM finished the PUT at once; otherwise None (the executor GETs it if it writes the
        resource again in the same run).
        """
        poll_headers = {"x-ms-correlation-request-id": self.correlation_id}

        def begin_paced(*a: Any, **kw: Any) -> Any:  # a fresh polling state per attempt
            return begin(*a, polling=PutPolling(poll_headers, sleep=self.sleep), **kw)

        return self._lro("write", what, resource_id, begin_paced, *args,
                         settle=lambda: self._wait_terminal(resource_id, get),
                         done=lambda r: _raw(r) if r is not None else None, **kwargs)

    def _poll(self, done: Callable[[], T | None], *, timeout_s: float, max_delay: float, timeout_message: str) -> T:
        """Ask ``done`` with growing pauses until it answers (not None), at most ``timeout_s`` seconds."""
        delay = 0.05
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = done()
            if answer is not None:
                return answer
            self.sleep(delay)
            delay = min(delay * 2, max_delay)
        raise TimeoutError(timeout_message)

    def _wait_terminal(self, resource_id: str, get: Callable[[], dict[str, Any] | None]) -> dict[str, Any] | None:
        """The resource once its provisioningState is terminal (None once it is gone)."""
        def terminal() -> tuple[dict[str, Any] | None] | None:
            body = get()
            state = str(((body or {}).get("properties") or {}).get("provisioningState", "Succeeded")).lower()
            return (body,) if body is None or state in TERMINAL_STATES else None

        return self._poll(terminal, timeout_s=600, max_delay=5.0, timeout_message=(
            f"{resource_id} did not reach a terminal provisioningState within 10 minutes"))[0]

    # ------------------------------------------------------------------------------------------------ reads
    # one row per read (_Read): the op its log lines name, the RBAC action it needs, the SDK operations group
    list_vms = _ListIn("list VMs", "Microsoft.Compute/virtualMachines/read", "compute.virtual_machines")
    get_vm = _GetById("get VM", "Microsoft.Compute/virtualMachines/read", "compute.virtual_machines")
    list_nics = _ListIn("list NICs", "Microsoft.Network/networkInterfaces/read", "network.network_interfaces")
    list_load_balancers = _ListIn("list load balancers", "Microsoft.Network/loadBalancers/read",
                                  "network.load_balancers")
    get_load_balancer = _GetById("get load balancer", "Microsoft.Network/loadBalancers/read", "network.load_balancers")
    list_scale_sets = _ListIn("list scale sets", "Microsoft.Compute/virtualMachineScaleSets/read",
                              "compute.virtual_machine_scale_sets")
    get_scale_set = _GetById("get scale set", "Microsoft.Compute/virtualMachineScaleSets/read",
                             "compute.virtual_machine_scale_sets")
    # NSGs come with their rules and default rules (guardrails PK005/PK006 evaluate them)
    list_nsgs = _ListIn("list NSGs", "Microsoft.Network/networkSecurityGroups/read", "network.network_security_groups")
    list_public_ips = _ListIn("list public IPs", "Microsoft.Network/publicIPAddresses/read",
                              "network.public_ip_addresses")
    # virtual networks come with their subnets inline (a subnet's NSG is read from here, not per subnet)
    list_virtual_networks = _ListIn("list virtual networks", "Microsoft.Network/virtualNetworks/read",
                                    "network.virtual_networks")
    # a public IP: the NAT-pool workflows check it before deleting a frontend's address
    get_public_ip = _GetById("get public IP", "Microsoft.Network/publicIPAddresses/read", "network.public_ip_addresses")

    @needs_actions("Microsoft.Network/networkInterfaces/read")
    def get_nic(self, nic_id: str) -> dict[str, Any] | None:
        rid = ResourceId.parse(nic_id)
        if rid.namespace and rid.namespace.lower() == "microsoft.compute":  # a Uniform scale-set instance NIC
            vmss, instance, nic = rid.names[0], rid.names[1], rid.names[2]
            return self._read(
                "get scale-set NIC", nic_id,
                self.clients.network.network_interfaces.get_virtual_machine_scale_set_network_interface,
                rid.resource_group, vmss, instance, nic,
            )
        return self._read("get NIC", nic_id, self.clients.network.network_interfaces.get, rid.resource_group, rid.name)

    @needs_actions("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/read")
    def list_scale_set_instances(self, vmss_id: str) -> list[dict[str, Any]]:
        rg, name = _rg_name(vmss_id)
        return self._list(
            "list scale-set instances", vmss_id, self.clients.compute.virtual_machine_scale_set_vms.list, rg, name
        )

    # ------------------------------------------------------------------------------------------------ writes
    @needs_actions(
        "Microsoft.Network/networkInterfaces/write",
        "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
        "Microsoft.Network/loadBalancers/inboundNatRules/join/action",
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "Microsoft.Network/networkSecurityGroups/join/action",
        "Microsoft.Network/publicIPAddresses/join/action",
    )
    def put_nic(self, nic_id: str, body: dict[str, Any], etag: str | None) -> dict[str, Any] | None:
        """Replace a NIC under If-Match (a NIC PUT re-asserts every join: subnet, NSG, public IP, pools, rules)."""
        rg, name = _rg_name(nic_id)
        return self._write_lro(
            "put NIC", nic_id, self.clients.network.network_interfaces.begin_create_or_update,
            lambda: self.get_nic(nic_id), rg, name, body, **_if_match(etag),
        )

    @needs_actions(
        "Microsoft.Network/loadBalancers/write",
        "Microsoft.Network/publicIPAddresses/join/action",
        "Microsoft.Network/virtualNetworks/subnets/join/action",
    )
    def put_load_balancer(self, lb_id: str, body: dict[str, Any], etag: str | None) -> dict[str, Any] | None:
        """Replace a load balancer under If-Match (its frontends re-assert their public IP / subnet joins)."""
        rg, name = _rg_name(lb_id)
        return self._write_lro(
            "put load balancer", lb_id, self.clients.network.load_balancers.begin_create_or_update,
            lambda: self.get_load_balancer(lb_id), rg, name, body, **_if_match(etag),
        )

    @needs_actions(
        "Microsoft.Compute/virtualMachineScaleSets/write",
        "Microsoft.Network/loadBalancers/backendAddressPools/join/action",
        "Microsoft.Network/loadBalancers/inboundNatPools/join/action",
        "Microsoft.Network/loadBalancers/probes/join/action",
        "Microsoft.Network/virtualNetworks/subnets/join/action",
        "Microsoft.Network/networkSecurityGroups/join/action",
    )
    def put_scale_set(self, vmss_id: str, body: dict[str, Any], etag: str | None) -> dict[str, Any] | None:
        """Replace a scale set's model under If-Match (compute ETags are ``"n"``)."""
        rg, name = _rg_name(vmss_id)
        kwargs: dict[str, Any] = {}
        if etag:
            from azure.core import MatchConditions

            kwargs = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        return self._write_lro(
            "put scale set", vmss_id, self.clients.compute.virtual_machine_scale_sets.begin_create_or_update,
            lambda: self.get_scale_set(vmss_id), rg, name, _writable_scale_set(body), **kwargs,
        )

    @needs_actions("Microsoft.Compute/virtualMachineScaleSets/manualUpgrade/action")
    def manual_upgrade(self, vmss_id: str, instance_ids: list[str]) -> None:
        """Apply the scale set's model to these instances (``update-instances``) and wait for it."""
        rg, name = _rg_name(vmss_id)
        self._lro("action", "manual upgrade", vmss_id, self.clients.compute.virtual_machine_scale_sets
                  .begin_update_instances, rg, name, {"instanceIds": list(instance_ids)},
                  settle=lambda: self._wait_instances(vmss_id, instance_ids))

    def _wait_instances(self, vmss_id: str, instance_ids: list[str]) -> bool:
        wanted = {i.lower() for i in instance_ids}

        def upgraded() -> bool | None:
            pending = [
                i for i in self.list_scale_set_instances(vmss_id)
                if str(i.get("instanceId", "")).lower() in wanted
                and not (i.get("properties") or {}).get("latestModelApplied", True)
            ]
            return None if pending else True

        return self._poll(upgraded, timeout_s=1800, max_delay=10.0, timeout_message=(
            f"instances {sorted(wanted)} of {vmss_id} did not reach the latest model in 30 minutes"))

    # ------------------------------------------------------------------------------------------------ workflows
    @needs_actions("Microsoft.Network/publicIPAddresses/delete")
    def delete_public_ip(self, pip_id: str) -> None:
        """Delete a public IP and wait for it (already gone counts as done: the workflows are re-run)."""
        rg, name = _rg_name(pip_id)
        self._lro("delete", "delete public IP", pip_id, self.clients.network.public_ip_addresses.begin_delete, rg,
                  name, settle=lambda: self._wait_terminal(pip_id, lambda: self.get_public_ip(pip_id)), gone_ok=True)

    @needs_actions("Microsoft.Network/loadBalancers/backendAddressPools/queryInboundNatRulePortMapping/action")
    def query_nat_rule_port_mapping(
        self, lb_id: str, pool_name: str, ip_configuration_id: str
    ) -> list[dict[str, Any]]:
        """The frontend port each NAT rule V2 on a backend pool gives one member, as Azure assigned it.

        Why ask: a NAT rule V2 hands out ports from its range itself, and Azure does not list them in the load
        balancer body, so only this query tells an operator which port now reaches which instance.
        LoadBalancers_ListInboundNatRulePortMappings (``POST .../backendAddressPools/{pool}/
        queryInboundNatRulePortMapping``, specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/
        loadBalancer.json, example QueryInboundNatRulePortMapping.json) is a long-running operation whose final
        body is ``{"inboundNatRulePortMappings": [{inboundNatRuleName, protocol, frontendPort, backendPort}]}``.

        It changes nothing, so the whole start-and-poll is retried on transient failures (counted as ``query``).
        A refusal (403 without the role action, 400 for a non-member) raises :class:`ArmRefused`.
        """
        rg, name = _rg_name(lb_id)
        lbs = self.clients.network.load_balancers
        # the REST body as JSON (the SDK accepts the mapping; its overloads only spell out the model and IO[bytes])
        body: Any = {"ipConfiguration": {"id": ip_configuration_id}}

        def query(headers: dict[str, str]) -> Any:
            poller = lbs.begin_list_inbound_nat_rule_port_mappings(rg, name, pool_name, body, headers=headers)
            return poller.result()

        try:
            result = self._call("query", "query NAT rule port mapping", f"{lb_id}/backendAddressPools/{pool_name}",
                                query)
        except HttpResponseError as err:
            raise self._refused(lb_id, err) from err
        return [dict(m) for m in _raw(result).get("inboundNatRulePortMappings") or []]


def _if_match(etag: str | None) -> dict[str, Any]:
    return {"headers": {"If-Match": etag}} if etag else {}


def _raw(model: Any) -> dict[str, Any]:
    """The REST JSON of an SDK model (hybrid models are REST-shaped mappings)."""
    if model is None:
        return {}
    if isinstance(model, dict):
        return model
    as_dict = getattr(model, "as_dict", None)
    if callable(as_dict):
        return as_dict()
    return dict(model)


def _writable_scale_set(body: dict[str, Any]) -> dict[str, Any]:
    """A scale set body fit to PUT back: drop what ARM computes (the SDK would send it and ARM would refuse some)."""
    out = {k: v for k, v in body.items() if k not in ("etag",)}
    props = dict(out.get("properties") or {})
    for key in ("provisioningState", "uniqueId", "timeCreated"):
        props.pop(key, None)
    out["properties"] = props
    return out
