"""Named starting estates. ``tutorial`` is seed 003's estate as its az commands build it today (Standard SKUs,
``ipconfig1``, managed disks); ``tutorial-before-rules`` is the same estate before the tutorial's probe and rule
commands; ``tutorial-basic`` is the tutorial era's Basic estate (``ipConfig1``, unmanaged disks) for migration
rehearsals; ``vmss-natpool`` is seed 001's."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from armsim.engine import Engine

# scenario name -> builder functions ("module:function"), applied in order; missing modules are an error.
SCENARIOS: dict[str, list[str]] = {
    "empty": [],
    "tutorial": ["armsim.scenarios.tutorial:build_network", "armsim.scenarios.tutorial_compute:build_compute"],
    "tutorial-before-rules": [
        "armsim.scenarios.tutorial:build_network_before_rules",
        "armsim.scenarios.tutorial_compute:build_compute",
    ],
    "tutorial-basic": [
        "armsim.scenarios.tutorial:build_network_basic",
        "armsim.scenarios.tutorial_compute:build_compute_basic",
    ],
    "vmss-natpool": ["armsim.scenarios.vmss_natpool:build"],
    "violations": ["armsim.scenarios.violations:build"],
    "fleet": ["armsim.scenarios.fleet:build"],
    "storm": ["armsim.scenarios.storm:build"],
}


def _resolve(ref: str) -> Callable[[Engine], None]:
    module, _, func = ref.partition(":")
    return getattr(importlib.import_module(module), func)


def build_scenario(name: str, engine: Engine) -> None:
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario '{name}'; choose one of: {', '.join(sorted(SCENARIOS))}")
    for ref in SCENARIOS[name]:
        _resolve(ref)(engine)
