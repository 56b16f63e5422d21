"""The resource store: every resource by case-insensitive id, with an index of who references whom.

The reference index is what makes Azure's referential integrity cheap to simulate: "cannot delete pool X, NIC Y uses
it" and back-references such as ``backendAddressPool.backendIPConfigurations`` are both answered from it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from armsim import ids


@dataclass
class Record:
    """One stored resource. ``body`` is what ARM would return, less read-only back-references (computed on read)."""

    id: str
    type: str
    body: dict[str, Any]
    busy_op: str | None = None  # operation id while a long-running operation on this resource is in progress
    meta: dict[str, Any] = field(default_factory=dict)  # simulator bookkeeping, never returned to clients


def _references(value: Any, own_key: str, out: set[str]) -> None:
    """Collect every resource id under an ``id`` key that points outside the resource itself."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "id" and ids.is_resource_id(v):
                vk = ids.key(v)
                if not (vk == own_key or vk.startswith(own_key + "/")):
                    out.add(vk)
            else:
                _references(v, own_key, out)
    elif isinstance(value, list):
        for item in value:
            _references(item, own_key, out)


class Store:
    def __init__(self) -> None:
        self._records: dict[str, Record] = {}
        self._refs: dict[str, set[str]] = {}  # resource key -> keys it references
        self._rev: dict[str, set[str]] = {}  # referenced key -> resource keys referencing it

    # --- reads -------------------------------------------------------------------------------------------------
    def get(self, resource_id: str) -> Record | None:
        return self._records.get(ids.key(resource_id))

    def __contains__(self, resource_id: str) -> bool:
        return ids.key(resource_id) in self._records

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self._records.values()))

    def __len__(self) -> int:
        return len(self._records)

    def of_type(
        self, full_type: str, subscription: str | None = None, resource_group: str | None = None
    ) -> list[Record]:
        """Resources of a type, optionally in one subscription / resource group, sorted by id for stable paging."""
        t = full_type.lower()
        out = []
        for rec in self._records.values():
            if rec.type.lower() != t:
                continue
            if subscription and (ids.subscription_of(rec.id) or "").lower() != subscription.lower():
                continue
            if resource_group and (ids.resource_group_of(rec.id) or "").lower() != resource_group.lower():
                continue
            out.append(rec)
        out.sort(key=lambda r: r.id.lower())
        return out

    def referrers(self, target_id: str, *, include_children: bool = False) -> list[Record]:
        """Resources whose body references ``target_id`` (or, with include_children, anything below it)."""
        tk = ids.key(target_id)
        keys: set[str] = set(self._rev.get(tk, ()))
        if include_children:
            prefix = tk + "/"
            for ref, who in self._rev.items():
                if ref.startswith(prefix):
                    keys |= who
        keys.discard(tk)
        return sorted((self._records[k] for k in keys if k in self._records), key=lambda r: r.id.lower())

    # --- writes ------------------------------------------------------------------------------------------------
    def put(self, record: Record) -> None:
        k = ids.key(record.id)
        self._unindex(k)
        self._records[k] = record
        refs: set[str] = set()
        _references(record.body, k, refs)
        self._refs[k] = refs
        for r in refs:
            self._rev.setdefault(r, set()).add(k)

    def remove(self, resource_id: str) -> Record | None:
        k = ids.key(resource_id)
        self._unindex(k)
        return self._records.pop(k, None)

    def _unindex(self, k: str) -> None:
        for r in self._refs.pop(k, set()):
            who = self._rev.get(r)
            if who is not None:
                who.discard(k)
                if not who:
                    del self._rev[r]

    # --- persistence -------------------------------------------------------------------------------------------
    def dump(self) -> list[dict[str, Any]]:
        return [copy.deepcopy({"id": r.id, "type": r.type, "body": r.body, "meta": r.meta}) for r in self]

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.dump()))
        os.replace(tmp, path)

    def load(self, path: Path) -> None:
        for item in json.loads(path.read_text()):
            self.put(Record(id=item["id"], type=item["type"], body=item["body"], meta=item.get("meta", {})))
