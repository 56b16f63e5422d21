"""Registry of the Microsoft.Network providers (filled in by the network modules)."""

from __future__ import annotations

from armsim.provider import Provider


class _Temp(Provider):
    type = "Microsoft.Network/publicIPAddresses"


def all_providers() -> list[Provider]:
    return [_Temp()]
