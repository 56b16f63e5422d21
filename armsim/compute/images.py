"""The platform image catalog (``Microsoft.Compute/locations/{loc}/publishers/...``) for the images the seeds name.

Routes (azure-rest-api-specs, specification/compute/resource-manager/Microsoft.Compute/ComputeRP/stable/2024-07-01/
virtualMachineImage.json): ``VirtualMachineImages_ListPublishers``, ``_ListOffers``, ``_ListSkus``, ``_List``
(versions; ``$top``, ``$orderby=name desc``, ``$expand``) answer a bare JSON array of ``VirtualMachineImageResource``
(name, location, id); ``VirtualMachineImages_Get`` answers one ``VirtualMachineImage`` with ``osDiskImage``,
``hyperVGeneration``, ``architecture`` and ``imageDeprecationStatus``. An unknown publisher/offer/sku/version is 404
``NotFound``: Azure answers so ("Artifact: VMImage was not found.")
in public az issue logs (UNCONFIRMED for every level).

az resolves ``--image Canonical:UbuntuServer:14.04.4-LTS:latest`` (seed 003) by listing that sku's versions with
``$orderby=name desc&$top=1`` and ``--image Ubuntu2204`` through its alias table (azure-cli, command_modules/vm/
aliases.json: Canonical:0001-com-ubuntu-server-jammy:22_04-lts-gen2:latest). The version numbers below are
UNCONFIRMED (the shape Canonical uses: ``{release}.{yyyymmdd}{build}``); Canonical has stopped publishing 14.04
images, so in today's Azure the seed's image may no longer resolve (UNCONFIRMED) — armsim keeps it so the seed runs.
"""

from __future__ import annotations

from typing import Any

from armsim.engine import Engine, Response
from armsim.errors import ArmError
from armsim.provider import Ctx

# publisher -> offer -> sku -> (versions oldest first, hyperVGeneration)
CATALOG: dict[str, dict[str, dict[str, tuple[tuple[str, ...], str]]]] = {
    "Canonical": {
        "UbuntuServer": {
            "14.04.4-LTS": (("14.04.201604060", "14.04.201605160", "14.04.201606270"), "V1"),
            "16.04-LTS": (("16.04.202104290", "16.04.202106110"), "V1"),
            "18.04-LTS": (("18.04.202305220", "18.04.202306070"), "V1"),
        },
        "0001-com-ubuntu-server-jammy": {
            "22_04-lts": (("22.04.202508190", "22.04.202510150"), "V1"),
            "22_04-lts-gen2": (("22.04.202508190", "22.04.202510150"), "V2"),
        },
        "ubuntu-24_04-lts": {
            "server": (("24.04.202508190", "24.04.202510150"), "V2"),
        },
    },
}


def _pick(options: dict[str, Any], name: str, what: str) -> tuple[str, Any]:
    for k, v in options.items():
        if k.lower() == name.lower():
            return k, v
    raise ArmError(404, "NotFound", f"Artifact: VMImage was not found ({what} '{name}').")


class ImageCatalog:
    """An engine route (``Engine.routes``) serving the catalog; None for other paths."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _base(self, location: str) -> str:
        return f"/Subscriptions/{self.engine.subscription_id}/Providers/Microsoft.Compute/Locations/{location}"

    def __call__(self, ctx: Ctx, method: str, parts: list[str], query: dict[str, str], headers: dict[str, str],
                 body: bytes) -> Response | None:
        low = [p.lower() for p in parts]
        if method != "GET" or len(low) < 8 or low[2:4] != ["providers", "microsoft.compute"] or low[4] != "locations" \
                or low[6] != "publishers":
            return None
        location = parts[5]
        base = self._base(location)
        rest, rlow = parts[7:], low[7:]
        if not rest:
            return Response(200, [self._item(f"{base}/Publishers/{p}", p, location) for p in CATALOG])
        publisher, offers = _pick(CATALOG, rest[0], "publisher")
        base += f"/Publishers/{publisher}/ArtifactTypes/VMImage"
        if rlow[1:3] != ["artifacttypes", "vmimage"] or len(rest) < 4 or rlow[3] != "offers":
            return None
        if len(rest) == 4:
            return Response(200, [self._item(f"{base}/Offers/{o}", o, location) for o in offers])
        offer, skus = _pick(offers, rest[4], "offer")
        base += f"/Offers/{offer}"
        if len(rest) == 6 and rlow[5] == "skus":
            return Response(200, [self._item(f"{base}/Skus/{s}", s, location) for s in skus])
        if len(rest) < 8 or rlow[5] != "skus" or rlow[7] != "versions":
            return None
        sku, (versions, generation) = _pick(skus, rest[6], "sku")
        base += f"/Skus/{sku}/Versions"
        if len(rest) == 8:
            listed = sorted(versions, key=_version_key, reverse="desc" in query.get("$orderby", "").lower())
            top = query.get("$top", "")
            if top.isdigit():
                listed = listed[: int(top)]
            return Response(200, [self._item(f"{base}/{v}", v, location) for v in listed])
        if len(rest) == 9:
            version = rest[8]
            if version.lower() == "latest":
                version = max(versions, key=_version_key)
            version, _ = _pick({v: v for v in versions}, version, "version")
            item = self._item(f"{base}/{version}", version, location)
            item["properties"] = {
                "hyperVGeneration": generation,
                "architecture": "x64",
                "replicaType": "Unmanaged",
                "disallowed": {"vmDiskType": "None"},
                "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": False},
                "imageDeprecationStatus": {"imageState": "Active"},
                "features": [{"name": "IsAcceleratedNetworkSupported", "value": "True"}],
                "osDiskImage": {"operatingSystem": "Linux", "sizeInGb": 30},
                "dataDiskImages": [],
            }
            return Response(200, item)
        return None

    @staticmethod
    def _item(rid: str, name: str, location: str) -> dict[str, Any]:
        return {"location": location, "name": name, "id": rid}


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def latest_version(image: dict[str, Any]) -> str:
    """The version ``latest`` resolves to for an image reference (a VM's ``exactVersion``); "1.0.0" off-catalog."""
    try:
        _, offers = _pick(CATALOG, str(image.get("publisher", "")), "publisher")
        _, skus = _pick(offers, str(image.get("offer", "")), "offer")
        _, (versions, _generation) = _pick(skus, str(image.get("sku", "")), "sku")
    except ArmError:
        return "1.0.0"
    return max(versions, key=_version_key)
