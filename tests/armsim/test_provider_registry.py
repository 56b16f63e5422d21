"""A new armsim resource type is one module: every provider class in armsim.network / armsim.compute registers itself
(``@registered``) and its package installs it, so no list elsewhere has to be edited."""

from __future__ import annotations

import inspect
from typing import Any

from armsim.provider import Provider, providers_in


def _provider_classes(package: str) -> set[type[Provider]]:
    """Concrete provider classes defined in ``package``'s modules (a ``type`` and a public name)."""
    providers_in(package)  # imports every module of the package
    import sys

    found: set[type[Provider]] = set()
    for name, module in list(sys.modules.items()):
        if not name.startswith(f"{package}."):
            continue
        for _n, obj in inspect.getmembers(module, inspect.isclass):
            if (issubclass(obj, Provider) and obj.__module__ == name and obj.type
                    and not obj.__name__.startswith("_")):
                found.add(obj)
    return found


def test_every_provider_class_is_installed_by_its_package() -> None:
    for package in ("armsim.network", "armsim.compute"):
        classes = _provider_classes(package)
        installed = {type(p) for p in providers_in(package)}
        assert classes, package
        assert classes == installed, f"{package}: not @registered: {sorted(c.__name__ for c in classes - installed)}"


def test_a_running_simulator_serves_every_registered_type(armsim: Any) -> None:
    engine = armsim.engine
    for package in ("armsim.network", "armsim.compute"):
        for provider in providers_in(package):
            assert engine.provider_for(provider.type) is not None, provider.type
