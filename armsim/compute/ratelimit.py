"""Compute's own throttling headers: ``x-ms-ratelimit-remaining-resource``.

Besides ARM's subscription buckets, the compute provider counts calls per policy in 3- and 30-minute windows and
reports what is left, e.g. ``Microsoft.Compute/PutVMScaleSet3Min;239,Microsoft.Compute/PutVMScaleSet30Min;1195``.
Clients such as cloud-provider-azure read it to slow down before a 429. armsim reports the counts (it does not
refuse on them); windows shrink with the time scale like every other simulated duration.
"""

from __future__ import annotations

import time
from collections import deque

from armsim.config import SimConfig
from armsim.engine import Response

# policy family -> (3-minute limit, 30-minute limit); figures as commonly reported in these headers
_LIMITS = {
    "PutVMScaleSet": (240, 1200),
    "DeleteVMScaleSet": (240, 1200),
    "GetVMScaleSet": (360, 2880),
    "VMScaleSetActions": (240, 1200),
    "HighCostGetVMScaleSet": (180, 900),
    "PutVM": (240, 1200),
    "DeleteVM": (240, 1200),
    "LowCostGet": (4000, 32000),
}


def _family(method: str, low_path: str) -> str:
    parts = [p for p in low_path.split("/") if p]
    try:
        i = parts.index("microsoft.compute")
    except ValueError:
        return "LowCostGet"
    rest = parts[i + 1 :]
    is_vmss = bool(rest) and rest[0] == "virtualmachinescalesets"
    if method == "GET":
        if is_vmss and len(rest) >= 3 and rest[2] in ("virtualmachines", "networkinterfaces"):
            return "HighCostGetVMScaleSet"
        return "GetVMScaleSet" if is_vmss else "LowCostGet"
    if method == "POST":
        return "VMScaleSetActions" if is_vmss else "PutVM"
    if method == "DELETE":
        return "DeleteVMScaleSet" if is_vmss and len(rest) <= 2 else "DeleteVM"
    return "PutVMScaleSet" if is_vmss else "PutVM"


class ComputeRateLimits:
    """An engine response hook adding the header to every Microsoft.Compute answer."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self._calls: dict[str, deque[float]] = {}

    def __call__(self, method: str, path: str, resp: Response) -> None:
        low = path.lower()
        if "/providers/microsoft.compute/" not in low or "/locations/" in low or resp.status in (401, 403):
            return
        family = _family(method.upper(), low)
        short, long_ = _LIMITS[family]
        now = time.monotonic()
        calls = self._calls.setdefault(family, deque())
        calls.append(now)
        horizon = 1800 * max(self.config.time_scale, 1e-6)
        while calls and calls[0] < now - horizon:
            calls.popleft()
        recent = sum(1 for t in calls if t >= now - 180 * max(self.config.time_scale, 1e-6))
        resp.headers["x-ms-ratelimit-remaining-resource"] = (
            f"Microsoft.Compute/{family}3Min;{max(0, short - recent)},"
            f"Microsoft.Compute/{family}30Min;{max(0, long_ - len(calls))}"
        )
