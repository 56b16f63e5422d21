"""Operation stores: the local folder, and the blob store against an in-memory stand-in of ContainerClient.

The blob store has NOT been exercised against a real Azure Blob service (or Azurite) here; this checks only that it
uses the ContainerClient interface consistently (upload_blob overwrite, download_blob().readall(), list_blobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError

from poolkeeper.workflows.store import BlobStore, FileStore, OperationNotFound, default_store


@dataclass
class _Blob:
    name: str


class _Download:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def readall(self) -> bytes:
        return self.data


class FakeContainer:
    url = "https://example.invalid/operations"

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def upload_blob(self, name: str, data: bytes, overwrite: bool = False) -> None:
        assert overwrite, "records are rewritten as the operation advances"
        self.blobs[name] = data

    def download_blob(self, name: str) -> _Download:
        if name not in self.blobs:
            raise ResourceNotFoundError(f"{name} not found")
        return _Download(self.blobs[name])

    def list_blobs(self) -> list[_Blob]:
        return [_Blob(n) for n in sorted(self.blobs)]


@pytest.mark.parametrize("kind", ["file", "blob"])
def test_store_round_trip(kind: str, tmp_path: Path) -> None:
    store: Any = FileStore(tmp_path) if kind == "file" else BlobStore(FakeContainer())
    with pytest.raises(OperationNotFound):
        store.load("0abc123def45")
    store.save({"id": "0abc123def45", "status": "running"})
    store.save({"id": "0abc123def45", "status": "succeeded"})
    assert store.load("0abc123def45")["status"] == "succeeded"
    assert not store.has_backup("0abc123def45", "lb-MyLoadBalancer")
    store.put_backup("0abc123def45", "lb-MyLoadBalancer", {"name": "MyLoadBalancer"})
    assert store.has_backup("0abc123def45", "lb-MyLoadBalancer")
    assert store.get_backup("0abc123def45", "lb-MyLoadBalancer") == {"name": "MyLoadBalancer"}
    assert store.list_ids() == ["0abc123def45"]
    with pytest.raises(ValueError, match="invalid operation id"):
        store.load("../etc")
    for bad in ("..", ".", "ABC123DEF456", "0abc123def4", "0abc123def45/..", "0abc123def45\n"):
        with pytest.raises(ValueError, match="invalid operation id"):
            store.load(bad)
        with pytest.raises(ValueError, match="invalid operation id"):
            store.save({"id": bad})


def test_default_store_follows_the_environment(tmp_path: Path) -> None:
    store = default_store({"POOLKEEPER_OPERATIONS_DIR": str(tmp_path)})
    assert isinstance(store, FileStore) and store.root == tmp_path
    assert isinstance(default_store({}), FileStore)
