"""A certificate authority per state directory, so the SDK (which refuses bearer tokens over http) trusts armsim."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def load_or_create_ca(state_dir: Path) -> trustme.CA:
    cert = state_dir / "ca.pem"
    key = state_dir / "ca-key.pem"
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="armsim local CA")
    cert.write_bytes(ca.cert_pem.bytes())
    key.write_bytes(ca.private_key_pem.bytes())
    key.chmod(0o600)
    return ca


def server_context(ca: trustme.CA, hosts: list[str]) -> ssl.SSLContext:
    leaf = ca.issue_cert(*hosts)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(ctx)
    return ctx
