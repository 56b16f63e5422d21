"""CLI commands of the NAT-pool workflows.

``python -m poolkeeper natpool remove|migrate ...``, ``python -m poolkeeper rule change-probed-port ...`` and
``python -m poolkeeper operation show|resume ID``, each with ``--dry-run`` where it changes something. They act with
your own Azure login (DefaultAzureCredential) on ``$POOLKEEPER_ARM_ENDPOINT`` (default Azure's), keep operations in
``$POOLKEEPER_OPERATIONS_DIR`` (default ``.poolkeeper/operations``) or ``$POOLKEEPER_OPERATIONS_CONTAINER``, show a
progress bar per phase (rich on a terminal, plain lines otherwise) and finish with a table of the steps.

They are held to the configuration's ``scopes`` exactly like the Functions app (``--config`` or
``$POOLKEEPER_CONFIG``): an operator's own login usually reaches far more than poolkeeper was given, so the CLI
must not be a way around the scopes. Without a configuration they refuse to run.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from poolkeeper.gateway import ArmRefused
from poolkeeper.settings import Settings
from poolkeeper.workflows.intents import BadRequest
from poolkeeper.workflows.preconditions import PreconditionsFailed
from poolkeeper.workflows.runner import Hooks
from poolkeeper.workflows.scope import OutOfScope
from poolkeeper.workflows.store import OperationNotFound

COMMANDS = ("natpool", "rule", "operation")


def add_commands(sub: Any) -> None:
    natpool = sub.add_parser("natpool", help="remove a NAT pool, or migrate it to a NAT rule V2 "
                                             "(NAT pools retire on 2027-09-30)")
    nat_sub = natpool.add_subparsers(dest="action", required=True)
    remove = nat_sub.add_parser("remove", help="take a NAT pool off its scale sets, then delete it")
    _common(remove)
    remove.add_argument("--nat-pool", required=True, help="NAT pool name")
    remove.add_argument("--scale-set", action="append", dest="scale_sets", metavar="NAME_OR_ID",
                        help="scale set using the pool (repeatable; default: found from the load balancer)")
    remove.add_argument("--delete-frontend", action="store_true", help="also delete the pool's frontend IP config")
    remove.add_argument("--delete-public-ip", action="store_true", help="and the frontend's public IP")
    migrate = nat_sub.add_parser("migrate", help="replace a NAT pool with a NAT rule V2 (same frontend, ports)")
    _common(migrate)
    migrate.add_argument("--nat-pool", required=True, help="NAT pool name")
    migrate.add_argument("--backend-pool", help="pool the rule targets: a name, 'reuse-matching' or 'create' "
                                                "(default: reuse a pool with exactly the NAT pool's instances, else "
                                                "create one)")
    migrate.add_argument("--rule-name", help="name of the NAT rule V2 (default: the NAT pool's name)")
    migrate.add_argument("--scale-set", action="append", dest="scale_sets", metavar="NAME_OR_ID",
                         help="scale set using the pool (repeatable; default: found from the load balancer)")

    rule = sub.add_parser("rule", help="load-balancing rule workflows")
    rule_sub = rule.add_subparsers(dest="action", required=True)
    probed = rule_sub.add_parser("change-probed-port", help="change the backend port of a rule whose probe is a "
                                                            "scale set's health probe")
    _common(probed)
    probed.add_argument("--rule", required=True, help="load-balancing rule name, e.g. myLoadBalancerRule")
    probed.add_argument("--new-backend-port", required=True, type=int, metavar="PORT",
                        help="the rule's new backend port, e.g. 8080")

    for p in (remove, migrate, probed):
        p.add_argument("--config", help="configuration file or inline JSON whose scopes bind the command "
                                        "(default: $POOLKEEPER_CONFIG)")
    operation = sub.add_parser("operation", help="list, show or resume workflow operations")
    op_sub = operation.add_subparsers(dest="action", required=True)
    listing = op_sub.add_parser("list", help="every operation in the store, newest first, with its status")
    listing.add_argument("--json", action="store_true", help="print the records' summaries as JSON")
    listing.add_argument("--stale-after", type=float, default=STALE_AFTER_MINUTES, metavar="MINUTES",
                         help=f"call a running operation stale after this long without progress "
                              f"(default {STALE_AFTER_MINUTES:.0f})")
    show = op_sub.add_parser("show", help="an operation's status, steps and port mappings")
    show.add_argument("id", help="operation id, e.g. from `poolkeeper operation list`")
    show.add_argument("--json", action="store_true", help="print the record as JSON")
    show.add_argument("--stale-after", type=float, default=STALE_AFTER_MINUTES, metavar="MINUTES",
                      help=f"call a running operation stale after this long without progress "
                           f"(default {STALE_AFTER_MINUTES:.0f})")
    resume = op_sub.add_parser("resume", help="continue an unfinished operation")
    resume.add_argument("id", help="operation id, e.g. from `poolkeeper operation list`")
    resume.add_argument("--load-balancer", metavar="ID",
                        help="where its intent is recorded (needed if the store lost it)")
    resume.add_argument("--json", action="store_true", help="print the operation record as JSON")
    for p in (listing, show, resume):
        p.add_argument("--config", help="configuration file or inline JSON whose scopes bind the command "
                                        "(default: $POOLKEEPER_CONFIG)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--load-balancer", metavar="ID", help="load balancer resource id (or give -g and --lb-name)")
    p.add_argument("-g", "--resource-group", metavar="NAME", help="the load balancer's resource group (with --lb-name)")
    p.add_argument("--lb-name", metavar="NAME", help="load balancer name (with -g)")
    p.add_argument("--subscription", metavar="ID", default=Settings.from_env().subscription_id or None,
                   help="subscription of -g/--lb-name (default: $AZURE_SUBSCRIPTION_ID)")
    p.add_argument("--batch-size", type=int, help="instances per manualUpgrade call (default 20)")
    p.add_argument("--allow-rolling", action="store_true", help="accept scale sets with the Rolling upgrade policy")
    p.add_argument("--dry-run", action="store_true", help="check every precondition and list the ARM calls only")
    p.add_argument("--json", action="store_true", help="print the operation record as JSON")


def load_balancer_id(args: argparse.Namespace) -> str:
    """``--load-balancer ID``, or the id built from ``-g RG --lb-name NAME`` (and the subscription)."""
    if args.load_balancer:
        if args.resource_group or args.lb_name:
            raise BadRequest("give --load-balancer, or -g with --lb-name, not both")
        return str(args.load_balancer)
    if not (args.resource_group and args.lb_name):
        raise BadRequest("name the load balancer: --load-balancer ID, or -g RESOURCE_GROUP --lb-name NAME")
    if not args.subscription:
        raise BadRequest("-g/--lb-name need the subscription: --subscription ID or $AZURE_SUBSCRIPTION_ID")
    return (f"/subscriptions/{args.subscription}/resourceGroups/{args.resource_group}"
            f"/providers/Microsoft.Network/loadBalancers/{args.lb_name}")


def _body(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    body: dict[str, Any] = {"loadBalancer": load_balancer_id(args)}
    if args.batch_size is not None:
        body["batchSize"] = args.batch_size
    if args.allow_rolling:
        body["allowRolling"] = True
    if args.command == "rule":
        return "change-probed-port", {**body, "rule": args.rule, "newBackendPort": args.new_backend_port}
    body["natPool"] = args.nat_pool
    if args.scale_sets:
        body["scaleSets"] = args.scale_sets
    if args.action == "remove":
        if args.delete_frontend:
            body["deleteFrontend"] = True
        if args.delete_public_ip:
            body["deletePublicIp"] = True
        return "remove-natpool", body
    if args.backend_pool:
        body["backendPool"] = args.backend_pool
    if args.rule_name:
        body["ruleName"] = args.rule_name
    return "migrate-natpool", body


class NoConfiguration(Exception):
    """The workflow commands were run without a configuration, so there are no scopes to hold them to."""


def build_workflows(config_source: str | None = None) -> Any:
    """Workflows with the operator's own credential, held to the configuration's scopes, on its ARM endpoint
    (``$POOLKEEPER_ARM_ENDPOINT`` overrides it): the composition root's workflows."""
    from poolkeeper.composition import build

    settings = Settings.from_env()
    if not config_source and not settings.config_source:
        raise NoConfiguration("the natpool, rule and operation commands act only inside the configuration's scopes: "
                              "pass --config or set POOLKEEPER_CONFIG (a file or inline JSON with \"scopes\")")
    return build(settings, config_source=config_source).workflows


class Progress:
    """Prints each step, and a progress bar of instances per upgrade phase (rich on a TTY, text lines otherwise)."""

    def __init__(self, out: Any = sys.stdout) -> None:
        self.out = out
        self.tty = bool(getattr(out, "isatty", lambda: False)())
        self.bar: Any = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "started":
            print(f"operation {event['operation']} ({event['kind']}): {event['steps']} step(s)", file=self.out)
        elif kind == "step":
            self._close()
            print(f"→ {event['step']['title']}", file=self.out)
        elif kind == "batch":
            self._batch(event)
        elif kind == "step-done":
            self._close()
            calls = ", ".join(f"{k} {v}" for k, v in sorted(event.get("armCalls", {}).items())) or "no calls"
            print(f"  done ({calls})", file=self.out)
        elif kind == "waiting":
            self._close()
            print(f"  waiting: {event['why']}", file=self.out)
        elif kind == "failed":
            self._close()
            print(f"  FAILED {event['error']['code']}: {event['error']['message']}", file=self.out)
        self.out.flush()

    def _batch(self, event: dict[str, Any]) -> None:
        if self.tty:
            from rich.progress import Progress as Bar

            if self.bar is None:
                self.bar = Bar(transient=False)
                self.bar.start()
                self.task = self.bar.add_task(f"  {event['scaleSet']} instances", total=event["total"])
            self.bar.update(self.task, completed=event["done"])
            return
        print(f"  {event['scaleSet']}: instances updated {event['done']}/{event['total']}", file=self.out)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def print_record(record: dict[str, Any], out: Any = sys.stdout) -> None:
    print(f"\noperation {record['id']} ({record['kind']}) — {record['status']}", file=out)
    rows = record.get("steps") or []
    if record.get("status") in ("dry-run", "refused") or not rows:
        rows = [{"key": s["key"], "title": s["title"], "status": "planned", "writes": len(s["armCalls"])}
                for s in record.get("plan") or []]
    if rows:
        width = max(len(r["key"]) for r in rows)
        print(f"  {'step':<{width}}  {'status':<8}  writes  what", file=out)
        for r in rows:
            print(f"  {r['key']:<{width}}  {r.get('status', ''):<8}  {r.get('writes', 0):>6}  {r['title']}", file=out)
    if record.get("status") == "succeeded" and not record.get("steps"):
        print("  nothing to do: Azure already matches the request", file=out)
    for p in record.get("problems") or []:
        print(f"  REFUSED {p['code']}: {p['message']}", file=out)
    for n in record.get("notes") or []:
        print(f"  note {n['code']}: {n['message']}", file=out)
    ports = (record.get("portMappings") or {}).get("instances")
    if ports:
        print("  instance          before  after", file=out)
        for m in ports:
            old = (m["before"]["inboundNatRulePortMappings"] or [{}])[0].get("frontendPort", "-")
            new = (m["after"]["inboundNatRulePortMappings"] or [{}])[0].get("frontendPort", "-")
            print(f"  {m['instance']:<16}  {old!s:>6}  {new!s:>5}", file=out)
        if record["portMappings"].get("afterNote"):
            print(f"  {record['portMappings']['afterNote']}", file=out)
    if record.get("error"):
        print(f"  ERROR {record['error']['code']}: {record['error']['message']}", file=out)


STALE_AFTER_MINUTES = 15.0


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def last_activity(record: Any) -> datetime | None:
    """The latest timestamp in an operation record (createdAt, updatedAt, a step's startedAt, a batch's at…).

    The runner saves the record at every step and batch, so this is its heartbeat: a ``running`` operation whose
    last activity is long past belongs to a process that has stopped (killed, crashed, Ctrl-C).
    """
    found: list[datetime] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key.endswith(("At", "at")) and (t := _parse_time(value)) is not None:
                    found.append(t)
                elif key != "intent":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(record)
    return max(found) if found else None


def effective_status(record: dict[str, Any], now: datetime | None = None,
                     stale_after_minutes: float = STALE_AFTER_MINUTES) -> str:
    """``running`` only while the record shows recent progress; ``stale`` otherwise (resume it)."""
    status = str(record.get("status", ""))
    if status != "running":
        return status
    last = last_activity(record)
    current = now or datetime.now(UTC)
    if last is not None and (current - last).total_seconds() > stale_after_minutes * 60:
        return "stale"
    return status


def _with_staleness(record: dict[str, Any], stale_after: float) -> dict[str, Any]:
    status = effective_status(record, stale_after_minutes=stale_after)
    if status == "stale":
        last = last_activity(record)
        record = {**record, "status": "stale", "recordedStatus": record.get("status"),
                  "lastActivity": last.isoformat() if last else None,
                  "notes": [*(record.get("notes") or []),
                            {"code": "Stale", "message": f"recorded as running, but no progress since {last}: its "
                                                         f"process has stopped; resume with: python -m poolkeeper "
                                                         f"operation resume {record.get('id')}"}]}
    return record


def list_operations(workflows: Any, stale_after: float) -> list[dict[str, Any]]:
    rows = []
    for operation_id in workflows.store.list_ids():
        try:
            record = _with_staleness(workflows.show(operation_id), stale_after)
        except OperationNotFound:
            continue
        last = last_activity(record)
        rows.append({"id": record.get("id", operation_id), "kind": record.get("kind"),
                     "status": record.get("status"),
                     "loadBalancer": (record.get("intent") or {}).get("loadBalancer"),
                     "lastActivity": last.isoformat() if last else None})
    return sorted(rows, key=lambda r: r["lastActivity"] or "", reverse=True)


def print_operations(rows: list[dict[str, Any]], out: Any = sys.stdout) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=None if out.isatty() else 100, highlight=False)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("operation", "kind", "status", "load balancer", "last activity"):
        table.add_column(column, no_wrap=column != "load balancer")
    for r in rows:
        table.add_row(r["id"], str(r["kind"]), str(r["status"]), str(r["loadBalancer"] or "").rsplit("/", 1)[-1],
                      str(r["lastActivity"] or ""))
    console.print(table)
    stale = sum(1 for r in rows if r["status"] == "stale")
    console.print(f"{len(rows)} operation(s)" + (f", {stale} stale: resume with `poolkeeper operation resume ID`"
                                                 if stale else ""))


def run(args: argparse.Namespace) -> int:
    if args.command not in COMMANDS:
        raise ValueError(f"unknown command {args.command!r}")
    try:
        workflows = build_workflows(getattr(args, "config", None))
    except NoConfiguration as err:
        print(f"poolkeeper: {err}", file=sys.stderr)
        return 2
    quiet = getattr(args, "json", False)
    progress = None if quiet else Progress()

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "started":
            args.operation_started = event.get("operation")  # the CLI names it if Ctrl-C follows
        if progress is not None:
            progress(event)

    hooks = Hooks(on_event=on_event)
    try:
        if args.command == "operation":
            if args.action == "list":
                rows = list_operations(workflows, args.stale_after)
                if quiet:
                    print(json.dumps(rows, indent=2))
                else:
                    print_operations(rows)
                return 0
            if args.action == "show":
                record = _with_staleness(workflows.show(args.id), args.stale_after)
            else:
                record = workflows.resume(args.id, load_balancer=args.load_balancer, hooks=hooks)
        else:
            kind, body = _body(args)
            intent = workflows.parse(kind, body)
            record = workflows.submit(intent, dry_run=args.dry_run, hooks=hooks)
    except BadRequest as err:
        print(f"poolkeeper: {err}", file=sys.stderr)
        return 2
    except OutOfScope as err:
        print(f"poolkeeper: refused, OutOfScope: {err}", file=sys.stderr)
        print("poolkeeper: nothing was read or changed", file=sys.stderr)
        return 1
    except PreconditionsFailed as err:
        for p in err.problems:
            print(f"poolkeeper: refused, {p.guardrail}: {p.message}", file=sys.stderr)
        print("poolkeeper: nothing was changed", file=sys.stderr)
        return 1
    except OperationNotFound as err:
        print(f"poolkeeper: {err}; pass --load-balancer to resume from the intent recorded there", file=sys.stderr)
        return 2
    except ArmRefused as err:
        print(f"poolkeeper: {err}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps(record, indent=2, default=str))
    else:
        print_record(record)
    return {"succeeded": 0, "dry-run": 0, "waiting": 3, "running": 3, "stale": 3}.get(record.get("status", ""), 1)
