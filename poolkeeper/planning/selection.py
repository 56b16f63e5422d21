"""Phase ``select``: which binding each VM and scale set in the run belongs to.

The ignore tag opts out; an explicit ``poolkeeper.binding`` tag wins (an unknown name is reported and the subject
left alone); otherwise the first binding in configuration order whose ``match`` holds, with the others reported.

Uniform scale sets go to ``ss_selection`` (wired through their model, then upgrades). Flexible scale sets go to
``flex_selection``: their members are ordinary VMs, selected (and wired per NIC) like any VM, and the scale set's own
selection only decides whether the pool goes into its model so that new members are created wired. An event-driven
run considers a Flexible scale set when it considers the scale set or one of its members.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping

from poolkeeper.changes import IGNORE_TAG, OWNER_TAG
from poolkeeper.config import Match
from poolkeeper.ids import id_key, same_id, scale_set_of
from poolkeeper.planning.context import Context, Draft, Selection, Work, deleting, sorted_values, tag_value


def select(ctx: Context, draft: Draft) -> Draft:
    work = Work(ctx, draft)
    vms: dict[str, Selection] = {}
    for vm in sorted_values(ctx.snapshot.vms):
        if ctx.in_scope(vm.id) and scale_set_of(vm.id) is None and ctx.considers_vm(vm) \
                and not deleting(vm.provisioning_state):
            vms[vm.key] = _select(work, vm.id, vm.name, vm.resource_group, vm.tags, vm.availability_set_id,
                                  vm.scale_set_id)
    members = _considered_members(ctx)
    sets: dict[str, Selection] = {}
    flex: dict[str, Selection] = {}
    for ss in sorted_values(ctx.snapshot.scale_sets):
        if not ctx.in_scope(ss.id) or deleting(ss.provisioning_state):
            continue
        if ss.is_uniform and ctx.considers_scale_set(ss):
            sets[ss.key] = _select(work, ss.id, ss.name, ss.resource_group, ss.tags, None, ss.id)
        elif not ss.is_uniform and (ctx.considers_scale_set(ss) or ss.key in members):
            flex[ss.key] = _select(work, ss.id, ss.name, ss.resource_group, ss.tags, None, ss.id)
    return work.done(vm_selection=vms, ss_selection=sets, flex_selection=flex)


def _considered_members(ctx: Context) -> frozenset[str]:
    """Keys of the Flexible scale sets one of whose member VMs the run considers (all of them in a full run)."""
    return frozenset(id_key(vm.scale_set_id) for vm in ctx.snapshot.vms.values()
                     if vm.scale_set_id and scale_set_of(vm.id) is None and ctx.considers_vm(vm))


def _select(work: Work, subject_id: str, name: str, resource_group: str, tags: Mapping[str, str],
            availability_set_id: str | None, scale_set_id: str | None) -> Selection:
    """Which binding a VM or scale set belongs to (ignore tag, explicit binding tag, then first match)."""
    config = work.ctx.config
    if (tag_value(tags, IGNORE_TAG) or "").strip().lower() == "true":
        return Selection(ignored=True)
    explicit = tag_value(tags, OWNER_TAG)
    if explicit is not None:
        b = config.binding(explicit)
        if b is None:
            known = ", ".join(x.name for x in config.bindings) or "none"
            work.report(subject_id, "", "UnknownBinding",
                        f"tag {OWNER_TAG}={explicit!r} names no configured binding (known: {known}); "
                        "nothing is changed for it until the tag or the configuration is fixed")
            return Selection(ignored=True)
        return Selection(binding=b)
    hits = [b for b in config.bindings
            if matches(b.match, name=name, resource_group=resource_group, tags=tags,
                       availability_set_id=availability_set_id, scale_set_id=scale_set_id)]
    if not hits:
        return Selection()
    if len(hits) > 1:
        work.report(subject_id, hits[0].name, "SeveralBindingsMatch",
                    f"matches bindings {', '.join(b.name for b in hits)}; using {hits[0].name} (first in the "
                    f"configuration) and ignoring {', '.join(b.name for b in hits[1:])}; tag it "
                    f"{OWNER_TAG}=<name> to choose explicitly")
    return Selection(binding=hits[0])


def matches(match: Match, *, name: str, resource_group: str, tags: Mapping[str, str],
            availability_set_id: str | None, scale_set_id: str | None) -> bool:
    """Whether every criterion given in ``match`` holds for the subject (VM or scale set)."""
    if match.resource_group is not None and match.resource_group.lower() != resource_group.lower():
        return False
    if match.availability_set is not None and not _same_ref(match.availability_set, availability_set_id):
        return False
    if match.scale_set is not None and not _same_ref(match.scale_set, scale_set_id):
        return False
    for k, v in match.tags.items():
        if tag_value(tags, k) != v:
            return False
    return match.name_pattern is None or fnmatch.fnmatchcase(name.lower(), match.name_pattern.lower())


def _same_ref(wanted: str, actual: str | None) -> bool:
    """Config gives an id or a bare name; ARM gives an id."""
    if actual is None:
        return False
    if "/" in wanted:
        return same_id(wanted, actual)
    return actual.rstrip("/").rsplit("/", 1)[-1].lower() == wanted.lower()
