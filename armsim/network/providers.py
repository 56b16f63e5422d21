"""Registry of the Microsoft.Network providers."""

from __future__ import annotations

from armsim.network.loadbalancer import LoadBalancerNetworkInterfacesProvider, LoadBalancerProvider
from armsim.network.nic import NetworkInterfaceProvider
from armsim.network.nsg import NetworkSecurityGroupProvider
from armsim.network.publicip import PublicIPAddressProvider
from armsim.network.vnet import VirtualNetworkProvider
from armsim.provider import Provider


def all_providers() -> list[Provider]:
    return [
        VirtualNetworkProvider(),
        NetworkSecurityGroupProvider(),
        PublicIPAddressProvider(),
        NetworkInterfaceProvider(),
        LoadBalancerProvider(),
        LoadBalancerNetworkInterfacesProvider(),
    ]
