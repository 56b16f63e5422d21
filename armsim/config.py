"""Tunable behaviour of the simulator: time scale, throttling budgets, operation durations, paging."""

from __future__ import annotations

from dataclasses import dataclass, field

# Durations at time scale 1.0, in seconds: close to what Azure takes, so benchmarks at 1.0 are realistic.
DEFAULT_DURATIONS: dict[str, float] = {
    "network.put": 2.0,
    "network.delete": 2.0,
    "resources.delete": 5.0,
    "compute.vm.create": 30.0,
    "compute.vm.update": 8.0,
    "compute.vm.delete": 15.0,
    "compute.vmss.put": 10.0,
    "compute.vmss.delete": 20.0,
    "compute.vmss.upgrade": 15.0,  # one manualUpgrade call, whatever the number of instances in it
    "compute.vmss.automatic_upgrade_delay": 10.0,
    "compute.availabilityset.put": 0.0,
    "eventgrid.put": 1.0,
    "eventgrid.delivery_delay": 0.5,
    "eventgrid.retry_base": 10.0,
}


@dataclass
class SimConfig:
    time_scale: float = 1.0
    throttle: bool = True
    # ARM's documented per-region, per-subscription, per-principal token buckets: (burst, refill per second)
    buckets: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"reads": (250.0, 25.0), "writes": (200.0, 10.0), "deletes": (200.0, 10.0)}
    )
    durations: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_DURATIONS))
    page_size: int = 100

    def duration(self, kind: str) -> float:
        return self.durations.get(kind, 1.0) * self.time_scale

    def update(self, values: dict) -> None:
        """Apply a partial update from the control endpoint (unknown keys are an error naming the key)."""
        for k, v in values.items():
            if k == "time_scale":
                self.time_scale = float(v)
            elif k == "throttle":
                self.throttle = bool(v)
            elif k == "page_size":
                self.page_size = max(1, int(v))
            elif k == "durations":
                for dk, dv in dict(v).items():
                    if dk not in self.durations:
                        raise ValueError(f"unknown duration '{dk}'; known: {sorted(self.durations)}")
                    self.durations[dk] = float(dv)
            elif k == "buckets":
                for bk, bv in dict(v).items():
                    if bk not in self.buckets:
                        raise ValueError(f"unknown bucket '{bk}'; known: reads, writes, deletes")
                    self.buckets[bk] = (float(bv[0]), float(bv[1]))
            else:
                raise ValueError(f"unknown setting '{k}'; known: time_scale, throttle, page_size, durations, buckets")
