"""Loads the catalog: every module ``poolkeeper/guardrails/pkNNN.py`` registers one guardrail on import.

A new guardrail is one such file plus its test; nothing else lists it.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

_MODULE = re.compile(r"^pk\d{3}$")
_loaded = False


def load() -> None:
    global _loaded
    if _loaded:
        return
    import poolkeeper.guardrails as package

    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if _MODULE.match(info.name):
            importlib.import_module(f"poolkeeper.guardrails.{info.name}")
    _loaded = True
