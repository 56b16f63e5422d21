"""Rendering a run report for people: ``rich`` tables for a terminal (readable at 100 columns) and one
self-contained HTML page (no CDN, no script; rendered server-side with Jinja2, the topology as inline SVG)."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from typing import Any

from jinja2 import Environment, select_autoescape
from rich.console import Console
from rich.table import Table

from poolkeeper.report import RunReport

# -------------------------------------------------------------------------------------------------- terminal


def _short(resource_id: str | None) -> str:
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


def print_report(report: RunReport, console: Console | None = None) -> None:
    """Summary, findings grouped by guardrail, changes (applied/planned, deferred, refused), limits tripped."""
    con = console or Console(width=100)
    s = report.summary
    mode = "dry run" if report.dry_run else "applied"
    summary = Table(title=f"poolkeeper {report.kind} ({mode}) {report.finished_at}", show_header=False,
                    expand=False)
    summary.add_column("what", style="bold")
    summary.add_column("count", justify="right")
    for label, key in (("findings", "findings"), ("changes planned", "changesPlanned"),
                       ("changes applied", "changesApplied"), ("changes deferred", "changesDeferred"),
                       ("changes refused", "changesRefused"), ("writes", "writes"), ("ARM reads", "armReads"),
                       ("ARM writes", "armWrites"), ("drained members", "drainedMembers"),
                       ("NAT-pool operations", "operations")):
        summary.add_row(label, str(s[key]))
    summary.add_row("breaker", "[red]TRIPPED[/red]" if s["breakerTripped"] else "ok")
    con.print(summary)
    by_rule = report.findings_by_guardrail()
    if by_rule:
        table = Table(title="Findings by guardrail", expand=False)
        table.add_column("id", no_wrap=True)
        table.add_column("sev", no_wrap=True)
        table.add_column("resource", max_width=22, overflow="fold")
        table.add_column("finding", max_width=62, overflow="fold")
        for gid, items in by_rule.items():
            for i, f in enumerate(items):
                table.add_row(gid if i == 0 else "", f["severity"], _short(f["resourceId"]), f["message"])
        con.print(table)
    else:
        con.print("no findings: every enabled guardrail passes")
    done = report.changes["applied"] if not report.dry_run else report.changes["planned"]
    rows = [("applied" if not report.dry_run else "planned", c["description"]) for c in done]
    rows += [(f"deferred ({d['limit']})", "; ".join(d["changes"])) for d in report.changes["deferred"]]
    rows += [("refused", f"{r.get('guardrail') or r.get('code')}: {_short(r['resourceId'])}: {r['reason']}")
             for r in report.changes["refused"]]
    if rows:
        table = Table(title="Changes", expand=False)
        table.add_column("status", no_wrap=True)
        table.add_column("change", max_width=80, overflow="fold")
        for status, text in rows:
            table.add_row(status, text)
        con.print(table)
    for t in report.limits["tripped"]:
        if t["limit"] == "breaker":
            con.print(f"[red]circuit breaker tripped[/red]: {t['failures']} of {t['writes']} writes failed "
                      f"(more than {t['errorRate']:.0%}); the rest of the run was not applied")
        else:
            con.print(f"limit {t['limit']} reached: {t['deferredUnits']} unit(s) deferred to the next run")


# -------------------------------------------------------------------------------------------------- HTML

COLUMNS = ("frontends", "rules", "pools", "NICs", "VMs")
COL_X = (10, 240, 470, 700, 930)
BOX_W, BOX_H, ROW_H, TOP = 205, 26, 34, 34


@dataclass
class Box:
    key: str
    col: int
    row: int
    label: str
    violations: tuple[str, ...] = ()
    drained: bool = False

    @property
    def x(self) -> int:
        return COL_X[self.col]

    @property
    def y(self) -> int:
        return TOP + self.row * ROW_H


def layout(lb: dict[str, Any]) -> tuple[list[Box], list[tuple[Box, Box]], int]:
    """Boxes per column and the edges between them (frontend → rule/NAT rule → pool or NIC → NIC → VM)."""
    boxes: dict[str, Box] = {}
    rows = [0] * len(COLUMNS)

    def box(key: str, col: int, label: str, violations: list[str] | tuple[str, ...] = (),
            drained: bool = False) -> Box:
        if key not in boxes:
            boxes[key] = Box(key, col, rows[col], label, tuple(violations), drained)
            rows[col] += 1
        else:
            b = boxes[key]
            b.violations = tuple(sorted(set(b.violations) | set(violations)))
            b.drained = b.drained or drained
        return boxes[key]

    edges: list[tuple[Box, Box]] = []
    for fe in lb["frontends"]:
        box(f"fe:{fe['name']}", 0, fe["name"])
    for p in lb["pools"]:
        box(f"pool:{p['name']}", 2, p["name"], p["violations"])
    for r in lb["rules"]:
        rb = box(f"rule:{r['name']}", 1, f"rule {r['name']} :{r['port']}", r["violations"])
        if r["frontend"]:
            edges.append((box(f"fe:{r['frontend']}", 0, r["frontend"]), rb))
        for p in r["pools"]:
            edges.append((rb, box(f"pool:{p}", 2, p)))
    for p in lb["pools"]:
        pb = boxes[f"pool:{p['name']}"]
        for m in p["members"]:
            label = f"{m['nic']}" + (" (drained)" if m["drained"] else "")
            nb = box(f"nic:{m['nic']}", 3, label, m["violations"], m["drained"])
            edges.append((pb, nb))
            if m["vm"]:
                edges.append((nb, box(f"vm:{m['vm']}", 4, m["vm"], m["violations"], m["drained"])))
    for r in lb["natRules"]:
        label = f"NAT {r['name']} :{r['port'] if r['port'] is not None else 'range'}"
        rb = box(f"nat:{r['name']}", 1, label, r["violations"])
        if r["frontend"]:
            edges.append((box(f"fe:{r['frontend']}", 0, r["frontend"]), rb))
        if r["nic"]:
            edges.append((rb, box(f"nic:{r['nic']}", 3, r["nic"])))
        elif r["pool"]:
            edges.append((rb, box(f"pool:{r['pool']}", 2, r["pool"])))
    height = TOP + max([*rows, 1]) * ROW_H + 10
    return list(boxes.values()), edges, height


def _template() -> str:
    return resources.files("poolkeeper").joinpath("templates/report.html.j2").read_text("utf-8")


_env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def render_html(report: RunReport) -> str:
    s = report.summary
    summary = [("findings", s["findings"]), ("changes planned", s["changesPlanned"]),
               ("changes applied", s["changesApplied"]), ("changes deferred", s["changesDeferred"]),
               ("changes refused", s["changesRefused"]), ("writes", s["writes"]),
               ("breaker", "TRIPPED" if s["breakerTripped"] else "ok"), ("ARM reads", s["armReads"]),
               ("ARM writes", s["armWrites"]), ("drained members", s["drainedMembers"])]
    done = report.changes["planned"] if report.dry_run else report.changes["applied"]
    changes = [("planned" if report.dry_run else "applied", c["description"]) for c in done]
    changes += [(f"deferred ({d['limit']})", "; ".join(d["changes"])) for d in report.changes["deferred"]]
    changes += [("refused", f"{r.get('guardrail') or r.get('code')}: {_short(r['resourceId'])}: {r['reason']}")
                for r in report.changes["refused"]]
    lbs = []
    for lb in report.topology:
        boxes, edges, height = layout(lb)
        lbs.append({**lb, "boxes": boxes, "edges": edges, "height": height})
    return _env.from_string(_template()).render(
        r=report, version=report.to_dict()["schemaVersion"], summary=summary, findings=report.findings_by_guardrail(),
        changes=changes, lbs=lbs, short=_short, columns=COLUMNS, col_x=COL_X, box_w=BOX_W, box_h=BOX_H,
        width=COL_X[-1] + BOX_W + 20)
