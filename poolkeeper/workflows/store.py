"""Where operations keep their progress and backups: a local folder, or a blob container in Azure.

Layout (both stores): ``{id}/operation.json`` (the record: intent, status, steps, batches, port mappings) and
``{id}/backup-{name}.json`` (the load balancer's and each scale set's JSON before the first destructive step).

- :class:`FileStore`: ``$POOLKEEPER_OPERATIONS_DIR`` or ``.poolkeeper/operations`` (CLI, local host, tests).
- :class:`BlobStore`: ``$POOLKEEPER_OPERATIONS_CONTAINER`` (a container URL; the app identity has Storage Blob Data
  Owner on it). Written against azure-storage-blob's ``ContainerClient``; it has NOT been run against a real blob
  service here (only against an in-memory stand-in of the same interface), see docs/natpool-retirement.md.

The record in the store is the *history*; the source of truth for "is there unfinished work" is the intent tag on
the load balancer, so losing the store loses progress details and backups, never the ability to resume.
"""

from __future__ import annotations

import json
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol

from poolkeeper.ids import OPERATION_ID_PATTERN
from poolkeeper.settings import DEFAULT_OPERATIONS_DIR, Settings

DEFAULT_DIR = DEFAULT_OPERATIONS_DIR
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
# the real format of an operation id (intents.new_operation_id: uuid4().hex[:12]); nothing else names a folder or a
# blob prefix, so ``..`` and friends cannot leave the store (issue 9: GET /api/operations/.. served the parent's file)
_OPERATION_ID = re.compile(OPERATION_ID_PATTERN)


class OperationNotFound(KeyError):
    def __init__(self, operation_id: str) -> None:
        super().__init__(operation_id)
        self.operation_id = operation_id

    def __str__(self) -> str:
        return f"no operation {self.operation_id!r} in the operation store"


def is_operation_id(value: object) -> bool:
    """True for an id in the format poolkeeper gives operations (12 lowercase hexadecimal characters)."""
    return isinstance(value, str) and _OPERATION_ID.fullmatch(value) is not None


def _check_id(operation_id: str) -> str:
    if not is_operation_id(operation_id):
        raise ValueError(f"invalid operation id {str(operation_id)[:40]!r}: operation ids are 12 lowercase "
                         "hexadecimal characters, as poolkeeper answered when the operation started")
    return operation_id


def _check(name: str, what: str) -> str:
    if what == "operation id":
        return _check_id(name)
    if not _SAFE.match(name) or name in (".", ".."):
        raise ValueError(f"invalid {what} {name[:40]!r}: use letters, digits, '.', '_' or '-' (at most 100)")
    return name


class OperationStore(Protocol):
    def load(self, operation_id: str) -> dict[str, Any]: ...

    def save(self, record: dict[str, Any]) -> None: ...

    def put_backup(self, operation_id: str, name: str, body: dict[str, Any]) -> str: ...

    def has_backup(self, operation_id: str, name: str) -> bool: ...

    def get_backup(self, operation_id: str, name: str) -> dict[str, Any]: ...

    def list_ids(self) -> list[str]: ...

    def describe(self) -> str: ...


class FileStore:
    """Operations as JSON files in a folder; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()

    def _dir(self, operation_id: str) -> Path:
        return self.root / _check(operation_id, "operation id")

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".tmp{threading.get_ident()}")
        tmp.write_text(json.dumps(data, indent=2, default=str))
        os.replace(tmp, path)

    def load(self, operation_id: str) -> dict[str, Any]:
        path = self._dir(operation_id) / "operation.json"
        try:
            return json.loads(path.read_text())
        except FileNotFoundError as err:
            raise OperationNotFound(operation_id) from err

    def save(self, record: dict[str, Any]) -> None:
        with self._lock:
            self._write(self._dir(record["id"]) / "operation.json", record)

    def put_backup(self, operation_id: str, name: str, body: dict[str, Any]) -> str:
        path = self._dir(operation_id) / f"backup-{_check(name, 'backup name')}.json"
        self._write(path, body)
        return str(path)

    def has_backup(self, operation_id: str, name: str) -> bool:
        return (self._dir(operation_id) / f"backup-{_check(name, 'backup name')}.json").exists()

    def get_backup(self, operation_id: str, name: str) -> dict[str, Any]:
        return json.loads((self._dir(operation_id) / f"backup-{_check(name, 'backup name')}.json").read_text())

    def list_ids(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if is_operation_id(p.name) and (p / "operation.json").exists())

    def describe(self) -> str:
        return f"folder {self.root}"


class BlobStore:
    """The same layout as blobs in one container (``ContainerClient`` from azure-storage-blob)."""

    def __init__(self, container: Any) -> None:
        self.container = container

    @classmethod
    def from_url(cls, container_url: str, credential: Any = None) -> BlobStore:
        from azure.storage.blob import ContainerClient

        if credential is None:
            from poolkeeper.clients import default_credential

            credential = default_credential()
        return cls(ContainerClient.from_container_url(container_url, credential=credential))

    def _get(self, name: str) -> dict[str, Any]:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return json.loads(self.container.download_blob(name).readall())
        except ResourceNotFoundError as err:
            raise FileNotFoundError(name) from err

    def _put(self, name: str, data: dict[str, Any]) -> None:
        self.container.upload_blob(name, json.dumps(data, indent=2, default=str).encode(), overwrite=True)

    def load(self, operation_id: str) -> dict[str, Any]:
        try:
            return self._get(f"{_check(operation_id, 'operation id')}/operation.json")
        except FileNotFoundError as err:
            raise OperationNotFound(operation_id) from err

    def save(self, record: dict[str, Any]) -> None:
        self._put(f"{_check(record['id'], 'operation id')}/operation.json", record)

    def put_backup(self, operation_id: str, name: str, body: dict[str, Any]) -> str:
        blob = f"{_check(operation_id, 'operation id')}/backup-{_check(name, 'backup name')}.json"
        self._put(blob, body)
        return blob

    def has_backup(self, operation_id: str, name: str) -> bool:
        try:
            self._get(f"{_check(operation_id, 'operation id')}/backup-{_check(name, 'backup name')}.json")
            return True
        except FileNotFoundError:
            return False

    def get_backup(self, operation_id: str, name: str) -> dict[str, Any]:
        return self._get(f"{_check(operation_id, 'operation id')}/backup-{_check(name, 'backup name')}.json")

    def list_ids(self) -> list[str]:
        ids = {b.name.split("/", 1)[0] for b in self.container.list_blobs() if b.name.endswith("/operation.json")}
        ids = {i for i in ids if is_operation_id(i)}
        return sorted(ids)

    def describe(self) -> str:
        return f"blob container {getattr(self.container, 'url', '?')}"


def default_store(environ: dict[str, str] | None = None) -> OperationStore:
    """The blob store when ``POOLKEEPER_OPERATIONS_CONTAINER`` is set, else the local folder."""
    return store_from(Settings.from_env(environ))


def store_from(settings: Settings) -> OperationStore:
    """The blob store when ``settings.operations_container`` is set, else the folder ``settings.operations_dir``."""
    if settings.operations_container:
        return BlobStore.from_url(settings.operations_container)
    return FileStore(settings.operations_dir or DEFAULT_DIR)
