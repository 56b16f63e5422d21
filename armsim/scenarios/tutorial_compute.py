"""Seed 003's compute estate: availability set ``myAvailabilitySet`` and ``myVM1``..``myVM3`` on ``myNic1``..``myNic3``.

``build_compute`` is what the tutorial's ``az vm availability-set create`` (3 fault domains, 2 update domains) and
``az vm create --nics ... --image Canonical:UbuntuServer:14.04.4-LTS:latest --generate-ssh-keys`` make with az 2.91:
a managed ("Aligned") availability set, managed OS disks, size ``Standard_D2s_v5`` (az's default), SSH keys for
``azureuser``. ``build_compute_basic`` is the tutorial era's: an unmanaged ("Classic") availability set, unmanaged
OS disks, ``Standard_DS1_v2``. Both run after the network builder (the NICs must exist).
"""

from __future__ import annotations

from armsim.engine import Engine
from armsim.scenarios.tutorial import LOCATION, RG

SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7armsimtutorialkeyarmsimtutorialkeyarmsimtutorialkeyarmsimtutorialkey "
    "azureuser@armsim"
)


def build_compute(engine: Engine) -> None:
    """Today's compute estate (managed disks)."""
    _build_compute(engine, managed=True)


def build_compute_basic(engine: Engine) -> None:
    """The tutorial era's compute estate (unmanaged disks in a Classic availability set)."""
    _build_compute(engine, managed=False)


def _os_disk(name: str, managed: bool) -> dict[str, object]:
    if managed:
        # az sends "name": null and "storageAccountType": null: Azure names the disk and picks the type
        return {"osType": "Linux", "createOption": "FromImage", "caching": "ReadWrite"}
    return {
        "name": f"osdisk_{name}",
        "osType": "Linux",
        "createOption": "FromImage",
        "caching": "ReadWrite",
        "vhd": {"uri": f"https://vhdsmytutorial8.blob.core.windows.net/vhds/osdisk_{name}.vhd"},
    }


def _build_compute(engine: Engine, *, managed: bool) -> None:
    base = f"/subscriptions/{engine.subscription_id}/resourceGroups/{RG}/providers"
    avset = f"{base}/Microsoft.Compute/availabilitySets/myAvailabilitySet"
    engine.internal_put(avset, {
        "location": LOCATION,
        "sku": {"name": "Aligned" if managed else "Classic"},
        "properties": {"platformFaultDomainCount": 3, "platformUpdateDomainCount": 2},
    })
    for i in (1, 2, 3):
        name = f"myVM{i}"
        engine.internal_put(f"{base}/Microsoft.Compute/virtualMachines/{name}", {
            "location": LOCATION,
            "properties": {
                "availabilitySet": {"id": avset},
                "hardwareProfile": {"vmSize": "Standard_D2s_v5" if managed else "Standard_DS1_v2"},
                "storageProfile": {
                    "imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "14.04.4-LTS",
                                       "version": "latest"},
                    "osDisk": _os_disk(name, managed),
                    "dataDisks": [],
                },
                "osProfile": {
                    "computerName": name,
                    "adminUsername": "azureuser",
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": True,
                        "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": SSH_KEY}]},
                    },
                },
                "networkProfile": {
                    "networkInterfaces": [{"id": f"{base}/Microsoft.Network/networkInterfaces/myNic{i}"}],
                },
            },
        })
