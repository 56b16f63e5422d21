"""The deploy boundary (issue 10): what Azure Functions runs imports neither the simulator nor the dev tools.

Azure gets the repository minus ``.funcignore`` — ``function_app.py``, ``handlers/`` and ``poolkeeper/``. A child
Python process makes ``armsim``, ``poolkeeper_local`` and the dev/test packages unimportable (a ``sys.meta_path``
finder that records every attempt and refuses it), then imports ``function_app`` and every module under
``poolkeeper/`` and ``handlers/``. Any attempt, even one caught by an ``except ImportError``, fails the test.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEPLOYED = ("poolkeeper", "handlers")
FORBIDDEN = ("armsim", "poolkeeper_local", "aiohttp", "trustme", "pytest", "_pytest", "hypothesis", "schemathesis",
             "bench", "tests")

CHILD = r"""
import importlib, json, sys
from importlib.abc import MetaPathFinder

FORBIDDEN = set(json.loads(sys.argv[1]))
MODULES = json.loads(sys.argv[2])
attempts = []

class Blocker(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            attempts.append(name)
            raise ImportError(f"{name} is outside the deployable package")
        return None

sys.meta_path.insert(0, Blocker())
failures = {}
for module in MODULES:
    try:
        importlib.import_module(module)
    except Exception as err:
        failures[module] = f"{type(err).__name__}: {err}"
leaked = sorted(m for m in sys.modules if m.split(".")[0] in FORBIDDEN)
print(json.dumps({"attempts": sorted(set(attempts)), "failures": failures, "leaked": leaked}))
"""


def deployed_modules() -> list[str]:
    """``function_app`` and every module of the deployable packages, by walking their files."""
    names = ["function_app"]
    for package in DEPLOYED:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            if parts[-1] != "__main__":
                names.append(".".join(parts))
    return names


def test_deployable_code_imports_neither_the_simulator_nor_dev_tools() -> None:
    modules = deployed_modules()
    assert {"function_app", "poolkeeper.cli", "poolkeeper.composition", "handlers.runtime"} <= set(modules)
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(FORBIDDEN), json.dumps(modules)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"attempts": [], "failures": {}, "leaked": []}


def test_the_blocker_sees_an_import_of_the_simulator() -> None:
    """The check above can fail: a module importing armsim is caught."""
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(FORBIDDEN), json.dumps(["poolkeeper_local.demo"])],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["attempts"] and "poolkeeper_local.demo" in result["failures"]


def test_funcignore_keeps_the_local_tools_out_of_the_deployment() -> None:
    ignored = {line.strip() for line in (ROOT / ".funcignore").read_text().splitlines()}
    assert {"armsim/", "poolkeeper_local/", "tests/", "bench/"} <= ignored
    assert not {f"{p}/" for p in DEPLOYED} & ignored and "function_app.py" not in ignored


def test_pyproject_lists_every_package() -> None:
    """``pip install .`` ships every package (a missing sub-package installs, then fails at its first import)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts)
             for top in (*DEPLOYED, "poolkeeper_local", "armsim") for p in (ROOT / top).rglob("__init__.py")}
    assert found == listed


def test_local_serve_needs_no_simulator_dependencies() -> None:
    """``poolkeeper serve`` (``pip install .`` without the ``armsim`` extra) shares ``armsim.signals`` with
    ``armsim serve``: importing it must not pull in the simulator's dependencies (``armsim/__init__.py`` is lazy)."""
    extra = ["aiohttp", "trustme"]
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(extra), json.dumps(["poolkeeper_local.commands"])],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"attempts": [], "failures": {}, "leaked": []}
