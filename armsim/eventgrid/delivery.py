"""Event Grid delivery: route ARM events to matching event subscriptions and push them to webhooks.

The engine calls :meth:`Dispatcher.on_event` synchronously for every event it publishes; the dispatcher only queues.
Sending happens in :meth:`Dispatcher.run`, an asyncio job in the server's loop, so a slow or dead webhook never
delays an ARM request. Semantics follow Azure's delivery-and-retry documentation: at least once, per-event retries
on Azure's backoff schedule (scaled from ``eventgrid.retry_base``), no retry on 400/401/403/413, dead-letter (or drop
if no dead-letter destination) after ``maxDeliveryAttempts`` or the event's time to live.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from armsim import ids
from armsim.engine import utcnow_iso
from armsim.eventgrid import filters, handshake, schema
from armsim.eventgrid.chaos import Chaos
from armsim.eventgrid.resources import (
    SUBSCRIPTION_TYPE,
    TOPIC_TYPE,
    covers,
    dead_letter_destination,
    endpoint_url,
)
from armsim.store import Record

if TYPE_CHECKING:
    from armsim.simulator import Runtime

# Azure's retry schedule (10s, 30s, 1m, 5m, 10m, 30m, 1h, 3h, 6h, then every 12h) as multiples of its first step.
BACKOFF_STEPS = (1, 3, 6, 30, 60, 180, 360, 1080, 2160, 4320)
NO_RETRY = frozenset({400, 401, 403, 413})  # webhook errors Event Grid does not retry
OUTCOMES = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 408: "TimedOut",
            413: "ContentTooLarge", 429: "Busy", 503: "Busy"}
WAITING_STATES = frozenset({"Creating", "Updating", "AwaitingManualAction"})
MANUAL_VALIDATION_MINUTES = 10
# Events due within this much of each other count as ready together, so events published in one engine step leave in
# one batch (and in publish order) however late the loop wakes.
READY_SLACK = 0.002


@dataclass
class Item:
    """One event on its way to one event subscription."""

    seq: int
    sub_id: str
    event: dict[str, Any]  # Event Grid schema, topic filled in
    due: float  # monotonic time of the next attempt
    expires: float  # monotonic time the event's time to live runs out
    published: str
    attempts: int = 0
    duplicate: bool = False
    last_status: int | None = None
    last_outcome: str = ""


class Dispatcher:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.engine = rt.engine
        self.queue: dict[str, list[Item]] = {}  # by event subscription key
        self.in_flight: dict[str, int] = {}  # requests on the wire per subscription (up to chaos.concurrency)
        self.tasks: set[asyncio.Task[None]] = set()
        self.validations: list[tuple[str, dict[str, Any] | None]] = []
        self.validating = 0
        self.manual: dict[str, tuple[str, str, float]] = {}  # validation code -> (subscription id, op id, deadline)
        self.counters: Counter[str] = Counter()
        self.log: deque[dict[str, Any]] = deque(maxlen=1000)
        self.chaos = Chaos()
        self.rng = self.chaos.rng()
        self.wake = asyncio.Event()
        self.session: aiohttp.ClientSession | None = None
        self._seq = itertools.count()

    @property
    def deadletter_dir(self) -> Path:
        return Path(self.rt.state_dir) / "deadletter"

    def _timeout(self) -> float:
        """Event Grid waits 30 s for an answer; scaled, but never so short that a busy test machine trips it."""
        return max(2.0, 30.0 * self.rt.config.time_scale)

    # ------------------------------------------------------------------------------------------- engine side (sync)
    def on_event(self, event: dict[str, Any]) -> None:
        """Queue an engine event for every event subscription whose topic covers it and whose filter passes it."""
        subject = str(event.get("subject", ""))
        subs = self.engine.store.of_type(SUBSCRIPTION_TYPE)
        for topic in self.engine.store.of_type(TOPIC_TYPE):
            source = topic.body.get("properties", {}).get("source", "")
            if not source or not covers(source, subject):
                continue
            eg = schema.with_topic(event, source)
            for sub in subs:
                if ids.key(ids.parent_id(sub.id)) != ids.key(topic.id):
                    continue
                props = sub.body["properties"]
                if props.get("provisioningState") not in ("Succeeded", "Updating"):
                    continue  # an update keeps delivering (held until it settles); a new or failed one does not
                if filters.matches(props["filter"], eg, schema.in_schema(eg, props["eventDeliverySchema"])):
                    self._enqueue(sub, eg)

    def _enqueue(self, sub: Record, event: dict[str, Any], *, like: Item | None = None) -> None:
        now = time.monotonic()
        ttl = sub.body["properties"]["retryPolicy"]["eventTimeToLiveInMinutes"] * 60 * self.rt.config.time_scale
        item = Item(
            seq=next(self._seq), sub_id=sub.id, event=event, due=now + self._latency(),
            expires=like.expires if like else now + ttl, published=like.published if like else utcnow_iso(),
            duplicate=like is not None,
        )
        self.queue.setdefault(ids.key(sub.id), []).append(item)
        self.counters["duplicates" if like else "matched"] += 1
        self.wake.set()

    def _latency(self) -> float:
        return self.rt.config.duration("eventgrid.delivery_delay") + self.chaos.extra_delay(self.rng)

    def request_validation(self, resource_id: str, previous: dict[str, Any] | None) -> None:
        """Called from the provider's ``after_put``: the PUT's operation exists once the engine returns, so the
        handshake runs in the loop afterwards and ends the operation with ``finish_operation``."""
        self.validations.append((resource_id, previous))
        self.wake.set()

    def forget(self, resource_id: str) -> None:
        """An event subscription was deleted: what was queued for it is dropped, as in Azure."""
        for item in self.queue.pop(ids.key(resource_id), []):
            self._finish(item, "Dropped", reason="SubscriptionDeleted")

    def set_chaos(self, chaos: Chaos) -> None:
        self.chaos = chaos
        self.rng = chaos.rng()

    # ------------------------------------------------------------------------------------------- loop side
    async def run(self) -> None:
        """The background job: start handshakes and deliveries whenever something is due."""
        # ThreadedResolver: aiohttp's default AsyncResolver (aiodns/pycares) runs a C thread that can crash the
        # process when the simulator's loop shuts down.
        connector = aiohttp.TCPConnector(resolver=aiohttp.ThreadedResolver())
        async with aiohttp.ClientSession(connector=connector) as session:
            self.session = session
            try:
                while True:
                    self.wake.clear()
                    self._start_validations()
                    self._expire_manual()
                    self._dispatch()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), self._next_wait())
            finally:
                for task in list(self.tasks):
                    task.cancel()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _next_wait(self) -> float:
        now = time.monotonic()
        dues = [it.due for key, items in self.queue.items() if self._has_slot(key) for it in items]
        dues += [deadline for _, _, deadline in self.manual.values()]
        return min(0.5, max(0.001, min(dues, default=now + 0.5) - now))

    def pending(self) -> int:
        return sum(len(items) for items in self.queue.values())

    def idle(self) -> bool:
        return not (self.pending() or any(self.in_flight.values()) or self.validating or self.validations)

    # ------------------------------------------------------------------------------------------- deliveries
    def _dispatch(self) -> None:
        now = time.monotonic()
        for key, items in list(self.queue.items()):
            if not self._has_slot(key) or not items:
                continue
            rec = self.engine.store.get(key)
            state = rec.body.get("properties", {}).get("provisioningState") if rec else None
            if rec is None or state not in WAITING_STATES | {"Succeeded"}:
                for item in self.queue.pop(key):
                    reason = "SubscriptionDeleted" if rec is None else f"Subscription{state}"
                    self._finish(item, "Dropped", reason=reason)
                continue
            if state != "Succeeded":
                continue  # being updated or validated: hold the events
            for item in [it for it in items if it.expires <= now]:
                items.remove(item)
                self._dead_letter(rec, item, "TimeToLiveExceeded")
            ready = [it for it in items if it.due <= now + READY_SLACK]
            if not ready:
                continue
            if self.chaos.reorder:
                self.rng.shuffle(ready)
            else:
                ready.sort(key=lambda it: (it.due, it.seq))
            while ready and self._has_slot(key):
                batch = self._take_batch(rec, ready)
                taken = {it.seq for it in batch}
                items[:] = [it for it in items if it.seq not in taken]
                ready = [it for it in ready if it.seq not in taken]
                self.in_flight[key] = self.in_flight.get(key, 0) + 1
                self._spawn(self._deliver(key, rec.id, batch))

    def _has_slot(self, key: str) -> bool:
        """Event Grid delivers to one endpoint concurrently; ``chaos.concurrency`` bounds it (1 = serial)."""
        return self.in_flight.get(key, 0) < self.chaos.concurrency

    def _batch_limit(self, rec: Record) -> int:
        dp = rec.body["properties"]["destination"]["properties"]
        own = int(dp.get("maxEventsPerBatch", 1))
        if rec.body["properties"]["eventDeliverySchema"] == schema.CLOUDEVENTS_SCHEMA:
            return own
        return own if own > 1 else self.chaos.batch_size

    def _take_batch(self, rec: Record, ready: list[Item]) -> list[Item]:
        limit = self._batch_limit(rec)
        dp = rec.body["properties"]["destination"]["properties"]
        max_bytes = int(dp.get("preferredBatchSizeInKilobytes", 64)) * 1024
        batch: list[Item] = []
        size = 0
        for item in ready[:limit]:
            n = len(json.dumps(item.event))
            if batch and size + n > max_bytes:
                break
            batch.append(item)
            size += n
        return batch

    async def _deliver(self, key: str, sub_id: str, batch: list[Item]) -> None:
        try:
            rec = self.engine.store.get(sub_id)
            if rec is None:
                for item in batch:
                    self._finish(item, "Dropped", reason="SubscriptionDeleted")
                return
            props = rec.body["properties"]
            body, headers = schema.notification(
                [it.event for it in batch], props["eventDeliverySchema"], rec.body["name"],
                max(it.attempts for it in batch), batching=self._batch_limit(rec) > 1,
            )
            status, outcome = await self._post(endpoint_url(rec), body, headers)
            self._settle(rec, batch, status, outcome)
        finally:
            self.in_flight[key] = max(0, self.in_flight.get(key, 0) - 1)
            self.wake.set()

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        assert self.session is not None
        try:
            async with self.session.post(url, data=body, headers=headers,
                                         timeout=aiohttp.ClientTimeout(total=self._timeout())) as resp:
                await resp.read()
                ok = 200 <= resp.status < 300
                return resp.status, "Delivered" if ok else OUTCOMES.get(resp.status, "GenericError")
        except TimeoutError:
            return 0, "TimedOut"
        except (aiohttp.ClientError, OSError):
            return 0, "GenericError"

    def _settle(self, rec: Record, batch: list[Item], status: int, outcome: str) -> None:
        """Record one attempt's result for each event in the batch: done, retry later, or give up."""
        now = time.monotonic()
        policy = rec.body["properties"]["retryPolicy"]
        for item in batch:
            item.attempts += 1
            item.last_status, item.last_outcome = status, outcome
            self.counters["attempts"] += 1
            if 200 <= status < 300:
                self._finish(item, "Delivered", batch=len(batch))
                if not item.duplicate and self.chaos.duplicate_rate and self.rng.random() < self.chaos.duplicate_rate:
                    self._enqueue(rec, item.event, like=item)
                continue
            self.counters["failed"] += 1
            self._log(item, "Failed", batch=len(batch))
            if status in NO_RETRY:
                self._dead_letter(rec, item, "NonRetriableError")
            elif item.attempts >= policy["maxDeliveryAttempts"]:
                self._dead_letter(rec, item, "MaxDeliveryAttemptsExceeded")
            else:
                step = BACKOFF_STEPS[min(item.attempts, len(BACKOFF_STEPS)) - 1]
                delay = self.rt.config.duration("eventgrid.retry_base") * step * self.rng.uniform(0.95, 1.05)
                if now + delay >= item.expires:
                    self._dead_letter(rec, item, "TimeToLiveExceeded")
                else:
                    item.due = now + delay
                    self.queue.setdefault(ids.key(rec.id), []).append(item)

    def _dead_letter(self, rec: Record, item: Item, reason: str) -> None:
        """Write the event where the subscription's dead-letter container would get it, or drop it if none."""
        if dead_letter_destination(rec) is None:
            self._finish(item, "Dropped", reason=reason)
            return
        when = datetime.now(UTC)
        folder = self.deadletter_dir / rec.body["name"] / when.strftime("%Y/%m/%d/%H")
        folder.mkdir(parents=True, exist_ok=True)
        record = schema.dead_letter_record(item.event, reason, item.attempts, item.last_outcome or "GenericError",
                                           item.last_status, item.published, utcnow_iso())
        (folder / f"{uuid.uuid4()}.json").write_text(json.dumps([record], indent=1))
        self._finish(item, "DeadLettered", reason=reason)

    def _finish(self, item: Item, outcome: str, **extra: Any) -> None:
        self.counters[{"Delivered": "delivered", "DeadLettered": "dead_lettered", "Dropped": "dropped"}[outcome]] += 1
        self._log(item, outcome, **extra)

    def _log(self, item: Item, outcome: str, **extra: Any) -> None:
        self.log.append({
            "time": utcnow_iso(), "event_id": item.event.get("id"), "event_type": item.event.get("eventType"),
            "subject": item.event.get("subject"), "subscription": ids.name_of(item.sub_id),
            "subscription_id": item.sub_id, "attempt": item.attempts, "status": item.last_status,
            "outcome": outcome, "duplicate": item.duplicate, **extra,
        })

    # ------------------------------------------------------------------------------------------- validation
    def _start_validations(self) -> None:
        while self.validations:
            rid, previous = self.validations.pop(0)
            self.validating += 1
            self._spawn(self._validate(rid, previous))

    async def _validate(self, rid: str, previous: dict[str, Any] | None) -> None:
        try:
            rec = self.engine.store.get(rid)
            op_id = rec.busy_op if rec else None
            if rec is None or op_id is None:
                return  # an internal write without an operation: trusted, nothing to finish
            props = rec.body["properties"]
            url = endpoint_url(rec)
            old = (previous or {}).get("properties", {})
            if (old.get("provisioningState") == "Succeeded"
                    and old.get("destination", {}).get("properties", {}).get("endpointUrl") == url):
                self.engine.finish_operation(op_id)  # Azure re-validates only a changed endpoint
                return
            name = rec.body["name"]
            if props["eventDeliverySchema"] == schema.CLOUDEVENTS_SCHEMA:
                verb = "OPTIONS"
                outcome = await handshake.validate_cloudevents(self._session(), url, self._timeout())
                code = ""
            else:
                verb = "POST"
                code = str(uuid.uuid4())
                validation_url = f"{self.rt.base_url}_sim/eventgrid/validate?id={code}"
                outcome = await handshake.validate_eventgrid(
                    self._session(), url, name, props["topic"], code, validation_url, utcnow_iso(), self._timeout())
            self.counters[f"validations.{'ok' if outcome.ok else 'manual' if outcome.manual else 'failed'}"] += 1
            if outcome.ok:
                self.engine.finish_operation(op_id)
            elif outcome.manual and code:
                props["provisioningState"] = "AwaitingManualAction"
                deadline = time.monotonic() + MANUAL_VALIDATION_MINUTES * 60 * self.rt.config.time_scale
                self.manual[code] = (rid, op_id, deadline)
                self.engine.on_change()
            else:
                self.engine.finish_operation(op_id, error=validation_error(url, verb, outcome.detail))
        finally:
            self.validating -= 1
            self.wake.set()

    def _session(self) -> aiohttp.ClientSession:
        assert self.session is not None, "the Event Grid dispatcher job is not running"
        return self.session

    def manual_validate(self, code: str) -> bool:
        """A GET of the validationUrl: completes a subscription waiting for manual validation."""
        entry = self.manual.pop(code, None)
        if entry is None:
            return False
        self.engine.finish_operation(entry[1])
        return True

    def _expire_manual(self) -> None:
        now = time.monotonic()
        for code, (rid, op_id, deadline) in list(self.manual.items()):
            if deadline <= now:
                del self.manual[code]
                rec = self.engine.store.get(rid)
                url = endpoint_url(rec) if rec else rid
                self.engine.finish_operation(op_id, error=validation_error(
                    url, "POST", "The validationUrl was not visited in time (manual validation expired)."))

    # ------------------------------------------------------------------------------------------- control side
    async def flush(self, timeout: float, include_operations: bool = True) -> bool:
        """Wait until nothing is queued, in flight or being validated (and, if asked, until the engine's timed
        operations — whose completion publishes events — are done). False if the timeout came first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.engine.tick()
            ops_busy = include_operations and any(
                op.status == "InProgress" and math.isfinite(op.due) for op in self.engine.ops.values())
            if self.idle() and not ops_busy:
                return True
            await asyncio.sleep(0.01)
        return False

    def stats(self, limit: int = 100) -> dict[str, Any]:
        c = self.counters
        return {
            "delivered": c["delivered"], "failed": c["failed"], "dead_lettered": c["dead_lettered"],
            "dropped": c["dropped"], "duplicates": c["duplicates"], "matched": c["matched"],
            "attempts": c["attempts"], "pending": self.pending(), "in_flight": sum(self.in_flight.values()),
            "validating": self.validating + len(self.validations), "awaiting_manual_validation": len(self.manual),
            "validations": {k.split(".", 1)[1]: v for k, v in c.items() if k.startswith("validations.")},
            "chaos": self.chaos.describe(), "deadletter_dir": str(self.deadletter_dir),
            "recent": list(self.log)[-limit:] if limit > 0 else [],
        }

    def reset_stats(self) -> None:
        self.counters.clear()
        self.log.clear()


def validation_error(url: str, verb: str, detail: str) -> dict[str, str]:
    """Azure's refusal of an event subscription whose endpoint failed the handshake (error code 'Url validation')."""
    return {
        "code": "Url validation",
        "message": f"Webhook validation handshake failed for {schema.base_url(url)}. {detail} For troubleshooting, "
                   f"visit https://aka.ms/esvalidation. Activity id:{uuid.uuid4()}, timestamp: {utcnow_iso()} (UTC).",
    }
