"""Seed 003's compute estate: availability set ``myAvailabilitySet`` and ``myVM1``..``myVM3`` on ``myNic1``..``myNic3``.

As the tutorial's ``az vm availability-set create`` (3 fault domains, 2 update domains) and ``az vm create --nics``
left them in that CLI's era: an unmanaged ("Classic") availability set, hence unmanaged OS disks, Ubuntu 14.04 with
SSH keys for ``azureuser``. Runs after ``tutorial.build_network`` (the NICs must exist).
"""

from __future__ import annotations

from armsim.engine import Engine
from armsim.scenarios.tutorial import LOCATION, RG

SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7armsimtutorialkeyarmsimtutorialkeyarmsimtutorialkeyarmsimtutorialkey "
    "azureuser@armsim"
)


def build_compute(engine: Engine) -> None:
    base = f"/subscriptions/{engine.subscription_id}/resourceGroups/{RG}/providers"
    avset = f"{base}/Microsoft.Compute/availabilitySets/myAvailabilitySet"
    engine.internal_put(avset, {
        "location": LOCATION,
        "sku": {"name": "Classic"},
        "properties": {"platformFaultDomainCount": 3, "platformUpdateDomainCount": 2},
    })
    for i in (1, 2, 3):
        name = f"myVM{i}"
        engine.internal_put(f"{base}/Microsoft.Compute/virtualMachines/{name}", {
            "location": LOCATION,
            "properties": {
                "availabilitySet": {"id": avset},
                "hardwareProfile": {"vmSize": "Standard_DS1_v2"},
                "storageProfile": {
                    "imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "14.04.4-LTS",
                                       "version": "latest"},
                    "osDisk": {
                        "name": f"osdisk_{name}",
                        "osType": "Linux",
                        "createOption": "FromImage",
                        "caching": "ReadWrite",
                        "vhd": {"uri": f"https://vhdsmytutorial8.blob.core.windows.net/vhds/osdisk_{name}.vhd"},
                    },
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
