"""Correlation ids that mark a write as poolkeeper's own, whoever's identity made it.

Every ARM request poolkeeper sends carries ``x-ms-correlation-request-id``. ARM's RPC contract makes it a
caller-specified id that ARM keeps for the whole operation (Azure/azure-resource-manager-rpc,
v1.0/common-api-details.md#client-request-headers), and the Event Grid event of the write carries the operation's
correlation id in ``data.correlationId`` (the published examples in tests/data/reference, spec
eventgrid/data-plane/Microsoft.Resources 2018-01-01, show the field with a placeholder value; that it is exactly the
client's header value is UNCONFIRMED by a public example — armsim behaves so). So poolkeeper recognises its own
writes by that id, not by the caller's object id: an operator running poolkeeper with the identity they also create
VMs with (``az login``, a shared identity) must not have every VM ignored.

Format: an RFC 9562 UUID of version 8 (vendor-specific) whose first 48 bits are a fixed poolkeeper marker,
``7001ee9e-b11d-8xxx-yxxx-xxxxxxxxxxxx`` (74 random bits). It needs no state, so it is recognised across restarts
and across several poolkeeper instances. Residual risks (documented in the README): a writer who *deliberately*
sends an id in this format has its write ignored by event-driven runs (the compliance sweep, which does not look
at events, still wires it); an accidental collision needs another client to pick a version-8 UUID with the same
48-bit prefix (about 1 in 2.8e14 for random version-8 ids; random version-4 ids never match).
"""

from __future__ import annotations

import re
import secrets

MARKER = "7001ee9e-b11d"
_OWN = re.compile(r"^7001ee9e-b11d-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def new_correlation_id() -> str:
    """A fresh poolkeeper correlation id (UUID version 8, variant 10, poolkeeper marker in the first 48 bits)."""
    r = secrets.token_hex(10)  # 80 random bits, of which 74 are used
    variant = "89ab"[int(r[3], 16) & 3]
    return f"{MARKER}-8{r[0:3]}-{variant}{r[4:7]}-{r[7:19]}"


def is_own_correlation_id(value: str | None) -> bool:
    """Whether ``value`` is a correlation id poolkeeper issued (any instance, any run); case-insensitive."""
    return bool(value) and _OWN.match(str(value).strip().lower()) is not None


def own_correlation_id(requested: str | None) -> str:
    """The correlation id to send: the requested one if it is already poolkeeper's, else a fresh one (a foreign
    id on poolkeeper's writes would make them look like someone else's and start feedback loops)."""
    return requested if requested and is_own_correlation_id(requested) else new_correlation_id()
