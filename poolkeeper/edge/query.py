"""Strict query parameters: known names only (case-insensitive), boolean flags spelled true/false/1/0.

A misspelt ``?dryrun=yes`` once ran a real apply (issue 9); now every parameter a route does not declare, and every
flag value that is not unambiguous, is a 400 that names what to send. ``code`` (the Functions key in the query,
https://learn.microsoft.com/azure/azure-functions/function-keys-how-to#use-access-keys) is always allowed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from poolkeeper.edge.answer import shorten

KEY_PARAMETER = "code"
TRUE = ("true", "1")
FALSE = ("false", "0")


class QueryError(ValueError):
    """A query parameter is unknown, repeated, or has a value that is not a flag value (HTTP 400)."""


def parse_flags(pairs: Iterable[tuple[str, str]], flags: Iterable[str],
                defaults: Mapping[str, bool] | None = None) -> dict[str, bool]:
    """``[("DRYRUN", "True")]`` with flags ``("dryRun",)`` → ``{"dryRun": True}``; absent flags are False unless
    ``defaults`` says otherwise (``POST /api/sweep`` is a dry run unless ``dryRun=false``)."""
    known = {f.lower(): f for f in flags}
    seen: dict[str, str] = {}
    out = {f: bool((defaults or {}).get(f, False)) for f in known.values()}
    for name, value in pairs:
        lowered = name.lower()
        if lowered == KEY_PARAMETER:
            continue
        if lowered not in known:
            accepted = ", ".join(known.values()) or "none"
            raise QueryError(f"unknown query parameter {shorten(name, 60)} (accepted: {accepted}); nothing was done")
        flag = known[lowered]
        if lowered in seen:
            raise QueryError(f"{flag} is given more than once; give it once, true or false")
        seen[lowered] = value
        if value.lower() in TRUE:
            out[flag] = True
        elif value.lower() in FALSE:
            out[flag] = False
        else:
            raise QueryError(f"{flag}={shorten(value, 60)} is not a flag value; use true, false, 1 or 0")
    return out
